"""The `context` the orchestrator's tool wrappers attach to a result: {tenant_id,
campaign_id, actor, started_at, finished_at, execution_hash}.

A wrapper result is a record of one run; its events happened when the run's results were
known, so occurred_at is `finished_at` and is REQUIRED (a refusal naming
"context.finished_at" rather than the time of normalizing, which would date a scan by when
someone happened to upload it). `started_at` is optional and must not be later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec

from vectorvue_client.domain.field_rules import Problems
from vectorvue_client.domain.spectrastrike import assembly as a
from vectorvue_client.domain.spectrastrike import fields as f
from vectorvue_client.domain.timestamps import parse_rfc3339

CONTEXT_KEYS: Final = (
    "tenant_id",
    "campaign_id",
    "actor",
    "started_at",
    "finished_at",
    "execution_hash",
)
_LIFTED: Final = ("tenant_id", "campaign_id", "actor", "execution_hash")


class RunContext(msgspec.Struct, frozen=True):
    """A result's checked context: lifted fields and the run's times (RFC 3339)."""

    lifted: a.Lifted
    finished_at: str
    started_at: str | None


def run_context(document: Mapping[str, Any], problems: Problems) -> RunContext | None:
    """The checked context of a wrapper result; None (problems recorded) if it is broken."""
    context = problems.check(lambda: f.mapping(f.get(document, "context", {}), "context"))
    if context is None:
        return None
    f.reject_unknown(context, CONTEXT_KEYS, "context", problems)
    lifted = a.lift_common(
        [("context", {k: context[k] for k in _LIFTED if k in context})], problems
    )
    finished = problems.check(
        lambda: f.timestamp(f.required(context, "finished_at", "context"), "context.finished_at")
    )
    started = problems.check(lambda: f.optional(context, "started_at", f.timestamp, "context"))
    if finished is None:
        return None
    if started is not None and parse_rfc3339(started) > parse_rfc3339(finished):
        problems.add("context.started_at", f"{started} is after context.finished_at {finished}")
    return RunContext(lifted=lifted, finished_at=finished, started_at=started)
