"""The orchestrator's telemetry events: the internal event and the broker envelope.

Internal event: {event_id?, event_type, timestamp, actor, target, status, tenant_id?,
campaign_id?, attributes, stream_position?} (as the orchestrator's dataclass writes it).
Broker envelope: the same, plus the broker's transport fields idempotency_key,
ordering_key, schema_version and attempt.

Mapping (the shared rules of `assembly` apply: lifted fields, asset_ref, tool, event id):
- event_id: the input's `event_id` (checked: 1-128 of [A-Za-z0-9._:-]), else a content hash;
- event_type: `event_type` (1-64 of [A-Za-z0-9._:-]);
- occurred_at: `timestamp`, REQUIRED: an event without one is refused naming "timestamp"
  (the time of normalizing is not the time of the fact, so none is ever invented);
- operator_id: `actor`; tenant_id / campaign_id: top level or attributes (a UUID for
  tenant_id);
- severity: attributes.severity (levels, aliases, CVSS scores), else "info";
- asset_ref: `target` unless it names the orchestrator or a wrapper, else
  attributes.target_host, else attributes.scan_summary.scanned_hosts, else None;
- message: "<event_type>: <status> on <asset>, <details> (<actor>)", e.g.
  "nmap_scan_completed: success, 2 hosts (op-001)";
- attributes: the input's attributes without the lifted keys, plus `status` and, for an
  envelope, `envelope` = {idempotency_key, ordering_key, schema_version} (those present).

`attempt` and `stream_position` are dropped, and left out of
document_sha256 too: they describe one delivery of the event, not the event, and a
redelivered envelope (attempt 2, a new stream position) must give the same CanonicalEvent
with the same id, or VectorVue would see two facts where there is one. The other three
transport fields are the same on every delivery; they are kept (nested, so that they can
never collide with an attribute of the event such as the gateway's `schema_version`)
because they let an analyst trace the event back to the orchestrator's queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.field_rules import Problems
from vectorvue_client.domain.spectrastrike import assembly as a
from vectorvue_client.domain.spectrastrike import fields as f
from vectorvue_client.domain.spectrastrike import messages as msg
from vectorvue_client.domain.spectrastrike.options import SpectraStrikeOptions

INTERNAL_KEYS: Final = (
    "event_id",
    "event_type",
    "timestamp",
    "actor",
    "target",
    "status",
    "tenant_id",
    "campaign_id",
    "attributes",
    "stream_position",
)
TRANSPORT_KEPT: Final = ("idempotency_key", "ordering_key", "schema_version")
DELIVERY_KEYS: Final = ("attempt", "stream_position")
ENVELOPE_KEYS: Final = INTERNAL_KEYS + TRANSPORT_KEPT + ("attempt",)
_TOP_LIFTED: Final = ("tenant_id", "campaign_id", "actor")


def from_telemetry(
    document: Mapping[str, Any], options: SpectraStrikeOptions, *, envelope: bool
) -> list[CanonicalEvent]:
    """The one CanonicalEvent of an internal event (`envelope=False`) or a broker envelope."""
    problems = Problems()
    f.reject_unknown(document, ENVELOPE_KEYS if envelope else INTERNAL_KEYS, "", problems)
    attrs = problems.check(lambda: f.mapping(f.get(document, "attributes", {}), "attributes"))
    attrs = attrs if attrs is not None else {}
    event_type = problems.check(lambda: f.name(f.required(document, "event_type"), "event_type"))
    occurred_at = problems.check(
        lambda: f.timestamp(f.required(document, "timestamp"), "timestamp")
    )
    event_id = problems.check(lambda: f.optional(document, "event_id", f.identifier))
    status = problems.check(lambda: f.optional(document, "status", f.string))
    top = {k: document[k] for k in _TOP_LIFTED if k in document}
    lifted = a.lift_common([("", top), ("attributes", attrs)], problems)
    asset = problems.check(
        lambda: a.resolve_asset([("target", document.get("target"))], ("attributes", attrs))
    )
    attributes = problems.check(lambda: _attributes(document, attrs, asset, status, envelope))
    digest = problems.check(lambda: a.document_sha256(document, without=DELIVERY_KEYS))
    problems.raise_if_any()
    assert event_type is not None and occurred_at is not None  # raise_if_any raised otherwise
    assert asset is not None and attributes is not None and digest is not None
    return [
        _event(
            options,
            lifted,
            event_type=event_type,
            occurred_at=occurred_at,
            event_id=event_id,
            status=status,
            asset=asset,
            attrs=attrs,
            attributes=attributes,
            digest=digest,
        )
    ]


def _event(
    options: SpectraStrikeOptions,
    lifted: a.Lifted,
    *,
    event_type: str,
    occurred_at: str,
    event_id: str | None,
    status: str | None,
    asset: a.Asset,
    attrs: Mapping[str, Any],
    attributes: dict[str, Any],
    digest: str,
) -> CanonicalEvent:
    return msg.telemetry_event(
        options.source_system,
        lifted,
        event_type=event_type,
        occurred_at=occurred_at,
        event_id=event_id,
        status=status,
        asset=asset,
        facts=attrs,
        attributes=attributes,
        digest=digest,
    )


def _attributes(
    document: Mapping[str, Any],
    attrs: Mapping[str, Any],
    asset: a.Asset | None,
    status: str | None,
    envelope: bool,
) -> dict[str, Any]:
    lifted_host = asset is not None and asset.path == "attributes.target_host"
    drop = a.LIFTED_KEYS + (("target_host",) if lifted_host else ())
    out = a.attributes_of(attrs, "attributes", drop)
    if status is not None:
        a.put(out, "status", status, "attributes.status")
    if envelope:
        kept = {k: f.string(document[k], k) for k in TRANSPORT_KEPT if document.get(k) is not None}
        if kept:
            a.put(out, "envelope", kept, "attributes.envelope")
    return out
