"""The checks of a signed feedback answer (contract: "What the client checks, in this
order"). Every answer here is signed by the test itself, from the contract's rules: the six
parts joined by "|", the last being json.dumps(data, sort_keys=True, separators=(",", ":")),
with cryptography's Ed25519 and RFC 8032's first test key; the body is written as the
server's framework writes it (model order, non-ASCII raw). Nothing is taken from our output.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client.adapters.nonce_memory import MemoryNonceStore
from vectorvue_client.domain.feedback import (
    FeedbackCheck,
    FeedbackVerificationError,
    VerifiedFeedback,
    verify_feedback,
)

# RFC 8032, section 7.1, TEST 1.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
KEY = Ed25519PrivateKey.from_private_bytes(RFC8032_SEED)
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
TENANT = "a0000000-0000-4000-8000-00000000000b"
OTHER_TENANT = "10000000-0000-4000-8000-000000000002"
NOW = 1_795_564_800
HASH = "ab" * 32


def adjustment(**changes: Any) -> dict[str, Any]:
    """One adjustment in the gateway's model order."""
    item = {
        "tenant_id": TENANT,
        "execution_fingerprint": "cd" * 32,
        "target_urn": "urn:target:h\u00f4te-\U0001f600",
        "action": "tighten",
        "confidence": 0.82,
        "rationale": "Execution graph is dense; tighten controls.",
        "control": "execution",
        "ttl_seconds": 1800,
        "timestamp": NOW,
        "schema_version": "feedback.adjustment.v1",
        "attestation_measurement_hash": HASH,
    }
    item.update(changes)
    return item


def signed_message(tenant: str, signed_at: int, nonce: str, kid: str, data: Any) -> bytes:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return f"{tenant}|{signed_at}|{nonce}|feedback.response.v1|{kid}|{canonical}".encode()


def answer(
    data: list[Any] | None = None,
    *,
    key: Ed25519PrivateKey = KEY,
    kid: str = "default",
    signed_at: int = NOW,
    nonce: str = "bm9uY2Utbm9uY2Utbm9uY2Ut",
    tenant: str = TENANT,
    signed_data: Any = None,
    **overrides: Any,
) -> bytes:
    """The body of a 200 the gateway would send (`signed_data`: sign other data than sent)."""
    data = [adjustment()] if data is None else data
    message = signed_message(
        tenant, signed_at, nonce, kid, data if signed_data is None else signed_data
    )
    body: dict[str, Any] = {
        "request_id": "7b0d2f4e-0000-4000-8000-000000000000",
        "status": "accepted",
        "data": data,
        "errors": [],
        "signature": base64.b64encode(key.sign(message)).decode(),
        "kid": kid,
        "signature_algorithm": "Ed25519",
        "signed_at": signed_at,
        "nonce": nonce,
        "schema_version": "feedback.response.v1",
    }
    body.update(overrides)
    body = {k: v for k, v in body.items() if v is not _DROP}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


_DROP = object()
KEYRING = {"default": KEY.public_key()}


def verify(
    body: bytes,
    *,
    store: MemoryNonceStore | None = None,
    keyring: Any = None,
    now: float = NOW,
    status: int = 200,
    tenant: str = TENANT,
    window: float = 300.0,
) -> VerifiedFeedback:
    nonces = store if store is not None else MemoryNonceStore()
    return verify_feedback(
        status,
        body,
        tenant_id=tenant,
        keyring=KEYRING if keyring is None else keyring,
        now=now,
        window=window,
        seen=lambda n: nonces.seen(n, now),
        remember=lambda n, until: nonces.remember(n, now, until),
    )


def refused(check: FeedbackCheck, body: bytes, **kwargs: Any) -> FeedbackVerificationError:
    with pytest.raises(FeedbackVerificationError) as caught:
        verify(body, **kwargs)
    assert caught.value.check is check, caught.value
    return caught.value


def test_the_rfc8032_key_is_the_one_we_think() -> None:
    assert KEY.public_key().public_bytes_raw() == RFC8032_PUBLIC


def test_a_genuine_answer_gives_typed_adjustments() -> None:
    result = verify(answer([adjustment(), adjustment(action="observe", confidence=0.55)]))
    assert [a.action for a in result.adjustments] == ["tighten", "observe"]
    first = result.adjustments[0]
    assert first.target_urn == "urn:target:h\u00f4te-\U0001f600"
    assert (first.confidence, first.ttl_seconds, result.kid) == (0.82, 1800, "default")
    assert result.dropped == ()
    assert (result.signed_at, result.nonce) == (NOW, "bm9uY2Utbm9uY2Utbm9uY2Ut")


def test_an_empty_answer_verifies() -> None:
    assert verify(answer([])).adjustments == ()


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, None),
        (202, None),
        (200, b"Internal Server Error"),
        (200, b"[1]"),
        (200, b'{"detail":"x"}'),
    ],
)
def test_shape(status: int, body: bytes | None) -> None:
    refused(FeedbackCheck.SHAPE, body or answer(), status=status)


@pytest.mark.parametrize(
    "change",
    [
        {"data": {"a": 1}},
        {"signature": _DROP},
        {"kid": ""},
        {"nonce": _DROP},
        {"signed_at": str(NOW)},
        {"signed_at": True},
        {"schema_version": ""},
    ],
)
def test_shape_of_the_signed_fields(change: dict[str, Any]) -> None:
    error = refused(FeedbackCheck.SHAPE, answer(**change))
    assert next(iter(change)) in str(error) or "data" in str(error)


@pytest.mark.parametrize("algorithm", ["HMAC-SHA256", "ed25519", _DROP])
def test_algorithm(algorithm: object) -> None:
    refused(FeedbackCheck.ALGORITHM, answer(signature_algorithm=algorithm))


def test_schema_version() -> None:
    refused(FeedbackCheck.SCHEMA_VERSION, answer(schema_version="feedback.response.v2"))


def test_an_unknown_kid_is_refused_not_fetched() -> None:
    body = answer(key=OTHER_KEY, kid="2027-01")
    error = refused(FeedbackCheck.KID, body)
    assert "2027-01" in str(error) and "never fetched" in str(error)


@pytest.mark.parametrize("offset", [-301, 301, -10_000])
def test_freshness(offset: int) -> None:
    refused(FeedbackCheck.FRESHNESS, answer(signed_at=NOW + offset))


@pytest.mark.parametrize("offset", [-300, 300, 0])
def test_freshness_window_is_inclusive(offset: int) -> None:
    assert verify(answer(signed_at=NOW + offset)).signed_at == NOW + offset


def test_the_window_is_a_setting() -> None:
    refused(FeedbackCheck.FRESHNESS, answer(signed_at=NOW - 60), window=30.0)


def test_tampered_data_fails_the_signature() -> None:
    genuine = [adjustment()]
    tampered = [adjustment(action="observe")]
    refused(FeedbackCheck.SIGNATURE, answer(tampered, signed_data=genuine))


def test_an_answer_signed_for_another_tenant_fails_the_signature() -> None:
    refused(FeedbackCheck.SIGNATURE, answer([], tenant=OTHER_TENANT))


def test_signed_with_another_key_under_our_kid_fails() -> None:
    refused(FeedbackCheck.SIGNATURE, answer(key=OTHER_KEY))


@pytest.mark.parametrize(
    "signature", ["not base64!", "AAAA", base64.urlsafe_b64encode(b"\xfb" * 64).decode()]
)
def test_a_malformed_signature_fails_the_signature(signature: str) -> None:
    refused(FeedbackCheck.SIGNATURE, answer(signature=signature))


def test_signing_the_raw_utf8_form_does_not_verify() -> None:
    """The contract: signing over raw UTF-8 fails, the ASCII-escaped form succeeds."""
    data = [adjustment()]
    raw = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    message = f"{TENANT}|{NOW}|n0nce-n0nce|feedback.response.v1|default|{raw}".encode()
    body = answer(data, nonce="n0nce-n0nce", signature=base64.b64encode(KEY.sign(message)).decode())
    refused(FeedbackCheck.SIGNATURE, body)


def test_a_replayed_answer_is_refused() -> None:
    store = MemoryNonceStore()
    body = answer()
    verify(body, store=store)
    refused(FeedbackCheck.REPLAY, body, store=store)
    # Another answer (a new nonce) still goes through.
    verify(answer(nonce="another-nonce-1234"), store=store)


def test_a_forged_answer_does_not_burn_the_nonce() -> None:
    store = MemoryNonceStore()
    forged = answer([adjustment(action="observe")], signed_data=[adjustment()])
    refused(FeedbackCheck.SIGNATURE, forged, store=store)
    genuine = answer()  # the same nonce
    assert len(verify(genuine, store=store).adjustments) == 1


def test_the_nonce_expires_with_the_window() -> None:
    store = MemoryNonceStore()
    body = answer()
    verify(body, store=store)
    # Past signed_at + window the answer is stale (freshness), and its nonce forgotten.
    assert store.seen("bm9uY2Utbm9uY2Utbm9uY2Ut", NOW + 300)
    assert not store.seen("bm9uY2Utbm9uY2Utbm9uY2Ut", NOW + 301)


def test_rotation_old_and_new_kids_verify_a_removed_kid_is_refused() -> None:
    rotated = {"2026-05": KEY.public_key(), "2026-11": OTHER_KEY.public_key()}
    old = answer(kid="2026-05", nonce="old-kid-nonce-01")
    new = answer(key=OTHER_KEY, kid="2026-11", nonce="new-kid-nonce-01")
    assert verify(old, keyring=rotated).kid == "2026-05"
    assert verify(new, keyring=rotated).kid == "2026-11"
    after = {"2026-11": OTHER_KEY.public_key()}
    refused(FeedbackCheck.KID, old, keyring=after)


def test_two_threads_verifying_one_answer_one_wins() -> None:
    store = MemoryNonceStore()
    body = answer()
    both_checked = threading.Barrier(2)
    outcomes: list[object] = []

    def run() -> None:
        def seen(nonce: str) -> bool:
            was = store.seen(nonce, NOW)
            both_checked.wait(timeout=10)  # both past the pre-check before either remembers
            return was

        try:
            verify_feedback(
                200,
                body,
                tenant_id=TENANT,
                keyring=KEYRING,
                now=NOW,
                seen=seen,
                remember=lambda n, until: store.remember(n, NOW, until),
            )
            outcomes.append("accepted")
        except FeedbackVerificationError as exc:
            outcomes.append(exc.check)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(map(str, outcomes)) == ["accepted", "replay"]


@pytest.mark.parametrize(
    ("item", "check"),
    [
        (adjustment(tenant_id=OTHER_TENANT), FeedbackCheck.TENANT),
        (adjustment(tenant_id=TENANT.upper()), FeedbackCheck.TENANT),
        (adjustment(execution_fingerprint="cd" * 31), FeedbackCheck.FINGERPRINT),
        (adjustment(execution_fingerprint="zz" * 32), FeedbackCheck.FINGERPRINT),
        (adjustment(attestation_measurement_hash=None), FeedbackCheck.ATTESTATION_HASH),
        (adjustment(timestamp=0), FeedbackCheck.TIMESTAMP),
        (adjustment(timestamp=-5), FeedbackCheck.TIMESTAMP),
        (adjustment(timestamp="1795564800"), FeedbackCheck.TIMESTAMP),
        (adjustment(schema_version="feedback.adjustment.v2"), FeedbackCheck.ITEM_SCHEMA_VERSION),
        (adjustment(confidence="high"), FeedbackCheck.ITEM_SHAPE),
        ("tighten", FeedbackCheck.ITEM_SHAPE),
    ],
)
def test_bad_items_are_dropped_and_reported(item: Any, check: FeedbackCheck) -> None:
    good = adjustment(target_urn="urn:target:kept")
    result = verify(answer([good, item]))
    assert [a.target_urn for a in result.adjustments] == ["urn:target:kept"]
    assert [(d.index, d.check) for d in result.dropped] == [(1, check)]


def test_uppercase_hashes_are_hex_and_kept() -> None:
    item = adjustment(execution_fingerprint="CD" * 32, attestation_measurement_hash="AB" * 32)
    assert len(verify(answer([item])).adjustments) == 1


def test_a_seen_nonce_is_refused_before_the_signature_is_checked() -> None:
    """Step 4 before step 5: a known nonce is a replay whatever its signature."""
    store = MemoryNonceStore()
    verify(answer(), store=store)
    forged = answer([adjustment(action="observe")], signed_data=[adjustment()])
    refused(FeedbackCheck.REPLAY, forged, store=store)


def test_data_nested_past_the_decoder_is_a_shape_error() -> None:
    # 100,000 levels: past the interpreter's limit on 3.12 (about 1,500) and 3.13 (10,000).
    deep = 100_000
    nested = answer([]).replace(b'"data":[]', b'"data":' + b"[" * deep + b"]" * deep)
    refused(FeedbackCheck.SHAPE, nested)


def test_a_number_out_of_range_is_a_shape_error() -> None:
    # 1e999 would be an infinity, which the signed bytes (JSON) cannot hold: never read.
    refused(FeedbackCheck.SHAPE, answer([]).replace(b'"data":[]', b'"data":[1e999]'))
