"""The outbox's promise, as a state machine: enqueue, drain, crash and restart in any
order against a server that fails at random, and every enqueued item ends delivered
exactly once (and stored by the server) or dead-lettered with a reason; never both,
never neither."""

from __future__ import annotations

from collections import Counter
from typing import Any

import msgspec
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from vectorvue_client import VectorVueConfig, VectorVueSerializationError
from vectorvue_client.domain.errors import TransportErrorKind
from vectorvue_client.domain.http import HttpRequest, HttpResult, TransportFailure
from vectorvue_client.testing import (
    TEST_BASE_URL,
    FakeClock,
    FakeEntropy,
    FakePorts,
    FakeTransport,
    json_response,
)
from vectorvue_client.testing.outbox_memory import MemoryOutbox

TENANT = "10000000-0000-0000-0000-000000000001"


class Crash(BaseException):
    """The process dies here (nothing of ours may catch it)."""


def event_doc(n: int) -> dict[str, Any]:
    """A VectorVue-shaped event the server takes."""
    return {
        "event_id": f"e-{n}",
        "source_system": "spectrastrike",
        "event_type": "PORT_SCAN",
        "occurred_at": 1_795_564_800 + n,
        "asset_ref": f"192.0.2.{n % 250}",
        "message": f"event {n}",
    }


def finding_doc(n: int) -> dict[str, Any]:
    """A finding the server takes."""
    return {
        "finding_id": f"f-{n}",
        "title": f"Finding number {n}",
        "description": "found",
        "severity": "low",
        "first_seen": 1_795_564_800 + n,
    }


def orphan_doc(n: int) -> dict[str, Any]:
    """An internal event about the orchestrator itself: valid SpectraStrike output, but
    with no asset the integration API refuses it locally (dead-lettered at delivery)."""
    return {
        "event_type": "orchestrator_heartbeat",
        "timestamp": 1_795_564_800 + n,
        "actor": "op-001",
        "target": "orchestrator",
        "status": "success",
        "tenant_id": TENANT,
        "attributes": {"n": n},
    }


class Server:
    """A fake integration API that stores by id (first version wins, as VectorVue does),
    refuses the items named in `rejects`, and fails requests as scripted."""

    def __init__(self) -> None:
        self.stored: dict[str, bytes] = {}
        self.receipts: Counter[str] = Counter()
        self.rejects: set[str] = set()
        self.script: list[str] = []

    def handle(self, request: HttpRequest) -> HttpResult:
        mode = self.script.pop(0) if self.script else "ok"
        if mode == "503":
            return json_response(503, b'{"detail":"Service Unavailable"}')
        if mode == "429":
            return json_response(429, b'{"detail":"Rate limit exceeded"}', {"Retry-After": "2"})
        if mode == "reset":
            return TransportFailure(TransportErrorKind.CONNECTION_LOST, "reset by peer")
        if mode == "timeout":
            return TransportFailure(TransportErrorKind.TIMEOUT, "read timed out")
        items = msgspec.json.decode(request.body)
        results = []
        for index, item in enumerate(items):
            item_id = item.get("event_id") or item.get("finding_id")
            if item_id in self.rejects:
                results.append(
                    {
                        "index": index,
                        "item_id": item_id,
                        "status": "failed",
                        "error_code": "validation_error",
                        "error_message": "refused",
                    }
                )
                continue
            self.stored.setdefault(item_id, msgspec.json.encode(item))
            self.receipts[item_id] += 1
            results.append({"index": index, "item_id": item_id, "status": "accepted"})
        if mode == "crash":  # the server has it; the client dies before it hears so
            raise Crash
        status = "accepted" if all(r["status"] == "accepted" for r in results) else "partial"
        body = {"request_id": "r", "status": status, "data": {"results": results}, "errors": []}
        return json_response(202, msgspec.json.encode(body))


def server_id(key: str) -> str:
    return key.rsplit(":", 1)[1]


class OutboxMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.server = Server()
        self.clock = FakeClock()
        self.outbox = MemoryOutbox()
        self.enqueued: set[str] = set()
        self.expected_dead: set[str] = set()
        self.counter = 0
        self._start()

    def _start(self) -> None:
        ports = FakePorts(
            transport=FakeTransport(handler=self.server.handle),
            clock=self.clock,
            entropy=FakeEntropy(self.counter),
            outbox=self.outbox,
        )
        config = VectorVueConfig(
            base_url=TEST_BASE_URL,
            batch_size=7,
            max_retries=1,
            deadline_seconds=30.0,
            outbox_backoff_base_seconds=1.0,
            outbox_backoff_max_seconds=8.0,
        )
        self.client = ports.client(config)

    @rule(
        kinds=st.lists(st.sampled_from(["event", "finding", "orphan", "again"]), max_size=12),
        reject=st.booleans(),
    )
    def enqueue(self, kinds: list[str], reject: bool) -> None:
        """Enqueue a mix; "again" re-enqueues an earlier document (stored once)."""
        documents = []
        for kind in kinds:
            self.counter += 1
            if kind == "event":
                documents.append(event_doc(self.counter))
            elif kind == "finding":
                documents.append(finding_doc(self.counter))
            elif kind == "orphan":
                documents.append(orphan_doc(self.counter))
            elif self.counter > 1:
                documents.append(event_doc(self.counter // 2))
        if not documents:
            return
        keys = self.client.enqueue_many(documents)
        for document, key in zip(documents, keys, strict=True):
            if document.get("target") == "orchestrator":
                self.expected_dead.add(key)
            if reject and key.startswith("finding:"):
                self.server.rejects.add(server_id(key))
                self.expected_dead.add(key)
        self.enqueued.update(keys)

    @rule(
        modes=st.lists(
            st.sampled_from(["ok", "503", "429", "reset", "timeout", "crash"]),
            min_size=1,
            max_size=6,
        )
    )
    def script_failures(self, modes: list[str]) -> None:
        """The next requests fail like this."""
        self.server.script.extend(modes)

    @rule(deadline=st.sampled_from([0.5, 5.0, 60.0]))
    def drain(self, deadline: float) -> None:
        """Deliver what is due; a crash mid-drain drops the process state."""
        try:
            self.client.drain(deadline)
        except Crash:
            self.crash()

    @rule(seconds=st.sampled_from([1.0, 5.0, 30.0]))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @rule()
    def crash(self) -> None:
        """The process dies: only what the outbox made durable survives."""
        self.outbox = self.outbox.crash()
        self._start()

    @precondition(lambda self: bool(self.enqueued))
    @invariant()
    def every_item_is_in_exactly_one_state(self) -> None:
        states = self.outbox.states()
        assert set(states) == self.enqueued
        assert "in_flight" not in states.values()
        for key, state in states.items():
            if state == "delivered":
                assert server_id(key) in self.server.stored
            if state == "dead":
                assert key in self.expected_dead

    def teardown(self) -> None:
        """With the server healthy and time passing, everything settles: delivered (and
        stored once) or dead with a reason, as expected."""
        self.server.script.clear()
        for _ in range(50):
            if self.outbox.stats(self.clock.time()).pending == 0:
                break
            self.clock.advance(8.0)
            self.client.drain(60.0)
        states = self.outbox.states()
        assert set(states) == self.enqueued
        dead = {key for key, state in states.items() if state == "dead"}
        delivered = {key for key, state in states.items() if state == "delivered"}
        assert dead | delivered == self.enqueued
        assert dead == self.expected_dead
        for key in delivered:
            assert server_id(key) in self.server.stored
        for key in dead:
            assert server_id(key) not in self.server.stored
        reasons = {letter.key: letter.reason for letter in self.outbox.dead_letters(10_000)}
        assert set(reasons) == dead
        assert all(reasons.values())


TestOutboxMachine = OutboxMachine.TestCase
TestOutboxMachine.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)


def test_bad_input_is_refused_at_enqueue_and_nothing_is_stored() -> None:
    """A document of no known shape raises at once, naming it; the outbox stays empty."""
    ports = FakePorts()
    client = ports.client()
    with pytest.raises(VectorVueSerializationError) as caught:
        client.enqueue_many([event_doc(1), {"what": "is this"}])
    assert caught.value.problems[0].index == 1
    assert ports.outbox.stats(0.0).pending == 0
