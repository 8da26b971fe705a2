"""What became of every item of a send: the counts (accepted, rejected by VectorVue,
refused here, unconfirmed, not attempted), VectorVue's reasons and request ids, and how
they are shown. A Tally, the SendObserver handed to send_outputs, counts each request's
outcome as it ends, so the summary is right however the send ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from vectorvue_client.cli.common import table
from vectorvue_client.cli.inputs import printable
from vectorvue_client.cli.progress import Progress
from vectorvue_client.domain.envelope import ItemOutcome, ResponseEnvelope
from vectorvue_client.domain.errors import VectorVueAPIError
from vectorvue_client.domain.redaction import mask_known
from vectorvue_client.service.delivery import SendObserver, WaitReason

SHOWN_REFUSALS: Final = 1000  # refusal lines kept (and shown); the rest only counted
COLUMNS: Final = (
    "documents",
    "items",
    "accepted",
    "rejected",
    "refused",
    "unconfirmed",
    "not attempted",
    "seconds",
    "items/s",
)


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
        lines = [f"refused: {problem_text(p)}" for p in self.shown]
        if self.omitted:
            lines.append(f"refused: {self.omitted} more (only the first {len(self.shown)} shown)")
        return lines


def problem_text(problem: dict[str, str | None]) -> str:
    """A refusal as one line: where, the field, the rule."""
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
                    "id": None if item_id is None else shown(item_id),
                    "items": count,
                    "status": status,
                    "code": None if code is None else shown(code),
                    "message": None if message is None else shown(message),
                    "request_id": None if request_id is None else shown(request_id),
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
    unconfirmed_reason: str | None = None  # why the last of them was not confirmed
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
            "unconfirmed_reason": self.unconfirmed_reason,
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

    def lines(self) -> list[str]:
        """The human summary of a send or an enqueue (not of a dry run: its listing)."""
        if self.mode == "enqueue":
            lines = [f"{self.accepted} item(s) stored in the outbox ({self.seconds:.2f} s)"]
            if self.not_attempted:
                lines.append(f"{self.not_attempted} item(s) not stored")
        else:
            lines = [table([self._row()], COLUMNS)]
            if (requests := self.request_line()) is not None:
                lines.append(requests)
            lines.extend(self.rejected.lines())
        lines.extend(self.refused.lines())
        if self.unconfirmed:
            lines.append(
                f"unconfirmed: {self.unconfirmed} item(s) were in requests that failed or "
                "were cut short: VectorVue did not confirm them (they may or may not be stored)"
                + (f"; the last: {self.unconfirmed_reason}" if self.unconfirmed_reason else "")
            )
        if self.stopped is not None:
            lines.append(f"stopped: {self.stopped}")
        if self.undelivered:
            hint = self.resend_hint()
            lines.append(f"{hint[0].upper()}{hint[1:]}.")
        return lines

    def _row(self) -> tuple[object, ...]:
        rate = self.accepted / self.seconds if self.seconds > 0 else 0.0
        return (
            self.documents,
            self.items,
            self.accepted,
            self.rejected.count,
            self.refused.count,
            self.unconfirmed,
            self.not_attempted,
            f"{self.seconds:.2f}",
            f"{rate:.0f}",
        )


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
            summary.request_ids.append(shown(envelope.request_id))
        # A failed item of an answer that says "not now" or "not you" (the gateway's 429,
        # 5xx or 403 once the retries are spent: its batch goes on without that event) is
        # not refused: VectorVue would take it later, so it is unconfirmed, to resend.
        later = envelope.status_code >= 400 and not _refuses_items(envelope.status_code)
        for item in envelope.items:
            if item.accepted:
                summary.accepted += 1
            elif later:
                summary.unconfirmed += 1
                reason = ": ".join(p for p in (item.error_code, item.error_message) if p)
                summary.unconfirmed_reason = shown(reason or f"HTTP {envelope.status_code}")
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
        if items == 0:  # between requests: the rest is simply not attempted
            return
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
                summary.request_ids.append(shown(exc.request_id))
        else:
            summary.unconfirmed += items
            summary.unconfirmed_reason = shown(str(exc) or type(exc).__name__)


def shown(text: str) -> str:
    """Words of VectorVue's (or of whatever answered) as they may be printed: a hostile
    server's message can neither echo a secret of ours nor drive the operator's terminal."""
    return printable(mask_known(text))


def _refuses_items(status: int) -> bool:
    """Whether an error answer refuses what the request carried ("not this"), rather than
    saying "not now" (408, 425, 429, 5xx) or "not you" (401, 403: the credentials)."""
    return 400 <= status < 500 and status not in (401, 403, 408, 425, 429)
