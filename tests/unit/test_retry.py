"""retry.decide: retry only what can succeed later, within max_retries and the deadline."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorvue_client.domain.errors import TransportErrorKind
from vectorvue_client.domain.http import HttpResponse, HttpResult, TransportFailure
from vectorvue_client.domain.retry import (
    Retry,
    RetryPolicy,
    Stop,
    StopReason,
    decide,
    parse_retry_after,
)

# Written from the brief and the contract, not read from retry.py.
RETRYABLE_STATUSES = (408, 425, 429, 500, 502, 503, 504)
RETRYABLE_KINDS = (
    TransportErrorKind.CONNECT,
    TransportErrorKind.TIMEOUT,
    TransportErrorKind.CONNECTION_LOST,
)
NON_RETRYABLE_KINDS = tuple(k for k in TransportErrorKind if k not in RETRYABLE_KINDS)
GARBAGE_RETRY_AFTER = (
    "soon",
    "1.5",
    "-5",
    "",
    "   ",
    "tomorrow",
    "Wed, 99 Foo 2015",
    "0x10",
    "1e3",
    "12 seconds",
)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC).timestamp()


@st.composite
def policies(draw: st.DrawFn) -> RetryPolicy:
    """A valid policy with realistic delays (milliseconds to an hour)."""
    base = draw(st.floats(0.001, 10.0))
    return RetryPolicy(
        max_retries=draw(st.integers(0, 8)),
        base_delay=base,
        max_delay=draw(st.floats(base, 3600.0)),
        rate_limited_min_delay=draw(st.floats(0.0, 5.0)),
    )


def http_date(when: float) -> str:
    """`when` (Unix seconds, whole) as an RFC 9110 HTTP date."""
    return format_datetime(datetime.fromtimestamp(when, UTC), usegmt=True)


retry_after_values = st.one_of(
    st.none(),
    st.integers(0, 10**6).map(str),
    st.sampled_from(GARBAGE_RETRY_AFTER),
    st.integers(-3600, 3600).map(lambda d: http_date(math.floor(NOW) + d)),
)


@st.composite
def outcomes(draw: st.DrawFn, statuses: st.SearchStrategy[int] | None = None) -> HttpResult:
    """An HTTP response (any status, maybe a Retry-After) or a transport failure of any kind."""
    if statuses is None and draw(st.booleans()):
        return TransportFailure(draw(st.sampled_from(list(TransportErrorKind))), "detail")
    status = draw(statuses if statuses is not None else st.integers(100, 599))
    retry_after = draw(retry_after_values)
    headers = {} if retry_after is None else {"retry-after": retry_after}
    return HttpResponse(status, headers)


retryable_outcomes = st.one_of(
    st.sampled_from(RETRYABLE_KINDS).map(lambda k: TransportFailure(k, "detail")),
    st.sampled_from(RETRYABLE_STATUSES).map(lambda s: HttpResponse(s)),
)
jitters = st.floats(0.0, 1.0, exclude_max=True)


def is_retryable(outcome: HttpResult) -> bool:
    """What the contract lets us retry."""
    if isinstance(outcome, HttpResponse):
        return outcome.status in RETRYABLE_STATUSES
    return outcome.kind in RETRYABLE_KINDS


def ceiling(policy: RetryPolicy, attempt: int) -> float:
    """The exponential backoff cap of full jitter: min(max_delay, base * 2**(attempt-1))."""
    return min(policy.max_delay, policy.base_delay * 2.0 ** (attempt - 1))


def run(
    policy: RetryPolicy,
    outcome: HttpResult,
    *,
    attempt: int = 1,
    elapsed: float = 0.0,
    deadline: float = 10**9,
    jitter: float = 0.5,
    now: float = NOW,
) -> Retry | Stop:
    """decide() with roomy defaults, given the answer's Retry-After read at `now`."""
    return decide(
        policy,
        attempt=attempt,
        outcome=outcome,
        elapsed=elapsed,
        deadline=deadline,
        jitter=jitter,
        retry_after=retry_after_of(outcome, now),
    )


def retry_after_of(outcome: HttpResult, now: float) -> float | None:
    """What the Delivery reads once from an answer: its Retry-After, in seconds."""
    if isinstance(outcome, HttpResponse):
        return parse_retry_after(outcome.header("retry-after"), now)
    return None


ROOMY = RetryPolicy(max_retries=5)


# -- the invariants --------------------------------------------------------------------------
@settings(max_examples=500)
@given(
    policies(),
    outcomes(),
    st.integers(1, 12),
    st.floats(0, 120),
    st.floats(0, 240),
    jitters,
    st.floats(NOW - 10**6, NOW + 10**6),
)
def test_a_retry_is_always_allowed_and_fits_the_deadline(
    policy: RetryPolicy,
    outcome: HttpResult,
    attempt: int,
    elapsed: float,
    deadline: float,
    jitter: float,
    now: float,
) -> None:
    """Retry only a retryable outcome, when attempt <= max_retries and elapsed+delay < deadline."""
    decision = decide(
        policy,
        attempt=attempt,
        outcome=outcome,
        elapsed=elapsed,
        deadline=deadline,
        jitter=jitter,
        retry_after=retry_after_of(outcome, now),
    )
    if isinstance(decision, Retry):
        assert is_retryable(outcome)
        assert attempt <= policy.max_retries
        assert decision.delay >= 0
        assert elapsed + decision.delay < deadline
    elif isinstance(outcome, HttpResponse) and 200 <= outcome.status < 300:
        assert decision.reason is StopReason.SUCCEEDED


def test_a_retry_never_lands_exactly_on_the_deadline() -> None:
    """elapsed 0.1 + delay 0.3 is 0.4 in floats: with deadline 0.4 that wait must not be chosen."""
    policy = RetryPolicy(max_retries=3, base_delay=1.0, max_delay=1.0)
    decision = run(policy, HttpResponse(503), elapsed=0.1, deadline=0.4, jitter=0.3)
    if isinstance(decision, Retry):
        assert 0.1 + decision.delay < 0.4
    else:
        assert decision.reason is StopReason.DEADLINE


@settings(max_examples=200)
@given(policies(), retryable_outcomes, st.integers(1, 40), jitters)
def test_retries_stop_once_max_retries_is_spent(
    policy: RetryPolicy, outcome: HttpResult, extra: int, jitter: float
) -> None:
    """After attempt max_retries+1 (and beyond), a retryable outcome gives RETRIES_EXHAUSTED."""
    decision = run(policy, outcome, attempt=policy.max_retries + extra, jitter=jitter)
    assert isinstance(decision, Stop)
    assert decision.reason is StopReason.RETRIES_EXHAUSTED


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 413, 415, 422, 301, 307, 501])
def test_non_retryable_statuses_are_never_retried(status: int) -> None:
    """Client errors, redirects and 501 stop at once, whatever the budget."""
    decision = run(ROOMY, HttpResponse(status, {"retry-after": "1"}))
    assert isinstance(decision, Stop)
    assert decision.reason is StopReason.NOT_RETRYABLE


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_success_statuses_stop_as_succeeded(status: int) -> None:
    """A 2xx is never retried: the policy reports it as SUCCEEDED."""
    assert run(ROOMY, HttpResponse(status)) == Stop(StopReason.SUCCEEDED, f"HTTP {status}")


@given(st.integers(100, 599).filter(lambda s: s not in RETRYABLE_STATUSES), policies(), jitters)
def test_no_other_status_is_ever_retried(status: int, policy: RetryPolicy, jitter: float) -> None:
    """Only 408, 425, 429, 500, 502, 503 and 504 are retryable statuses."""
    assert isinstance(run(policy, HttpResponse(status), jitter=jitter), Stop)


@pytest.mark.parametrize("kind", NON_RETRYABLE_KINDS, ids=str)
def test_non_retryable_failures_are_never_retried(kind: TransportErrorKind) -> None:
    """TLS, pin mismatch, redirect, oversized response, protocol (and deadline) stop at once."""
    decision = run(ROOMY, TransportFailure(kind, "detail"))
    assert isinstance(decision, Stop)
    assert decision.reason is StopReason.NOT_RETRYABLE


@pytest.mark.parametrize(
    "outcome",
    [HttpResponse(s) for s in RETRYABLE_STATUSES]
    + [TransportFailure(k, "detail") for k in RETRYABLE_KINDS],
    ids=lambda o: str(o.status if isinstance(o, HttpResponse) else o.kind),
)
def test_retryable_outcomes_are_retried_when_the_budget_allows(outcome: HttpResult) -> None:
    """408, 425, 429, 5xx gateway errors, CONNECT, TIMEOUT, CONNECTION_LOST are retried."""
    for attempt in range(1, ROOMY.max_retries + 1):
        assert isinstance(run(ROOMY, outcome, attempt=attempt), Retry)


# -- backoff ---------------------------------------------------------------------------------
@settings(max_examples=300)
@given(
    policies(),
    retryable_outcomes.filter(lambda o: not (isinstance(o, HttpResponse) and o.status == 429)),
    st.data(),
    jitters,
)
def test_backoff_is_full_jitter_under_the_exponential_cap(
    policy: RetryPolicy, outcome: HttpResult, data: st.DataObject, jitter: float
) -> None:
    """Without Retry-After the delay is exactly jitter * min(max_delay, base * 2**(attempt-1))."""
    if policy.max_retries == 0:
        return
    attempt = data.draw(st.integers(1, policy.max_retries))
    decision = run(policy, outcome, attempt=attempt, jitter=jitter)
    assert isinstance(decision, Retry)
    assert decision.delay == jitter * ceiling(policy, attempt)
    assert 0 <= decision.delay <= ceiling(policy, attempt)


@settings(max_examples=200)
@given(policies(), st.data(), jitters)
def test_rate_limited_backoff_has_a_floor(
    policy: RetryPolicy, data: st.DataObject, jitter: float
) -> None:
    """A 429 without Retry-After waits max(full-jitter backoff, rate_limited_min_delay)."""
    if policy.max_retries == 0:
        return
    attempt = data.draw(st.integers(1, policy.max_retries))
    decision = run(policy, HttpResponse(429), attempt=attempt, jitter=jitter)
    assert isinstance(decision, Retry)
    expected = max(jitter * ceiling(policy, attempt), policy.rate_limited_min_delay)
    assert decision.delay == expected


@settings(max_examples=200)
@given(policies(), retryable_outcomes, st.floats(0, 100), st.floats(0, 100), jitters)
def test_a_backoff_beyond_the_deadline_stops_with_deadline(
    policy: RetryPolicy, outcome: HttpResult, elapsed: float, budget: float, jitter: float
) -> None:
    """When the chosen wait does not end before the deadline, the policy stops with DEADLINE."""
    if policy.max_retries == 0:
        return
    deadline = elapsed + budget
    wanted = jitter * ceiling(policy, 1)
    if isinstance(outcome, HttpResponse) and outcome.status == 429:
        wanted = max(wanted, policy.rate_limited_min_delay)
    decision = run(policy, outcome, elapsed=elapsed, deadline=deadline, jitter=jitter)
    if elapsed + wanted >= deadline:
        assert isinstance(decision, Stop)
        assert decision.reason is StopReason.DEADLINE
    else:
        assert decision == Retry(wanted, decision.reason)


# -- Retry-After -----------------------------------------------------------------------------
@settings(max_examples=200)
@given(st.sampled_from([429, 503, 500]), st.integers(0, 3600), jitters)
def test_retry_after_seconds_is_honoured(status: int, seconds: int, jitter: float) -> None:
    """Retry-After: N (delta-seconds) waits exactly N seconds, whatever the jitter."""
    decision = run(
        ROOMY,
        HttpResponse(status, {"retry-after": str(seconds)}),
        jitter=jitter,
        deadline=seconds + 1.0,
    )
    assert isinstance(decision, Retry)
    assert decision.delay == float(seconds)


@settings(max_examples=200)
@given(st.integers(1, 3600), st.floats(0.0, 0.999), jitters)
def test_retry_after_http_date_is_relative_to_now(
    ahead: int, fraction: float, jitter: float
) -> None:
    """Retry-After as an HTTP date waits until that date, counted from the `now` argument."""
    now = math.floor(NOW) + fraction
    header = http_date(math.floor(NOW) + ahead)
    decision = run(ROOMY, HttpResponse(503, {"retry-after": header}), jitter=jitter, now=now)
    assert isinstance(decision, Retry)
    assert decision.delay == pytest.approx(ahead - fraction, abs=1e-6)


def test_retry_after_date_in_the_past_means_now() -> None:
    """An HTTP date already past gives a zero wait."""
    decision = run(ROOMY, HttpResponse(503, {"retry-after": http_date(math.floor(NOW) - 60)}))
    assert isinstance(decision, Retry)
    assert decision.delay == 0.0


@pytest.mark.parametrize(
    "header", ["120", http_date(math.floor(NOW) + 120)], ids=["seconds", "http-date"]
)
def test_retry_after_beyond_the_deadline_stops_with_deadline(header: str) -> None:
    """A Retry-After of 120 s with 60 s of budget left gives Stop(DEADLINE), not a shorter wait."""
    decision = run(ROOMY, HttpResponse(503, {"retry-after": header}), elapsed=30.0, deadline=90.0)
    assert isinstance(decision, Stop)
    assert decision.reason is StopReason.DEADLINE


@pytest.mark.parametrize("header", GARBAGE_RETRY_AFTER)
def test_garbage_retry_after_falls_back_to_backoff(header: str) -> None:
    """An unreadable Retry-After is ignored: the delay is the full-jitter backoff."""
    policy = RetryPolicy(max_retries=3, base_delay=2.0, max_delay=30.0)
    decision = run(policy, HttpResponse(503, {"retry-after": header}), attempt=2, jitter=0.25)
    assert isinstance(decision, Retry)
    assert decision.delay == 0.25 * 4.0  # ceiling min(30, 2 * 2**1) = 4


@pytest.mark.parametrize("digits", [400, 5000])
def test_an_absurdly_large_retry_after_stops_with_deadline(digits: int) -> None:
    """A Retry-After of hundreds of digits is far beyond any deadline: Stop(DEADLINE), no crash."""
    decision = run(ROOMY, HttpResponse(503, {"retry-after": "9" * digits}), deadline=60.0)
    assert isinstance(decision, Stop)
    assert decision.reason is StopReason.DEADLINE


def test_parse_retry_after_examples() -> None:
    """None and blanks are absent; digits are seconds; an HTTP date is counted from now."""
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("  ", NOW) is None
    assert parse_retry_after(" 30 ", NOW) == 30.0
    assert (
        parse_retry_after(
            "Wed, 21 Oct 2015 07:28:00 GMT",
            datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC).timestamp(),
        )
        == 30.0
    )


# -- invalid arguments -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [{"attempt": 0}, {"attempt": -1}, {"jitter": 1.0}, {"jitter": -0.01}, {"jitter": math.nan}],
    ids=["attempt-0", "attempt-negative", "jitter-1", "jitter-negative", "jitter-nan"],
)
def test_invalid_arguments_raise_value_error(kwargs: dict[str, Any]) -> None:
    """attempt counts from 1; jitter is a draw in [0, 1)."""
    args: dict[str, Any] = {"attempt": 1, "jitter": 0.5, **kwargs}
    with pytest.raises(ValueError, match=r"attempt|jitter"):
        run(ROOMY, HttpResponse(503), **args)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"max_retries": 1, "base_delay": 0.0},
        {"max_retries": 1, "base_delay": 5.0, "max_delay": 1.0},
        {"max_retries": 1, "rate_limited_min_delay": -1.0},
    ],
)
def test_invalid_policies_are_refused(kwargs: dict[str, Any]) -> None:
    """max_retries >= 0, 0 < base_delay <= max_delay, a non-negative 429 floor."""
    with pytest.raises(ValueError, match=r"max_retries|base_delay|rate_limited"):
        RetryPolicy(**kwargs)
