"""One contract per port, run against the real adapter AND its fake, so fakes cannot drift
from what production does. (The Transport contract lives in test_transport_contract.py.)"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterator

import pytest

from vectorvue_client.adapters.audit_logging import LoggingAuditSink
from vectorvue_client.adapters.clock_system import SystemClock
from vectorvue_client.adapters.credentials_env import EnvCredentialSource
from vectorvue_client.adapters.entropy_system import SystemEntropy
from vectorvue_client.adapters.signer_hmac import HmacSigner
from vectorvue_client.domain.audit import AttemptSummary, AuditRecord
from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.redaction import Secret
from vectorvue_client.ports import AuditSink, Clock, CredentialSource, Entropy, Signer
from vectorvue_client.testing import (
    FakeClock,
    FakeCredentialSource,
    FakeEntropy,
    MemoryAuditSink,
    RecordingSigner,
)

KEY = "vvk_contract-key-0123456789"


# -- CredentialSource -------------------------------------------------------------------------
CredentialFactory = Callable[[str | None], CredentialSource]


def _env_source(value: str | None) -> CredentialSource:
    environ = {} if value is None else {"VV_TEST_KEY": value}
    return EnvCredentialSource(environ, "VV_TEST_KEY", field="api_key_env")


def _fake_source(value: str | None) -> CredentialSource:
    return FakeCredentialSource(value, field="api_key_env")


@pytest.fixture(params=[_env_source, _fake_source], ids=["env", "fake"])
def credentials(request: pytest.FixtureRequest) -> CredentialFactory:
    factory: CredentialFactory = request.param
    return factory


def test_credentials_come_back_as_a_masked_secret(credentials: CredentialFactory) -> None:
    """get() returns a Secret holding the value, whose str and repr are masked."""
    secret = credentials(KEY).get()
    assert isinstance(secret, Secret)
    assert secret.reveal() == KEY
    assert KEY not in str(secret) and KEY not in repr(secret) and KEY not in f"{secret}"


def test_a_missing_credential_is_a_config_error_naming_the_setting(
    credentials: CredentialFactory,
) -> None:
    """No value: VectorVueConfigError whose field is the setting that names the source."""
    with pytest.raises(VectorVueConfigError) as caught:
        credentials(None).get()
    assert caught.value.field == "api_key_env"


# -- Signer -----------------------------------------------------------------------------------
@pytest.fixture(params=["hmac", "recording"])
def signer(request: pytest.FixtureRequest) -> Signer:
    if request.param == "hmac":
        return HmacSigner(FakeCredentialSource(KEY))
    return RecordingSigner()


def test_signatures_are_deterministic_string_headers(signer: Signer) -> None:
    """Same body, timestamp and nonce -> the same headers, all plain strings."""
    a = signer.sign(b'{"a":1}', timestamp=1_795_564_800, nonce="nonce-0001")
    b = signer.sign(b'{"a":1}', timestamp=1_795_564_800, nonce="nonce-0001")
    assert a == b and a
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in a)


def test_signatures_cover_the_body_and_the_time(signer: Signer) -> None:
    """Changing one byte of the body, or the timestamp, changes the signature."""
    base = signer.sign(b'{"a":1}', timestamp=1_795_564_800, nonce="nonce-0001")
    assert signer.sign(b'{"a":2}', timestamp=1_795_564_800, nonce="nonce-0001") != base
    assert signer.sign(b'{"a":1}', timestamp=1_795_564_801, nonce="nonce-0001") != base


def test_hmac_signature_is_what_vectorvue_verifies() -> None:
    """X-Signature = lowercase hex HMAC-SHA256(secret, f"{timestamp}." + body), computed here
    independently from the contract's words."""
    body = b'{"event_id":"e-1"}'
    headers = dict(
        HmacSigner(FakeCredentialSource(KEY)).sign(body, timestamp=1700000000, nonce="n" * 8)
    )
    expected = hmac.new(KEY.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert headers == {"X-Timestamp": "1700000000", "X-Signature": expected}


# -- AuditSink --------------------------------------------------------------------------------
RECORD = AuditRecord(
    time="2026-11-25T12:00:00Z",
    action="send_event",
    method="POST",
    endpoint="/api/v1/integrations/spectrastrike/events",
    outcome="success",
    status_code=202,
    attempts=1,
    attempt_log=(AttemptSummary(202, None, None),),
    duration_seconds=0.01,
    item_count=1,
    idempotency_key="k",
    request_id="r-1",
)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(params=["logging", "memory"])
def audit(request: pytest.FixtureRequest) -> Iterator[tuple[AuditSink, Callable[[], list[str]]]]:
    """A sink and a function returning what it kept, as text."""
    if request.param == "memory":
        memory = MemoryAuditSink()
        yield memory, lambda: [repr(r) for r in memory.records]
        return
    logger = logging.getLogger("test.contract.audit")
    capture = _Capture()
    logger.addHandler(capture)
    logger.setLevel(logging.DEBUG)
    try:
        yield LoggingAuditSink(logger), lambda: capture.messages
    finally:
        logger.removeHandler(capture)


def test_an_audit_sink_keeps_every_record_with_its_facts(
    audit: tuple[AuditSink, Callable[[], list[str]]],
) -> None:
    """One entry per record, carrying the operation, outcome, status and request id."""
    sink, kept = audit
    sink.record(RECORD)
    sink.record(RECORD)
    entries = kept()
    assert len(entries) == 2
    for entry in entries:
        for fact in ("send_event", "success", "202", "r-1"):
            assert fact in entry


def test_a_broken_log_handler_does_not_break_the_sender() -> None:
    """The logging sink swallows a handler's failure: auditing never fails a delivery."""

    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise RuntimeError("disk full")

        def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
            raise RuntimeError("still full")

    logger = logging.getLogger("test.contract.broken")
    logger.propagate = False
    logger.addHandler(Broken())
    LoggingAuditSink(logger).record(RECORD)


# -- Clock and Entropy ------------------------------------------------------------------------
@pytest.fixture(params=["system", "fake"])
def clock(request: pytest.FixtureRequest) -> Clock:
    return SystemClock() if request.param == "system" else FakeClock()


def test_a_clock_moves_forward_by_at_least_a_sleep(clock: Clock) -> None:
    """monotonic never goes back; after sleep(s) at least s has passed on it; time() is Unix."""
    before = clock.monotonic()
    clock.sleep(0.02)
    after = clock.monotonic()
    assert after - before >= 0.02 - 1e-6
    assert clock.time() > 1_600_000_000  # after 2020: seconds, not milliseconds
    assert clock.time() < 10_000_000_000


@pytest.fixture(params=["system", "fake"])
def entropy(request: pytest.FixtureRequest) -> Entropy:
    return SystemEntropy() if request.param == "system" else FakeEntropy(7)


def test_entropy_gives_unit_floats_and_fresh_nonces(entropy: Entropy) -> None:
    """random() in [0, 1); nonces unique, 16-128 URL-safe characters."""
    draws = [entropy.random() for _ in range(200)]
    assert all(0.0 <= d < 1.0 for d in draws)
    assert len(set(draws)) > 150
    nonces = [entropy.nonce() for _ in range(500)]
    assert len(set(nonces)) == 500
    for nonce in nonces:
        assert 16 <= len(nonce) <= 128
        assert all(c.isalnum() or c in "-_" for c in nonce)
