"""POST /internal/v1/federation/verify: the bundle, its signed string and its hash, as the
telemetry gateway reads them (contract, "Other /internal/v1 endpoints a producer may call").

The body is `{"bundle": {operator_id, campaign_id, execution_hash, timestamp, nonce,
signature}}`, closed. `signature` is standard base64 of the Ed25519 signature, with the
producer's key, of `operator_id|campaign_id|execution_hash|timestamp|nonce` (UTF-8), and the
gateway answers `{"accepted": true, "bundle_hash": <sha256 hex of that same string>}`. The
client holds the producer key, so it signs the bundle itself: the caller gives the five
fields, never a signature. Nothing is stored and no replay is checked by the gateway.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Annotated, Any, Final

import msgspec
from msgspec import Meta

from vectorvue_client.domain.encoding import encode_json_data
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.domain.field_rules import Problems, struct_problems

PATH: Final = "/internal/v1/federation/verify"

# Lengths in code points, as the gateway's schema counts them.
Name = Annotated[str, Meta(min_length=1, max_length=128)]
ExecutionHash = Annotated[str, Meta(pattern="^[0-9a-fA-F]{64}$")]
Nonce = Annotated[str, Meta(min_length=12, max_length=128)]
Signature = Annotated[str, Meta(min_length=12, max_length=4096)]


class FederationBundle(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The five fields of a bundle the caller gives (the client signs it)."""

    operator_id: Name
    campaign_id: Name
    execution_hash: ExecutionHash
    timestamp: int
    nonce: Nonce


class _SignedBundle(FederationBundle, frozen=True, kw_only=True):
    signature: Signature


class _Body(msgspec.Struct, frozen=True):
    bundle: _SignedBundle


def federation_bundle(value: Mapping[str, Any] | FederationBundle) -> FederationBundle:
    """`value` as a bundle, every rule checked (all problems at once, by field name)."""
    if isinstance(value, FederationBundle):
        return value
    if not isinstance(value, Mapping):
        raise VectorVueSerializationError.single("bundle", "must be an object")
    if "signature" in value:
        raise VectorVueSerializationError.single(
            "signature",
            "is made by the client with the producer key: give the other five fields only",
        )
    problems = Problems()
    struct_problems(value, FederationBundle, problems)
    problems.raise_if_any()
    return msgspec.convert(dict(value), FederationBundle)


def signed_string(bundle: FederationBundle) -> bytes:
    """`operator_id|campaign_id|execution_hash|timestamp|nonce`, UTF-8: what is signed,
    and what the gateway's bundle_hash is the SHA-256 of."""
    fields = (
        bundle.operator_id,
        bundle.campaign_id,
        bundle.execution_hash,
        str(bundle.timestamp),
        bundle.nonce,
    )
    return "|".join(fields).encode()


def bundle_hash(bundle: FederationBundle) -> str:
    """The bundle_hash the gateway must answer: lowercase hex SHA-256 of signed_string."""
    return hashlib.sha256(signed_string(bundle)).hexdigest()


def request_body(bundle: FederationBundle, signature: str) -> bytes:
    """The request's JSON bytes with `signature` (standard base64, from the producer key)."""
    base64.b64decode(signature, validate=True)  # a bad one is a 500 at the gateway: ours
    signed = _SignedBundle(**msgspec.structs.asdict(bundle), signature=signature)
    return encode_json_data(_Body(signed))
