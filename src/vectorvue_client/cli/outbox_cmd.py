"""`outbox stats|drain|dead|retry`."""

from __future__ import annotations

import argparse
import math
from contextlib import closing
from dataclasses import asdict

from vectorvue_client.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    emit,
    error,
    open_client,
    settings,
    table,
)
from vectorvue_client.container import inspect_outbox
from vectorvue_client.service.outbox import DrainReport
from vectorvue_client.service.outbox_view import OutboxView


def _inspect(args: argparse.Namespace) -> OutboxView:
    # Read-only, without the owner lock: a running service keeps its outbox and its claims.
    return inspect_outbox(settings(args).config)


def stats(args: argparse.Namespace) -> int:
    """Counts by state, the age of the oldest pending item and when the next is due
    (read-only: works while a service owns the outbox)."""
    with closing(_inspect(args)) as view:
        result = view.stats()
        due_in = view.next_due_in()
    age = result.oldest_pending_age_seconds
    human = table(
        [
            (
                result.pending,
                result.in_flight,
                result.delivered,
                result.dead,
                # None with items pending: the backend cannot tell (RabbitMQ's).
                ("unknown" if result.pending else "-") if age is None else f"{age:.0f} s",
                _due(due_in),
            )
        ],
        ("pending", "in flight", "delivered", "dead", "oldest pending", "next due"),
    )
    emit(args, {**asdict(result), "next_due_in_seconds": due_in}, human)
    return EXIT_OK


def _due(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    # Rounded up: "in 0 s" would read as "now" while the item still waits.
    return "now" if seconds <= 0 else f"in {math.ceil(seconds)} s"


# Why a drain left items pending, in the operator's words (DrainReport.stopped_by).
_STOPPED = {
    "empty": "nothing more is due (the pending items wait for their next attempt, "
    "a backoff after a transient failure)",
    "deadline": "the drain's deadline (--deadline) was reached",
    "unreachable": "VectorVue could not be reached; the items stay in the outbox",
    "stopping": "interrupted",
}


def _why(report: DrainReport) -> str:
    """The stop reason of a drain that left items pending ("" when none is left)."""
    if not report.pending:
        return ""
    why = _STOPPED.get(report.stopped_by, report.stopped_by)
    if report.last_error and report.stopped_by in ("empty", "unreachable"):
        why += f"; last failure: {report.last_error}"
    return f"{why}; next item due {_due(report.next_due_in_seconds)}"


def drain(args: argparse.Namespace) -> int:
    """Deliver what is due: 0 when the outbox is empty after, 1 when items were
    dead-lettered, 3 when VectorVue could not be reached (the items stay)."""
    with open_client(args) as client:
        report = client.drain(args.deadline)
    why = _why(report)
    human = (
        f"delivered {report.delivered}, retried later {report.rescheduled}, "
        f"dead-lettered {report.dead}, still pending {report.pending} "
        f"({report.seconds:.2f} s)"
    )
    if why:
        human += f"\nstopped: {why}"
    emit(args, {**asdict(report), "reason": why or None}, human)
    if report.stopped_by == "unreachable":
        return EXIT_UNREACHABLE
    return EXIT_REJECTED if report.dead else EXIT_OK


def dead(args: argparse.Namespace) -> int:
    """The dead letters with their reasons (never their bodies: they hold findings);
    read-only, like stats."""
    with closing(_inspect(args)) as view:
        letters = view.dead_letters(args.limit)
    rows = [(d.key, d.attempts, d.status_code or "-", d.reason) for d in letters]
    data = {
        "dead_letters": [
            {
                "key": d.key,
                "kind": d.kind,
                "attempts": d.attempts,
                "reason": d.reason,
                "status_code": d.status_code,
                "died_at": d.died_at,
            }
            for d in letters
        ]
    }
    emit(args, data, table(rows, ("key", "attempts", "status", "reason")) if rows else "none")
    return EXIT_OK


def retry(args: argparse.Namespace) -> int:
    """Put dead letters back in line: the given keys, or all with --all. A key that is no
    dead letter is a usage error naming it; the known keys still go back in line."""
    if not args.keys and not args.all:
        error("outbox retry needs KEYS or --all", exit_code=EXIT_USAGE)
        return EXIT_USAGE
    if args.all and args.keys:
        error("outbox retry takes KEYS or --all, not both", exit_code=EXIT_USAGE)
        return EXIT_USAGE
    with open_client(args) as client:
        if args.all:
            count, unknown = client.outbox.retry_dead(None), []
        else:
            # One key at a time (the operator typed them): each says whether it moved.
            keys = list(dict.fromkeys(args.keys))
            unknown = [key for key in keys if not client.outbox.retry_dead([key])]
            count = len(keys) - len(unknown)
    if count or not unknown or getattr(args, "json", False):  # never "0 back in line"
        emit(args, {"requeued": count, "unknown": unknown}, f"{count} dead letter(s) back in line")
    if unknown:
        error(
            f"no dead letter with key(s) {', '.join(unknown)} "
            "(`outbox dead` lists them; a damaged one stays dead)",
            exit_code=EXIT_USAGE,
        )
        return EXIT_USAGE
    return EXIT_OK
