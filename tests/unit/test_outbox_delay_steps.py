"""The delay queues' ladder (domain.outbox.delay_step_ms): a wait is never cut short, is
at most doubled, and the ladder's queues stay few."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from vectorvue_client.domain.outbox import DELAY_STEPS_MS, delay_step_ms


@given(st.floats(min_value=1e-6, max_value=DELAY_STEPS_MS[-1] / 1000))
def test_a_wait_is_never_shorter_than_asked_and_at_most_doubled(seconds: float) -> None:
    step = delay_step_ms(seconds)
    assert step is not None
    assert step >= seconds * 1000
    assert step <= max(2 * seconds * 1000, DELAY_STEPS_MS[0])


@given(st.floats(max_value=0.0, allow_nan=False))
def test_no_wait_is_due_now(seconds: float) -> None:
    assert delay_step_ms(seconds) is None


@given(st.floats(min_value=DELAY_STEPS_MS[-1] / 1000, allow_infinity=True, allow_nan=False))
def test_a_longer_wait_is_the_last_step(seconds: float) -> None:
    assert delay_step_ms(seconds) == DELAY_STEPS_MS[-1]


def test_the_ladder_from_a_tenth_of_a_second_to_days() -> None:
    assert DELAY_STEPS_MS[0] == 100
    assert len(DELAY_STEPS_MS) == 24
    assert 9 * 86_400_000 < DELAY_STEPS_MS[-1] < 10 * 86_400_000
    assert all(b == 2 * a for a, b in itertools.pairwise(DELAY_STEPS_MS))
