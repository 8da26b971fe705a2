"""The telemetry gateway's request body, built once and completed per attempt.

Every attempt must carry a fresh timestamp and nonce, in the headers AND in the body. The
body is therefore encoded once with placeholders and split around them: an attempt only
splices in its own timestamp and nonce, so the rest of the bytes are identical on every
attempt and nothing is re-serialized. Field order stays the Struct's (models.GatewayRequest),
and a property test checks that the spliced bytes equal msgspec's encoding of the whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgspec

from vectorvue_client.domain.encoding import encode
from vectorvue_client.domain.models import NONCE_LEN, GatewayPayload, GatewayRequest

_NONCE_MARK: Final = "\x00nonce-placeholder\x00"
_TIMESTAMP_MARK: Final = -7_777_777_777
# The largest an attempt splices in: unix seconds of 10 digits (until the year 2286), and
# a nonce of the most characters the gateway takes, URL-safe (ports.Entropy), so unescaped.
_LARGEST_SPLICE: Final = len("9999999999") + len(encode("n" * NONCE_LEN[1]))
# Anchored on both keys and both marks: a string value that happens to contain the
# placeholder digits cannot be mistaken for the field (its quotes would be escaped).
_ANCHOR: Final = b'"timestamp":%d,"nonce":%s' % (_TIMESTAMP_MARK, encode(_NONCE_MARK))


@dataclass(frozen=True, slots=True)
class GatewayBody:
    """A gateway body encoded once; `render` completes it for one attempt."""

    head: bytes  # ... "timestamp":
    middle: bytes  # ,"nonce":
    tail: bytes  # ,"signed_metadata": ... }

    @classmethod
    def of(cls, request: GatewayRequest) -> GatewayBody:
        """Encode `request` once, around placeholders for its timestamp and nonce."""
        marked = msgspec.structs.replace(request, timestamp=_TIMESTAMP_MARK, nonce=_NONCE_MARK)
        whole = encode(marked)
        if whole.count(_ANCHOR) != 1:
            raise AssertionError("the gateway body's timestamp and nonce were not found once")
        before, after = whole.split(_ANCHOR)
        return cls(head=before + b'"timestamp":', middle=b',"nonce":', tail=after)

    def render(self, timestamp: int, nonce: str) -> bytes:
        """The exact body of one attempt."""
        return self.head + str(timestamp).encode() + self.middle + encode(nonce) + self.tail

    @property
    def largest_size(self) -> int:
        """The size in bytes of the largest body an attempt can render."""
        return len(self.head) + len(self.middle) + len(self.tail) + _LARGEST_SPLICE


@dataclass(frozen=True, slots=True)
class GatewayParts:
    """One event ready for the gateway: its operator (the gateway's burst limit and so the
    client's pacing are per operator), its payload, and its body encoded once."""

    operator_id: str
    payload: GatewayPayload
    body: GatewayBody
