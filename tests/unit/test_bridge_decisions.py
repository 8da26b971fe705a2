"""domain.bridge: what becomes of a broker message, decided without I/O."""

from __future__ import annotations

import json

import pytest

from vectorvue_client.domain.bridge import (
    HEADER_ATTEMPT,
    HEADER_CODE,
    HEADER_HISTORY,
    HEADER_REASON,
    MAX_MESSAGE_BYTES,
    Fate,
    ItemVerdict,
    Poison,
    Topology,
    Verdict,
    decide,
    error_verdict,
    read_message,
    verdicts_of,
)
from vectorvue_client.domain.envelope import ItemOutcome, ResponseEnvelope

TOPOLOGY = Topology("telemetry.events", "telemetry.events.dlq", 1.0, 8.0, max_attempts=6)
OK = ItemVerdict(Verdict.ACCEPTED)
LATER = ItemVerdict(Verdict.TRANSIENT, "HTTP 503")
NO = ItemVerdict(Verdict.REFUSED, "validation_failed: bad", "validation_failed")


def test_delay_queues_follow_the_domain_backoff_and_stop_at_the_cap() -> None:
    assert TOPOLOGY.delay_queues() == {
        "telemetry.events.retry.1000ms": 1000,
        "telemetry.events.retry.2000ms": 2000,
        "telemetry.events.retry.4000ms": 4000,
        "telemetry.events.retry.8000ms": 8000,
    }
    assert TOPOLOGY.delay_queue(30) == "telemetry.events.retry.8000ms"


def test_every_item_accepted_is_an_ack() -> None:
    assert decide([OK, OK], {}, TOPOLOGY).fate is Fate.ACK


def test_a_refused_item_dead_letters_the_message_with_the_reason_and_code() -> None:
    decision = decide([OK, NO], {"x-other": "kept"}, TOPOLOGY)
    assert decision.fate is Fate.DEAD
    assert decision.headers is not None
    assert decision.headers[HEADER_REASON] == "validation_failed: bad"
    assert decision.headers[HEADER_CODE] == "validation_failed"
    assert decision.headers["x-other"] == "kept"


def test_a_transient_item_wins_over_a_refused_one_and_counts_the_attempt() -> None:
    decision = decide([NO, LATER], {HEADER_ATTEMPT: 2, HEADER_HISTORY: ["a", "b"]}, TOPOLOGY)
    assert decision.fate is Fate.RETRY
    assert decision.queue == "telemetry.events.retry.4000ms"
    assert decision.headers is not None
    assert decision.headers[HEADER_ATTEMPT] == 3
    assert decision.headers[HEADER_HISTORY] == ["a", "b", "attempt 3: HTTP 503"]


def test_past_the_limit_the_message_is_dead_lettered_with_its_history() -> None:
    decision = decide([LATER], {HEADER_ATTEMPT: 5}, TOPOLOGY)
    assert decision.fate is Fate.DEAD
    assert decision.headers is not None
    assert decision.headers[HEADER_REASON] == "gave up after 6 attempts: HTTP 503"
    assert decision.headers[HEADER_HISTORY] == ["attempt 6: HTTP 503"]


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(422, Verdict.REFUSED), (400, Verdict.REFUSED), (409, Verdict.REFUSED), (413, Verdict.REFUSED),
     (429, Verdict.TRANSIENT), (408, Verdict.TRANSIENT), (503, Verdict.TRANSIENT),
     (500, Verdict.TRANSIENT), (401, Verdict.TRANSIENT), (403, Verdict.TRANSIENT),
     (None, Verdict.TRANSIENT)],
)  # fmt: skip
def test_an_error_refuses_only_what_vectorvue_says_is_wrong(
    status: int | None, verdict: Verdict
) -> None:
    assert error_verdict(status, None, "said").verdict is verdict


def test_a_partial_batch_gives_each_item_its_own_verdict() -> None:
    envelope = ResponseEnvelope(
        success=False,
        status_code=202,
        request_id=None,
        error=None,
        items=(
            ItemOutcome(0, "a", "accepted"),
            ItemOutcome(1, "b", "failed", "validation_error", "severity: bad"),
            ItemOutcome(2, "c", "unknown"),
        ),
    )
    verdicts = verdicts_of(envelope)
    assert verdicts["a"].verdict is Verdict.ACCEPTED
    assert verdicts["b"] == ItemVerdict(
        Verdict.REFUSED, "validation_error: severity: bad", "validation_error"
    )
    assert verdicts["c"].verdict is Verdict.TRANSIENT


def test_a_gateway_item_failed_by_a_429_is_transient() -> None:
    envelope = ResponseEnvelope(
        success=False,
        status_code=429,
        request_id=None,
        error=None,
        items=(ItemOutcome(0, "a", "failed", "http_429", "slow down"),),
    )
    assert verdicts_of(envelope)["a"].verdict is Verdict.TRANSIENT


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (b"nope", "not JSON"),
        (b"\xff", "not JSON"),
        (b"[]", "must be a JSON object, not list"),
        (b'"text"', "must be a JSON object, not str"),
        (json.dumps({"a": "x" * MAX_MESSAGE_BYTES}).encode(), "more than the 1048576"),
    ],
)
def test_unreadable_messages_are_poison_with_the_rule(body: bytes, rule: str) -> None:
    read = read_message(body)
    assert isinstance(read, Poison)
    assert rule in read.rule


def test_a_json_object_is_read() -> None:
    assert read_message(b'{"a": 1}') == {"a": 1}
