"""The metasploit wrapper's module result: {module_type, module_name, target_host, job_id,
uuid, sessions[{session_id, session_type, output}], raw_execute_response, context{...}}.

Events (tool metasploit, occurred_at = context.finished_at, REQUIRED; tenant, campaign,
actor -> operator_id and execution_hash from context; asset_ref = target_host unless it
names the orchestrator; ids are content hashes):
- one "metasploit_module_completed" for the run; attributes module_type, module_name,
  job_id, uuid (each when given), session_count, started_at (when given); severity "high"
  when the run opened a session (the target is compromised), "medium" for an exploit
  that opened none (an attack was attempted against the target), "low" for any other
  module type (auxiliary, post, ...) that opened none; message
  "exploit unix/ftp/vsftpd_234_backdoor against 192.0.2.11: 1 session opened";
- one "metasploit_session_opened" per session, severity "high"; attributes session_id,
  session_type, and module_name, job_id, uuid to tie it to its run; output_excerpt,
  output_truncated, output_length when the session has output (see
  `evidence`: the output is never forwarded whole when longer than the cap, and never
  unmasked); message "shell session 1 opened on 192.0.2.11 by <module>".
`raw_execute_response` is dropped: it repeats job_id and uuid, and is whatever msfrpcd
answered (it can echo the module's options, passwords included), so nothing of it is
forwarded. document_sha256 (the gateway's execution_hash when the input has none) covers
the document as forwarded, not what was withheld: no hash of a raw output or of
raw_execute_response leaves. Session ids must be unique in a document.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, Final

from vectorvue_client.domain import models as m
from vectorvue_client.domain.canonical import CanonicalEvent
from vectorvue_client.domain.field_rules import Problems
from vectorvue_client.domain.spectrastrike import assembly as a
from vectorvue_client.domain.spectrastrike import fields as f
from vectorvue_client.domain.spectrastrike import messages as msg
from vectorvue_client.domain.spectrastrike.evidence import session_evidence
from vectorvue_client.domain.spectrastrike.options import SpectraStrikeOptions
from vectorvue_client.domain.spectrastrike.results import run_context

RUN_EVENT: Final = "metasploit_module_completed"
SESSION_EVENT: Final = "metasploit_session_opened"
RESULT_KEYS: Final = (
    "module_type",
    "module_name",
    "target_host",
    "job_id",
    "uuid",
    "sessions",
    "raw_execute_response",
    "context",
)
SESSION_KEYS: Final = ("session_id", "session_type", "output")


_WITHHELD: Final = ("raw_execute_response", "sessions")


def from_metasploit(
    document: Mapping[str, Any], options: SpectraStrikeOptions
) -> list[CanonicalEvent]:
    """The run's CanonicalEvent, then one per opened session."""
    problems = Problems()
    f.reject_unknown(document, RESULT_KEYS, "", problems)
    run = run_context(document, problems)
    module = problems.check(lambda: f.nonempty(f.required(document, "module_name"), "module_name"))
    kind = problems.check(lambda: f.optional(document, "module_type", f.nonempty))
    job_id = problems.check(lambda: f.optional(document, "job_id", _scalar))
    run_uuid = problems.check(lambda: f.optional(document, "uuid", f.nonempty))
    asset = problems.check(
        lambda: a.resolve_asset([("target_host", document.get("target_host"))], None)
    )
    raw_sessions = problems.check(lambda: f.array(f.get(document, "sessions", []), "sessions"))
    cap = options.session_output_cap
    sessions = [
        problems.check(partial(_session, s, f"sessions[{i}]", cap))
        for i, s in enumerate(raw_sessions or ())
    ]
    seen: dict[Any, int] = {}
    for i, session in enumerate(sessions):
        if session is not None:
            if session["session_id"] in seen:
                where = f"sessions[{seen[session['session_id']]}].session_id"
                problems.add(f"sessions[{i}].session_id", f"repeats {where}")
            seen.setdefault(session["session_id"], i)
    # The document as forwarded: outputs as their masked excerpts, raw_execute_response left
    # out. A hash of what is withheld would let anyone with the event test guesses of it.
    forwarded = {k: v for k, v in document.items() if k not in _WITHHELD}
    forwarded["sessions"] = [s for s in sessions if s is not None]
    digest = problems.check(lambda: a.document_sha256(forwarded))
    problems.raise_if_any()
    assert run is not None and module is not None and asset is not None and digest is not None

    run_facts = {"module_type": kind, "module_name": module, "job_id": job_id, "uuid": run_uuid}
    run_facts = {k: v for k, v in run_facts.items() if v is not None}
    started = {"started_at": run.started_at} if run.started_at is not None else {}

    def event(
        event_type: str, severity: m.Severity, text: str, attributes: dict[str, Any]
    ) -> CanonicalEvent:
        return a.canonical_event(
            run.lifted,
            event_id=None,
            document_sha=digest,
            event_type=event_type,
            source_system=options.source_system,
            occurred_at=run.finished_at,
            severity=severity,
            message=msg.message(text),
            asset_ref=asset.ref,
            attributes=attributes,
        )

    events = [
        event(
            RUN_EVENT,
            _run_severity(kind, len(sessions)),
            _run_message(kind, module, asset.ref, len(sessions)),
            {**run_facts, "session_count": len(sessions), **started},
        )
    ]
    # The session's own facts, and the run's ids that tie it to its run event.
    ties = {k: v for k, v in run_facts.items() if k != "module_type"}
    for session in sessions:
        assert session is not None
        text = _session_message(session, module, asset.ref)
        events.append(event(SESSION_EVENT, "high", text, {**session, **ties}))
    return events


def _run_message(kind: str | None, module: str, target: str | None, sessions: int) -> str:
    label = f"{msg.snippet(kind, 32)} {msg.snippet(module)}" if kind else msg.snippet(module)
    against = f" against {msg.snippet(target)}" if target else ""
    opened = f"{msg.plural(sessions, 'session')} opened" if sessions else "no session opened"
    return f"{label}{against}: {opened}"


def _session_message(session: Mapping[str, Any], module: str, target: str | None) -> str:
    kind = f"{msg.snippet(session['session_type'], 32)} " if "session_type" in session else ""
    on = f" on {msg.snippet(target)}" if target else ""
    number = msg.snippet(session["session_id"], 32)
    return f"{kind}session {number} opened{on} by {msg.snippet(module)}"


def _run_severity(kind: str | None, sessions: int) -> m.Severity:
    if sessions:
        return "high"
    return "medium" if kind is not None and kind.strip().lower() == "exploit" else "low"


def _scalar(value: Any, path: str) -> str | int:
    # msfrpcd reports job ids as integers, the wrapper sometimes as strings: keep either.
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise f.bad(path, "must be a non-empty string or an integer")
    return value


def _session(raw: Any, path: str, cap: int) -> dict[str, Any]:
    session = f.mapping(raw, path)
    problems = Problems()
    f.reject_unknown(session, SESSION_KEYS, path, problems)
    session_id = problems.check(
        lambda: _scalar(f.required(session, "session_id", path), f"{path}.session_id")
    )
    kind = problems.check(lambda: f.optional(session, "session_type", f.nonempty, path))
    output = problems.check(lambda: f.optional(session, "output", f.string, path))
    problems.raise_if_any()
    out: dict[str, Any] = {"session_id": session_id}
    if kind is not None:
        out["session_type"] = kind
    if output is not None:
        out.update(session_evidence(output, cap))
    return out
