"""The integration API's signed answers: HMAC-SHA256 over path|tenant|signed_at|data.

VectorVue signs (when it holds a compliance signing key) the 202 envelope of the four
SpectraStrike POST routes and the 200 of the ingest status route: the envelope's
`signature` is `{"algorithm": "hmac-sha256", "signed_at", "signature": hex}` over
`f"{path}|{tenant}|{signed_at}|{canonical data}"`. The key is shared (symmetric): only a
client given the same secret can check it; without one the answer is "not_checked".

The check reads the body exactly as the server sent it: the masking of known secrets that
every envelope gets (domain.envelope) runs after it, never before (a masked value would
change the MAC input). No freshness rule: an idempotent replay carries its original
`signed_at`, and the contract gives these signatures no nonce and no window.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Mapping
from typing import Any, Final, Literal

import msgspec

from vectorvue_client.domain.canonical_json import canonical_json
from vectorvue_client.domain.errors import VectorVueAPIError
from vectorvue_client.domain.jwt import jwt_claims
from vectorvue_client.domain.redaction import Secret

type SignatureStatus = Literal["verified", "unsigned", "invalid", "not_checked"]

VERIFIED: Final = "verified"
UNSIGNED: Final = "unsigned"
INVALID: Final = "invalid"
NOT_CHECKED: Final = "not_checked"

ALGORITHM: Final = "hmac-sha256"
_BASE: Final = "/api/v1/integrations/spectrastrike"
STATUS_PREFIX: Final = f"{_BASE}/ingest/status/"
# The status route is signed over its template, braces included, not over the id asked.
STATUS_TEMPLATE: Final = f"{STATUS_PREFIX}{{request_id}}"
SIGNED_POST_PATHS: Final = frozenset(
    f"{_BASE}/{route}" for route in ("events", "events/batch", "findings", "findings/batch")
)
# What the status route's data holds as server date-times (shown with T and Z, signed
# as the database gave them: a space and +00:00).
_STATUS_DATES: Final = ("created_at", "updated_at")
_SHOWN_DATE: Final = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)Z")
_HEX64: Final = re.compile(r"[0-9a-f]{64}")


class SignatureCheck(msgspec.Struct, frozen=True):
    """The verdict on one answer's signature: its status, and for "invalid" (or for
    "unsigned", what is missing) the check that failed, in our words."""

    status: SignatureStatus
    problem: str | None = None


NOT_CHECKED_RESULT: Final = SignatureCheck(NOT_CHECKED)


class VectorVueSignatureError(VectorVueAPIError):
    """An answer whose signature does not verify (or is missing) while the client is set
    to enforce signed answers (`compliance_signatures = "enforce"`). VectorVue did answer
    2xx: what it stored is not in doubt, what it said cannot be trusted. `check` names the
    check that failed; `envelope` is the answer, as any VectorVueAPIError's."""

    def __init__(self, check: SignatureCheck, envelope: Any) -> None:
        self.check = check
        super().__init__(
            status_code=envelope.status_code,
            error_code=f"signature_{check.status}",
            message=f"the answer's signature is {check.status}: {check.problem}",
            request_id=envelope.request_id,
            retry_after=None,
            envelope=envelope,
        )


def signed_path(request_path: str) -> str | None:
    """The path VectorVue signs an answer to `request_path` under; None for a route whose
    answers are never signed (health, client events, the gateway)."""
    path = request_path.split("?", 1)[0]
    if path in SIGNED_POST_PATHS:
        return path
    if path.startswith(STATUS_PREFIX) and "/" not in path[len(STATUS_PREFIX) :]:
        return STATUS_TEMPLATE
    return None


def token_tenant(token: str) -> str | None:
    """The `tenant_id` claim of a bearer JWT in canonical form (lowercase, hyphenated);
    None when the token is not a JWT or has no UUID tenant (VectorVue refuses such a
    token, so no answer to it can be signed)."""
    try:
        tenant = jwt_claims(token).get("tenant_id")
        return str(uuid.UUID(tenant)) if isinstance(tenant, str) else None
    except ValueError:
        return None


def mac_input(path: str, tenant: str, signed_at: str, data: Any) -> bytes:
    """The bytes VectorVue MACs: `path|tenant|signed_at|canonical data` (UTF-8); for the
    status route the date-times of `data` are first written back as the server held them."""
    if path == STATUS_TEMPLATE:
        data = _status_dates_as_signed(data)
    head = f"{path}|{tenant}|{signed_at}|".encode()
    return head + canonical_json(data)


def expected_signature(secret: Secret, path: str, tenant: str, signed_at: str, data: Any) -> str:
    """Lowercase hex HMAC-SHA256 of mac_input under the trimmed secret."""
    key = secret.reveal().strip().encode()
    return hmac.new(key, mac_input(path, tenant, signed_at, data), hashlib.sha256).hexdigest()


def check_envelope(body: Any, *, path: str, tenant: str | None, secret: Secret) -> SignatureCheck:
    """The verdict on a decoded integration-API envelope (`body`, as the server sent it,
    unmasked) answered at `path` (the signed path: see signed_path) to a token of `tenant`."""
    if not isinstance(body, Mapping):
        return SignatureCheck(UNSIGNED, "the answer is not a signed envelope")
    signature = body.get("signature")
    if signature is None:
        return SignatureCheck(UNSIGNED, "the envelope's signature is null or absent")
    if not isinstance(signature, Mapping):
        return SignatureCheck(INVALID, "signature: not an object")
    algorithm = signature.get("algorithm")
    if algorithm != ALGORITHM:
        return SignatureCheck(INVALID, f"signature.algorithm: must be {ALGORITHM!r}")
    signed_at, mac = signature.get("signed_at"), signature.get("signature")
    if not isinstance(signed_at, str) or not signed_at:
        return SignatureCheck(INVALID, "signature.signed_at: must be a non-empty string")
    if not isinstance(mac, str) or not _HEX64.fullmatch(mac):
        return SignatureCheck(INVALID, "signature.signature: must be 64 lowercase hex")
    if tenant is None:
        return SignatureCheck(INVALID, "tenant: the bearer token carries no UUID tenant_id claim")
    if "data" not in body:
        return SignatureCheck(INVALID, "data: absent from a signed envelope")
    try:
        wanted = expected_signature(secret, path, tenant, signed_at, body["data"])
    except (RecursionError, ValueError):
        # A guard, as in domain.feedback: the decoder's limits are not json.dumps's.
        return SignatureCheck(INVALID, "data: cannot be put in canonical JSON")
    if not hmac.compare_digest(wanted.encode(), mac.encode()):
        return SignatureCheck(
            INVALID, "signature.signature: the HMAC over path|tenant|signed_at|data differs"
        )
    return SignatureCheck(VERIFIED)


def combined(statuses: list[SignatureStatus]) -> SignatureStatus:
    """One status for several answers (a batch sent as several requests): the worst."""
    for status in (INVALID, UNSIGNED, NOT_CHECKED):
        if status in statuses:
            return status
    return VERIFIED if statuses else NOT_CHECKED


def _status_dates_as_signed(data: Any) -> Any:
    if not isinstance(data, Mapping):
        return data
    out = dict(data)
    for name in _STATUS_DATES:
        value = out.get(name)
        if isinstance(value, str) and (shown := _SHOWN_DATE.fullmatch(value)):
            out[name] = f"{shown[1]} {shown[2]}+00:00"
    return out
