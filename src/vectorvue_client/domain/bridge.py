"""What the RabbitMQ bridge does with each broker message, decided without I/O.

A message is read (size, JSON, shape) into a document or refused as poison; VectorVue's
verdict on each item of it (accepted, refused, transient) gives the message's fate: ack,
dead-letter with the reason, or a delayed retry through a delay queue whose TTL is the
domain's backoff, until `max_attempts` sends it to the dead letters with its history.
A dead letter an operator puts back in line (`bridge retry`) gets its attempts afresh and
keeps its history. The headers the bridge writes are named here (ADR 0031).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import msgspec

from vectorvue_client.domain.envelope import ItemOutcome, ResponseEnvelope
from vectorvue_client.domain.errors import VectorVueError, VectorVueSerializationError
from vectorvue_client.domain.outbox import PERMANENT_STATUSES
from vectorvue_client.domain.redaction import mask_known
from vectorvue_client.domain.retry import backoff

MAX_MESSAGE_BYTES: Final = 1 << 20  # SpectraStrike's envelopes are a few KiB
HEADER_ATTEMPT: Final = "x-vv-attempt"  # transient failures so far
HEADER_REASON: Final = "x-vv-reason"  # why the message is where it is
HEADER_FIELD: Final = "x-vv-field"  # the first refused field (a poison message)
HEADER_RULE: Final = "x-vv-rule"  # ... and its rule
HEADER_CODE: Final = "x-vv-error-code"  # VectorVue's error code, when it gave one
HEADER_HISTORY: Final = "x-vv-history"  # a line per failed attempt or retry by hand, oldest first
HISTORY_KEPT: Final = 20  # lines: a message retried a million times stays small
TEXT_KEPT: Final = 500  # characters of one reason


class BrokerError(VectorVueError):
    """The broker cannot be used now: connection refused or lost, channel closed, a publish
    not confirmed. Whatever was received and not acknowledged is redelivered by the broker."""


class Verdict(StrEnum):
    """VectorVue's verdict on one item."""

    ACCEPTED = "accepted"
    REFUSED = "refused"  # the item is wrong: resending cannot help
    TRANSIENT = "transient"  # not now (5xx, 429, 401/403, timeout, connection lost)


@dataclass(frozen=True, slots=True)
class ItemVerdict:
    """One item's verdict, its reason (empty when accepted) and VectorVue's error code."""

    verdict: Verdict
    reason: str = ""
    code: str | None = None


@dataclass(frozen=True, slots=True)
class BrokerMessage:
    """One message as received: its bytes, headers, the broker's delivery tag (valid on the
    connection that received it only) and whether the broker delivered it before."""

    body: bytes
    headers: Mapping[str, Any]
    tag: int
    redelivered: bool = False


@dataclass(frozen=True, slots=True)
class Topology:
    """The queues of the bridge: SpectraStrike's `queue` and `dead_letters`, and the delay
    queues (one per backoff step, named by their TTL) that dead-letter back to `queue`."""

    queue: str
    dead_letters: str
    backoff_base: float
    backoff_cap: float
    max_attempts: int

    def delay_ms(self, failures: int) -> int:
        """The delay, in milliseconds, after `failures` transient failures: the domain's
        backoff ceiling (jitter 1: a queue's TTL is one number for all its messages)."""
        seconds = backoff(failures, base=self.backoff_base, cap=self.backoff_cap, jitter=1.0)
        return max(1, math.ceil(seconds * 1000))

    def delay_queue(self, failures: int) -> str:
        """The delay queue a message waits in after `failures` transient failures."""
        return f"{self.queue}.retry.{self.delay_ms(failures)}ms"

    def delay_queues(self) -> dict[str, int]:
        """Every delay queue and its TTL in ms: one per step until the cap is reached."""
        queues: dict[str, int] = {}
        for failures in range(1, self.max_attempts):
            ttl = self.delay_ms(failures)
            if self.delay_queue(failures) in queues:
                break  # capped: every later step uses this queue
            queues[self.delay_queue(failures)] = ttl
        return queues


@dataclass(frozen=True, slots=True)
class Poison:
    """A message the bridge cannot read: the first problem's field and rule, and all of
    them as one reason."""

    field: str
    rule: str
    reason: str


def read_message(body: bytes) -> dict[str, Any] | Poison:
    """The JSON object in `body`, or why it is poison (too large, not JSON, not an object)."""
    if len(body) > MAX_MESSAGE_BYTES:
        rule = f"{len(body)} bytes: more than the {MAX_MESSAGE_BYTES} a message may have"
        return Poison("(body)", rule, rule)
    try:
        document = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        return Poison("(body)", f"not JSON: {exc}", f"not JSON: {exc}")
    if not isinstance(document, dict):
        rule = f"must be a JSON object, not {type(document).__name__}"
        return Poison("(body)", rule, rule)
    return document


def refused_document(exc: VectorVueSerializationError) -> Poison:
    """A document the typed decoders refuse: its problems, as field and rule."""
    first = exc.problems[0]
    reason = "; ".join(f"{p.field}: {p.rule}" for p in exc.problems)
    return Poison(first.field, first.rule, _clip(reason))


def verdicts_of(
    envelope: ResponseEnvelope, refusing: frozenset[int] = PERMANENT_STATUSES
) -> dict[str, ItemVerdict]:
    """Each item of one answered request, by id. A failed item of an answer that says
    "not now" or "not you" (the gateway's 429, 5xx, 401/403 once retries are spent: any
    error status not in `refusing`) is transient; one VectorVue says nothing about is
    transient too (resent whole)."""
    later = envelope.status_code >= 400 and envelope.status_code not in refusing
    out: dict[str, ItemVerdict] = {}
    for item in envelope.items:
        if item.item_id is not None:
            out[item.item_id] = _item_verdict(item, later, envelope.status_code)
    return out


def _item_verdict(item: ItemOutcome, later: bool, status: int) -> ItemVerdict:
    if item.accepted:
        return ItemVerdict(Verdict.ACCEPTED)
    said = ": ".join(p for p in (item.error_code, item.error_message) if p) or f"HTTP {status}"
    if later or item.status != "failed":
        return ItemVerdict(Verdict.TRANSIENT, _clip(said), item.error_code)
    return ItemVerdict(Verdict.REFUSED, _clip(said), item.error_code)


def error_verdict(
    status_code: int | None,
    code: str | None,
    text: str,
    refusing: frozenset[int] = PERMANENT_STATUSES,
) -> ItemVerdict:
    """The verdict of a request that ended in an error: refused only when VectorVue's status
    refuses what was sent (`refusing`: 400, 404, 409, 413, 415, 422 on the integration API,
    the same but 409 on the gateway); anything else, including no answer at all
    (`status_code` None), is transient."""
    if status_code is not None and status_code in refusing:
        return ItemVerdict(Verdict.REFUSED, _clip(text), code or f"http_{status_code}")
    return ItemVerdict(Verdict.TRANSIENT, _clip(text), code)


class Fate(StrEnum):
    """What becomes of a message."""

    ACK = "ack"
    DEAD = "dead"
    RETRY = "retry"


@dataclass(frozen=True, slots=True)
class Decision:
    """A message's fate, and the headers of its republished copy (DEAD and RETRY), whose
    body is the message's own bytes: ids and keys are derived from them."""

    fate: Fate
    queue: str | None = None
    headers: Mapping[str, Any] | None = None


def decide(
    verdicts: Sequence[ItemVerdict], headers: Mapping[str, Any], topology: Topology
) -> Decision:
    """The fate of a message from its items' verdicts. A transient item sends the whole
    message back through a delay queue (its accepted items are resent under the same ids,
    which VectorVue stores once), before a refused one sends it to the dead letters: what
    could still be delivered is never dead-lettered for a passing cause."""
    transient = next((v for v in verdicts if v.verdict is Verdict.TRANSIENT), None)
    refused = next((v for v in verdicts if v.verdict is Verdict.REFUSED), None)
    if transient is None and refused is None:
        return Decision(Fate.ACK)
    if transient is None:
        assert refused is not None
        return dead_letter(headers, refused.reason, code=refused.code)
    failures = attempts_of(headers) + 1
    history = [*history_of(headers), f"attempt {failures}: {transient.reason}"][-HISTORY_KEPT:]
    if failures >= topology.max_attempts:
        return dead_letter(
            {**headers, HEADER_ATTEMPT: failures, HEADER_HISTORY: history},
            f"gave up after {failures} attempts: {transient.reason}",
            code=transient.code,
        )
    retried = {**headers, HEADER_ATTEMPT: failures, HEADER_HISTORY: history}
    retried[HEADER_REASON] = transient.reason
    return Decision(Fate.RETRY, topology.delay_queue(failures), retried)


def dead_letter(
    headers: Mapping[str, Any],
    reason: str,
    *,
    field: str | None = None,
    rule: str | None = None,
    code: str | None = None,
) -> Decision:
    """To the dead letters, with the reason (and the field and rule, or VectorVue's code)."""
    out = {k: v for k, v in headers.items() if k not in (HEADER_FIELD, HEADER_RULE, HEADER_CODE)}
    out[HEADER_REASON] = _clip(reason)
    if field is not None:
        out[HEADER_FIELD] = _clip(field)
    if rule is not None:
        out[HEADER_RULE] = _clip(rule)
    if code is not None:
        out[HEADER_CODE] = _clip(code)
    return Decision(Fate.DEAD, None, out)


def back_in_line(headers: Mapping[str, Any], *, dead_letters: str, at: float) -> dict[str, Any]:
    """The headers of a dead letter put back in the main queue at `at` (epoch seconds): no
    attempt counted (it gets every attempt again), no reason to be dead, and its history
    kept with a line saying where it was and why."""
    was = reason_of(headers) or "no reason given"
    moment = datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")
    line = _clip(f"put back in line from {dead_letters} at {moment}; it was: {was}")
    out = {k: v for k, v in headers.items() if k not in _DEAD_HEADERS}
    out[HEADER_HISTORY] = [*history_of(headers), line][-HISTORY_KEPT:]
    return out


def reason_of(headers: Mapping[str, Any]) -> str:
    """Why the message is where it is ("" when the bridge did not say)."""
    value = headers.get(HEADER_REASON)
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")


_DEAD_HEADERS: Final = (HEADER_ATTEMPT, HEADER_REASON, HEADER_FIELD, HEADER_RULE, HEADER_CODE)


def attempts_of(headers: Mapping[str, Any]) -> int:
    """The transient failures a message has had (0 for a message SpectraStrike published)."""
    value = headers.get(HEADER_ATTEMPT)
    return value if isinstance(value, int) and value >= 0 else 0


def history_of(headers: Mapping[str, Any]) -> list[str]:
    """The message's history lines (what the bridge wrote; anything else is ignored)."""
    value = headers.get(HEADER_HISTORY)
    if not isinstance(value, list):
        return []
    return [v.decode(errors="replace") if isinstance(v, bytes) else str(v) for v in value]


def _clip(text: str) -> str:
    """Server words as a header holds them: masked of known secrets, bounded."""
    return mask_known(text)[:TEXT_KEPT]
