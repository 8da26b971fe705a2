"""Verification of the gateway's signed feedback answer, in the contract's order
(contract: "What the client checks, in this order, before trusting feedback").

1. shape: HTTP 200, a JSON object, `data` an array; `signature`, `kid`, `signed_at`,
   `nonce`, `schema_version` present and non-empty;
2. algorithm (`Ed25519`) and schema version (`feedback.response.v1`);
3. kid: in the local keyring (an unknown kid is refused: a key is never fetched);
4. freshness: |now - signed_at| within the window; replay: the nonce not seen;
5. signature: Ed25519 over the exact signed bytes, recomputed with the tenant the client
   ASKED for (so an answer for another tenant cannot verify);
6. the nonce remembered only now, after a good signature (a forged answer must not burn
   the nonce of the genuine one), atomically: of two verifications of one answer, one wins;
7. per item: the items that fail a check are dropped, each with the check it failed.

Every failure of 1-6 raises FeedbackVerificationError whose `check` names the step. Pure:
the time, the keyring and the nonce memory (two callables over a NonceStore) come in.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Final

import msgspec
from msgspec import Meta

from vectorvue_client.domain.canonical_json import canonical_json, decode_json
from vectorvue_client.domain.errors import VectorVueError
from vectorvue_client.domain.models import HEX64_PATTERN
from vectorvue_client.domain.redaction import excerpt, mask_known

if TYPE_CHECKING:  # cryptography loads at the first signature check, not at import
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

RESPONSE_SCHEMA_VERSION: Final = "feedback.response.v1"
ADJUSTMENT_SCHEMA_VERSION: Final = "feedback.adjustment.v1"
ALGORITHM: Final = "Ed25519"
DEFAULT_FRESHNESS_SECONDS: Final = 300.0  # SpectraStrike's window
_HEX64: Final = re.compile(HEX64_PATTERN)

type Keyring = Mapping[str, Ed25519PublicKey]
"""kid -> Ed25519 public key; several during a rotation (keep the old kid)."""


class FeedbackCheck(StrEnum):
    """The checks of a feedback answer, named as errors and drops report them."""

    SHAPE = "shape"
    ALGORITHM = "algorithm"
    SCHEMA_VERSION = "schema_version"
    KID = "kid"
    FRESHNESS = "freshness"
    REPLAY = "replay"
    SIGNATURE = "signature"
    # Per item: the item is dropped, the answer still stands.
    ITEM_SHAPE = "item_shape"
    TENANT = "tenant"
    FINGERPRINT = "fingerprint"
    ATTESTATION_HASH = "attestation_hash"
    TIMESTAMP = "timestamp"
    ITEM_SCHEMA_VERSION = "item_schema_version"


class FeedbackVerificationError(VectorVueError):
    """A feedback answer that must not be trusted; `check` names the check it failed."""

    def __init__(self, check: FeedbackCheck, detail: str) -> None:
        self.check = check
        self.detail = mask_known(detail)
        super().__init__(f"feedback refused ({check.value}): {self.detail}")


class FeedbackAdjustment(msgspec.Struct, frozen=True, kw_only=True):
    """One verified adjustment the gateway advises (contract: the adjustment's fields)."""

    tenant_id: str
    execution_fingerprint: str
    target_urn: str
    action: str  # "tighten" or "observe" today
    confidence: float
    rationale: str
    control: str
    ttl_seconds: int
    timestamp: int
    schema_version: str
    attestation_measurement_hash: str


class DroppedAdjustment(msgspec.Struct, frozen=True):
    """An item of a verified answer that was not applied: its index in `data`, the check
    it failed and why."""

    index: int
    check: FeedbackCheck
    reason: str


class VerifiedFeedback(msgspec.Struct, frozen=True, kw_only=True):
    """A feedback answer that passed every check: who signed it when, and its items."""

    tenant_id: str
    kid: str
    signed_at: int
    nonce: str
    request_id: str | None
    adjustments: tuple[FeedbackAdjustment, ...]
    dropped: tuple[DroppedAdjustment, ...]


_NonEmpty = Annotated[str, Meta(min_length=1)]


class _SignedAnswer(msgspec.Struct, frozen=True):
    """What step 1 requires of the answer (other keys are not signed and not read)."""

    data: list[Any]
    signature: _NonEmpty
    kid: _NonEmpty
    signed_at: int
    nonce: _NonEmpty
    schema_version: _NonEmpty
    signature_algorithm: str | None = None
    request_id: str | None = None


def signed_bytes(tenant_id: str, signed_at: int, nonce: str, kid: str, data: Any) -> bytes:
    """The bytes the gateway signs: six parts joined by `|`, UTF-8."""
    parts = (tenant_id, str(signed_at), nonce, RESPONSE_SCHEMA_VERSION, kid)
    return "|".join(parts).encode("utf-8") + b"|" + canonical_json(data)


def verify_feedback(
    status: int,
    body: bytes,
    *,
    tenant_id: str,
    keyring: Keyring,
    now: float,
    window: float = DEFAULT_FRESHNESS_SECONDS,
    seen: Callable[[str], bool],
    remember: Callable[[str, float], bool],
) -> VerifiedFeedback:
    """The adjustments of a feedback answer, once every check has passed.

    `seen(nonce)` says whether a nonce was remembered (and has not expired);
    `remember(nonce, expires_at)` remembers it atomically, False when it already was.
    Raises FeedbackVerificationError naming the first check that failed."""
    answer = _shape(status, body)
    if answer.signature_algorithm != ALGORITHM:
        raise FeedbackVerificationError(
            FeedbackCheck.ALGORITHM,
            f"signature_algorithm is {_quoted(answer.signature_algorithm)}, not {ALGORITHM}",
        )
    if answer.schema_version != RESPONSE_SCHEMA_VERSION:
        raise FeedbackVerificationError(
            FeedbackCheck.SCHEMA_VERSION,
            f"schema_version is {_quoted(answer.schema_version)}, not {RESPONSE_SCHEMA_VERSION}",
        )
    key = keyring.get(answer.kid)
    if key is None:
        raise FeedbackVerificationError(
            FeedbackCheck.KID,
            f"kid {_quoted(answer.kid)} is not in the local keyring "
            f"({', '.join(sorted(keyring)) or 'empty'}); keys are never fetched",
        )
    if not abs(now - answer.signed_at) <= window:
        raise FeedbackVerificationError(
            FeedbackCheck.FRESHNESS,
            f"signed_at {answer.signed_at} is {abs(now - answer.signed_at):.0f} s from now, "
            f"outside the window of {window:g} s",
        )
    if seen(answer.nonce):
        raise FeedbackVerificationError(FeedbackCheck.REPLAY, _REPLAYED)
    try:
        message = signed_bytes(tenant_id, answer.signed_at, answer.nonce, answer.kid, answer.data)
    except (RecursionError, ValueError):
        # A guard: the decoder refuses what json.dumps cannot write (an infinity, nesting
        # past the interpreter's limit) today, but the two limits are not the same code.
        raise FeedbackVerificationError(
            FeedbackCheck.SHAPE, "data cannot be put in canonical JSON"
        ) from None
    if not _verifies(key, answer.signature, message):
        raise FeedbackVerificationError(
            FeedbackCheck.SIGNATURE,
            f"the Ed25519 signature does not verify with kid {_quoted(answer.kid)} over "
            "the answer for the tenant asked for",
        )
    # Only now: the nonce is remembered until the answer would be stale anyway.
    if not remember(answer.nonce, answer.signed_at + window):
        raise FeedbackVerificationError(FeedbackCheck.REPLAY, _REPLAYED)
    kept, dropped = _items(answer.data, tenant_id)
    return VerifiedFeedback(
        tenant_id=tenant_id,
        kid=answer.kid,
        signed_at=answer.signed_at,
        nonce=answer.nonce,
        request_id=answer.request_id,
        adjustments=tuple(kept),
        dropped=tuple(dropped),
    )


_REPLAYED: Final = "this answer's nonce was already accepted within the freshness window"


def _shape(status: int, body: bytes) -> _SignedAnswer:
    if status != 200:
        raise FeedbackVerificationError(FeedbackCheck.SHAPE, f"HTTP {status}, not 200")
    try:
        parsed = decode_json(body)
    except (msgspec.DecodeError, RecursionError):
        raise FeedbackVerificationError(FeedbackCheck.SHAPE, "the body is not JSON") from None
    if not isinstance(parsed, dict):
        raise FeedbackVerificationError(FeedbackCheck.SHAPE, "the body is not a JSON object")
    try:
        return msgspec.convert(parsed, _SignedAnswer)
    except msgspec.ValidationError as exc:
        raise FeedbackVerificationError(FeedbackCheck.SHAPE, _rule(exc)) from None


def _verifies(key: Ed25519PublicKey, signature: str, message: bytes) -> bool:
    # Here rather than at the top: `import vectorvue_client` need not load cryptography.
    from cryptography.exceptions import InvalidSignature

    try:  # standard base64 with its padding, as the gateway writes it
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def _items(
    data: list[Any], tenant_id: str
) -> tuple[list[FeedbackAdjustment], list[DroppedAdjustment]]:
    kept: list[FeedbackAdjustment] = []
    dropped: list[DroppedAdjustment] = []
    for index, item in enumerate(data):
        problem = _item_problem(item, tenant_id)
        if problem is None:
            try:
                kept.append(msgspec.convert(item, FeedbackAdjustment))
                continue
            except msgspec.ValidationError as exc:
                problem = (FeedbackCheck.ITEM_SHAPE, _rule(exc))
        dropped.append(DroppedAdjustment(index, *problem))
    return kept, dropped


def _item_problem(item: Any, tenant_id: str) -> tuple[FeedbackCheck, str] | None:
    """The first per-item check `item` fails, in the contract's order; None if none."""
    if not isinstance(item, dict):
        return FeedbackCheck.ITEM_SHAPE, "is not a JSON object"
    if item.get("tenant_id") != tenant_id:
        return FeedbackCheck.TENANT, "tenant_id differs from the tenant asked for"
    for field, check in (
        ("execution_fingerprint", FeedbackCheck.FINGERPRINT),
        ("attestation_measurement_hash", FeedbackCheck.ATTESTATION_HASH),
    ):
        value = item.get(field)
        if not (isinstance(value, str) and _HEX64.match(value)):
            return check, f"{field} is not 64 hexadecimal characters"
    timestamp = item.get("timestamp")
    if type(timestamp) is not int or timestamp <= 0:
        return FeedbackCheck.TIMESTAMP, "timestamp is not a positive integer"
    if item.get("schema_version") != ADJUSTMENT_SCHEMA_VERSION:
        return (
            FeedbackCheck.ITEM_SCHEMA_VERSION,
            f"schema_version is not {ADJUSTMENT_SCHEMA_VERSION}",
        )
    return None


def _rule(exc: msgspec.ValidationError) -> str:
    """msgspec's "Expected `int`, got `str` - at `$.signed_at`" as "signed_at: ..."."""
    rule, _, path = str(exc).partition(" - at `$")
    field = path.rstrip("`").lstrip(".")
    return f"{field}: {rule}" if field else rule


def _quoted(value: str | None) -> str:
    return "missing" if value is None else repr(excerpt(value, 64))
