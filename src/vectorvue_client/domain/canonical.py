"""The canonical event: what every SpectraStrike output becomes before a profile shapes it.

The normalizers of orchestrator outputs (domain/spectrastrike/) produce CanonicalEvents;
`domain.profiles` turns one into an integration-API event or a telemetry-gateway payload.
Nothing here is invented: a field the input does not carry is None, and the profile that
needs it refuses the event with an error naming the field.
"""

from __future__ import annotations

from typing import Any

import msgspec

from vectorvue_client.domain.models import Severity


class CanonicalEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One observed fact from the orchestrator, profile-neutral.

    - `event_id`: the input's own id, or a content hash of the event (deterministic).
    - `occurred_at`: RFC 3339 UTC with `Z`, from the input (never the time of sending).
    - `asset_ref`: the real asset (a host address), never the orchestrator itself.
    - `message`: a one-line human summary (<= 1024 characters); `description` a longer text
      when the input has one.
    - `tool`: "nmap", "metasploit", or None; it selects the MITRE defaults.
    - `mitre_techniques` / `mitre_tactics`: the input's own ids (validated); the tool's
      defaults are applied by the profile mapping, not here, so the two stay apart.
    - `attributes`: the input's remaining facts, as JSON data.
    - `execution_hash`: the input's own, when it carries one (64 hex).
    - `document_sha256`: SHA-256 of the canonical encoding of the input document this
      event came from: it identifies the execution record exactly.
    """

    event_id: str
    event_type: str
    source_system: str
    occurred_at: str
    severity: Severity
    message: str
    asset_ref: str | None = None
    description: str | None = None
    tenant_id: str | None = None
    campaign_id: str | None = None
    operator_id: str | None = None
    tool: str | None = None
    mitre_techniques: tuple[str, ...] = ()
    mitre_tactics: tuple[str, ...] = ()
    attributes: dict[str, Any] = msgspec.field(default_factory=dict)
    execution_hash: str | None = None
    document_sha256: str
