"""The application service over fakes: pipeline order, retries, idempotency, signing."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any, cast

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorvue_client import (
    ResponseEnvelope,
    TransportErrorKind,
    VectorVueAPIError,
    VectorVueConfig,
    VectorVueConfigError,
    VectorVueError,
    VectorVueSerializationError,
    VectorVueTransportError,
)
from vectorvue_client.adapters.audit_logging import LoggingAuditSink
from vectorvue_client.domain.audit import AuditRecord
from vectorvue_client.domain.http import (
    HttpRequest,
    HttpResponse,
    HttpResult,
    Timeouts,
    TransportFailure,
)
from vectorvue_client.domain.normalize import normalize_event
from vectorvue_client.service.client import HEALTH_PATH, VectorVueClient
from vectorvue_client.service.delivery import Delivery
from vectorvue_client.service.senders import (
    EVENTS_BATCH_PATH,
    EVENTS_PATH,
    FINDINGS_PATH,
    IntegrationSender,
    PlannedBatch,
    convert_all,
)
from vectorvue_client.testing import (
    TEST_BASE_URL,
    FakeClock,
    FakeCredentialSource,
    FakeEntropy,
    FakePorts,
    FakeTransport,
    MemoryAuditSink,
    RecordingSigner,
    json_response,
)

ACCEPTED = json_response(
    202, b'{"request_id":"r-1","status":"accepted","data":{},"errors":[],"signature":null}'
)


def event(**overrides: Any) -> dict[str, Any]:
    """A valid loose event."""
    base: dict[str, Any] = {
        "source_system": "spectrastrike",
        "event_type": "PORT_SCAN",
        "occurred_at": "2026-11-25T12:00:00Z",
        "severity": "low",
        "asset_ref": "192.0.2.10",
        "message": "open port 22",
        "metadata": {"port": 22},
    }
    base.update(overrides)
    return base


def config(**overrides: Any) -> VectorVueConfig:
    return VectorVueConfig(**{"base_url": TEST_BASE_URL, **overrides})


def batch_ok(request: HttpRequest) -> HttpResult:
    """A server that accepts every item of a batch."""
    items = msgspec.json.decode(request.body)
    results = [
        {"index": i, "item_id": item["event_id"], "status": "accepted"}
        for i, item in enumerate(items)
    ]
    body = {
        "request_id": "r-b",
        "status": "accepted",
        "data": {
            "summary": {"total": len(items), "accepted": len(items), "failed": 0},
            "results": results,
        },
        "errors": [],
    }
    return json_response(202, msgspec.json.encode(body))


# -- retries: the key stays, the signature is fresh --------------------------------------------
RETRYABLE = st.one_of(
    st.sampled_from([408, 425, 429, 500, 502, 503, 504]).map(
        lambda s: json_response(s, b'{"detail":"x"}')
    ),
    st.sampled_from(
        [TransportErrorKind.CONNECT, TransportErrorKind.TIMEOUT, TransportErrorKind.CONNECTION_LOST]
    ).map(lambda k: TransportFailure(k, "scripted")),
)
FINAL = st.one_of(
    st.just(ACCEPTED),
    st.sampled_from([400, 401, 403, 404, 409, 413, 422]).map(
        lambda s: json_response(s, b'{"detail":"no"}')
    ),
    st.sampled_from([TransportErrorKind.TLS, TransportErrorKind.REDIRECT]).map(
        lambda k: TransportFailure(k, "scripted")
    ),
)


@settings(max_examples=150)
@given(
    failures=st.lists(RETRYABLE, max_size=8),
    final=FINAL,
    max_retries=st.integers(0, 6),
    seed=st.integers(0, 2**32),
)
def test_retries_keep_the_key_and_resign_every_attempt(
    failures: list[HttpResult], final: HttpResult, max_retries: int, seed: int
) -> None:
    """Under any scripted failure sequence: one idempotency key and one body for all attempts,
    a fresh signature (timestamp, nonce) per attempt over exactly those bytes, and never more
    than max_retries + 1 attempts."""
    ports = FakePorts(transport=FakeTransport([*failures, final]))
    ports.entropy = FakeEntropy(seed)
    client = ports.client(config(max_retries=max_retries, deadline_seconds=10_000.0))
    try:
        envelope = client.send_event(event())
        outcome: object = envelope
    except VectorVueError as exc:
        outcome = exc

    sent = ports.transport.requests
    assert len(sent) == min(len(failures), max_retries) + 1
    keys = {r.header("Idempotency-Key") for r in sent}
    bodies = {r.body for r in sent}
    assert len(keys) == 1 and None not in keys
    assert len(bodies) == 1
    body = bodies.pop()
    assert len(ports.signer.calls) == len(sent)
    nonces = [call.nonce for call in ports.signer.calls]
    assert len(set(nonces)) == len(nonces)
    for request, call in zip(sent, ports.signer.calls, strict=True):
        assert call.body == body  # signed the bytes that were sent, not a re-encoding
        expected = f"{call.timestamp}.{call.nonce}.{hashlib.sha256(body).hexdigest()}"
        assert request.header(RecordingSigner.HEADER) == expected
    if len(failures) <= max_retries and final is ACCEPTED:
        assert not isinstance(outcome, Exception)
        assert outcome.success  # type: ignore[attr-defined]
        assert outcome.idempotency_key == keys.pop()  # type: ignore[attr-defined]
        assert outcome.attempts == len(sent)  # type: ignore[attr-defined]
    else:
        assert isinstance(outcome, (VectorVueAPIError, VectorVueTransportError))


def test_signature_timestamps_follow_the_clock_across_retries() -> None:
    """Each attempt is signed with the time of that attempt, not of the first one."""
    ports = FakePorts(transport=FakeTransport([json_response(503, b""), ACCEPTED]))
    ports.entropy = FakeEntropy(jitter=0.99)
    client = ports.client(config(backoff_base_seconds=4.0, backoff_max_seconds=4.0))
    client.send_event(event())
    first, second = (call.timestamp for call in ports.signer.calls)
    assert second - first == int(0.99 * 4.0)
    assert ports.clock.sleeps == [pytest.approx(0.99 * 4.0)]


class DeadlineWitness:
    """A Transport wrapper that checks, at every send, that the attempt starts inside the
    deadline and that its socket timeouts cannot carry it past the deadline; the exchange
    itself takes `exchange` seconds of fake time (capped by the read timeout)."""

    def __init__(self, ports: FakePorts, deadline: float, exchange: float) -> None:
        self.inner = ports.transport
        self.clock = ports.clock
        self.deadline = deadline
        self.exchange = exchange
        self.attempts = 0

    def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpResult:
        self.attempts += 1
        now = self.clock.monotonic()
        assert now < self.deadline
        assert now + max(timeouts.connect, timeouts.read) <= self.deadline + 1e-9
        self.clock.advance(min(self.exchange, timeouts.read))
        return self.inner.send(request, timeouts)

    def close(self) -> None:
        self.inner.close()


@settings(max_examples=150)
@given(
    deadline=st.floats(0.5, 120.0),
    timeout=st.floats(0.1, 30.0),
    exchange=st.floats(0.0, 40.0),
    retry_after=st.one_of(st.none(), st.integers(0, 90)),
    seed=st.integers(0, 2**32),
)
def test_no_attempt_or_wait_outlives_the_deadline(
    deadline: float, timeout: float, exchange: float, retry_after: int | None, seed: int
) -> None:
    """Against a server that is always unavailable: every attempt starts inside the deadline
    with timeouts that end by it, no backoff crosses it, and the send gives up in time."""
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    ports = FakePorts(
        transport=FakeTransport(
            handler=lambda _: json_response(503, b'{"detail":"down"}', headers)
        ),
        entropy=FakeEntropy(seed),
    )
    witness = DeadlineWitness(ports, deadline, exchange)
    client = VectorVueClient(
        config=config(max_retries=100, deadline_seconds=deadline, timeout_seconds=timeout),
        transport=witness,
        credentials=ports.credentials,
        signer=ports.signer,
        audit=ports.audit,
        clock=ports.clock,
        entropy=ports.entropy,
    )
    with pytest.raises((VectorVueAPIError, VectorVueTransportError)):
        client.send_event(event())
    assert witness.attempts >= 1
    assert ports.clock.monotonic() <= deadline + 1e-9


# -- secrets never leak ---------------------------------------------------------------------
# Real keys are high-entropy; the prefix keeps hypothesis from shrinking a "secret" into a
# word the protocol itself uses ("Content-Type"), which no masking could or should hide.
SECRET = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=12, max_size=48
).map(lambda s: f"vvk_{s}")


def echoing_answers(secret: str) -> st.SearchStrategy[HttpResult]:
    """Server answers (and transport failures) that repeat the secret back at us."""
    quoted = msgspec.json.encode(secret).decode()
    return st.sampled_from(
        [
            json_response(401, f'{{"detail": "Invalid token {quoted}"}}'),
            json_response(500, f'{{"detail": [{{"loc": ["body"], "msg": {quoted}}}]}}'),
            HttpResponse(500, {"content-type": "text/plain"}, f"boom: {secret}".encode()),
            HttpResponse(200, {"content-type": "text/html"}, f"<p>{secret}</p>".encode()),
            json_response(
                422,
                f'{{"request_id":"r","status":"failed","data":null,'
                f'"errors":[{{"code":"validation_error","message":{quoted}}}]}}',
            ),
            json_response(503, f'{{"detail": "Authorization: Bearer {secret[:6]}..."}}'),
            TransportFailure(TransportErrorKind.TLS, f"handshake failed near {secret}"),
            TransportFailure(TransportErrorKind.CONNECT, f"refused: Bearer {secret}"),
        ]
    )


class LeakWitness(MemoryAuditSink):
    """Keeps audit records and also pushes them through the real logging adapter."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__()
        self.logging_sink = LoggingAuditSink(logger)

    def record(self, record: AuditRecord) -> None:
        super().record(record)
        self.logging_sink.record(record)


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@settings(max_examples=150)
@given(data=st.data(), secret=SECRET, batch=st.booleans())
def test_no_secret_in_audit_logs_errors_or_reprs(
    data: st.DataObject, secret: str, batch: bool
) -> None:
    """Whatever the server or the network says back, the API key never appears in an audit
    record, a log line, an exception's str or repr, an envelope's error, or a request repr."""
    answers = data.draw(st.lists(echoing_answers(secret), min_size=1, max_size=4))
    logger = logging.getLogger(f"test.leak.{id(answers)}")
    handler = ListHandler()
    logger.addHandler(handler)
    logger.propagate = False
    audit = LeakWitness(logger)
    ports = FakePorts(
        transport=FakeTransport(answers, handler=lambda _: answers[-1]),
        credentials=FakeCredentialSource(secret),
        audit=audit,
    )
    client = ports.client(config(max_retries=len(answers)))
    texts: list[str] = []
    try:
        if batch:
            envelope = client.send_batch([event(), event(message="second")])
        else:
            envelope = client.send_event(event())
        texts += [repr(envelope), str(envelope.error), repr(envelope.errors), repr(envelope.items)]
    except VectorVueError as exc:
        texts += [str(exc), repr(exc), repr(exc.args)]
        envelope_of_error = getattr(exc, "envelope", None)
        if envelope_of_error is not None:
            texts += [str(envelope_of_error.error), repr(envelope_of_error.errors)]
    finally:
        logger.removeHandler(handler)
    texts += handler.lines
    texts += [repr(record) for record in audit.records]
    texts += [repr(request) for request in ports.transport.requests]
    assert handler.lines, "the logging sink wrote nothing: the check would be empty"
    for text in texts:
        assert secret not in text
    # And the key did go on the wire, so the test is not vacuous.
    assert all(r.header("Authorization") == f"Bearer {secret}" for r in ports.transport.requests)


# -- batches ----------------------------------------------------------------------------------
@settings(max_examples=100)
@given(
    count=st.integers(1, 60),
    batch_size=st.integers(1, 25),
    max_bytes=st.integers(1024, 8000),
)
def test_a_batch_sends_every_item_exactly_once_within_both_limits(
    count: int, batch_size: int, max_bytes: int
) -> None:
    """Chunks respect batch_size and max_batch_bytes, keep order, and carry every item once;
    the merged envelope reports every item at its caller index."""
    ports = FakePorts(transport=FakeTransport(handler=batch_ok))
    client = ports.client(config(batch_size=batch_size, max_batch_bytes=max_bytes))
    items = [event(message=f"item {i}" + "x" * (i % 7) * 40) for i in range(count)]
    envelope = client.send_batch(items)

    sent_ids: list[str] = []
    for request in ports.transport.requests:
        assert request.path == EVENTS_BATCH_PATH
        assert len(request.body) <= max_bytes
        chunk = msgspec.json.decode(request.body)
        assert 1 <= len(chunk) <= batch_size
        sent_ids += [item["event_id"] for item in chunk]
    messages = [msgspec.json.decode(r.body) for r in ports.transport.requests]
    assert [item["message"] for chunk in messages for item in chunk] == [
        i["message"] for i in items
    ]
    assert len(sent_ids) == len(set(sent_ids)) == count
    assert envelope.success
    assert [item.index for item in envelope.items] == list(range(count))
    assert [item.item_id for item in envelope.items] == sent_ids


def plan_outcome(plan: Callable[[], list[PlannedBatch]]) -> Any:
    try:
        return plan()
    except VectorVueSerializationError as exc:
        return exc.problems


@settings(max_examples=150)
@given(
    sizes=st.lists(st.integers(0, 1500), min_size=1, max_size=40),
    batch_size=st.integers(1, 12),
    max_bytes=st.integers(1024, 6000),
)
def test_plan_all_plans_what_plan_makes_of_the_items_encoded_one_by_one(
    sizes: list[int], batch_size: int, max_bytes: int
) -> None:
    """plan_all encodes each chunk of batch_size items as one array when every chunk fits;
    its plan (bodies, keys, ids, indices) or its refusal is exactly that of `plan` over the
    items encoded alone, whichever limit binds."""
    sender = IntegrationSender(
        cast(Delivery, None), config(batch_size=batch_size, max_batch_bytes=max_bytes)
    )
    payloads = [
        normalize_event(event(metadata={"pad": f"{i}" + "x" * n})) for i, n in enumerate(sizes)
    ]
    alone = plan_outcome(lambda: sender.plan(convert_all(payloads, sender.encoded)))
    assert plan_outcome(lambda: sender.plan_all(payloads)) == alone


def test_one_bad_item_stops_the_whole_batch_before_anything_is_sent() -> None:
    """Every problem of every item is reported, with its index and field; nothing is sent."""
    ports = FakePorts(transport=FakeTransport(handler=batch_ok))
    client = ports.client()
    items = [
        event(),
        event(severity="urgent-ish"),
        event(),
        event(event_type="port scan!", message=""),
    ]
    with pytest.raises(VectorVueSerializationError) as caught:
        client.send_batch(items)
    problems = {(p.index, p.field) for p in caught.value.problems}
    assert problems == {(1, "severity"), (3, "event_type"), (3, "message")}
    assert ports.transport.requests == []
    assert ports.audit.records[-1].outcome == "invalid"


def test_an_item_over_the_byte_limit_is_an_error_for_that_item() -> None:
    """An item that cannot fit in any request is named by index, not dropped or crashed on."""
    ports = FakePorts(transport=FakeTransport(handler=batch_ok))
    client = ports.client(config(max_batch_bytes=1024))
    items = [event(), event(metadata={"blob": "y" * 2000}), event(message="third")]
    with pytest.raises(VectorVueSerializationError) as caught:
        client.send_batch(items)
    assert [(p.index, p.field) for p in caught.value.problems] == [(1, "(item)")]
    assert "max_batch_bytes" in caught.value.rule
    assert ports.transport.requests == []


@pytest.mark.parametrize("items", [[], (), {"a": 1}, "events"])
def test_an_empty_or_non_list_batch_is_refused(items: Any) -> None:
    """VectorVue accepts an empty array as 0/0/0; we refuse it (and non-lists) locally."""
    ports = FakePorts()
    with pytest.raises(VectorVueSerializationError) as caught:
        ports.client().send_batch(items)
    assert caught.value.field == "items"
    assert ports.transport.requests == []


def test_a_partial_batch_is_not_a_success_and_names_the_failed_items() -> None:
    """A 202 whose per-item results include a failure gives success False and item details."""

    def partial(request: HttpRequest) -> HttpResult:
        items = msgspec.json.decode(request.body)
        results = [
            {
                "index": i,
                "item_id": it["event_id"],
                "status": "accepted" if i else "failed",
                "error_code": None if i else "duplicate",
                "error_message": None if i else "seen",
            }
            for i, it in enumerate(items)
        ]
        body = {"request_id": "r", "status": "partial", "data": {"results": results}, "errors": []}
        return json_response(202, msgspec.json.encode(body))

    ports = FakePorts(transport=FakeTransport(handler=partial))
    envelope = ports.client().send_batch([event(), event(message="two")])
    assert not envelope.success
    assert envelope.status == "partial"
    assert [(i.index, i.accepted, i.error_code) for i in envelope.items] == [
        (0, False, "duplicate"),
        (1, True, None),
    ]
    assert envelope.error is not None and "item 0" in envelope.error


def test_findings_go_to_the_findings_endpoints() -> None:
    """send_finding posts one normalized finding; send_findings posts the batch."""
    ports = FakePorts(transport=FakeTransport([ACCEPTED], handler=batch_ok_findings))
    client = ports.client()
    finding = {
        "title": "SSH allows password authentication",
        "description": "sshd accepts passwords",
        "severity": "med",
        "first_seen": "2026-11-25T09:14:03.512204+00:00",
        "asset_ref": "192.0.2.10",
    }
    assert client.send_finding(finding).success
    assert client.send_findings([finding, {**finding, "title": "Another one"}]).success
    single, many = ports.transport.requests
    assert single.path == FINDINGS_PATH
    sent = msgspec.json.decode(single.body)
    assert sent["severity"] == "medium"
    assert sent["first_seen"] == "2026-11-25T09:14:03.512204Z"
    assert many.path == FINDINGS_PATH + "/batch"


def batch_ok_findings(request: HttpRequest) -> HttpResult:
    items = msgspec.json.decode(request.body)
    results = [
        {"index": i, "item_id": it["finding_id"], "status": "accepted"}
        for i, it in enumerate(items)
    ]
    body = {"request_id": "r", "status": "accepted", "data": {"results": results}, "errors": []}
    return json_response(202, msgspec.json.encode(body))


# -- single sends: outcomes -------------------------------------------------------------------
def test_the_request_carries_auth_key_and_the_canonical_body() -> None:
    """Bearer auth with a capital B, JSON content type, an Idempotency-Key derived from the
    body (the same event twice -> the same key), and the deterministic encoding on the wire."""
    ports = FakePorts(transport=FakeTransport([ACCEPTED, ACCEPTED]))
    client = ports.client()
    first = client.send_event(event())
    second = client.send_event(dict(reversed(list(event().items()))))
    a, b = ports.transport.requests
    assert a.method == "POST" and a.path == EVENTS_PATH
    assert a.header("Authorization") == "Bearer test-api-key"
    assert a.header("Content-Type") == "application/json"
    assert a.body == b.body
    assert first.idempotency_key == second.idempotency_key == a.header("Idempotency-Key")
    assert msgspec.json.decode(a.body)["event_id"].startswith("evt-")


def test_an_explicit_idempotency_key_is_used_as_given() -> None:
    """A caller-supplied key wins over the derived one."""
    ports = FakePorts(transport=FakeTransport([ACCEPTED]))
    envelope = ports.client().send_event(event(), idempotency_key="my-key-1")
    assert ports.transport.requests[0].header("Idempotency-Key") == "my-key-1"
    assert envelope.idempotency_key == "my-key-1"


def test_a_replay_is_a_success_flagged_as_replayed() -> None:
    """Same key, same body: VectorVue answers the original envelope with X-Idempotent-Replay."""
    replay = json_response(
        202,
        b'{"request_id":"r-1","status":"replayed","data":{},"errors":[]}',
        {"X-Idempotent-Replay": "true"},
    )
    envelope = FakePorts(transport=FakeTransport([replay])).client().send_event(event())
    assert envelope.success and envelope.replayed


def test_a_non_json_2xx_is_returned_but_not_a_success() -> None:
    """A proxy's HTML 200 does not mean VectorVue has the event."""
    html = HttpResponse(200, {"content-type": "text/html"}, b"<html>ok</html>")
    ports = FakePorts(transport=FakeTransport([html]))
    envelope = ports.client().send_event(event())
    assert not envelope.success
    assert envelope.status == "unrecognized_response"
    assert len(ports.transport.requests) == 1
    assert ports.audit.records[-1].outcome == "rejected"


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (400, b'{"detail":"Bad request"}', None),
        (401, b'{"detail":"Invalid signature"}', None),
        (403, b'{"detail":"Forbidden"}', None),
        (404, b'{"detail":"Not Found"}', None),
        (
            409,
            b'{"request_id":"r","status":"failed","data":null,'
            b'"errors":[{"code":"idempotency_conflict","message":"different body"}]}',
            "idempotency_conflict",
        ),
        (413, b'{"detail":"too large"}', None),
        (
            422,
            b'{"request_id":"r","status":"failed","data":null,'
            b'"errors":[{"code":"validation_error","message":"bad"}]}',
            "validation_error",
        ),
    ],
)
def test_non_retryable_statuses_raise_at_once(status: int, body: bytes, code: str | None) -> None:
    """4xx answers are final: one attempt, a VectorVueAPIError with status and error code."""
    ports = FakePorts(transport=FakeTransport([json_response(status, body)]))
    with pytest.raises(VectorVueAPIError) as caught:
        ports.client().send_event(event())
    assert caught.value.status_code == status
    assert caught.value.error_code == code
    assert len(ports.transport.requests) == 1
    assert ports.clock.sleeps == []
    assert ports.audit.records[-1].outcome == "api_error"


def test_retry_after_is_honoured_and_reported() -> None:
    """A 503 with Retry-After: 7 waits 7 s, then the 202 succeeds on attempt 2."""
    ports = FakePorts(
        transport=FakeTransport(
            [json_response(503, b'{"detail":"busy"}', {"Retry-After": "7"}), ACCEPTED]
        )
    )
    envelope = ports.client().send_event(event())
    assert envelope.success and envelope.attempts == 2
    assert ports.clock.sleeps == [7.0]
    record = ports.audit.records[-1]
    assert record.attempts == 2
    assert [a.status_code for a in record.attempt_log] == [503, 202]
    assert record.attempt_log[0].retry_after_seconds == 7.0
    assert record.time == "2026-11-25T00:00:07Z"  # the fake clock, after the 7 s wait
    assert (record.action, record.endpoint) == ("send_event", EVENTS_PATH)


def test_exhausted_retries_raise_the_last_answer() -> None:
    """After max_retries, the last 503 is raised with its status and Retry-After."""
    busy = json_response(503, b'{"detail":"busy"}', {"Retry-After": "1"})
    ports = FakePorts(transport=FakeTransport(handler=lambda _: busy))
    with pytest.raises(VectorVueAPIError) as caught:
        ports.client(config(max_retries=2)).send_event(event())
    assert caught.value.status_code == 503 and caught.value.retry_after == 1.0
    assert len(ports.transport.requests) == 3


def test_tls_failures_are_never_retried() -> None:
    """A certificate problem is raised at once as a transport error of kind tls."""
    ports = FakePorts(
        transport=FakeTransport([TransportFailure(TransportErrorKind.TLS, "bad cert")])
    )
    with pytest.raises(VectorVueTransportError) as caught:
        ports.client().send_event(event())
    assert caught.value.kind is TransportErrorKind.TLS
    assert caught.value.attempts == 1


def test_a_missing_credential_is_a_config_error_and_nothing_is_sent() -> None:
    """No API key: VectorVueConfigError naming api_key_env; no request leaves."""
    ports = FakePorts(credentials=FakeCredentialSource(None))
    with pytest.raises(VectorVueConfigError) as caught:
        ports.client().send_event(event())
    assert caught.value.field == "api_key_env"
    assert ports.transport.requests == []


def test_invalid_events_are_refused_before_anything_is_sent() -> None:
    """Normalization errors name the field; nothing is sent; the refusal is audited."""
    ports = FakePorts()
    with pytest.raises(VectorVueSerializationError) as caught:
        ports.client().send_event(event(occurred_at="last tuesday"))
    assert caught.value.field == "occurred_at"
    assert ports.transport.requests == []
    assert ports.audit.records[-1].outcome == "invalid"


# -- health, lifecycle ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("answer", "healthy"),
    [
        (json_response(200, b'{"status":"healthy","version":"1","checks":{}}'), True),
        (json_response(200, b'{"status":"degraded","version":"1","checks":{}}'), False),
        (json_response(503, b'{"detail":"down"}'), False),
        (HttpResponse(200, {}, b"OK"), False),
        (TransportFailure(TransportErrorKind.CONNECT, "refused"), False),
    ],
)
def test_health_check(answer: HttpResult, healthy: bool) -> None:
    """Healthy only on 200 with status "healthy"; no credential is sent to /healthz."""
    ports = FakePorts(transport=FakeTransport([answer]))
    assert ports.client().health_check() is healthy
    (request,) = ports.transport.requests
    assert request.method == "GET" and request.path == HEALTH_PATH
    assert request.header("Authorization") is None
    assert ports.credentials.calls == 0


def test_close_closes_the_transport_and_the_client() -> None:
    """The context manager closes the transport; a closed client refuses to send."""
    ports = FakePorts()
    with ports.client() as client:
        pass
    assert ports.transport.closed
    with pytest.raises(VectorVueError, match="closed"):
        client.send_event(event())


def test_problems_of_a_batch_carry_the_callers_indices() -> None:
    """An oversized item after an invalid one is still named by its own index."""
    ports = FakePorts(transport=FakeTransport(handler=batch_ok))
    client = ports.client(config(max_batch_bytes=1024))
    items = [event(severity="urgent-ish"), event(), event(metadata={"blob": "y" * 2000})]
    with pytest.raises(VectorVueSerializationError) as caught:
        client.send_batch(items)
    assert [(p.index, p.field) for p in caught.value.problems] == [(0, "severity"), (2, "(item)")]
    assert ports.transport.requests == []


def test_a_nul_in_an_item_with_its_own_id_is_refused_and_audited() -> None:
    """Contract: "NUL (U+0000) in any string, including metadata keys and values at any
    depth ... a single event/finding then fails with a plain 500 ... The client refuses NUL
    locally". An item that brings its own id is not encoded to derive one: the refusal comes
    from encoding its body, and is audited like every other refusal; nothing is sent."""
    ports = FakePorts(transport=FakeTransport([ACCEPTED]))
    client = ports.client()
    with pytest.raises(VectorVueSerializationError) as caught:
        client.send_event(event(event_id="evt-own-1", metadata={"note": "a\x00b"}))
    assert [p.field for p in caught.value.problems] == ["metadata.note"]
    assert ports.audit.records[-1].outcome == "invalid"
    finding = {
        "finding_id": "fnd-own-1",
        "title": "Weak cipher",
        "description": "x\x00",
        "severity": "low",
        "first_seen": "2026-11-25T09:14:03Z",
    }
    with pytest.raises(VectorVueSerializationError):
        client.send_finding(finding)
    assert ports.audit.records[-1].outcome == "invalid"
    assert ports.transport.requests == []


def test_a_single_body_over_one_mib_is_refused_before_sending() -> None:
    """Contract: "No size cap in the app; the bundled nginx caps every body at 1 MiB (HTML
    413)". A single event whose body is exactly 1,048,576 bytes is sent; one byte more is
    refused locally, audited, and nothing is sent."""

    def sized(size: int) -> dict[str, Any]:
        bare = len(msgspec.json.encode(normalize_event(event(metadata={"pad": ""}))))
        return event(metadata={"pad": "x" * (size - bare)})

    ports = FakePorts(transport=FakeTransport([ACCEPTED]))
    client = ports.client()
    assert client.send_event(sized(1_048_576)).success
    (request,) = ports.transport.requests
    assert len(request.body) == 1_048_576
    with pytest.raises(VectorVueSerializationError) as caught:
        client.send_event(sized(1_048_577))
    assert [p.field for p in caught.value.problems] == ["(item)"]
    assert "413" in caught.value.problems[0].rule
    assert ports.audit.records[-1].outcome == "invalid"
    assert len(ports.transport.requests) == 1


def test_bodies_go_out_as_plain_json_however_large() -> None:
    """Contract: "Nothing decompresses request bodies (neither the app nor nginx); a gzip
    body ... fail[s] after the signature check with a plain 500 ... Never send
    Content-Encoding: gzip." A large body goes out as the JSON it is, and is what is signed."""
    big = event(metadata={"hosts": [f"192.0.2.{i}" for i in range(200)]})
    ports = FakePorts(transport=FakeTransport([ACCEPTED]))
    ports.client().send_event(big)
    (request,) = ports.transport.requests
    assert len(request.body) > 2048
    assert request.header("Content-Encoding") is None
    assert msgspec.json.decode(request.body)["metadata"]["hosts"][199] == "192.0.2.199"
    assert [call.body for call in ports.signer.calls] == [request.body]


def test_connect_and_read_timeouts_are_separate() -> None:
    """connect_timeout_seconds bounds the connect, timeout_seconds the read."""
    ports = FakePorts(transport=FakeTransport([ACCEPTED, ACCEPTED]))
    client = ports.client(config(connect_timeout_seconds=2.0, timeout_seconds=9.0))
    client.send_event(event())
    client.health_check()
    assert [(s.timeouts.connect, s.timeouts.read) for s in ports.transport.sent] == [(2.0, 9.0)] * 2


def test_a_401_about_the_token_refetches_the_credential_once() -> None:
    """Token expired, and rotated where it is kept: the credential is invalidated and the
    send tried once more with the new one; a second 401 is final (never a loop)."""
    expired = json_response(401, b'{"detail":"Token expired"}')

    def rotating(ports: FakePorts, answers: list[HttpResult]) -> None:
        """Each request rotates the credential (as its store would), then is answered."""

        def handler(request: HttpRequest) -> HttpResult:
            count = len(ports.transport.requests)
            ports.credentials.rotate(f"rotated-{count}")
            return answers[min(count, len(answers)) - 1]

        ports.transport = FakeTransport(handler=handler)

    ports = FakePorts()
    rotating(ports, [expired, ACCEPTED])
    assert ports.client().send_event(event()).success
    assert ports.credentials.invalidations == 1
    assert [r.header("authorization") for r in ports.transport.requests][1] == "Bearer rotated-1"

    again = FakePorts()
    rotating(again, [expired])
    with pytest.raises(VectorVueAPIError) as caught:
        again.client().send_event(event())
    assert caught.value.status_code == 401
    assert again.credentials.invalidations == 1
    assert len(again.transport.requests) == 2
    assert again.clock.sleeps == []


def test_a_401_to_a_credential_that_did_not_change_is_not_resent() -> None:
    """A static API key VectorVue refuses: it is read anew (a rotation would be picked up),
    but the same key is never sent again; the 401 is the answer, after one request."""
    expired = json_response(401, b'{"detail":"Invalid token"}')
    ports = FakePorts(transport=FakeTransport(handler=lambda _: expired))
    with pytest.raises(VectorVueAPIError) as caught:
        ports.client().send_event(event())
    assert caught.value.status_code == 401
    assert ports.credentials.invalidations == 1
    assert ports.credentials.calls == 2
    assert len(ports.transport.requests) == 1
    assert ports.audit.records[-1].attempts == 1


def test_a_401_about_the_signature_is_not_retried() -> None:
    """A wrong signing key: a fresh token cannot help, so there is exactly one attempt."""
    bad_signature = json_response(401, b'{"detail":"Invalid signature"}')
    ports = FakePorts(transport=FakeTransport(handler=lambda _: bad_signature))
    with pytest.raises(VectorVueAPIError):
        ports.client().send_event(event())
    assert ports.credentials.invalidations == 0
    assert len(ports.transport.requests) == 1


GATEWAY_CONFIG: dict[str, Any] = {
    "profile": "telemetry-gateway",
    "client_cert": "/unused/client.pem",
    "client_key": "/unused/client.key",
    "service_identity": "spectrastrike-producer",
    "signing_key_env": "UNUSED",
    "attestation_measurement_hash": "ab" * 32,
}
BROKER_EVENT: dict[str, Any] = {
    "event_id": "c9e1f3a2-5b7d-4c8e-9f0a-1b2c3d4e5f03",
    "event_type": "metasploit_manual_session_observed",
    "timestamp": "2026-11-25T09:31:10",
    "actor": "op-002",
    "target": "metasploit",
    "status": "success",
    "attributes": {
        "tenant_id": "10000000-0000-0000-0000-000000000001",
        "campaign_id": "cmp-001",
        "target_host": "192.0.2.12",
        "mitre_techniques": ["T1210"],
    },
    "idempotency_key": "c9e1f3a2-5b7d-4c8e-9f0a-1b2c3d4e5f03",
}


@settings(max_examples=100)
@given(
    failures=st.lists(st.sampled_from([409, 429, 500, 503]), max_size=5), seed=st.integers(0, 2**32)
)
def test_every_gateway_attempt_carries_its_own_timestamp_and_nonce_in_body_and_headers(
    failures: list[int], seed: int
) -> None:
    """Under any run of retryable answers (409 replay included): each attempt's body holds
    exactly the timestamp and nonce that were signed for it, nonces never repeat, the rest
    of the body never changes, and no bearer token or idempotency key is sent."""
    answers = [json_response(s, b'{"detail":"x"}') for s in failures]
    gateway_ok = json_response(202, b'{"accepted":true,"request_id":"r"}')
    ports = FakePorts(transport=FakeTransport([*answers, gateway_ok]), entropy=FakeEntropy(seed))
    envelope = ports.client(config(max_retries=10, **GATEWAY_CONFIG)).send_event(BROKER_EVENT)
    assert envelope.success
    sent = ports.transport.requests
    assert len(sent) == len(failures) + 1
    bodies = [msgspec.json.decode(r.body) for r in sent]
    for request, body, call in zip(sent, bodies, ports.signer.calls, strict=True):
        assert request.path == "/internal/v1/telemetry"
        assert call.body == request.body
        assert (body["timestamp"], body["nonce"]) == (call.timestamp, call.nonce)
        assert request.header("Authorization") is None
        assert request.header("Idempotency-Key") is None
    assert len({b["nonce"] for b in bodies}) == len(bodies)
    rest = [{k: v for k, v in b.items() if k not in ("timestamp", "nonce")} for b in bodies]
    assert all(r == rest[0] for r in rest)
    assert ports.credentials.calls == 0


def test_a_409_is_final_on_the_integration_api_but_retried_on_the_gateway() -> None:
    """409 means idempotency conflict on one profile and a burnt nonce on the other."""
    conflict = json_response(409, b'{"detail":"conflict"}')
    api = FakePorts(transport=FakeTransport(handler=lambda _: conflict))
    with pytest.raises(VectorVueAPIError):
        api.client().send_event(event())
    assert len(api.transport.requests) == 1
    gateway = FakePorts(
        transport=FakeTransport([conflict, json_response(202, b'{"accepted":true}')])
    )
    assert gateway.client(config(**GATEWAY_CONFIG)).send_event(BROKER_EVENT).success
    assert len(gateway.transport.requests) == 2


# -- ingest status ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "request_id", ["not-a-uuid", "", "r-1", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f"]
)
def test_an_ingest_status_id_that_is_not_a_uuid_is_refused_before_sending(
    request_id: str,
) -> None:
    """VectorVue stores request ids in a UUID column and answers any other id with a plain
    500 (which would be retried): refused here, naming request_id and the rule."""
    ports = FakePorts()
    with pytest.raises(VectorVueSerializationError) as caught:
        ports.client().ingest_status(request_id)
    assert caught.value.field == "request_id"
    assert "UUID" in str(caught.value)
    assert ports.transport.requests == []
    assert ports.audit.records[-1].outcome == "invalid"


def test_an_ingest_status_id_is_sent_in_canonical_lowercase() -> None:
    """An upper-case or brace-wrapped UUID is the same id: it is sent canonical."""
    status = json_response(
        200, b'{"request_id":"r","status":"completed","data":{},"errors":[],"signature":null}'
    )
    ports = FakePorts(transport=FakeTransport([status]))
    ports.client().ingest_status("{0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0}")
    (request,) = ports.transport.requests
    assert request.path.endswith("/ingest/status/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")


# -- health through the delivery path ---------------------------------------------------------
def test_health_has_the_timeouts_and_the_audit_of_every_send() -> None:
    """/healthz is asked once (a 503 is reported, not retried), within deadline_seconds,
    and audited like any send."""
    ports = FakePorts(transport=FakeTransport([json_response(503, b'{"detail":"down"}')]))
    report = ports.client(config(timeout_seconds=2.0, deadline_seconds=5.0)).health()
    assert not report.healthy and report.status_code == 503
    (sent,) = ports.transport.sent
    assert sent.timeouts.read == 2.0 and sent.timeouts.total == 5.0
    assert ports.clock.sleeps == []
    record = ports.audit.records[-1]
    assert (record.action, record.outcome, record.attempts) == ("health_check", "unhealthy", 1)


# -- cancel tokens ------------------------------------------------------------------------------
class HeldClock(FakeClock):
    """A FakeClock whose first backoff holds the sleeping thread until the test lets it
    go (or its send is cancelled), so that the test acts while a send waits in it."""

    def __init__(self) -> None:
        super().__init__()
        self.sleeping = threading.Event()
        self.release = threading.Event()

    def sleep(self, seconds: float, cancel: threading.Event) -> None:
        if not self.sleeping.is_set():
            self.sleeping.set()
            self.release.wait(30.0)  # a bound for a broken test, not a wait on time
        super().sleep(seconds, cancel)


class HeldTransport:
    """A Transport whose batch requests (the worker's) hang until `go` is set, while the
    single sends are answered from `answers`."""

    def __init__(self, answers: list[HttpResult]) -> None:
        self.answers = answers
        self.in_batch = threading.Event()
        self.go = threading.Event()
        self.paths: list[str] = []

    def send(self, request: HttpRequest, timeouts: Timeouts) -> HttpResult:
        self.paths.append(request.path)
        if request.path.endswith("/batch"):
            self.in_batch.set()
            self.go.wait(30.0)
            return batch_ok(request)
        return self.answers.pop(0)

    def close(self) -> None:
        pass


def test_stopping_the_worker_does_not_stop_a_send_on_another_thread() -> None:
    """The worker is stopped (too late to wait for: it is inside a request) while a
    send_event on another thread waits in a retry backoff: the send goes on and delivers,
    and the worker's own request ends its run."""
    clock = HeldClock()
    transport = HeldTransport([json_response(503, b'{"detail":"busy"}'), ACCEPTED])
    ports = FakePorts(clock=clock)
    client = VectorVueClient(
        config=config(worker_interval_seconds=0.01),
        transport=transport,
        credentials=ports.credentials,
        signer=ports.signer,
        audit=ports.audit,
        clock=clock,
        entropy=ports.entropy,
        outbox=lambda: ports.outbox,
    )
    outcome: list[ResponseEnvelope | BaseException] = []

    def send() -> None:
        try:
            outcome.append(client.send_event(event()))
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            outcome.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    assert clock.sleeping.wait(30.0)  # the send got its 503 and sleeps in the backoff
    client.enqueue(event(event_id="queued-1"))
    client.start_worker()
    assert transport.in_batch.wait(30.0)  # the worker is inside its request
    assert client.stop_worker(0.0) is False  # cancelled, still inside the request
    clock.release.set()
    sender.join(30.0)
    assert not sender.is_alive()
    (envelope,) = outcome
    assert isinstance(envelope, ResponseEnvelope) and envelope.success
    assert envelope.attempts == 2
    transport.go.set()
    assert client.stop_worker(30.0)
    client.close()


def test_close_cancels_a_send_in_progress_on_another_thread() -> None:
    """close() while a send on another thread waits in a retry backoff: the send starts no
    other attempt (its transport is closed) and raises the last answer."""
    clock = HeldClock()
    ports = FakePorts(
        transport=FakeTransport([json_response(503, b'{"detail":"busy"}'), ACCEPTED]),
        clock=clock,
    )
    client = ports.client()
    outcome: list[ResponseEnvelope | BaseException] = []

    def send() -> None:
        try:
            outcome.append(client.send_event(event()))
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            outcome.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    assert clock.sleeping.wait(30.0)
    client.close()
    clock.release.set()
    sender.join(30.0)
    (raised,) = outcome
    assert isinstance(raised, VectorVueAPIError) and raised.status_code == 503
    assert len(ports.transport.requests) == 1
    assert clock.monotonic() == 0.0  # the cancelled backoff did not wait
