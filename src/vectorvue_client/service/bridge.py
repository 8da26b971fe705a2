"""Bridge: SpectraStrike's RabbitMQ queue -> VectorVue, losing nothing (ADR 0031).

One loop: take up to `batch_size` items' worth of messages (waiting at most a short
linger for more once the first arrived), dead-letter the unreadable ones at once, deliver
the rest with VectorVueClient.send_outputs, and settle each message only after VectorVue's
verdict on every item in it (domain.bridge.decide): ack, dead-letter then ack, or
republish to a delay queue then ack. A broker failure drops nothing: what was not acked is
redelivered, and the loop reconnects with backoff. Stopping never acks an undelivered
message: received and unsent ones are given back.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vectorvue_client.config import VectorVueConfig
from vectorvue_client.domain.bridge import (
    BrokerError,
    BrokerMessage,
    Decision,
    Fate,
    ItemVerdict,
    Poison,
    Topology,
    Verdict,
    dead_letter,
    decide,
    error_verdict,
    read_message,
    refused_document,
    verdicts_of,
)
from vectorvue_client.domain.envelope import ResponseEnvelope
from vectorvue_client.domain.errors import (
    VectorVueAPIError,
    VectorVueConfigError,
    VectorVueError,
    VectorVueSerializationError,
)
from vectorvue_client.domain.outbox import GATEWAY_PERMANENT_STATUSES, PERMANENT_STATUSES
from vectorvue_client.domain.retry import backoff
from vectorvue_client.ports import Broker, Clock, QueueKind
from vectorvue_client.service.client import VectorVueClient
from vectorvue_client.service.delivery import SendObserver

POLL_SECONDS = 0.5  # the longest wait for a first message: how soon a stop is seen


def topology_of(config: VectorVueConfig) -> Topology:
    """The bridge's queues, from the settings."""
    return Topology(
        queue=config.broker_queue,
        dead_letters=config.broker_dead_letter_queue,
        backoff_base=config.bridge_backoff_base_seconds,
        backoff_cap=config.bridge_backoff_max_seconds,
        max_attempts=config.bridge_max_attempts,
    )


@dataclass
class BridgeReport:
    """What a bridge run did, message by message."""

    received: int = 0
    acked: int = 0  # delivered: every item accepted
    dead_lettered: int = 0  # refused, unreadable, or out of attempts
    retried: int = 0  # sent to a delay queue
    returned: int = 0  # given back to the queue undelivered at the stop
    items_accepted: int = 0
    reconnects: int = 0
    last_error: str | None = None

    def data(self) -> dict[str, Any]:
        """The report as JSON-able data."""
        return {
            "received": self.received,
            "acked": self.acked,
            "dead_lettered": self.dead_lettered,
            "retried": self.retried,
            "returned": self.returned,
            "items_accepted": self.items_accepted,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
        }


@dataclass
class _Pending:
    message: BrokerMessage
    document: Mapping[str, Any]
    item_ids: tuple[str, ...]


@dataclass
class _Requests(SendObserver):
    """Records each answered request, and how many items the unanswered one carries."""

    answered: list[ResponseEnvelope] = field(default_factory=list)
    in_flight: int = 0

    def request_started(self, items: int) -> None:
        self.in_flight = items

    def request_done(self, envelope: ResponseEnvelope) -> None:
        self.in_flight = 0
        self.answered.append(envelope)


class Bridge:
    """Consumes the broker's queue and delivers through a VectorVueClient until stopped."""

    def __init__(
        self,
        *,
        client: VectorVueClient,
        broker: Broker,
        clock: Clock,
        create: QueueKind | None = None,
        ready: threading.Event | None = None,
    ) -> None:
        config = client.config
        self._client = client
        self._broker = broker
        self._clock = clock
        self._create = create
        self._topology = topology_of(config)
        # The statuses that refuse what was sent: a gateway's 409 (a replay) is not one.
        self._refusing = (
            GATEWAY_PERMANENT_STATUSES
            if config.profile == "telemetry-gateway"
            else PERMANENT_STATUSES
        )
        self._batch = config.batch_size
        self._prefetch = config.bridge_prefetch or config.batch_size
        self._linger = config.bridge_linger_seconds
        self._reconnect_base = config.bridge_backoff_base_seconds
        self._reconnect_cap = config.bridge_backoff_max_seconds
        self.ready = ready or threading.Event()  # set while connected and consuming
        self.report = BridgeReport()

    def run(self, stop: threading.Event) -> BridgeReport:
        """Deliver until `stop` is set; returns the report. The batch in delivery when
        `stop` is set is finished and settled; received messages not yet sent go back."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    if not self.ready.is_set():
                        self._broker.connect(self._topology, self._prefetch, self._create)
                        self.ready.set()
                        failures = 0
                    self._round(stop)
                except BrokerError as exc:
                    self.ready.clear()
                    self.report.last_error = str(exc)
                    failures += 1
                    self.report.reconnects += 1
                    delay = backoff(
                        failures, base=self._reconnect_base, cap=self._reconnect_cap, jitter=1.0
                    )
                    self._clock.sleep(delay, stop)
        finally:  # also when a configuration error ends the run: the unacked go back
            self._broker.close()
            self.ready.clear()
        return self.report

    def close(self) -> None:
        """Release the client (its transport, audit file, ...); after `run` has returned."""
        self._client.close()

    def _round(self, stop: threading.Event) -> None:
        """One batch: collect, deliver, settle."""
        pending = self._collect(stop)
        if stop.is_set() and pending:
            self._broker.requeue([p.message.tag for p in pending])
            self.report.returned += len(pending)
            return
        if pending:
            self._deliver(pending)

    def _collect(self, stop: threading.Event) -> list[_Pending]:
        """Messages worth up to `batch_size` items: the first waited for (briefly, so a
        stop is seen), the others for at most the linger after it."""
        pending: list[_Pending] = []
        items = 0
        wait = POLL_SECONDS
        ends: float | None = None
        while items < self._batch and not stop.is_set():
            messages = self._broker.receive(self._batch - items if pending else self._batch, wait)
            for message in messages:
                self.report.received += 1
                read = self._read(message)
                if read is not None:
                    pending.append(read)
                    items += max(len(read.item_ids), 1)
            if ends is None:
                if not pending and not messages:
                    return pending
                ends = self._clock.monotonic() + self._linger
            wait = ends - self._clock.monotonic()
            if wait <= 0:
                break
        return pending

    def _read(self, message: BrokerMessage) -> _Pending | None:
        """The message as a document and its items' ids; a poison message is dead-lettered
        (and acked) here, and None returned."""
        read = read_message(message.body)
        if isinstance(read, Poison):
            self._settle([(message, _poison(message, read))])
            return None
        try:
            planned = self._client.check_outputs([read])
        except VectorVueSerializationError as exc:
            self._settle([(message, _poison(message, refused_document(exc)))])
            return None
        return _Pending(message, read, tuple(p.item_id for p in planned))

    def _deliver(self, pending: list[_Pending]) -> None:
        """Send the documents that hold items, then settle every message."""
        sending = [p for p in pending if p.item_ids]
        verdicts: dict[str, ItemVerdict] = {}
        if sending:
            verdicts = self._send([p.document for p in sending], pending)
        decisions = []
        for item in pending:
            message_verdicts = [verdicts[i] for i in item.item_ids]
            self.report.items_accepted += sum(
                1 for v in message_verdicts if v.verdict is Verdict.ACCEPTED
            )
            decisions.append(
                (item.message, decide(message_verdicts, item.message.headers, self._topology))
            )
        self._settle(decisions)

    def _send(
        self, documents: Sequence[Mapping[str, Any]], pending: list[_Pending]
    ) -> dict[str, ItemVerdict]:
        """VectorVue's verdict on every item id of `pending`. Items of requests that ended
        in an error are refused only when that error refuses what was sent and they were
        all in that request; anything else not answered is transient."""
        requests = _Requests()
        unanswered: ItemVerdict | None = None
        try:
            self._client.send_outputs(documents, observer=requests)
        except VectorVueAPIError as exc:
            text = exc.envelope.error if exc.envelope and exc.envelope.error else str(exc)
            unanswered = error_verdict(exc.status_code, exc.error_code, text, self._refusing)
        except VectorVueSerializationError as exc:  # checked per message: a guard
            unanswered = ItemVerdict(Verdict.REFUSED, exc.rules())
        except VectorVueConfigError:
            # A credential missing or unreadable: not the messages' fault, and no retry
            # can help. The run ends; nothing is acked, so the broker keeps them all.
            raise
        except VectorVueError as exc:  # unreachable, deadline, cancelled: resent later
            unanswered = error_verdict(None, None, str(exc))
        verdicts: dict[str, ItemVerdict] = {}
        for envelope in requests.answered:
            verdicts.update(verdicts_of(envelope, self._refusing))
        ids = {i for p in pending for i in p.item_ids}
        missing = ids - verdicts.keys()
        if unanswered is None or (
            unanswered.verdict is Verdict.REFUSED and requests.in_flight != len(missing)
        ):  # not all of them were in the refused request: try them again
            reason = unanswered.reason if unanswered else "VectorVue gave no result for it"
            unanswered = ItemVerdict(Verdict.TRANSIENT, reason)
        if missing and unanswered.verdict is Verdict.TRANSIENT:
            self.report.last_error = unanswered.reason
        return {**dict.fromkeys(missing, unanswered), **verdicts}

    def _settle(self, decisions: Sequence[tuple[BrokerMessage, Decision]]) -> None:
        """Carry out each decision, then acknowledge the messages together (one frame,
        when they are the oldest the bridge holds): every copy is confirmed by the broker
        before any ack, so a failure in between leaves duplicates, never a loss."""
        for message, decision in decisions:
            if decision.fate is Fate.DEAD:
                assert decision.headers is not None
                self._broker.publish(self._topology.dead_letters, message.body, decision.headers)
                self.report.dead_lettered += 1
            elif decision.fate is Fate.RETRY:
                assert decision.queue is not None and decision.headers is not None
                self._broker.publish(decision.queue, message.body, decision.headers)
                self.report.retried += 1
            else:
                self.report.acked += 1
        self._broker.ack([message.tag for message, _ in decisions])


def _poison(message: BrokerMessage, poison: Poison) -> Decision:
    return dead_letter(message.headers, poison.reason, field=poison.field, rule=poison.rule)
