"""`outbox stats|drain|dead|retry`."""

from __future__ import annotations

import argparse
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
from vectorvue_client.service.outbox_view import OutboxView


def _inspect(args: argparse.Namespace) -> OutboxView:
    # Read-only, without the owner lock: a running service keeps its outbox and its claims.
    return inspect_outbox(settings(args).config)


def stats(args: argparse.Namespace) -> int:
    """Counts by state and the age of the oldest pending item (read-only: works while a
    service owns the outbox)."""
    with closing(_inspect(args)) as view:
        result = view.stats()
    age = result.oldest_pending_age_seconds
    human = table(
        [
            (
                result.pending,
                result.in_flight,
                result.delivered,
                result.dead,
                "-" if age is None else f"{age:.0f} s",
            )
        ],
        ("pending", "in flight", "delivered", "dead", "oldest pending"),
    )
    emit(args, asdict(result), human)
    return EXIT_OK


def drain(args: argparse.Namespace) -> int:
    """Deliver what is due: 0 when the outbox is empty after, 1 when items were
    dead-lettered, 3 when VectorVue could not be reached (the items stay)."""
    with open_client(args) as client:
        report = client.drain(args.deadline)
    human = (
        f"delivered {report.delivered}, retried later {report.rescheduled}, "
        f"dead-lettered {report.dead}, still pending {report.pending} "
        f"({report.seconds:.2f} s, stopped: {report.stopped_by})"
    )
    emit(args, asdict(report), human)
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
    """Put dead letters back in line: the given keys, or all with --all."""
    if not args.keys and not args.all:
        error("outbox retry needs KEYS or --all")
        return EXIT_USAGE
    with open_client(args) as client:
        count = client.outbox.retry_dead(None if args.all else args.keys)
    emit(args, {"requeued": count}, f"{count} dead letter(s) back in line")
    return EXIT_OK
