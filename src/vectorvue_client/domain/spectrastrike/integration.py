"""VectorVue's own event shape (source_system, event_type, occurred_at, severity,
asset_ref, message, metadata), as a CanonicalEvent.

`normalize_event` checks it first, by the integration API's rules (its severity aliases,
its content-hash event id when none is given, its MITRE checks), and then:
- event_id, source_system (the document's own, not the option's), event_type,
  occurred_at, severity and message are the normalized event's;
- asset_ref: the event's, unless it names the orchestrator (then metadata.target_host,
  then metadata.scan_summary.scanned_hosts, as everywhere);
- metadata's tenant_id, campaign_id, operator_id, execution_hash, description, tool
  ("nmap" or "metasploit"; else the tool named by event_type) and MITRE ids are lifted:
  these are the keys the integration-API profile writes into metadata, so an event that
  went out through that profile reads back as the event it was;
- attributes: the rest of metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.field_rules import Problems
from vectorvue_client.domain.normalize import normalize_event
from vectorvue_client.domain.spectrastrike import assembly as a
from vectorvue_client.domain.spectrastrike import fields as f

METADATA_LIFTED: Final = (
    "tenant_id",
    "campaign_id",
    "operator_id",
    "execution_hash",
    "description",
    "tool",
    "mitre_techniques",
    "mitre_tactics",
)
TOOLS: Final = ("nmap", "metasploit")


def from_integration_event(document: Mapping[str, Any]) -> list[CanonicalEvent]:
    """The one CanonicalEvent of an integration-API event document."""
    event = normalize_event(document)
    metadata = event.metadata  # checked JSON data, this event's own copy
    sources = [("metadata", metadata)]
    problems = Problems()

    def one(key: str, rule: Any) -> Any:
        # A key the metadata does not hold is None without a rule to run (as f.lift says).
        return None if metadata.get(key) is None else problems.check(f.lift, sources, key, rule)

    lifted = a.Lifted(
        tenant_id=one("tenant_id", f.uuid),
        campaign_id=one("campaign_id", f.nonempty),
        operator_id=one("operator_id", f.nonempty),
        execution_hash=one("execution_hash", f.hex64),
        description=one("description", f.description),
        mitre_techniques=tuple(metadata.get("mitre_techniques", ())),
        mitre_tactics=tuple(metadata.get("mitre_tactics", ())),
    )
    tool = one("tool", _tool)
    asset = problems.check(
        a.resolve_asset, [("asset_ref", event.asset_ref)], ("metadata", metadata)
    )
    digest = problems.check(a.document_sha256, document)
    problems.raise_if_any()
    assert asset is not None and digest is not None
    # normalize_event made the metadata JSON data already: kept as it is, not checked again.
    dropped = _dropped(asset)
    attributes = {k: v for k, v in metadata.items() if k not in dropped}
    return [
        a.canonical_event(
            lifted,
            event_id=event.event_id,
            document_sha=digest,
            event_type=event.event_type,
            source_system=event.source_system,
            occurred_at=event.occurred_at,
            severity=event.severity,
            message=event.message,
            asset_ref=asset.ref,
            attributes=attributes,
            tool=tool,
        )
    ]


def _dropped(asset: a.Asset) -> frozenset[str]:
    # A target_host that became the asset is not repeated among the attributes.
    return _LIFTED_AND_HOST if asset.path == "metadata.target_host" else _LIFTED


_LIFTED: Final = frozenset(METADATA_LIFTED)
_LIFTED_AND_HOST: Final = _LIFTED | {"target_host"}


def _tool(value: Any, path: str) -> str:
    if value not in TOOLS:
        raise f.bad(path, f"must be one of {', '.join(TOOLS)}")
    return value  # type: ignore[no-any-return]  # one of TOOLS, checked just above
