"""`vectorvue-client send FILE|-`: a file of SpectraStrike outputs, delivered or enqueued.

The input is read twice (ADR 0023): once to check every document, and, unless a document
was refused (and --skip-invalid not given) or this is a dry run, once more to send or
enqueue them. Each reading holds one chunk of documents at a time, so a JSON Lines file
of any size is sent in bounded memory; a dry run writes what it would send as it goes.

However a send or an enqueue ends (done, an error, Ctrl-C, SIGTERM), it prints its
summary (send_summary.py) before the error is reported: the summary is the result, on
stdout; progress and errors go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, TextIO

from vectorvue_client.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTED,
    TableWriter,
    emit,
    error,
    open_client,
)
from vectorvue_client.cli.inputs import Document, InputFile, InputFileError, Unreadable
from vectorvue_client.cli.progress import Progress
from vectorvue_client.cli.send_summary import Summary, Tally, problem_text, shown
from vectorvue_client.domain.envelope import ResponseEnvelope
from vectorvue_client.domain.errors import VectorVueError, VectorVueSerializationError
from vectorvue_client.service.client import PlannedItem, VectorVueClient

CHUNK: Final = 200  # documents per send_outputs call (progress moves per request)
ENQUEUE_CHUNK: Final = 5000  # documents per durable outbox write (each one is a commit)
CHUNK_BYTES: Final = 8 << 20  # and at most this much input per chunk, whatever its documents
LISTING_HEADER: Final = ("kind", "id", "type", "asset")


def run(args: argparse.Namespace) -> int:
    """The send command. However it ends (done, an error, Ctrl-C, SIGTERM), a send or an
    enqueue prints its summary of what became of every item before the error is reported."""
    mode = "dry-run" if args.dry_run else "enqueue" if args.enqueue else "send"
    summary = Summary(mode=mode)
    with (
        _sigterm_raises(mode != "dry-run"),
        InputFile(args.file) as source,
        open_client(args, offline=mode == "dry-run") as client,
    ):
        summary.gateway = client.config.profile == "telemetry-gateway"
        started = time.monotonic()
        try:
            return _run(args, source, client, summary, started)
        except (VectorVueError, InputFileError, OSError, KeyboardInterrupt) as exc:
            if mode == "dry-run" or isinstance(exc, BrokenPipeError):
                raise  # nothing was sent; the listing is on stdout already
            summary.seconds = time.monotonic() - started
            summary.stopped = _why(exc)
            _report(args, summary, None)
            sys.stdout.flush()
            if not isinstance(exc, _Terminated):
                raise
    # Ended by SIGTERM, as whoever sent it expects (a shell reports 143), once the summary
    # is out and the client (its outbox) closed.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
    return EXIT_INTERRUPTED  # not reached


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the send is, so that it ends as Ctrl-C does."""


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated


@contextmanager
def _sigterm_raises(on: bool) -> Iterator[None]:
    """SIGTERM raises _Terminated while inside (when `on`, and on the main thread, the only
    one a signal handler can be set from)."""
    if not on or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _why(exc: BaseException) -> str:
    if isinstance(exc, _Terminated):
        return "terminated (SIGTERM)"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return shown(" ".join((str(exc) or type(exc).__name__).split()))


def _run(
    args: argparse.Namespace,
    source: InputFile,
    client: VectorVueClient,
    summary: Summary,
    started: float,
) -> int:
    mode = summary.mode
    listing = Listing(sys.stdout, as_json=args.json) if mode == "dry-run" else None
    quiet = bool(getattr(args, "quiet", False))
    # A dry run's listing shows its own progress, on stdout.
    with Progress(
        None,
        "checking",
        unit="documents",
        quiet=quiet or mode == "dry-run",
        as_json=args.json,
        after=CHUNK,
    ) as checking:
        for chunk in _chunks(source.documents(), CHUNK):
            planned = _check(client, chunk, summary)
            checking.advance(len(chunk))
            if listing is not None:
                listing.add(planned)
    refused = summary.refused
    if refused.count and not args.skip_invalid:
        summary.seconds = time.monotonic() - started
        _report(args, summary, listing)
        first = refused.shown[0]
        problems = (
            problem_text(first)
            if refused.count == 1
            else f"{refused.count} documents refused, the first: {problem_text(first)}"
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
        with Progress(summary.items, "sending", quiet=quiet, as_json=args.json) as progress:
            _send(client, source, summary, args.skip_invalid, Tally(summary, progress))
    summary.seconds = time.monotonic() - started
    _report(args, summary, listing)
    if refused.count:
        left_out = "would be left out" if mode == "dry-run" else "left out"
        first = refused.shown[0]
        left = f"{refused.count} document(s) {left_out}"
        error(
            f"{source.name}: {left}, the first: {problem_text(first)}",
            exit_code=EXIT_REJECTED,
            field=first["field"],
            rule=first["rule"],
        )
    delivered = not (refused.count or summary.rejected.count or summary.unconfirmed)
    return EXIT_OK if delivered else EXIT_REJECTED


def _enqueue(
    client: VectorVueClient, source: InputFile, summary: Summary, skip_invalid: bool
) -> None:
    """The second reading of --enqueue: store the valid documents, a chunk per commit."""
    for chunk in _chunks(_valid(source.documents()), ENQUEUE_CHUNK):
        keys = _leaving_out_refused(client.enqueue_many, chunk, skip_invalid)
        summary.accepted += len(keys or ())


def _send(
    client: VectorVueClient,
    source: InputFile,
    summary: Summary,
    skip_invalid: bool,
    tally: Tally,
) -> None:
    """The second reading of a send: deliver the valid documents, a chunk per call; the
    tally counts each request's outcome as it ends."""

    def send_outputs(documents: list[Any]) -> ResponseEnvelope:
        return client.send_outputs(documents, observer=tally)

    try:
        for chunk in _chunks(_valid(source.documents()), CHUNK):
            _leaving_out_refused(send_outputs, chunk, skip_invalid)
    except BaseException as exc:
        tally.stopped(exc)
        raise


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
    object whose "would_send" list is written item by item before the summary keys, each
    with the payload it would be sent as (see PlannedItem.body)."""

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
                item = {"kind": p.kind, "id": p.item_id, "type": p.item_type}
                described = json.dumps({"asset_ref": p.asset_ref, **item}, sort_keys=True)
                # The payload as the exact JSON it is sent as (its keys in their order),
                # spliced in as "payload", the last key.
                entry = f'{described.removesuffix("}")}, "payload": {p.body.decode()}}}'
                self._out.write(('{"would_send": [' if self._count == 0 else ", ") + entry)
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
    if listing is None:
        emit(args, summary.data(), "\n".join(summary.lines()))
        return
    listing.finish(
        summary.data(),
        [
            f"\n{summary.items} item(s) from {summary.documents} document(s) would be sent",
            *summary.refused.lines(),
        ],
    )
