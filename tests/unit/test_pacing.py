"""The per-operator pacing keeps every 60-second window (so every calendar minute) under
the gateway's budget, and never waits when there is room."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vectorvue_client.domain.pacing import SlidingWindowLimiter


@given(
    limit=st.integers(1, 20),
    gaps=st.lists(st.floats(0.0, 30.0), min_size=1, max_size=120),
)
def test_no_window_ever_holds_more_than_the_limit(limit: int, gaps: list[float]) -> None:
    """Callers arrive after arbitrary gaps and wait as told: any 60 s interval then holds at
    most `limit` sends, and a send waits only when `limit` sends are already in its window."""
    limiter = SlidingWindowLimiter(limit, 60.0)
    now, sent = 0.0, list[float]()
    for gap in gaps:
        now += gap
        wait = limiter.delay(now)
        in_window = [t for t in sent if t + 60.0 > now]  # the limiter's own arithmetic
        assert (wait > 0) == (len(in_window) >= limit)
        now += wait
        limiter.record(now)
        sent.append(now)
    for start in sent:
        assert sum(1 for t in sent if start <= t < start + 60.0) <= limit


def test_a_calendar_minute_never_sees_more_than_the_budget() -> None:
    """500 sends as fast as allowed, from 10 s before a minute boundary: every calendar
    minute gets at most 120, and the whole takes about four minutes, not longer."""
    limiter = SlidingWindowLimiter(120, 60.0)
    now, sent = 1_795_564_790.0, list[float]()
    for _ in range(500):
        now += limiter.delay(now)
        limiter.record(now)
        sent.append(now)
    minutes: dict[int, int] = {}
    for t in sent:
        minutes[int(t // 60)] = minutes.get(int(t // 60), 0) + 1
    assert max(minutes.values()) <= 120
    assert sent[-1] - sent[0] == pytest.approx(240.0, abs=0.01)


@pytest.mark.parametrize(("limit", "window"), [(0, 60.0), (1, 0.0), (1, -1.0)])
def test_nonsense_limits_are_refused(limit: int, window: float) -> None:
    """A limit below 1 or a non-positive window is a programming error."""
    with pytest.raises(ValueError, match="must be"):
        SlidingWindowLimiter(limit, window)
