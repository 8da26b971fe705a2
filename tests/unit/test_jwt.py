"""domain/jwt.py: the claims of tokens built here with hmac and base64 come back exactly;
anything not shaped as a JWT is a ValueError whose message quotes nothing of the token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vectorvue_client.domain.jwt import MAX_TOKEN_CHARS, jwt_claims, jwt_expiry

KEY = b"test-signing-key-not-the-servers"
# Every malformed token below carries this, so "the message quotes nothing of the token"
# is checked on text that cannot occur in our own words.
MARKER = "QzSeCrEtQz"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(claims: object, header: object | None = None) -> str:
    """An HS256 JWT, written out from RFC 7515 rather than with the code under test."""
    head = b64url(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    mac = hmac.new(KEY, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(mac)}"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
claim_sets = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


# -- round trips -----------------------------------------------------------------------------
@given(claim_sets)
def test_claims_come_back_exactly(claims: dict[str, Any]) -> None:
    """Whatever JSON object the payload holds is what jwt_claims returns."""
    assert dict(jwt_claims(make_jwt(claims))) == claims


def test_the_claims_are_read_only() -> None:
    """A caller cannot change what it was told the token says."""
    claims = jwt_claims(make_jwt({"exp": 1}))
    with pytest.raises(TypeError):
        claims["exp"] = 2  # type: ignore[index]


@given(claim_sets, st.integers(0, 2**53) | st.floats(0, 1e15))
def test_expiry_is_the_exp_claim_as_a_float(claims: dict[str, Any], exp: float) -> None:
    """An int or float exp, as a float, whatever other claims there are."""
    expiry = jwt_expiry(make_jwt(claims | {"exp": exp}))
    assert isinstance(expiry, float) and expiry == float(exp)


@given(claim_sets.map(lambda c: {k: v for k, v in c.items() if k != "exp"}))
def test_no_exp_is_no_expiry(claims: dict[str, Any]) -> None:
    """Absent exp: None."""
    assert jwt_expiry(make_jwt(claims)) is None


@given(st.none() | st.booleans() | st.text() | st.lists(st.integers()) | st.just({"a": 1}))
def test_an_exp_that_is_not_a_number_is_no_expiry(exp: object) -> None:
    """null, true/false (not times, though Python counts bool as int), strings, arrays,
    objects: None."""
    assert jwt_expiry(make_jwt({"exp": exp})) is None


def test_an_exp_too_large_for_a_float_is_no_expiry() -> None:
    """An integer beyond a float's range is no time either, not an OverflowError."""
    assert jwt_expiry(make_jwt({"exp": 10**400})) is None
    assert jwt_expiry(make_jwt({"exp": 1e308})) == 1e308
    assert jwt_expiry(make_jwt({"exp": 2**1000})) == float(2**1000)


def test_the_signature_is_not_verified() -> None:
    """The client has no key: a token signed with any key, or altered, is still read."""
    head, body, _ = make_jwt({"exp": 5}).split(".")
    assert jwt_expiry(f"{head}.{body}.{b64url(b'another signature')}") == 5.0


# -- malformed tokens ------------------------------------------------------------------------
def _refused(token: str) -> str:
    with pytest.raises(ValueError, match=r"^the token is not a JWT") as caught:
        jwt_claims(token)
    with pytest.raises(ValueError, match=r"^the token is not a JWT"):
        jwt_expiry(token)
    message = str(caught.value)
    assert token not in message and MARKER not in message
    return message


ALPHABET = frozenset(string.ascii_letters + string.digits + "-_")
GOOD_HEAD, GOOD_BODY, GOOD_SIG = make_jwt({"sub": "alice", "exp": 1}).split(".")
SECRETISH = MARKER * 2  # a well-formed signature segment


@given(st.integers(0, 8).filter(lambda n: n != 3), st.text("abcXYZ019_-", min_size=1, max_size=9))
def test_a_token_without_exactly_three_segments_is_refused(count: int, filler: str) -> None:
    """One, two, four or more dot-separated segments (zero: a token without a dot)."""
    token = ".".join([MARKER + filler] * max(count, 1))
    assert "segment" in _refused(token)


@given(
    st.sampled_from(["header", "payload", "signature"]),
    st.text(min_size=1, max_size=6).filter(lambda t: not all(c in ALPHABET for c in t)),
)
def test_a_segment_outside_the_base64url_alphabet_is_refused(where: str, junk: str) -> None:
    """Padding, spaces, '+', '/', control characters, non-ASCII: not unpadded base64url."""
    parts = {"header": GOOD_HEAD, "payload": GOOD_BODY, "signature": GOOD_SIG}
    parts[where] = MARKER + junk + parts[where]
    token = ".".join(parts.values())
    if "." in junk:
        _refused(token)  # it now has more than three segments
    else:
        assert where in _refused(token)


@pytest.mark.parametrize("where", ["header", "payload", "signature"])
def test_an_empty_segment_is_refused(where: str) -> None:
    """An unsigned token ("alg": "none", empty signature) is not taken for a JWT either."""
    parts = {"header": GOOD_HEAD, "payload": GOOD_BODY, "signature": GOOD_SIG}
    parts[where] = ""
    assert where in _refused(".".join(parts.values()))


def test_padding_is_refused() -> None:
    """JWS segments are unpadded; '=' means something else produced this."""
    assert "payload" in _refused(f"{GOOD_HEAD}.{GOOD_BODY}==.{SECRETISH}")


def test_a_segment_of_impossible_length_is_refused() -> None:
    """4n+1 base64 characters encode no whole number of bytes."""
    body = GOOD_BODY + "A" * ((1 - len(GOOD_BODY)) % 4)
    assert len(body) % 4 == 1
    assert "payload has an impossible base64 length" in _refused(f"{GOOD_HEAD}.{body}.{SECRETISH}")


@pytest.mark.parametrize(
    "payload",
    [b"[1, 2]", b'"a string"', b"42", b"null", b"true"],
    ids=["array", "string", "number", "null", "boolean"],
)
def test_a_payload_that_is_not_a_json_object_is_refused(payload: bytes) -> None:
    """Claims are a JSON object (RFC 7519), nothing else."""
    assert "payload is not a JSON object" in _refused(f"{GOOD_HEAD}.{b64url(payload)}.{SECRETISH}")


def test_a_header_that_is_not_a_json_object_is_refused() -> None:
    """The header is a JSON object (RFC 7515)."""
    assert "header is not a JSON object" in _refused(f"{b64url(b'[]')}.{GOOD_BODY}.{SECRETISH}")


@given(st.binary(min_size=1, max_size=40), st.sampled_from(["header", "payload"]))
def test_a_segment_that_is_not_json_is_refused(raw: bytes, where: str) -> None:
    """Random bytes (invalid UTF-8 included) where JSON should be."""
    try:
        json.loads(raw)
    except ValueError:
        pass
    else:
        return  # these bytes happen to be JSON: the shape tests above cover them
    parts = {"header": GOOD_HEAD, "payload": GOOD_BODY, "signature": SECRETISH}
    parts[where] = b64url(raw)
    assert f"{where} is not JSON" in _refused(".".join(parts.values()))


def test_nesting_too_deep_to_decode_is_refused_not_a_crash() -> None:
    """A payload nested beyond the recursion limit is a ValueError, not a RecursionError.
    (Python 3.13 reads 5000 levels, deeper than a token of 16 KiB can nest, and the
    payload is then refused as no object: a ValueError too.)"""
    deep = b"[" * 5000 + b"]" * 5000
    refused = _refused(f"{GOOD_HEAD}.{b64url(deep)}.{SECRETISH}")
    assert "payload is not JSON" in refused or "payload is not a JSON object" in refused


def test_an_oversized_token_is_refused_before_it_is_decoded() -> None:
    """Past MAX_TOKEN_CHARS nothing is decoded."""
    body = b64url(json.dumps({"pad": MARKER * (MAX_TOKEN_CHARS // 10)}).encode())
    assert "longer than" in _refused(f"{GOOD_HEAD}.{body}.{SECRETISH}")


@given(st.text(max_size=60).map(lambda t: MARKER + t))
def test_arbitrary_text_is_claims_or_a_value_error_quoting_nothing(text: str) -> None:
    """Whatever the text, the outcome is claims or a ValueError (never another exception),
    and the error never quotes the text."""
    message = ""
    try:
        jwt_claims(text)
    except ValueError as exc:
        message = str(exc)
    assert text not in message and MARKER not in message
