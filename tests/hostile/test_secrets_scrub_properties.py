"""Properties of masking by value: once a value is a known secret (a `Secret` was made of
it, or it was remembered), no text that scrub() or mask_known() gives back holds it, however
the text was built around it: anywhere, repeated, overlapping another secret, next to the
mask itself, inside a secret shape, in a decoded JSON document at any depth or behind JSON
escapes.

The first property uses only what existed before issue 11 (Secret, scrub): it fails on the
old code, where scrub() masked only the values it was handed.
"""

from __future__ import annotations

import json

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorvue_client.domain.redaction import (
    KNOWN_LIMIT,
    MASK,
    Secret,
    forget_known_secrets,
    json_may_hold_secret,
    known_secrets,
    mask_known,
    mask_known_json,
    remember,
    scrub,
)

# A small alphabet, with the mask's own character and the words of the secret shapes:
# values overlap each other, the mask and the shapes far more often than random text would.
_ALPHABET = "ab*=: \\\"'Bearer token/@"
values = st.text(alphabet=_ALPHABET + "xyz0189-_.é\u2028", min_size=4, max_size=14)
fillers = st.text(alphabet=_ALPHABET + "\n\té", max_size=8)


@st.composite
def texts_around(draw: st.DrawFn, secrets: list[str]) -> str:
    """Text made of the secrets (each may come several times, adjacent, cut in two halves
    around the mask, or next to a shape's key word) and filler."""
    pieces = draw(
        st.lists(
            st.one_of(
                st.sampled_from(secrets),
                fillers,
                st.just(MASK),
                st.sampled_from(["Bearer ", "token=", "https://", "@", "api_key: "]),
                st.sampled_from(secrets).map(lambda s: s[: len(s) // 2] + MASK + s[len(s) // 2 :]),
            ),
            max_size=12,
        )
    )
    return "".join(pieces)


def _occurrences(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if len(s) >= 4 and s in text]


@settings(max_examples=300)
@given(st.data(), st.lists(values, min_size=1, max_size=4))
def test_scrub_leaves_no_secret_made_a_secret(data: st.DataObject, secrets: list[str]) -> None:
    """A value wrapped in Secret anywhere in the process is masked by scrub() of any text,
    with no secret handed to the call."""
    forget_known_secrets()
    for value in secrets:
        Secret(value)
    text = data.draw(texts_around(secrets))
    assert _occurrences(scrub(text), secrets) == []


@settings(max_examples=300)
@given(st.data(), st.lists(values, min_size=1, max_size=4))
def test_mask_known_leaves_no_remembered_value(data: st.DataObject, secrets: list[str]) -> None:
    """remember()ed values too, and mask_known changes nothing else in a text without one."""
    forget_known_secrets()
    remember(*secrets)
    text = data.draw(texts_around(secrets))
    masked = mask_known(text)
    assert _occurrences(masked, secrets) == []
    if not _occurrences(text, secrets):
        assert masked == text


@settings(max_examples=200)
@given(st.data(), st.lists(values, min_size=1, max_size=3))
def test_secrets_given_to_one_call_are_masked_too(data: st.DataObject, secrets: list[str]) -> None:
    """Values handed to a call (not registered) are masked by it as before, alongside the
    registered ones, longest first: none survives in part of another."""
    forget_known_secrets()
    registered, given_only = secrets[: len(secrets) // 2], secrets[len(secrets) // 2 :]
    remember(*registered)
    text = data.draw(texts_around(secrets))
    assert _occurrences(scrub(text, given_only), secrets) == []
    assert _occurrences(mask_known(text, [Secret(v) for v in given_only]), secrets) == []


json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False)
)


@st.composite
def documents(draw: st.DrawFn, secrets: list[str]) -> object:
    """A JSON document whose strings (object keys too) are texts around the secrets."""
    strings = texts_around(secrets)
    return draw(
        st.recursive(
            st.one_of(json_leaves, strings),
            lambda inner: st.one_of(
                st.lists(inner, max_size=4), st.dictionaries(strings, inner, max_size=4)
            ),
            max_leaves=20,
        )
    )


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    return []


@settings(max_examples=200)
@given(st.data(), st.lists(values, min_size=1, max_size=3), st.booleans())
def test_a_decoded_document_is_masked_at_any_depth_and_the_gate_misses_nothing(
    data: st.DataObject, secrets: list[str], ascii_only: bool
) -> None:
    """mask_known_json leaves no secret in any string or key of a document; and whenever a
    decoded string holds a secret, json_may_hold_secret said so from the raw bytes, however
    the encoder escaped it (\\uXXXX for every non-ASCII character, or none)."""
    forget_known_secrets()
    remember(*secrets)
    document = data.draw(documents(secrets))
    raw = json.dumps(document, ensure_ascii=ascii_only).encode()
    decoded = msgspec.json.decode(raw)
    for text in _strings(mask_known_json(decoded)):
        assert _occurrences(text, secrets) == []
    if any(_occurrences(text, secrets) for text in _strings(decoded)):
        assert json_may_hold_secret(raw)


def test_escapes_that_spell_a_secret_open_the_gate() -> None:
    """A secret every character of which is a \\u escape is not in the bytes; the gate opens
    on the backslash, and the walk masks it."""
    forget_known_secrets()
    Secret("hmac-secret-value")
    spelled = "".join(f"\\u{ord(c):04x}" for c in "hmac-secret-value")
    raw = f'{{"data": "expected {spelled}"}}'.encode()
    assert b"hmac-secret-value" not in raw
    assert json_may_hold_secret(raw)
    assert mask_known_json(msgspec.json.decode(raw)) == {"data": f"expected {MASK}"}
    assert not json_may_hold_secret(b'{"data": "nothing here"}')


def test_a_deeper_document_than_the_recursion_limit_is_walked() -> None:
    """The walk is iterative: a document nested as deep as the decoder allows is masked."""
    forget_known_secrets()
    Secret("deep-secret-value")
    depth = 900
    document = msgspec.json.decode(b"[" * depth + b'"deep-secret-value"' + b"]" * depth)
    masked = mask_known_json(document)
    for _ in range(depth):
        (masked,) = masked
    assert masked == MASK


def test_the_registry_keeps_the_most_recent_values_and_ignores_short_ones() -> None:
    """Bounded: past KNOWN_LIMIT distinct values the least recently read goes; a value read
    again (a credential source reads its secret at every use) stays. Values under four
    characters are not registered (masking every "a" protects nothing)."""
    forget_known_secrets()
    Secret("kept-because-reread")
    for n in range(KNOWN_LIMIT + 10):
        Secret(f"value-number-{n:04d}")
        if n % 50 == 0:
            Secret("kept-because-reread")
    known = set(known_secrets())
    assert len(known) == KNOWN_LIMIT
    assert "kept-because-reread" in known
    assert "value-number-0000" not in known
    assert f"value-number-{KNOWN_LIMIT + 9:04d}" in known
    Secret("abc")
    assert "abc" not in known_secrets()
    assert mask_known("abc abcd") == "abc abcd"
