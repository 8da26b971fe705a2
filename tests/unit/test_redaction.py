"""Secrets never show: the Secret wrapper, scrub() of known values and secret shapes, headers."""

from __future__ import annotations

import copy
import pickle
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorvue_client.domain.http import HttpRequest
from vectorvue_client.domain.redaction import MASK, Secret, excerpt, mask_headers, scrub

VALUE = "s3cr3t-API-key-value"


# -- Secret ----------------------------------------------------------------------------------
def test_secret_never_shows_its_value() -> None:
    """str, repr, format, f-strings (with conversions and specs) and %-formatting show a mask."""
    secret = Secret(VALUE)
    shown = [
        str(secret),
        repr(secret),
        format(secret),
        f"{secret}",
        f"{secret!s}",
        f"{secret!r}",
        f"{secret:>40}",
        f"{secret}",
        "%s" % secret,  # noqa: UP031 - %-formatting is one of the shapes under test
        "%r" % (secret,),  # noqa: UP031
        str([secret]),
        repr({"k": secret}),
    ]
    for text in shown:
        assert VALUE not in text
        assert MASK in text


def test_secret_reveals_on_request_only() -> None:
    """reveal() is the way in; truthiness follows the value."""
    assert Secret(VALUE).reveal() == VALUE
    assert bool(Secret(VALUE)) is True
    assert bool(Secret("")) is False


def test_secret_equality_and_hash() -> None:
    """Equal values compare equal, different ones not; the hash does not depend on the value."""
    assert Secret(VALUE) == Secret(VALUE)
    assert Secret(VALUE) != Secret(VALUE + "x")
    assert Secret(VALUE) != VALUE  # a Secret is not its plain text
    assert hash(Secret(VALUE)) == hash(Secret("other"))
    assert len({Secret(VALUE), Secret(VALUE)}) == 1


def test_secret_refuses_pickling_and_copying_out() -> None:
    """A Secret cannot be pickled (it would leave the process unmasked)."""
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError):
            pickle.dumps(Secret(VALUE), protocol=protocol)
    with pytest.raises(TypeError):
        copy.copy(Secret(VALUE))


def test_secret_holds_text_only() -> None:
    """A Secret wraps a str; anything else is a TypeError."""
    with pytest.raises(TypeError):
        Secret(b"bytes")  # type: ignore[arg-type]


# -- scrub -----------------------------------------------------------------------------------
def test_scrub_masks_known_secrets_verbatim() -> None:
    """Every occurrence of a known secret (str or Secret, 4+ characters) is replaced by the mask."""
    text = f"key {VALUE} was rejected; again: {VALUE}."
    for given_secret in (VALUE, Secret(VALUE)):
        assert scrub(text, [given_secret]) == f"key {MASK} was rejected; again: {MASK}."


def test_scrub_ignores_secrets_shorter_than_four_characters() -> None:
    """A 1-3 character "secret" is not scrubbed verbatim (it would mangle ordinary text)."""
    assert scrub("a cat sat", ["a"]) == "a cat sat"
    assert scrub("the abcd key", ["abcd"]) == f"the {MASK} key"


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi.payload.sig"),
        ("sent bearer abc123DEF456 to the server", "abc123DEF456"),
        ("Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("GET https://admin:hunter2@vectorvue.example/api failed", "hunter2"),
        ("url=postgres://svc:pa55w0rd@db:5432/x", "pa55w0rd"),
        ("api_key=AKIA1234567890", "AKIA1234567890"),
        ("X-API-KEY: abcdef123456", "abcdef123456"),
        ('{"password": "correct-horse"}', "correct-horse"),
        ("client_secret='zzTopSecret'", "zzTopSecret"),
        ("access_token=tok_998877&next=1", "tok_998877"),
    ],
)
def test_scrub_masks_secret_shapes(text: str, leaked: str) -> None:
    """Bearer/Basic credentials, URL userinfo passwords and key=value secrets are masked."""
    out = scrub(text)
    assert leaked not in out
    assert MASK in out


@pytest.mark.parametrize(
    "text",
    [
        "Rate limit exceeded",
        "Invalid JWT",
        "Token expired",
        "event_type: String should match pattern '^[A-Za-z0-9._:-]+$'",
        "HTTP 503: backend unavailable, retry later",
        "https://vectorvue.example/api/v1/integrations/spectrastrike/events",
        "The password policy requires twelve characters",
        "42 items accepted; 0 failed",
    ],
)
def test_scrub_leaves_ordinary_text_alone(text: str) -> None:
    """Text with no secret in it comes out unchanged."""
    assert scrub(text) == text
    assert scrub(text, [VALUE]) == text


def test_scrub_masks_a_whole_quoted_password() -> None:
    """ "password": "..." masks the whole quoted value, a passphrase with spaces included."""
    out = scrub('{"password": "correct horse battery staple", "user": "op-001"}')
    assert "horse" not in out
    assert "battery" not in out
    assert "op-001" in out


def test_scrub_keeps_the_contracts_401_details_readable() -> None:
    """VectorVue's own 401 detail "Missing bearer token" holds no secret and must stay readable."""
    assert scrub("Missing bearer token") == "Missing bearer token"


printable_secrets = st.text(
    "".join(c for c in string.printable if not c.isspace()), min_size=8, max_size=40
)


@settings(max_examples=300)
@given(printable_secrets, st.text(max_size=80), st.text(max_size=80), st.integers(1, 3))
def test_an_embedded_secret_never_survives_scrub(
    secret: str, before: str, after: str, times: int
) -> None:
    """For any secret of 8+ printable non-space characters in any text, scrub removes it."""
    text = before + (secret + after) * times
    assert secret not in scrub(text, [secret])
    assert secret not in scrub(text, [Secret(secret)])


@pytest.mark.parametrize(
    ("secret", "text"),
    [
        ("***ABCDE", "***ABCDEABCDE"),  # the mask plus the next characters spell the secret
        ("https://***@", "https://***@ https://u:p@h"),  # masking the URL shape spells it
    ],
)
def test_masking_never_rebuilds_the_secret(secret: str, text: str) -> None:
    """A mask and its surroundings must not spell the secret again after scrubbing."""
    assert secret not in scrub(text, [secret])


# -- headers, requests, excerpts -------------------------------------------------------------
def test_mask_headers_masks_credentials_only() -> None:
    """Credential headers (any case) are masked; the others and every name are kept."""
    headers = (
        ("Authorization", "Bearer abc"),
        ("x-signature", "ff00"),
        ("X-Telemetry-Signature", "c2ln"),
        ("Cookie", "s=1"),
        ("Content-Type", "json"),
        ("Idempotency-Key", "k-1"),
    )
    assert mask_headers(headers) == (
        ("Authorization", MASK),
        ("x-signature", MASK),
        ("X-Telemetry-Signature", MASK),
        ("Cookie", MASK),
        ("Content-Type", "json"),
        ("Idempotency-Key", "k-1"),
    )


def test_http_request_repr_shows_no_credential_or_body() -> None:
    """An HttpRequest's repr masks credential headers and shows only the body's length."""
    request = HttpRequest(
        "POST", "/events", (("Authorization", f"Bearer {VALUE}"),), b'{"password": "x"}'
    )
    shown = repr(request)
    assert VALUE not in shown
    assert "password" not in shown
    assert "<17 bytes>" in shown
    assert request.header("authorization") == f"Bearer {VALUE}"


def test_excerpt_cuts_long_text_and_says_so() -> None:
    """Text up to the limit is kept; longer text is cut there and marked with what was left out."""
    assert excerpt("x" * 200) == "x" * 200
    assert excerpt("x" * 250) == "x" * 200 + "... (50 more characters)"
    assert excerpt("abcdef", limit=3) == "abc... (3 more characters)"
