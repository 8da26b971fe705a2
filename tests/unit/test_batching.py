"""plan_batches: order-keeping greedy chunks bounded by item count AND encoded bytes."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vectorvue_client.domain.batching import BatchPlan, plan_batches
from vectorvue_client.domain.encoding import array_size, encode_array

sizes_lists = st.lists(st.integers(1, 120), max_size=40)
max_counts = st.integers(1, 12)
max_bytes_values = st.integers(2, 400)


def body(sizes: list[int], batch: tuple[int, ...]) -> bytes:
    """The real request body of `batch`: its items' bytes joined as a JSON array."""
    return encode_array([b"x" * sizes[i] for i in batch])


def fits(sizes: list[int], batch: tuple[int, ...], max_count: int, max_bytes: int) -> bool:
    """True when `batch` respects both limits, measured on the real joined body."""
    return len(batch) <= max_count and len(body(sizes, batch)) <= max_bytes


def plan(sizes: list[int], max_count: int, max_bytes: int) -> BatchPlan:
    """The plan under test."""
    return plan_batches(sizes, max_count=max_count, max_bytes=max_bytes)


@settings(max_examples=300)
@given(sizes_lists, max_counts, max_bytes_values)
@example([10, 10, 10], 2, 1000)
@example([4, 4], 5, 11)  # "[xxxx,xxxx]" is exactly 11 bytes
@example([500, 1, 1], 10, 100)
def test_every_item_appears_exactly_once_in_order(
    sizes: list[int], max_count: int, max_bytes: int
) -> None:
    """Batches then oversized cover every index once; both keep input order."""
    result = plan(sizes, max_count, max_bytes)
    placed = [i for batch in result.batches for i in batch]
    assert sorted(placed + list(result.oversized)) == list(range(len(sizes)))
    assert placed == sorted(placed)
    assert list(result.oversized) == sorted(result.oversized)


@settings(max_examples=300)
@given(sizes_lists, max_counts, max_bytes_values)
def test_every_batch_is_non_empty_and_within_both_limits(
    sizes: list[int], max_count: int, max_bytes: int
) -> None:
    """No batch is empty, has more than max_count items, or a body over max_bytes bytes."""
    for batch in plan(sizes, max_count, max_bytes).batches:
        assert batch
        assert fits(sizes, batch, max_count, max_bytes)
        assert array_size(sum(sizes[i] for i in batch), len(batch)) == len(body(sizes, batch))


@settings(max_examples=300)
@given(sizes_lists, max_counts, max_bytes_values)
def test_oversized_means_cannot_fit_alone(sizes: list[int], max_count: int, max_bytes: int) -> None:
    """An item is oversized exactly when its own one-item array exceeds max_bytes."""
    result = plan(sizes, max_count, max_bytes)
    for index, size in enumerate(sizes):
        alone_too_big = len(body(sizes, (index,))) > max_bytes
        assert (index in result.oversized) == alone_too_big, (index, size)


@settings(max_examples=300)
@given(sizes_lists, max_counts, max_bytes_values)
@example([4, 4, 4], 2, 100)
@example([4, 4, 4], 5, 11)
def test_batches_are_greedy(sizes: list[int], max_count: int, max_bytes: int) -> None:
    """Adding the next batch's first item to a batch would break a limit (else it'd be there)."""
    batches = plan(sizes, max_count, max_bytes).batches
    for current, following in pairwise(batches):
        assert not fits(sizes, (*current, following[0]), max_count, max_bytes)


@pytest.mark.parametrize(
    ("sizes", "max_count", "max_bytes", "batches", "oversized"),
    [
        ([], 3, 100, (), ()),
        ([10, 10, 10], 2, 1000, ((0, 1), (2,)), ()),
        ([4, 4], 5, 11, ((0, 1),), ()),  # [xxxx,xxxx] is 11 bytes
        ([4, 4], 5, 10, ((0,), (1,)), ()),
        ([8], 5, 10, ((0,),), ()),  # [8 bytes] = 10
        ([9], 5, 10, (), (0,)),  # [9 bytes] = 11
        ([3, 50, 3, 3], 10, 20, ((0, 2, 3),), (1,)),  # [aaa,bbb,ccc] = 13
    ],
)
def test_known_plans(
    sizes: list[int],
    max_count: int,
    max_bytes: int,
    batches: tuple[tuple[int, ...], ...],
    oversized: tuple[int, ...],
) -> None:
    """Hand-computed plans at the byte and count boundaries."""
    assert plan(sizes, max_count, max_bytes) == BatchPlan(batches=batches, oversized=oversized)


def test_invalid_limits_are_refused() -> None:
    """max_count < 1 or max_bytes < 2 (not even an empty array) is a ValueError."""
    with pytest.raises(ValueError, match="max_count"):
        plan([1], 0, 100)
    with pytest.raises(ValueError, match="max_bytes"):
        plan([1], 1, 1)
