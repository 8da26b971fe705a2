"""`vectorvue-client send FILE|-`: a file of SpectraStrike outputs, delivered or enqueued.

The input is read twice (ADR 0023): once to check every document, and, unless a document
was refused (and --skip-invalid not given) or this is a dry run, once more to send or
enqueue them. Each reading holds one chunk of documents at a time, so a JSON Lines file
of any size is sent in bounded memory; a dry run writes what it would send as it goes.

A send counts each request's outcome as it ends (a SendObserver on send_outputs), so
however it ends (done, an error, Ctrl-C, SIGTERM) its summary says what was accepted,
rejected by VectorVue (with its reasons), refused here, unconfirmed (in a request that
got no answer on them) and not attempted, with VectorVue's request ids. The summary is
the result, on stdout; progress and errors go to stderr.
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
from dataclasses import dataclass, field
from typing import Any, Final, TextIO

from vectorvue_client.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTED,
    TableWriter,
    emit,
    error,
    open_client,
    table,
)
from vectorvue_client.cli.inputs import Document, InputFile, InputFileError, Unreadable, printable
from vectorvue_client.cli.progress import Progress
from vectorvue_client.domain.envelope import ItemOutcome, ResponseEnvelope
from vectorvue_client.domain.errors import (
    VectorVueAPIError,
    VectorVueError,
    VectorVueSerializationError,
)
from vectorvue_client.domain.redaction import mask_known
from vectorvue_client.service.client import PlannedItem, VectorVueClient
from vectorvue_client.service.delivery import SendObserver, WaitReason

CHUNK: Final = 200  # documents per send_outputs call (progress moves per request)
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


class Rejections:
    """The items VectorVue refused, as {id, items, status, code, message, request_id}: one
    per item, or one for all the items of a request refused whole (id None); the first
    SHOWN_REFUSALS kept, the rest only counted."""

    def __init__(self) -> None:
        self.shown: list[dict[str, str | int | None]] = []
        self.count = 0

    def add(self, item: ItemOutcome, request_id: str | None) -> None:
        """One more refused item."""
        self.add_reason(item.item_id, item.status, item.error_code, item.error_message, request_id)

    def add_reason(
        self,
        item_id: str | None,
        status: str,
        code: str | None,
        message: str | None,
        request_id: str | None,
        count: int = 1,
    ) -> None:
        """`count` more refused items, for one reason."""
        self.count += count
        if len(self.shown) < SHOWN_REFUSALS:
            self.shown.append(
                {
                    "id": item_id,
                    "items": count,
                    "status": status,
                    "code": code,
                    "message": message,
                    "request_id": request_id,
                }
            )

    @property
    def omitted(self) -> int:
        """How many refused items were counted but not kept."""
        return self.count - sum(int(r["items"] or 0) for r in self.shown)

    def lines(self) -> list[str]:
        """The human lines: each kept refusal, then how many more there were."""
        lines = []
        for r in self.shown:
            reason = ": ".join(str(p) for p in (r["code"], r["message"]) if p) or r["status"]
            request = f"request {r['request_id']}" if r["request_id"] else "one request"
            what = r["id"] or f"the {r['items']} item(s) of {request}"
            lines.append(f"rejected by VectorVue: {what}: {reason}")
        if self.omitted:
            lines.append(f"rejected by VectorVue: {self.omitted} more item(s)")
        return lines


@dataclass
class Summary:
    """The counts of one send, kept as it goes: what it ends with, however it ends."""

    mode: str
    gateway: bool = False
    documents: int = 0
    items: int = 0
    accepted: int = 0
    rejected: Rejections = field(default_factory=Rejections)
    unconfirmed: int = 0  # in a request that ended without VectorVue's answer on them
    refused: Refusals = field(default_factory=Refusals)
    request_ids: list[str] = field(default_factory=list)
    stopped: str | None = None  # why it ended early: an error, or the interrupt
    seconds: float = 0.0

    @property
    def not_attempted(self) -> int:
        """The items that were not sent (or stored) at all."""
        return max(0, self.items - self.accepted - self.rejected.count - self.unconfirmed)

    def data(self) -> dict[str, Any]:
        """The --json summary (without a dry run's list of items)."""
        rate = self.accepted / self.seconds if self.seconds > 0 else 0.0
        data = {
            "mode": self.mode,
            "documents": self.documents,
            "items": self.items,
            "accepted": self.accepted,
            "rejected": self.rejected.count,
            "rejected_items": self.rejected.shown,
            "rejected_items_omitted": self.rejected.omitted,
            "unconfirmed": self.unconfirmed,
            "not_attempted": self.not_attempted,
            "refused": self.refused.count,
            "refused_locally": self.refused.shown,
            "refused_locally_omitted": self.refused.omitted,
            "requests": len(self.request_ids),
            "request_ids": self.request_ids,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
            "items_per_second": round(rate, 1),
        }
        if self.undelivered:
            data["resend"] = self.resend_hint()
        return data

    @property
    def undelivered(self) -> bool:
        """Whether items that VectorVue did not refuse are not known to be stored: some
        unconfirmed, or not attempted by a send that stopped early."""
        return self.unconfirmed > 0 or (self.stopped is not None and self.not_attempted > 0)

    def resend_hint(self) -> str:
        """What to do about the items not delivered."""
        if self.mode == "enqueue":
            return (
                "running the same command again is safe: each item keeps its key, and the "
                "outbox stores it once"
            )
        return (
            "sending the same file again is safe: each item keeps its id, and VectorVue "
            "stores it once; or store the file durably with `send --enqueue FILE` and let "
            "`vectorvue-client outbox drain` deliver it"
        )

    def request_line(self) -> str | None:
        """VectorVue's request ids, compactly: the first and the last, and how many."""
        ids = self.request_ids
        if not ids:
            return None
        look_up = "" if self.gateway else " (look one up: vectorvue-client status REQUEST_ID)"
        if len(ids) == 1:
            return f"request id: {ids[0]}{look_up}"
        return f"request ids: {len(ids)}, first {ids[0]}, last {ids[-1]}{look_up}"


class Tally(SendObserver):
    """Counts each request's outcome into the summary as it ends, and moves the progress."""

    def __init__(self, summary: Summary, progress: Progress) -> None:
        self._summary = summary
        self._progress = progress
        self.in_flight = 0  # the items of the request started and not yet answered

    def request_started(self, items: int) -> None:
        self.in_flight = items

    def request_done(self, envelope: ResponseEnvelope) -> None:
        summary = self._summary
        items, self.in_flight = self.in_flight, 0
        if envelope.request_id is not None:
            summary.request_ids.append(envelope.request_id)
        for item in envelope.items:
            if item.accepted:
                summary.accepted += 1
            else:
                summary.rejected.add(item, envelope.request_id)
        # An answer that says nothing of the items (a 2xx that is not VectorVue's, from a
        # proxy) confirms none of them.
        summary.unconfirmed += max(0, items - len(envelope.items))
        self._progress.advance(max(items, len(envelope.items)))

    def waiting(self, seconds: float, reason: WaitReason) -> None:
        self._progress.waiting(seconds, reason)

    def stopped(self, exc: BaseException) -> None:
        """The send ended with `exc`: the request in flight is refused (a definite answer
        of VectorVue on it) or unconfirmed (no answer, or one that says "later")."""
        summary, items, self.in_flight = self._summary, self.in_flight, 0
        if isinstance(exc, VectorVueAPIError) and _refuses_items(exc.status_code):
            code = exc.error_code or f"http_{exc.status_code}"
            summary.rejected.add_reason(
                None,
                "failed",
                code,
                exc.envelope.error if exc.envelope else str(exc),
                exc.request_id,
                items,
            )
            if exc.request_id is not None:
                summary.request_ids.append(exc.request_id)
        else:
            summary.unconfirmed += items


def _refuses_items(status: int) -> bool:
    """Whether an error answer refuses what the request carried ("not this"), rather than
    saying "not now" (408, 425, 429, 5xx) or "not you" (401, 403: the credentials)."""
    return 400 <= status < 500 and status not in (401, 403, 408, 425, 429)


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
    return mask_known(" ".join((str(exc) or type(exc).__name__).split()))


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
        with Progress(summary.items, "sending", quiet=quiet, as_json=args.json) as progress:
            _send(client, source, summary, args.skip_invalid, Tally(summary, progress))
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
        if summary.not_attempted:
            lines.append(f"{summary.not_attempted} item(s) not stored")
    else:
        lines = [
            table(
                [
                    (
                        summary.documents,
                        summary.items,
                        summary.accepted,
                        summary.rejected.count,
                        summary.refused.count,
                        summary.unconfirmed,
                        summary.not_attempted,
                        f"{summary.seconds:.2f}",
                        f"{data['items_per_second']:.0f}",
                    )
                ],
                (
                    "documents",
                    "items",
                    "accepted",
                    "rejected",
                    "refused",
                    "unconfirmed",
                    "not attempted",
                    "seconds",
                    "items/s",
                ),
            )
        ]
        if (requests := summary.request_line()) is not None:
            lines.append(requests)
        lines.extend(summary.rejected.lines())
    lines.extend(summary.refused.lines())
    if summary.unconfirmed:
        lines.append(
            f"unconfirmed: {summary.unconfirmed} item(s) were in the request that failed or "
            "was cut short: VectorVue did not confirm them (they may or may not be stored)"
        )
    if summary.stopped is not None:
        lines.append(f"stopped: {summary.stopped}")
    if summary.undelivered:
        lines.append(f"{summary.resend_hint()[0].upper()}{summary.resend_hint()[1:]}.")
    emit(args, data, "\n".join(lines))
