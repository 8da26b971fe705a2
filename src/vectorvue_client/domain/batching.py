"""Chunking a batch by item count AND by encoded bytes.

Works on the sizes of already-encoded items, so nothing is encoded twice: the client
encodes each item once, plans, then joins the same bytes into each batch body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vectorvue_client.domain.encoding import array_size


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """Which items go in which request, in input order; `oversized` items fit in no
    request at all (each is larger than the byte limit on its own)."""

    batches: tuple[tuple[int, ...], ...]
    oversized: tuple[int, ...]


def plan_batches(sizes: Sequence[int], *, max_count: int, max_bytes: int) -> BatchPlan:
    """Greedy, order-keeping chunks of at most `max_count` items whose JSON array body
    (brackets and commas included) is at most `max_bytes` bytes."""
    if max_count < 1:
        raise ValueError("max_count must be >= 1")
    if max_bytes < 2:
        raise ValueError("max_bytes must hold at least an empty array")
    count = len(sizes)
    if 0 < count <= max_count and array_size(sum(sizes), count) <= max_bytes:
        # All in one request (the common case), which the loop below would also find: no
        # item is oversized, since none is larger than the whole.
        return BatchPlan(batches=(tuple(range(count)),), oversized=())
    batches: list[tuple[int, ...]] = []
    oversized: list[int] = []
    current: list[int] = []
    current_total = 0
    for index, size in enumerate(sizes):
        if array_size(size, 1) > max_bytes:
            oversized.append(index)
            continue
        fits_count = len(current) < max_count
        fits_bytes = array_size(current_total + size, len(current) + 1) <= max_bytes
        if current and not (fits_count and fits_bytes):
            batches.append(tuple(current))
            current, current_total = [], 0
        current.append(index)
        current_total += size
    if current:
        batches.append(tuple(current))
    return BatchPlan(batches=tuple(batches), oversized=tuple(oversized))
