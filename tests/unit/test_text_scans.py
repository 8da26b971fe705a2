"""The shortcuts of two text scans give what the scans themselves give.

scrub and mask_session_output skip a pattern's scan when a literal it cannot match without
is absent; the urllib3 transport checks header names and values with one regex search
each. Both must refuse or mask exactly what the plain rule does. (Moved here from the
differential tests of the readers' fast paths, which are gone with those fast paths.)
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vectorvue_client.adapters import transport_urllib3
from vectorvue_client.domain.redaction import _SHAPES, scrub
from vectorvue_client.domain.spectrastrike.evidence import _SESSION_SECRETS, mask_session_output


def scrub_as_before(text: str) -> str:
    """scrub (with no known secret) as first written: every shape's scan, always."""
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return text


def mask_as_before(text: str) -> str:
    """mask_session_output as first written: every scan, always."""
    for pattern, replacement in _SESSION_SECRETS:
        text = pattern.sub(replacement, text)
    return scrub_as_before(text)


secret_words = st.sampled_from(
    [
        "Bearer abc.def-123456",
        "BASIC dXNlcjpwYXNzd29yZA==",
        "https://user:pw@host/x",
        "API_KEY=abc123",
        "Api-Key: 'x y'",
        "client_secret: s3cr3t!",
        "PassWord=hunter2",
        "passwd:x",
        "TOKEN=tok",
        "Authorization: Basic Zm9v",
        "\u017fecret=1",
        "pa\u017f\u017fword=2",
        "api\u212aey=3",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
        "aad3b435b51404eeaad3b435b51404ee:31d6cfe0d16ae931b73c59d7e0c089c0",
        "$6$saltsalt$abcdefghijk",
        "nothing here",
        "uid=0(root) gid=0(root)",
    ]
)
scrub_texts = st.lists(secret_words | st.text(max_size=20), max_size=6).map(" ".join)


@settings(max_examples=400)
@given(scrub_texts)
def test_scrub_skips_only_scans_that_cannot_match(text: str) -> None:
    """scrub and mask_session_output skip a scan only where it would have changed nothing."""
    assert scrub(text) == scrub_as_before(text)
    assert mask_session_output(text) == mask_as_before(text)


@pytest.mark.parametrize("text", ["\u017fecret=1", "api\u212aey=3", "pa\u017f\u017fword=2"])
def test_non_ascii_case_folding_still_masks(text: str) -> None:
    """Text outside ASCII takes every scan: (?i) matches the long s and the Kelvin sign."""
    assert scrub(text) == scrub_as_before(text)
    assert "***" in scrub(text)


# -- request header checks ----------------------------------------------------------------------
def header_problem_as_before(name: str, value: str) -> str | None:
    """The urllib3 transport's header rule as first written, one string test at a time."""
    if not name or name[0].isspace() or ":" in name or "\r" in name or "\n" in name:
        return "name"
    if value and (value[0].isspace() or "\r" in value or "\n" in value):
        return "value"
    return None


header_text = st.text(
    st.sampled_from(" \t\r\n\x0b\x0c\x1c\x85\xa0\u2028\u3000:aZ-0\x00") | st.characters(),
    max_size=6,
)


@settings(max_examples=1000)
@given(header_text, header_text)
@example("", "v")
@example("\u3000X", "v")
@example("X", "\x85v")
@example("X", "")
def test_header_checks_are_the_string_tests(name: str, value: str) -> None:
    """The regex searches refuse exactly what the string tests refused (\\s is isspace)."""
    assert transport_urllib3._header_problem(name, value) == header_problem_as_before(name, value)
