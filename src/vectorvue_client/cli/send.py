"""`vectorvue-client send FILE|-`: a file of SpectraStrike outputs, delivered or enqueued.

The input is read twice (ADR 0023): once to check every document, and, unless a document
was refused (and --skip-invalid not given) or this is a dry run, once more to send or
enqueue them. Each reading holds one chunk of documents at a time, so a JSON Lines file
of any size is sent in bounded memory; a dry run writes what it would send as it goes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

from vectorvue_client.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    TableWriter,
    emit,
    error,
    open_client,
    table,
)
from vectorvue_client.cli.inputs import Document, InputFile, Unreadable, printable
from vectorvue_client.cli.progress import Progress
from vectorvue_client.domain.errors import VectorVueSerializationError
from vectorvue_client.service.client import PlannedItem, VectorVueClient

CHUNK: Final = 200  # documents per send_outputs call: progress granularity
ENQUEUE_CHUNK: Final = 5000  # documents per durable outbox write (each one is a commit)
CHUNK_BYTES: Final = 8 << 20  # and at most this much input per chunk, whatever its documents
SHOWN_REFUSALS: Final = 1000  # refusal lines kept (and shown); the rest only counted
LISTING_HEADER: Final = ("kind", "id", "type", "asset")


class Refusals:
    """The refused documents: how many, and their problems as {line, field, rule} (an
    unreadable line's field is None: no field of it could be read). The first SHOWN_REFUSALS
    problems are kept, the rest only counted, so a file of a million bad lines does not
    fill memory."""

    def __init__(self) -> None:
        self.shown: list[dict[str, str | None]] = []
        self.count = 0  # documents: one with two problems counts once
        self.problems = 0

    def add(self, where: str, problems: Sequence[tuple[str | None, str]]) -> None:
        """One more refused document (or unreadable line) and its (field, rule) problems."""
        self.count += 1
        for field_name, rule in problems:
            self.problems += 1
            if len(self.shown) < SHOWN_REFUSALS:
                self.shown.append(
                    {
                        "line": where,
                        "field": None if field_name is None else printable(field_name),
                        "rule": printable(rule),
                    }
                )

    @property
    def omitted(self) -> int:
        """How many problems were counted but not kept."""
        return self.problems - len(self.shown)

    def lines(self) -> list[str]:
        """The human lines: each kept problem, then how many more there were."""
        lines = [f"refused: {_text(p)}" for p in self.shown]
        if self.omitted:
            lines.append(f"refused: {self.omitted} more (only the first {len(self.shown)} shown)")
        return lines


def _text(problem: dict[str, str | None]) -> str:
    parts = (problem["line"], problem["field"], problem["rule"])
    return ": ".join(part for part in parts if part is not None)


@dataclass
class Summary:
    """The counts of one send."""

    mode: str
    documents: int = 0
    items: int = 0
    accepted: int = 0
    rejected: int = 0
    refused: Refusals = field(default_factory=Refusals)
    seconds: float = 0.0

    def data(self) -> dict[str, Any]:
        """The --json summary (without a dry run's list of items)."""
        rate = self.accepted / self.seconds if self.seconds > 0 else 0.0
        return {
            "mode": self.mode,
            "documents": self.documents,
            "items": self.items,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "refused": self.refused.count,
            "refused_locally": self.refused.shown,
            "refused_locally_omitted": self.refused.omitted,
            "seconds": round(self.seconds, 3),
            "items_per_second": round(rate, 1),
        }


def run(args: argparse.Namespace) -> int:
    """The send command."""
    mode = "dry-run" if args.dry_run else "enqueue" if args.enqueue else "send"
    summary = Summary(mode=mode)
    with InputFile(args.file) as source, open_client(args) as client:
        started = time.monotonic()
        listing = Listing(sys.stdout, as_json=args.json) if mode == "dry-run" else None
        for chunk in _chunks(source.documents(), CHUNK):
            planned = _check(client, chunk, summary)
            if listing is not None:
                listing.add(planned)
        refused = summary.refused
        if refused.count and not args.skip_invalid:
            summary.seconds = time.monotonic() - started
            _report(args, summary, listing)
            first = refused.shown[0]
            problems = (
                _text(first)
                if refused.count == 1
                else f"{refused.count} documents refused, the first: {_text(first)}"
            )
            error(
                f"{source.name}: {problems}; nothing was sent "
                "(fix the input, or pass --skip-invalid to send the rest)",
                exit_code=EXIT_REJECTED,
                field=first["field"],
                rule=first["rule"],
            )
            return EXIT_REJECTED
        if mode == "enqueue":
            _enqueue(client, source, summary, args.skip_invalid)
        elif mode == "send":
            _send(client, source, summary, args.skip_invalid)
        summary.seconds = time.monotonic() - started
        _report(args, summary, listing)
        if refused.count:
            left_out = "would be left out" if mode == "dry-run" else "left out"
            first = refused.shown[0]
            error(
                f"{source.name}: {refused.count} document(s) {left_out}, the first: {_text(first)}",
                exit_code=EXIT_REJECTED,
                field=first["field"],
                rule=first["rule"],
            )
    return EXIT_REJECTED if refused.count or summary.rejected else EXIT_OK


def _enqueue(
    client: VectorVueClient, source: InputFile, summary: Summary, skip_invalid: bool
) -> None:
    """The second reading of --enqueue: store the valid documents, a chunk per commit."""
    for chunk in _chunks(_valid(source.documents()), ENQUEUE_CHUNK):
        keys = _leaving_out_refused(client.enqueue_many, chunk, skip_invalid)
        summary.accepted += len(keys or ())


def _send(client: VectorVueClient, source: InputFile, summary: Summary, skip_invalid: bool) -> None:
    """The second reading of a send: deliver the valid documents, a chunk per call."""
    with Progress(summary.items, "sending") as progress:
        for chunk in _chunks(_valid(source.documents()), CHUNK):
            envelope = _leaving_out_refused(client.send_outputs, chunk, skip_invalid)
            if envelope is None:
                continue
            accepted = sum(1 for item in envelope.items if item.accepted)
            summary.accepted += accepted
            summary.rejected += len(envelope.items) - accepted
            progress.advance(len(envelope.items))


def _chunks[T](parts: Iterable[T], size: int) -> Iterator[list[T]]:
    """`parts` in lists of `size`, or fewer when their documents pass CHUNK_BYTES."""
    chunk: list[T] = []
    held = 0
    for part in parts:
        chunk.append(part)
        held += part.size if isinstance(part, Document) else 0
        if len(chunk) >= size or held >= CHUNK_BYTES:
            yield chunk
            chunk, held = [], 0
    if chunk:
        yield chunk


def _valid(parts: Iterable[Document | Unreadable]) -> Iterator[Document]:
    return (part for part in parts if isinstance(part, Document))


def _check(
    client: VectorVueClient, chunk: list[Document | Unreadable], summary: Summary
) -> list[PlannedItem]:
    """Plan every document of `chunk`; count them, and record each refused one with its
    problems (an unreadable line's is its own), in file order."""
    documents = [part for part in chunk if isinstance(part, Document)]
    summary.documents += len(chunk)
    bad: dict[int, list[tuple[str | None, str]]] = {}  # index in `documents` -> its problems
    planned: list[PlannedItem] = []
    if documents:
        try:
            planned = client.check_outputs([d.data for d in documents])
        except VectorVueSerializationError as exc:
            if any(problem.index is None for problem in exc.problems):
                raise  # a problem of the whole batch, not of one document
            for problem in exc.problems:
                assert problem.index is not None
                bad.setdefault(problem.index, []).append((problem.field, problem.rule))
            good = [d.data for i, d in enumerate(documents) if i not in bad]
            planned = client.check_outputs(good) if good else []
    index = 0
    for part in chunk:
        if isinstance(part, Unreadable):
            summary.refused.add(part.where, [(None, part.problem)])
            continue
        if index in bad:
            summary.refused.add(part.where, bad[index])
        index += 1
    summary.items += len(planned)
    return planned


def _leaving_out_refused[R](
    call: Callable[[list[Any]], R], documents: Sequence[Document], skip_invalid: bool
) -> R | None:
    """`call` on the documents' data; with --skip-invalid, again without the documents it
    refuses (the first reading refused and counted them already). Nothing is sent or
    stored by a call that refuses, so the second call is the only one that acts."""
    try:
        return call([d.data for d in documents])
    except VectorVueSerializationError as exc:
        bad = {problem.index for problem in exc.problems}
        if not skip_invalid or None in bad:
            raise
        good = [d.data for i, d in enumerate(documents) if i not in bad]
        return call(good) if good else None


class Listing:
    """What a dry run would send, written as it is found: a table (its column widths set
    by the first rows; later, wider cells push their row out) or, with --json, one JSON
    object whose "would_send" list is written item by item before the summary keys."""

    WIDTH_ROWS: Final = 1000

    def __init__(self, out: TextIO, *, as_json: bool) -> None:
        self._out = out
        self._json = as_json
        self._count = 0
        self._table = TableWriter(out, LISTING_HEADER, self.WIDTH_ROWS)

    def add(self, planned: Sequence[PlannedItem]) -> None:
        """Write these items."""
        for p in planned:
            if self._json:
                item = {
                    "kind": p.kind,
                    "id": p.item_id,
                    "type": p.item_type,
                    "asset_ref": p.asset_ref,
                }
                self._out.write(
                    ('{"would_send": [' if self._count == 0 else ", ")
                    + json.dumps(item, sort_keys=True)
                )
            else:
                self._table.row((p.kind, p.item_id, p.item_type, p.asset_ref or "-"))
            self._count += 1

    def finish(self, data: dict[str, Any], lines: Sequence[str]) -> None:
        """Close the list and write the summary: `data` (--json) or `lines`."""
        if self._json:
            if self._count == 0:
                self._out.write('{"would_send": [')
            # The summary's keys follow the list: `data` as one object, without its "{".
            summary = json.dumps(data, sort_keys=True, default=str)
            self._out.write("], " + summary.removeprefix("{") + "\n")
        else:
            self._table.close()
            self._out.write("\n".join(lines) + "\n")
        self._out.flush()


def _report(args: argparse.Namespace, summary: Summary, listing: Listing | None) -> None:
    data = summary.data()
    if listing is not None:
        listing.finish(
            data,
            [
                f"\n{summary.items} item(s) from {summary.documents} document(s) would be sent",
                *summary.refused.lines(),
            ],
        )
        return
    if summary.mode == "enqueue":
        lines = [f"{summary.accepted} item(s) stored in the outbox ({summary.seconds:.2f} s)"]
    else:
        lines = [
            table(
                [
                    (
                        summary.documents,
                        summary.items,
                        summary.accepted,
                        summary.rejected,
                        summary.refused.count,
                        f"{summary.seconds:.2f}",
                        f"{data['items_per_second']:.0f}",
                    )
                ],
                ("documents", "items", "accepted", "rejected", "refused", "seconds", "items/s"),
            )
        ]
    emit(args, data, "\n".join([*lines, *summary.refused.lines()]))
