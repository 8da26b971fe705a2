"""POST /internal/v1/federation/verify of the telemetry gateway (commit c175221) as request
-> reply logic, for LocalVectorVue; written from design/vectorvue-contract.md ("Other
/internal/v1 endpoints a producer may call"), never from the client's models. In order:

 1. 405  not a POST
 2. 422  the body schema, FastAPI's list-form {"detail": [{"type", "loc", "msg"}]}, before
         any identity check: {"bundle": {operator_id 1-128, campaign_id 1-128,
         execution_hash 64 hex, timestamp integer, nonce 12-128, signature 12-4096}},
         both objects closed
 3. 401  the identity headers only (TelemetryGateway.identify): no X-Telemetry-* signature,
         no clock or replay check, nothing stored
 4. 500  plain: `signature` is not decodable base64 (Python's lenient decoder)
 5. 401  `signature` is not the identity's Ed25519 signature over
         operator_id|campaign_id|execution_hash|timestamp|nonce
 6. 200  {"accepted": true, "bundle_hash": SHA-256 hex of that same string}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Annotated, Final

import msgspec
from cryptography.exceptions import InvalidSignature
from msgspec import Meta

from vectorvue_client.testing.receiver_gateway import TelemetryGateway
from vectorvue_client.testing.receiver_reply import (
    Reply,
    crash,
    detail,
    fastapi_body,
    json_reply,
)

FEDERATION_PATH: Final = "/internal/v1/federation/verify"


class Bundle(msgspec.Struct, forbid_unknown_fields=True):
    """What the producer signed."""

    operator_id: Annotated[str, Meta(min_length=1, max_length=128)]
    campaign_id: Annotated[str, Meta(min_length=1, max_length=128)]
    execution_hash: Annotated[str, Meta(pattern=r"\A[0-9A-Fa-f]{64}\Z")]
    timestamp: int
    nonce: Annotated[str, Meta(min_length=12, max_length=128)]
    signature: Annotated[str, Meta(min_length=12, max_length=4096)]


class Verify(msgspec.Struct, forbid_unknown_fields=True):
    """The body."""

    bundle: Bundle


class FederationVerify:
    """The route's rules; who may call is `gateway`'s business (its identities)."""

    def __init__(self, gateway: TelemetryGateway) -> None:
        self._gateway = gateway

    def handle(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        client_cert: str | None,
    ) -> Reply:
        """The reply to one request to FEDERATION_PATH."""
        if method != "POST":
            return detail(405, "Method Not Allowed")
        checked = fastapi_body(body, Verify)
        if isinstance(checked, Reply):
            return checked
        denied = self._gateway.identify(headers, client_cert)
        if denied is not None:
            return denied
        bundle = checked.bundle
        parts = (bundle.operator_id, bundle.campaign_id, bundle.execution_hash)
        signed = "|".join((*parts, str(bundle.timestamp), bundle.nonce)).encode("utf-8")
        try:
            signature = base64.b64decode(bundle.signature)  # lenient, as the server's
        except (binascii.Error, ValueError):
            return crash(close=False)
        try:
            self._gateway.identity_key(headers).verify(signature, signed)
        except InvalidSignature:
            return detail(401, "Invalid federation bundle signature")
        return json_reply(
            200, {"accepted": True, "bundle_hash": hashlib.sha256(signed).hexdigest()}
        )
