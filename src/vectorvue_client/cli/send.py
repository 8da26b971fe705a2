"""`vectorvue-client send FILE|-`: a file of SpectraStrike outputs, delivered or enqueued."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from vectorvue_client.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    emit,
    error,
    open_client,
    table,
)
from vectorvue_client.cli.progress import Progress
from vectorvue_client.domain.errors import Problem, VectorVueSerializationError

CHUNK: Final = 200  # documents per send_outputs call: progress granularity


@dataclass
class Document:
    """One input document and where it was in the file ("line 3", "item 2", "file")."""

    where: str
    data: Any


@dataclass
class Summary:
    mode: str
    documents: int = 0
    items: int = 0
    accepted: int = 0
    rejected: int = 0
    refused: list[str] = field(default_factory=list)
    seconds: float = 0.0


def read_documents(path: str) -> tuple[list[Document], list[str]]:
    """The documents of a JSON file (one object, or an array) or a JSONL file (one per
    line), and a problem line per line that is not JSON. "-" reads standard input."""
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            return [], [f"line {exc.lineno}: not JSON ({exc.msg})"]
        return [Document(f"item {i + 1}", d) for i, d in enumerate(items)], []
    if stripped.startswith("{"):
        try:
            return [Document("file", json.loads(text))], []
        except json.JSONDecodeError:
            pass  # several objects: JSON Lines
    documents, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            documents.append(Document(f"line {number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg})")
    return documents, problems


def run(args: argparse.Namespace) -> int:
    """The send command."""
    documents, unreadable = read_documents(args.file)
    mode = "dry-run" if args.dry_run else "enqueue" if args.enqueue else "send"
    summary = Summary(mode=mode, documents=len(documents) + len(unreadable))
    summary.refused.extend(unreadable)
    started = time.monotonic()
    with open_client(args) as client:
        planned, bad = _check(client, documents)
        summary.refused.extend(bad)
        if summary.refused and not args.skip_invalid:
            summary.seconds = time.monotonic() - started
            _report(args, summary, planned)
            error(
                f"{len(summary.refused)} input problem(s); nothing was sent "
                "(fix them, or pass --skip-invalid to send the rest)"
            )
            return EXIT_REJECTED
        valid = [d for d in documents if not _is_bad(d, bad)]
        summary.items = len(planned)
        if mode == "enqueue":
            summary.accepted = len(client.enqueue_many([d.data for d in valid]))
        elif mode == "send":
            with Progress(summary.items, "sending") as progress:
                for start in range(0, len(valid), CHUNK):
                    chunk = [d.data for d in valid[start : start + CHUNK]]
                    envelope = client.send_outputs(chunk)
                    accepted = sum(1 for item in envelope.items if item.accepted)
                    summary.accepted += accepted
                    summary.rejected += len(envelope.items) - accepted
                    progress.advance(len(envelope.items))
    summary.seconds = time.monotonic() - started
    _report(args, summary, planned)
    return EXIT_REJECTED if summary.refused or summary.rejected else EXIT_OK


def _check(client: Any, documents: list[Document]) -> tuple[list[Any], list[str]]:
    """Plan every document; the problems, each as "<where>: <field>: <rule>"."""
    try:
        return client.check_outputs([d.data for d in documents]), []
    except VectorVueSerializationError as exc:
        bad = [_where(documents, p) for p in exc.problems]
        good = [d for i, d in enumerate(documents) if i not in {p.index for p in exc.problems}]
        planned = client.check_outputs([d.data for d in good]) if good else []
        return planned, bad


def _where(documents: list[Document], problem: Problem) -> str:
    where = documents[problem.index].where if problem.index is not None else "input"
    return f"{where}: {problem.field}: {problem.rule}"


def _is_bad(document: Document, bad: list[str]) -> bool:
    return any(line.startswith(f"{document.where}:") for line in bad)


def _report(args: argparse.Namespace, summary: Summary, planned: list[Any]) -> None:
    rate = summary.accepted / summary.seconds if summary.seconds > 0 else 0.0
    data: dict[str, Any] = {
        "mode": summary.mode,
        "documents": summary.documents,
        "items": summary.items,
        "accepted": summary.accepted,
        "rejected": summary.rejected,
        "refused_locally": summary.refused,
        "seconds": round(summary.seconds, 3),
        "items_per_second": round(rate, 1),
    }
    if summary.mode == "dry-run":
        data["would_send"] = [
            {"kind": p.kind, "id": p.item_id, "type": p.item_type, "asset_ref": p.asset_ref}
            for p in planned
        ]
    lines = []
    if summary.mode == "dry-run":
        lines.append(
            table(
                [(p.kind, p.item_id, p.item_type, p.asset_ref or "-") for p in planned],
                ("kind", "id", "type", "asset"),
            )
        )
        lines.append(
            f"\n{summary.items} item(s) from {summary.documents} document(s) would be sent"
        )
    elif summary.mode == "enqueue":
        lines.append(f"{summary.accepted} item(s) stored in the outbox ({summary.seconds:.2f} s)")
    else:
        lines.append(
            table(
                [
                    (
                        summary.documents,
                        summary.items,
                        summary.accepted,
                        summary.rejected,
                        len(summary.refused),
                        f"{summary.seconds:.2f}",
                        f"{rate:.0f}",
                    )
                ],
                ("documents", "items", "accepted", "rejected", "refused", "seconds", "items/s"),
            )
        )
    lines.extend(f"refused: {line}" for line in summary.refused)
    emit(args, data, "\n".join(lines))
