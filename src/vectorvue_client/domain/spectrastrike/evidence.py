"""What of a metasploit session's output may leave the client, and in what form.

A session's output is whatever the compromised host printed: it can hold dumped password
hashes, private keys or tokens. Only an excerpt is forwarded: the output with every
credential-shaped substring masked (the shapes below, then `redaction.scrub`), then cut to
the configured cap (in that order: cutting first could leave half a secret that no
pattern recognises any more). The full output is represented by its SHA-256 and length
only, so that an analyst holding the orchestrator's copy can prove which output it was.
"""

from __future__ import annotations

import re
from typing import Any, Final

from vectorvue_client.domain.redaction import MASK, scrub

# Credential shapes that session output carries and redaction.scrub (written for HTTP
# text) does not know: private key blocks (even cut off before their END line), Windows
# hashdump LM:NT pairs, and crypt(3) hashes as /etc/shadow holds them.
_SESSION_SECRETS: Final = (
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        MASK,
    ),
    (re.compile(r"(?i)\b[0-9a-f]{32}:[0-9a-f]{32}\b"), f"{MASK}:{MASK}"),
    (re.compile(r"\$(?:1|2[abxy]?|5|6|7|y|gy|sha1|md5|argon2(?:id|i|d))\$[^\s:]{8,}"), MASK),
)


# A literal each shape cannot match without: a text without it skips that shape's scan.
_NEEDLES: Final = ("-----BEGIN ", ":", "$")


def mask_session_output(text: str) -> str:
    """`text` with session-output credential shapes and every `scrub` shape masked."""
    for (pattern, replacement), needle in zip(_SESSION_SECRETS, _NEEDLES, strict=True):
        if needle in text:
            text = pattern.sub(replacement, text)
    return scrub(text)


def session_evidence(output: str, cap: int) -> dict[str, Any]:
    """The attributes that stand for a session's `output`.

    output_excerpt: at most `cap` characters of the masked output; output_truncated: the
    excerpt is not the whole masked output; output_length: characters of the full output.

    No hash of the full output is sent: for a short output whose secrets were masked, a
    hash would let anyone holding the event test guesses of the masked values offline.
    """
    masked = mask_session_output(output)
    return {
        "output_excerpt": masked[:cap],
        "output_truncated": len(masked) > cap,
        "output_length": len(output),
    }
