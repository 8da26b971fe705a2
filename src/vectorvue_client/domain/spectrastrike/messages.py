"""The one-line messages of canonical events.

A message is one line (control, format and line/paragraph separator characters become
spaces: a newline in an orchestrator value must not forge a second line in a report or a
log), at most 1024 characters (cut with "..."), and quotes at most 128 characters of any
one input value, so that no single value can crowd out the rest.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any, Final

from vectorvue_client.domain import models as m
from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.spectrastrike import assembly as a
from vectorvue_client.domain.spectrastrike.assembly import Asset

SNIPPET_LEN: Final = 128


def snippet(value: object, limit: int = SNIPPET_LEN) -> str:
    """`value` as one line of at most `limit` characters (cut with "...")."""
    line = one_line(str(value))
    return line if len(line) <= limit else line[: limit - 3] + "..."


def one_line(text: str) -> str:
    """`text` with control, format and line/paragraph separator characters as spaces."""
    if text.isprintable():  # the common case, checked in C: nothing to replace
        return text
    return "".join(
        " " if unicodedata.category(c)[0] == "C" or c in "\u2028\u2029" else c for c in text
    )


def message(text: str) -> str:
    """A message: one line, at most 1024 characters."""
    line = one_line(text)
    most = m.MESSAGE_LEN[1]
    return line if len(line) <= most else line[: most - 3] + "..."


def plural(n: int, word: str) -> str:
    """`n` and `word`, pluralised: "1 host", "2 hosts"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def telemetry_message(
    event_type: str, status: str | None, asset: Asset, facts: Mapping[str, Any], actor: str | None
) -> str:
    """`<event_type>: <status> on <asset>, <details> (<actor>)`, each part only when known.

    Details, in order: a host count (attributes.host_count, else scan_summary.total_hosts;
    it replaces "on <asset>", which is then a list of hosts), the metasploit module, and
    the session ("meterpreter session 3") or the session count.
    """
    hosts = _count(facts.get("host_count"))
    summary = facts.get("scan_summary")
    if hosts is None and isinstance(summary, Mapping):
        hosts = _count(summary.get("total_hosts"))
    head = snippet(status).strip() if status else ""
    if asset.ref and hosts is None:
        head = f"{head} on {snippet(asset.ref)}".strip()
    parts = [head] if head else []
    if hosts is not None:
        parts.append(plural(hosts, "host"))
    if isinstance(facts.get("module_name"), str):
        parts.append(f"module {snippet(facts['module_name'])}")
    session = _session(facts)
    if session:
        parts.append(session)
    text = snippet(event_type) + (": " + ", ".join(parts) if parts else "")
    return message(text + (f" ({snippet(actor)})" if actor else ""))


def _session(facts: Mapping[str, Any]) -> str | None:
    kind, number = facts.get("session_type"), facts.get("session_id")
    if isinstance(number, (str, int)) and not isinstance(number, bool):
        return f"{snippet(kind) + ' ' if isinstance(kind, str) else ''}session {snippet(number)}"
    if isinstance(kind, str):
        return f"{snippet(kind)} session"
    sessions = _count(facts.get("session_count"))
    return None if sessions is None else plural(sessions, "session")


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def telemetry_event(
    source_system: str,
    lifted: a.Lifted,
    *,
    event_type: str,
    occurred_at: str,
    event_id: str | None,
    status: str | None,
    asset: Asset,
    facts: Mapping[str, Any],
    attributes: dict[str, Any],
    digest: str,
) -> CanonicalEvent:
    """The CanonicalEvent of a telemetry document (a broker envelope or a CloudEvent), as
    both readings of each make it: severity `info` unless lifted, the message from
    `telemetry_message`, the content hash as event id unless one is given."""
    return a.canonical_event(
        lifted,
        event_id=event_id,
        document_sha=digest,
        event_type=event_type,
        source_system=source_system,
        occurred_at=occurred_at,
        severity=lifted.severity or "info",
        message=telemetry_message(event_type, status, asset, facts, lifted.operator_id),
        asset_ref=asset.ref,
        attributes=attributes,
    )
