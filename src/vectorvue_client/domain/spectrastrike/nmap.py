"""The nmap wrapper's scan result: {command, output_format, hosts[{address, status,
open_ports, services[{port, protocol, name}], os_matches}], summary, context{tenant_id,
campaign_id, actor, started_at, finished_at, execution_hash?}}.

One event per host, "nmap_host_scanned", tool nmap:
- asset_ref: the host's address (the scan's target list never is: it names many hosts);
- occurred_at: context.finished_at, REQUIRED (the time the scan's results were known;
  started_at, when given, must not be later and is kept as the `started_at` attribute);
- event_id: the content hash of the host's event, which holds the address: different for
  every host of one document (an address listed twice is refused, it would make two
  different facts of one host), and the same when the same document is read again;
- severity: "low" for a host that is up with at least one open port (an exposed service
  is attack surface, not yet a weakness), "info" for a host that is down or has no open
  port; findings, not scans, carry higher severities;
- message: "192.0.2.10 up: 22/tcp ssh, 443/tcp https; OS Linux 5.4 - 5.15" (services as
  port/protocol name, then open ports no service names, then the best OS match);
  "192.0.2.13 up: no open ports"; "192.0.2.12 down";
- attributes: status, open_ports, services, os_matches (each when given), the scan's
  command and started_at; tenant, campaign, actor (-> operator_id) and execution_hash
  come from context. `summary` and `output_format` describe the whole scan and are not
  repeated on every host (document_sha256 ties each event to the scan document).
The result's keys, context's, a host's and a service's are closed sets (unknown keys are
refused); a document without hosts yields no event.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, Final

import msgspec

from vectorvue_client.domain import models as m
from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.encoding import to_json_value
from vectorvue_client.domain.field_rules import Problems
from vectorvue_client.domain.spectrastrike import assembly as a
from vectorvue_client.domain.spectrastrike import fields as f
from vectorvue_client.domain.spectrastrike import messages as msg
from vectorvue_client.domain.spectrastrike.options import SpectraStrikeOptions
from vectorvue_client.domain.spectrastrike.results import run_context

EVENT_TYPE: Final = "nmap_host_scanned"
RESULT_KEYS: Final = ("command", "output_format", "hosts", "summary", "context")
HOST_KEYS: Final = ("address", "status", "open_ports", "services", "os_matches")
SERVICE_KEYS: Final = ("port", "protocol", "name")


def from_nmap(document: Mapping[str, Any], options: SpectraStrikeOptions) -> list[CanonicalEvent]:
    """One CanonicalEvent per host of an nmap result."""
    problems = Problems()
    f.reject_unknown(document, RESULT_KEYS, "", problems)
    run = run_context(document, problems)
    command = problems.check(lambda: to_json_value(document.get("command"), "command"))
    hosts = problems.check(lambda: f.array(f.required(document, "hosts"), "hosts")) or ()
    drafts = [problems.check(partial(_host, h, f"hosts[{i}]")) for i, h in enumerate(hosts)]
    seen: dict[str, int] = {}
    for i, draft in enumerate(drafts):
        if draft is not None:
            if draft.address in seen:
                problems.add(f"hosts[{i}].address", f"repeats hosts[{seen[draft.address]}].address")
            seen.setdefault(draft.address, i)
    digest = problems.check(lambda: a.document_sha256(document))
    problems.raise_if_any()
    assert run is not None and digest is not None
    events = []
    for draft in drafts:
        assert draft is not None
        attributes = dict(draft.attributes)
        if command is not None:
            attributes["command"] = command
        if run.started_at is not None:
            attributes["started_at"] = run.started_at
        event = a.canonical_event(
            run.lifted,
            event_id=None,
            document_sha=digest,
            event_type=EVENT_TYPE,
            source_system=options.source_system,
            occurred_at=run.finished_at,
            severity=draft.severity,
            message=draft.message,
            asset_ref=draft.address,
            attributes=attributes,
        )
        events.append(event)
    return events


class _Host(msgspec.Struct, frozen=True):
    """One host's checked facts."""

    address: str
    severity: m.Severity
    message: str
    attributes: dict[str, Any]


def _host(raw: Any, path: str) -> _Host:
    host = f.mapping(raw, path)
    problems = Problems()
    f.reject_unknown(host, HOST_KEYS, path, problems)
    address = problems.check(lambda: f.asset(f.required(host, "address", path), f"{path}.address"))
    status = problems.check(lambda: f.string(f.required(host, "status", path), f"{path}.status"))
    ports = problems.check(lambda: _ports(f.get(host, "open_ports", []), f"{path}.open_ports"))
    services = problems.check(lambda: _services(f.get(host, "services", []), f"{path}.services"))
    os_name = problems.check(lambda: _best_os(f.get(host, "os_matches", []), f"{path}.os_matches"))
    attributes = problems.check(lambda: a.attributes_of(host, path, drop=("address",)))
    problems.raise_if_any()
    assert address is not None and status is not None and ports is not None
    assert services is not None and attributes is not None
    return _draft(address, status, ports, services, os_name, attributes)


def _draft(
    address: str,
    status: str,
    ports: list[int],
    services: list[tuple[int, str, str | None]],
    os_name: str | None,
    attributes: dict[str, Any],
) -> _Host:
    labels = [
        f"{port}/{msg.snippet(proto, 16)}{' ' + msg.snippet(n, 64) if n else ''}"
        for port, proto, n in services
    ]
    named = {port for port, _, _ in services}
    labels += [str(p) for p in ports if p not in named]
    up = status.strip().lower() == "up"
    text = f"{address} {msg.snippet(status, 32)}"
    if up or labels:
        text += ": " + (", ".join(labels) if labels else "no open ports")
    if os_name:
        text += f"; OS {msg.snippet(os_name)}"
    severity: m.Severity = "low" if up and labels else "info"
    return _Host(address, severity, msg.message(text), attributes)


def _ports(value: Any, path: str) -> list[int]:
    return [f.port(p, f"{path}[{i}]") for i, p in enumerate(f.array(value, path))]


def _services(value: Any, path: str) -> list[tuple[int, str, str | None]]:
    return [_service(raw, f"{path}[{i}]") for i, raw in enumerate(f.array(value, path))]


def _service(raw: Any, path: str) -> tuple[int, str, str | None]:
    service = f.mapping(raw, path)
    problems = Problems()
    f.reject_unknown(service, SERVICE_KEYS, path, problems)
    port = problems.check(lambda: f.port(f.required(service, "port", path), f"{path}.port"))
    proto = problems.check(
        lambda: f.string(f.required(service, "protocol", path), f"{path}.protocol")
    )
    label = problems.check(lambda: f.optional(service, "name", f.string, path))
    problems.raise_if_any()
    assert port is not None and proto is not None
    return port, proto, label


def _best_os(value: Any, path: str) -> str | None:
    # nmap lists OS guesses best first; only the best one is worth a place in one line.
    matches = f.array(value, path)
    if not matches:
        return None
    best = matches[0]
    if isinstance(best, Mapping):
        best = best.get("name")
    return best if isinstance(best, str) and best else None
