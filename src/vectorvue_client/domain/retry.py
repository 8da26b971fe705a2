"""The retry policy: the only place that decides whether and when to try again.

`decide` is a pure function of (attempt, outcome, elapsed, deadline) plus a jitter draw
in [0, 1), which a pure function cannot make itself, and the answer's Retry-After, read
once per answer by `parse_retry_after` (an HTTP date needs the current time, which the
caller has from its Clock port).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC
from enum import StrEnum
from typing import Final

from vectorvue_client.domain.errors import TransportErrorKind
from vectorvue_client.domain.http import HttpResponse, HttpResult, TransportFailure

# Statuses that say "not now" rather than "not this": timeout, too early, rate limited,
# and the server-side failures a resend can get past.
RETRYABLE_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
# The gateway burns every (timestamp, nonce) it sees and answers a reuse with 409: the
# request was not processed, and a new attempt (always with a fresh nonce) is safe. On the
# integration API a 409 is an idempotency conflict, which no resend can fix.
GATEWAY_RETRYABLE_STATUSES: Final = RETRYABLE_STATUSES | {409}
# Failures that a fresh connection can get past. TLS and pin failures are never among
# them: retrying a certificate problem only repeats it (or, worse, rides out an attack).
RETRYABLE_FAILURES: Final = frozenset(
    {TransportErrorKind.CONNECT, TransportErrorKind.TIMEOUT, TransportErrorKind.CONNECTION_LOST}
)


class StopReason(StrEnum):
    """Why the policy stopped."""

    SUCCEEDED = "succeeded"
    NOT_RETRYABLE = "not_retryable"
    RETRIES_EXHAUSTED = "retries_exhausted"
    DEADLINE = "deadline"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Knobs of the policy. Delays in seconds."""

    max_retries: int
    base_delay: float = 0.5
    max_delay: float = 30.0
    # VectorVue's 429s carry no Retry-After; waiting less than this cannot leave a
    # 60-second sliding window in any useful state.
    rate_limited_min_delay: float = 1.0
    retryable_statuses: frozenset[int] = RETRYABLE_STATUSES

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if not (0 < self.base_delay <= self.max_delay):
            raise ValueError("need 0 < base_delay <= max_delay")
        if self.rate_limited_min_delay < 0:
            raise ValueError("rate_limited_min_delay must be >= 0")


@dataclass(frozen=True, slots=True)
class Retry:
    """Try again after `delay` seconds."""

    delay: float
    reason: str


@dataclass(frozen=True, slots=True)
class Stop:
    """Do not try again."""

    reason: StopReason
    detail: str


type Decision = Retry | Stop


def decide(
    policy: RetryPolicy,
    *,
    attempt: int,
    outcome: HttpResult,
    elapsed: float,
    deadline: float,
    jitter: float,
    retry_after: float | None,
) -> Decision:
    """Decide what follows attempt number `attempt` (1 = the first) that ended in `outcome`,
    `elapsed` seconds into a send whose whole budget is `deadline` seconds. `retry_after`:
    the seconds the answer's Retry-After asks for (parse_retry_after), None without one."""
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter must be in [0, 1)")

    if isinstance(outcome, HttpResponse):
        if 200 <= outcome.status < 300:
            return Stop(StopReason.SUCCEEDED, f"HTTP {outcome.status}")
        if outcome.status not in policy.retryable_statuses:
            return Stop(StopReason.NOT_RETRYABLE, f"HTTP {outcome.status} is not retryable")
        what = f"HTTP {outcome.status}"
    else:
        assert isinstance(outcome, TransportFailure)
        if outcome.kind not in RETRYABLE_FAILURES:
            return Stop(StopReason.NOT_RETRYABLE, f"{outcome.kind.value} is not retryable")
        what = outcome.kind.value
        retry_after = None  # only an answer can ask for a wait

    if attempt > policy.max_retries:
        return Stop(
            StopReason.RETRIES_EXHAUSTED,
            f"{what} after {attempt} attempt(s); max_retries is {policy.max_retries}",
        )

    if retry_after is not None:
        delay, source = retry_after, "Retry-After"
    else:
        delay = backoff(attempt, base=policy.base_delay, cap=policy.max_delay, jitter=jitter)
        source = "backoff"
        if isinstance(outcome, HttpResponse) and outcome.status == 429:
            delay, source = max(delay, policy.rate_limited_min_delay), "rate-limit backoff"

    remaining = deadline - elapsed
    # Compared as a sum, not against `remaining`: in floats 0.1 + 0.3 == 0.4 while
    # 0.3 < 0.4 - 0.1, and a retry must never land on the deadline itself.
    if elapsed + delay >= deadline:
        return Stop(
            StopReason.DEADLINE,
            f"{what}: {source} of {delay:.3f}s does not fit the {max(remaining, 0.0):.3f}s "
            "left of the deadline",
        )
    return Retry(delay, f"{what}; {source} {delay:.3f}s")


def backoff(failures: int, *, base: float, cap: float, jitter: float) -> float:
    """Exponential backoff with full jitter (`jitter` in [0, 1)) after `failures` failed
    attempts: a share of base * 2 ** (failures - 1), capped at `cap`."""
    return jitter * min(cap, base * 2.0 ** min(failures - 1, 62))  # 2.0 ** 1024 overflows


def should_reauthenticate(response: HttpResponse) -> bool:
    """Whether a 401 is about the bearer credential (expired, revoked, rotated: fetching it
    anew may help, once) rather than about the request's signature or timestamp (a resend
    would only be refused again). Read from the challenge header and the detail text."""
    if response.status != 401:
        return False
    challenge = (response.header("www-authenticate") or "").lower()
    detail = response.body[:512].decode("utf-8", errors="replace").lower()
    if "signature" in detail or "timestamp" in detail:
        return False
    return challenge.startswith("bearer") or any(
        word in detail for word in ("token", "jwt", "bearer", "expired", "credentials")
    )


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP date), or None when
    absent or unreadable. A date in the past means "now"."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(text)  # float, not int: "9" * 5000 is inf here, not a ValueError
    # Imported here: email.utils costs ~7 ms of import time, and HTTP dates are rare.
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" parses zone-less; RFC 9110 dates are always GMT
        when = when.replace(tzinfo=UTC)
    seconds = when.timestamp() - now
    return max(0.0, seconds) if math.isfinite(seconds) else None
