"""The VectorVue payloads of both ingest contracts, as msgspec Structs.

The limits live here once: the Annotated types below are the rules. msgspec checks them in
C when it converts or decodes into a Struct that uses them (`domain.normalize` reads the
caller's dicts into input Structs made of the same types), and the error path reports a
broken one by converting each field on its own against its annotation. Lengths are in
code points (Python `len`), as VectorVue counts them. Field order is the wire order: the
encoder keeps Struct fields in definition order and sorts dict keys.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, get_args

import msgspec
from msgspec import Meta, Struct

# -- shared rules --------------------------------------------------------------------------
# \Z, not $: "$" also matches before a final newline. [0-9], not \d: \d takes any
# Unicode digit.
ID_PATTERN: Final = r"^[A-Za-z0-9._:-]+\Z"
MITRE_TECHNIQUE_PATTERN: Final = r"^T[0-9]{4}(?:\.[0-9]{3})?\Z"
MITRE_TACTIC_PATTERN: Final = r"^TA[0-9]{4}\Z"
UUID_PATTERN: Final = (
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z"
)
HEX64_PATTERN: Final = r"^[0-9a-fA-F]{64}\Z"

Severity = Literal["info", "low", "medium", "high", "critical"]
FindingStatus = Literal["open", "in_progress", "resolved", "closed"]
FINDING_STATUSES: Final[tuple[str, ...]] = get_args(FindingStatus)

# (min, max) lengths, in characters, of every bounded text field of the contract.
ID_LEN: Final = (1, 128)
NAME_LEN: Final = (1, 64)  # source_system, event_type
ASSET_REF_LEN: Final = (1, 128)
MESSAGE_LEN: Final = (1, 1024)
TITLE_LEN: Final = (3, 256)
DESCRIPTION_LEN: Final = (1, 4096)
RECOMMENDATION_LEN: Final = (0, 2048)
GATEWAY_DESCRIPTION_LEN: Final = (0, 2048)
GATEWAY_PARTY_LEN: Final = (1, 128)  # operator_id, campaign_id
NONCE_LEN: Final = (8, 128)
MITRE_TECHNIQUES_COUNT: Final = (1, 32)
MITRE_TACTICS_COUNT: Final = (0, 32)
GATEWAY_SCHEMA_VERSION: Final = "1.0"  # sent when an event carries none of its own
# Largest request body, in bytes, on both profiles: the gateway's own check and the bundled
# nginx's cap on every route (the integration API has none of its own); exactly 1 MiB
# passes, one byte more is a 413 after sending.
MAX_BODY_BYTES: Final = 1_048_576

Id = Annotated[str, Meta(min_length=ID_LEN[0], max_length=ID_LEN[1], pattern=ID_PATTERN)]
Name = Annotated[str, Meta(min_length=NAME_LEN[0], max_length=NAME_LEN[1], pattern=ID_PATTERN)]
Timestamp = Annotated[str, Meta(min_length=20, max_length=32)]  # RFC 3339 UTC, "Z"
AssetRef = Annotated[str, Meta(min_length=ASSET_REF_LEN[0], max_length=ASSET_REF_LEN[1])]
Message = Annotated[str, Meta(min_length=MESSAGE_LEN[0], max_length=MESSAGE_LEN[1])]
Title = Annotated[str, Meta(min_length=TITLE_LEN[0], max_length=TITLE_LEN[1])]
Description = Annotated[str, Meta(min_length=DESCRIPTION_LEN[0], max_length=DESCRIPTION_LEN[1])]
FindingAssetRef = Annotated[str, Meta(max_length=ASSET_REF_LEN[1])]  # optional on findings
Recommendation = Annotated[str, Meta(max_length=RECOMMENDATION_LEN[1])]
Uuid = Annotated[str, Meta(pattern=UUID_PATTERN)]  # a tenant id
Hex64 = Annotated[str, Meta(pattern=HEX64_PATTERN)]  # an execution or attestation hash
JsonObject = dict[str, Any]


class IntegrationEvent(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An event for POST /api/v1/integrations/spectrastrike/events (integration API)."""

    event_id: Id
    source_system: Name
    event_type: Name
    occurred_at: Timestamp
    severity: Severity
    asset_ref: AssetRef
    message: Message
    metadata: JsonObject = msgspec.field(default_factory=dict)


class IntegrationFinding(
    Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """A finding for POST /api/v1/integrations/spectrastrike/findings (integration API).

    Optional fields are omitted from the wire when absent rather than sent as null.
    """

    finding_id: Id
    title: Title
    description: Description
    severity: Severity
    status: FindingStatus
    first_seen: Timestamp
    last_seen: Timestamp | None = None
    asset_ref: FindingAssetRef | None = None
    recommendation: Recommendation | None = None
    metadata: JsonObject = msgspec.field(default_factory=dict)


class GatewayPayload(
    Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """`payload` of a telemetry-gateway request: the event itself."""

    event_id: Id
    event_type: Name
    source_system: Name
    severity: Severity
    observed_at: Timestamp
    mitre_techniques: Annotated[
        list[Annotated[str, Meta(pattern=MITRE_TECHNIQUE_PATTERN)]],
        Meta(min_length=MITRE_TECHNIQUES_COUNT[0], max_length=MITRE_TECHNIQUES_COUNT[1]),
    ]
    # Always sent, even empty: an omitted key is not the same as "no tactic" to a strict
    # schema, and the contract lists the field without calling it optional.
    mitre_tactics: Annotated[
        list[Annotated[str, Meta(pattern=MITRE_TACTIC_PATTERN)]],
        Meta(max_length=MITRE_TACTICS_COUNT[1]),
    ]
    description: Annotated[str, Meta(max_length=GATEWAY_DESCRIPTION_LEN[1])] | None = None
    # Must hold attestation_measurement_hash (64 hex) and schema_version (gateway_rules).
    attributes: JsonObject


Party = Annotated[str, Meta(min_length=GATEWAY_PARTY_LEN[0], max_length=GATEWAY_PARTY_LEN[1])]
TenantId = Annotated[str, Meta(pattern=UUID_PATTERN)]


class SignedMetadata(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The gateway's `signed_metadata`: equal to the envelope's own identity fields."""

    tenant_id: TenantId
    operator_id: Party
    campaign_id: Party


class GatewayRequest(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The full body of POST /internal/v1/telemetry. `timestamp` and `nonce` are those of
    one attempt, equal to the X-Telemetry-* headers of that attempt."""

    operator_id: Party
    campaign_id: Party
    tenant_id: TenantId
    # The gateway checks only the length (64); the client sends hex (a SHA-256).
    execution_hash: Annotated[str, Meta(pattern=HEX64_PATTERN)]
    timestamp: int
    nonce: Annotated[str, Meta(min_length=NONCE_LEN[0], max_length=NONCE_LEN[1])]
    signed_metadata: SignedMetadata
    payload: GatewayPayload
