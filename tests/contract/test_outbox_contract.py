"""The Outbox contract, run against SqliteOutbox and the MemoryOutbox fake alike, so the
fake cannot drift from the adapter: dedupe by key across every state, FIFO claims of due
items, the transitions and their attempt counts, dead letters, stats, purges, what a crash
leaves, threads, and a state machine checking that no key is ever lost or duplicated.

"Crash" for the fake is MemoryOutbox.crash(). For SQLite it is a copy of the database and
its WAL, taken between two calls, opened as a new outbox: exactly the bytes a kill -9 or a
power cut at that moment would leave (synchronous=full), and, as the -shm file is not
copied, SQLite must rebuild its WAL index from the log as after a real crash. (The same
path reopened after a real kill -9 is tests/integration/test_outbox_sqlite.py.)
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from vectorvue_client.adapters.outbox_sqlite import SqliteOutbox
from vectorvue_client.domain.errors import VectorVueOutboxError
from vectorvue_client.domain.outbox import (
    Batch,
    Burial,
    Claimed,
    ClaimedBatch,
    ItemKind,
    OutboxRecord,
    OutboxStats,
    Reschedule,
)
from vectorvue_client.ports import Outbox
from vectorvue_client.testing.outbox_memory import MemoryOutbox

T0 = 1_795_564_800.0


def rec(name: str, body: bytes | None = None, kind: ItemKind = ItemKind.FINDING) -> OutboxRecord:
    """A record keyed "<kind>:<name>", its body derived from the name unless given."""
    return OutboxRecord(f"{kind.value}:{name}", kind, body or f"body of {name}".encode())


def key(name: str) -> str:
    return f"finding:{name}"


def keys_of(claimed: list[Claimed]) -> list[str]:
    return [c.key for c in claimed]


class Subject:
    """An outbox under test, and a way to make it crash (see the module docstring)."""

    def __init__(self, kind: Literal["memory", "sqlite"], directory: Path) -> None:
        self.kind = kind
        self._directory = directory
        self._crashes = 0
        self._memory: MemoryOutbox | None = None
        self.outbox: Outbox = self._open_first()

    def _open_first(self) -> Outbox:
        if self.kind == "memory":
            self._memory = MemoryOutbox()
            return self._memory  # mypy: the fake fits the Outbox port
        self._path = self._directory / "outbox.db"
        return _sqlite(self._path)

    def crash(self) -> None:
        """Replace the outbox by what survives a crash of its process at this moment."""
        if self._memory is not None:
            self._memory = self._memory.crash()
            self.outbox = self._memory
            return
        self._crashes += 1
        copy = self._directory / f"after-crash-{self._crashes}" / "outbox.db"
        copy.parent.mkdir()
        for suffix in ("", "-wal"):
            source = Path(f"{self._path}{suffix}")
            if source.exists():
                shutil.copyfile(source, f"{copy}{suffix}")
        self.outbox.close()
        self._path = copy
        self.outbox = _sqlite(copy)

    def close(self) -> None:
        self.outbox.close()


def _sqlite(path: Path) -> Outbox:
    outbox: Outbox = SqliteOutbox(str(path))  # mypy: the adapter fits the Outbox port
    return outbox


@pytest.fixture(params=["memory", "sqlite"])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    subject = Subject(request.param, tmp_path)
    yield subject
    subject.close()


@pytest.fixture
def outbox(subject: Subject) -> Outbox:
    return subject.outbox


def counts(outbox: Outbox, now: float = T0) -> tuple[int, int, int, int]:
    s = outbox.stats(now)
    return (s.pending, s.in_flight, s.delivered, s.dead)


def test_put_stores_each_key_once_and_says_how_many_were_new(outbox: Outbox) -> None:
    """The same content enqueued twice (or twice in one batch) is stored once."""
    assert outbox.put([rec("a"), rec("b"), rec("c")], T0) == 3
    assert outbox.put([rec("a"), rec("b"), rec("c")], T0 + 1) == 0
    assert outbox.put([rec("c"), rec("d"), rec("d"), rec("e")], T0 + 2) == 2
    assert outbox.put([], T0 + 3) == 0
    assert counts(outbox) == (5, 0, 0, 0)


def test_a_key_present_in_any_state_is_left_as_it_is(outbox: Outbox) -> None:
    """Putting again a key that is pending, in flight, delivered or dead changes nothing:
    not its state, not its body, not its attempts, not its place in the queue."""
    outbox.put([rec(n) for n in ("flying", "done", "dead", "waiting")], T0)
    assert keys_of(outbox.claim(3, T0)) == [key("flying"), key("done"), key("dead")]
    outbox.delivered([key("done")], T0)
    outbox.bury([Burial(key("dead"), "refused", 422)], T0)
    again = [rec(n, body=b"other content") for n in ("flying", "done", "dead", "waiting")]
    assert outbox.put(again, T0 + 5) == 0
    assert counts(outbox) == (1, 1, 1, 1)
    [letter] = outbox.dead_letters()
    assert (letter.body, letter.attempts) == (b"body of dead", 1)
    outbox.release([key("flying")])
    claimed = outbox.claim(10, T0 + 5)
    assert [(c.key, c.body, c.enqueued_at) for c in claimed] == [
        (key("flying"), b"body of flying", T0),
        (key("waiting"), b"body of waiting", T0),
    ]


def test_claim_takes_due_items_oldest_first_up_to_the_limit(outbox: Outbox) -> None:
    """FIFO by put order across batches; only items due by `now`; never more than
    `limit`; claimed items are not claimed again."""
    outbox.put([rec("1"), rec("2"), rec("3")], T0)
    outbox.put([rec("4"), rec("5")], T0 + 10)
    assert outbox.claim(10, T0 - 1) == []
    assert keys_of(outbox.claim(2, T0)) == [key("1"), key("2")]
    assert keys_of(outbox.claim(10, T0)) == [key("3")]
    assert keys_of(outbox.claim(10, T0 + 10)) == [key("4"), key("5")]
    assert outbox.claim(10, T0 + 99) == []
    assert counts(outbox) == (0, 5, 0, 0)
    with pytest.raises(ValueError, match="limit"):
        outbox.claim(0, T0)


def test_claim_orders_by_queue_place_not_by_due_time(outbox: Outbox) -> None:
    """A retried item keeps its place: once due, it goes before anything put after it,
    even items that became due earlier."""
    outbox.put([rec("a"), rec("b")], T0)
    outbox.claim(2, T0)
    outbox.reschedule(
        [Reschedule(key("a"), T0 + 30, "503"), Reschedule(key("b"), T0 + 20, "503")], T0
    )
    outbox.put([rec("c")], T0 + 10)
    assert keys_of(outbox.claim(10, T0 + 25)) == [key("b"), key("c")]
    assert keys_of(outbox.claim(10, T0 + 30)) == [key("a")]


def test_a_claimed_item_carries_its_record_attempts_and_enqueue_time(outbox: Outbox) -> None:
    event = rec("e1", kind=ItemKind.EVENT)
    outbox.put([event, rec("f1")], T0)
    first = outbox.claim(2, T0 + 1)
    assert first == [
        Claimed(event.key, ItemKind.EVENT, event.body, 0, T0),
        Claimed(key("f1"), ItemKind.FINDING, b"body of f1", 0, T0),
    ]
    outbox.reschedule([Reschedule(event.key, T0 + 2, "timeout")], T0 + 1)
    assert outbox.claim(1, T0 + 2) == [Claimed(event.key, ItemKind.EVENT, event.body, 1, T0)]


def test_delivered_applies_to_items_in_flight_only(outbox: Outbox) -> None:
    """delivered() moves in-flight items out of the queue for good; a key that is pending,
    unknown or already delivered is left as it is."""
    outbox.put([rec("a"), rec("b"), rec("c")], T0)
    outbox.claim(2, T0)
    outbox.delivered([key("a"), key("c"), key("nope")], T0 + 1)
    outbox.delivered([key("a")], T0 + 2)
    assert counts(outbox) == (1, 1, 1, 0)
    assert keys_of(outbox.claim(10, T0 + 3)) == [key("c")]
    outbox.delivered([key("b"), key("c")], T0 + 4)
    assert counts(outbox) == (0, 0, 3, 0)
    assert outbox.claim(10, T0 + 99) == []


def test_reschedule_counts_the_attempt_and_waits_for_the_time(outbox: Outbox) -> None:
    outbox.put([rec("a")], T0)
    for attempt in range(1, 4):
        [item] = outbox.claim(1, T0 + 100 * attempt)
        assert item.attempts == attempt - 1
        outbox.reschedule([Reschedule(key("a"), T0 + 100 * (attempt + 1), "503")], T0)
        assert outbox.next_due() == T0 + 100 * (attempt + 1)
        assert outbox.claim(1, T0 + 100 * (attempt + 1) - 0.5) == []
    outbox.reschedule([Reschedule(key("a"), T0, "not in flight: ignored")], T0)
    assert outbox.next_due() == T0 + 400
    assert counts(outbox) == (1, 0, 0, 0)


def test_bury_counts_the_attempt_and_keeps_the_reason(outbox: Outbox) -> None:
    """Dead letters keep the item's body, kind, attempts (this one included), reason,
    status and times, oldest burial first; keys not in flight are left alone; a key named
    twice is buried once, with its first reason."""
    outbox.put([rec("a"), rec("b"), rec("c", kind=ItemKind.EVENT)], T0)
    outbox.claim(3, T0)
    outbox.reschedule([Reschedule(key("a"), T0, "503")], T0 + 1)
    outbox.claim(1, T0 + 2)
    outbox.bury([Burial(key("a"), "HTTP 422: bad cvss", 422)], T0 + 3)
    again = Burial("event:c", "second")
    outbox.bury([Burial("event:c", "refused locally"), Burial(key("b"), "b"), again], T0 + 4)
    outbox.bury([Burial(key("a"), "already dead"), Burial(key("nope"), "unknown")], T0 + 5)
    letters = outbox.dead_letters()
    assert [(d.key, d.kind, d.body, d.attempts) for d in letters] == [
        (key("a"), ItemKind.FINDING, b"body of a", 2),
        ("event:c", ItemKind.EVENT, b"body of c", 1),
        (key("b"), ItemKind.FINDING, b"body of b", 1),
    ]
    assert [(d.reason, d.status_code, d.enqueued_at, d.died_at) for d in letters] == [
        ("HTTP 422: bad cvss", 422, T0, T0 + 3),
        ("refused locally", None, T0, T0 + 4),
        ("b", None, T0, T0 + 4),
    ]
    assert outbox.dead_letters(limit=2) == letters[:2]
    assert counts(outbox) == (0, 0, 0, 3)
    with pytest.raises(ValueError, match="limit"):
        outbox.dead_letters(limit=0)


def test_release_puts_items_back_as_they_were(outbox: Outbox) -> None:
    """No attempt counted, due as before, back at their place in the queue."""
    outbox.put([rec("a"), rec("b"), rec("c")], T0)
    outbox.claim(2, T0)
    outbox.release([key("b"), key("a"), key("a"), key("c")])
    assert counts(outbox) == (3, 0, 0, 0)
    claimed = outbox.claim(10, T0)
    assert [(c.key, c.attempts) for c in claimed] == [(key(n), 0) for n in "abc"]


def test_next_due_is_the_earliest_pending_due_time(outbox: Outbox) -> None:
    assert outbox.next_due() is None
    outbox.put([rec("a"), rec("b")], T0)
    assert outbox.next_due() == T0
    outbox.claim(2, T0)
    assert outbox.next_due() is None  # items in flight are not due
    outbox.reschedule([Reschedule(key("a"), T0 + 50, "e"), Reschedule(key("b"), T0 + 20, "e")], T0)
    assert outbox.next_due() == T0 + 20


def test_stats_count_each_state_and_age_the_oldest_pending_item(outbox: Outbox) -> None:
    assert outbox.stats(T0) == OutboxStats(0, 0, 0, 0, None)
    outbox.put([rec("a"), rec("b")], T0 + 10)
    outbox.put([rec("c"), rec("d")], T0)  # the clock went back: c is the oldest
    outbox.put([rec("e")], T0 + 20)
    assert outbox.stats(T0 + 100) == OutboxStats(5, 0, 0, 0, 100.0)
    outbox.claim(4, T0 + 100)
    outbox.delivered([key("a")], T0 + 100)
    outbox.bury([Burial(key("b"), "no")], T0 + 100)
    assert outbox.stats(T0 + 100) == OutboxStats(1, 2, 1, 1, 80.0)
    assert outbox.stats(T0).oldest_pending_age_seconds == 0.0  # never negative
    outbox.claim(1, T0 + 100)
    assert outbox.stats(T0 + 100).oldest_pending_age_seconds is None


def test_retry_dead_puts_letters_back_in_their_place(outbox: Outbox) -> None:
    """By key (unknown keys ignored, a key named twice moved once) or all: pending again,
    due now, attempts kept, at their old place in the queue."""
    outbox.put([rec(n) for n in "abcd"], T0)
    outbox.claim(3, T0)
    outbox.bury([Burial(key(n), "422") for n in "abc"], T0 + 1)
    assert outbox.retry_dead([key("b"), key("b"), key("zz")], T0 + 50) == 1
    assert counts(outbox) == (2, 0, 0, 2)
    assert outbox.next_due() == T0  # d has been due since T0; b since T0 + 50
    assert [(c.key, c.attempts) for c in outbox.claim(10, T0 + 50)] == [
        (key("b"), 1),
        (key("d"), 0),
    ]
    assert outbox.retry_dead(None, T0 + 60) == 2
    assert outbox.dead_letters() == []
    assert outbox.next_due() == T0 + 60
    assert outbox.claim(10, T0 + 59) == []
    assert [(c.key, c.attempts) for c in outbox.claim(10, T0 + 60)] == [
        (key("a"), 1),
        (key("c"), 1),
    ]
    assert outbox.retry_dead(None, T0 + 70) == 0


def test_purge_forgets_delivered_items_older_than_the_cutoff(outbox: Outbox) -> None:
    """Only delivered items marked strictly before the cutoff; a purged key is new again."""
    outbox.put([rec(n) for n in "abcd"], T0)
    outbox.claim(3, T0)
    outbox.delivered([key("a")], T0 + 10)
    outbox.delivered([key("b")], T0 + 20)
    assert outbox.purge_delivered(T0 + 10) == 0
    assert outbox.purge_delivered(T0 + 20) == 1
    assert counts(outbox) == (1, 1, 1, 0)
    assert outbox.put([rec("a"), rec("b")], T0 + 30) == 1
    assert outbox.purge_delivered(T0 + 1000) == 1
    assert counts(outbox) == (2, 1, 0, 0)


def test_a_crash_leaves_every_item_and_puts_the_in_flight_ones_back(subject: Subject) -> None:
    """After a crash: in-flight items are pending again with their attempts, in their
    place; pending (with their due times), delivered and dead items are as they were."""
    outbox = subject.outbox
    outbox.put([rec(n) for n in "abcdef"], T0)
    outbox.claim(5, T0)
    outbox.reschedule([Reschedule(key("a"), T0 + 40, "503")], T0)
    outbox.delivered([key("b")], T0)
    outbox.bury([Burial(key("c"), "422", 422)], T0)
    outbox.claim(1, T0 + 40)  # a again, its second attempt
    subject.crash()
    outbox = subject.outbox
    assert counts(outbox) == (4, 0, 1, 1)
    assert [(d.key, d.attempts) for d in outbox.dead_letters()] == [(key("c"), 1)]
    assert [(c.key, c.attempts) for c in outbox.claim(10, T0 + 40)] == [
        (key("a"), 1),
        (key("d"), 0),
        (key("e"), 0),
        (key("f"), 0),
    ]
    subject.crash()
    assert counts(subject.outbox) == (4, 0, 1, 1)


def test_a_closed_outbox_refuses_every_call(outbox: Outbox) -> None:
    outbox.put([rec("a")], T0)
    outbox.close()
    outbox.close()
    with pytest.raises(VectorVueOutboxError, match="closed"):
        outbox.put([rec("b")], T0)
    with pytest.raises(VectorVueOutboxError, match="closed"):
        outbox.claim(1, T0)
    with pytest.raises(VectorVueOutboxError, match="closed"):
        outbox.stats(T0)


def test_put_and_claim_from_different_threads(outbox: Outbox) -> None:
    """A producer puts while a consumer claims and delivers: every item is claimed exactly
    once and ends delivered."""
    names = [f"{batch}-{i}" for batch in range(40) for i in range(50)]
    claimed: list[str] = []
    done = threading.Event()

    def produce() -> None:
        for batch in range(40):
            outbox.put([rec(n) for n in names[batch * 50 : (batch + 1) * 50]], T0)
        done.set()

    def consume() -> None:
        while True:
            finished = done.is_set()
            items = outbox.claim(37, T0)
            claimed.extend(keys_of(items))
            outbox.delivered(keys_of(items), T0)
            if finished and not items:
                return

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert claimed == [key(n) for n in names]
    assert counts(outbox) == (0, 0, len(names), 0)


# -- sealed batches --------------------------------------------------------------------------


def _sealed(outbox: Outbox, names: str, batch: str = "key-1") -> Batch:
    """Claim the named items and seal them, in that order, as one batch."""
    claimed = keys_of(outbox.claim(len(names), T0))
    assert claimed == [key(n) for n in names]
    sealed = Batch(batch, "/batch", f"[{names}]".encode(), tuple(claimed))
    outbox.seal([sealed], T0)
    return sealed


def test_a_sealed_batch_is_claimed_whole_as_the_same_bytes_under_the_same_key(
    outbox: Outbox,
) -> None:
    """Once sealed, items are never claimed on their own: the batch comes back whole, in
    body order, with its bytes and key, after every reschedule, until an item's fate is
    settled; each attempt counts for the batch and for each of its items."""
    outbox.put([rec(n) for n in "abcd"], T0)
    sealed = _sealed(outbox, "abc")
    assert counts(outbox) == (1, 3, 0, 0)
    assert keys_of(outbox.claim(10, T0)) == [key("d")]
    assert outbox.claim_batches(5, T0) == []  # in flight already
    outbox.reschedule_batches([Reschedule("key-1", T0 + 30, "timeout")], T0)
    assert counts(outbox) == (3, 1, 0, 0)
    assert outbox.next_due() == T0 + 30
    assert outbox.claim_batches(5, T0 + 29) == []
    again = outbox.claim_batches(5, T0 + 30)
    assert again == [
        ClaimedBatch(
            "key-1",
            "/batch",
            sealed.body,
            1,
            tuple(Claimed(key(n), ItemKind.FINDING, f"body of {n}".encode(), 1, T0) for n in "abc"),
        )
    ]
    outbox.release_batches(["key-1"])
    assert [b.attempts for b in outbox.claim_batches(5, T0 + 30)] == [1]


def test_settling_an_item_dissolves_its_batch(outbox: Outbox) -> None:
    """An item's fate is settled once VectorVue's answer is known: the batch is gone, its
    other items in flight on their own, each settled in turn; an unanswered item is
    claimable again on its own."""
    outbox.put([rec(n) for n in "abc"], T0)
    _sealed(outbox, "abc")
    outbox.delivered([key("a")], T0)
    outbox.bury([Burial(key("b"), "failed: bad", None)], T0)
    assert counts(outbox) == (0, 1, 1, 1)
    outbox.reschedule([Reschedule(key("c"), T0, "no result")], T0)
    assert outbox.claim_batches(5, T0 + 100) == []
    assert [(c.key, c.attempts) for c in outbox.claim(5, T0)] == [(key("c"), 1)]
    outbox.release([key("c")])
    outbox.recover()
    assert outbox.claim_batches(5, T0 + 100) == []


def test_only_items_claimed_on_their_own_can_be_sealed(outbox: Outbox) -> None:
    """A pending item, an item already in a batch, or an unknown key: the seal is refused
    whole and changes nothing."""
    outbox.put([rec(n) for n in "abc"], T0)
    _sealed(outbox, "a")
    outbox.claim(1, T0)  # b
    for items in ((key("b"), key("c")), (key("b"), key("a")), (key("b"), key("zz")), ()):
        with pytest.raises((ValueError, VectorVueOutboxError)):
            outbox.seal([Batch("key-2", "/batch", b"[]", items)], T0)
    with pytest.raises((ValueError, VectorVueOutboxError)):
        outbox.seal([Batch("key-1", "/batch", b"[]", (key("b"),))], T0)
    outbox.recover()
    assert [c.key for c in outbox.claim(5, T0)] == [key("b"), key("c")]


def test_a_crash_keeps_a_sealed_batch_whole(subject: Subject) -> None:
    """A batch in flight when its process dies is pending again after the restart, still
    sealed: the same bytes and key, its items with their attempts."""
    subject.outbox.put([rec(n) for n in "abcd"], T0)
    sealed = _sealed(subject.outbox, "ab", batch="key-9")
    subject.outbox.claim(1, T0)  # c, on its own
    subject.crash()
    outbox = subject.outbox
    assert counts(outbox) == (4, 0, 0, 0)
    assert keys_of(outbox.claim(10, T0)) == [key("c"), key("d")]
    [batch] = outbox.claim_batches(5, T0)
    assert (batch.key, batch.body, keys_of(list(batch.items))) == (
        "key-9",
        sealed.body,
        [key("a"), key("b")],
    )


def test_recover_puts_what_is_in_flight_back_and_counts_it(outbox: Outbox) -> None:
    outbox.put([rec(n) for n in "abcde"], T0)
    _sealed(outbox, "ab")
    outbox.claim(2, T0)
    assert counts(outbox) == (1, 4, 0, 0)
    assert outbox.recover() == 4
    assert counts(outbox) == (5, 0, 0, 0)
    assert outbox.recover() == 0


# -- the state machine -----------------------------------------------------------------------

NAMES = tuple("abcdefghijkl")


@dataclass
class Modelled:
    """What the model knows of one key. `state` is its own while it is in no batch; in a
    batch, the batch's state is its state."""

    seq: int
    body: bytes
    state: Literal["pending", "in_flight", "delivered", "dead"]
    attempts: int
    due: float
    enqueued: float
    delivered_at: float | None = None
    death: tuple[int, str, float] | None = None  # burial number, reason, when
    batch: str | None = None


@dataclass
class ModelledBatch:
    seq: int
    items: tuple[str, ...]
    body: bytes
    state: Literal["pending", "in_flight"]
    attempts: int
    due: float


@dataclass
class Model:
    """The contract, written as plainly as possible."""

    items: dict[str, Modelled] = field(default_factory=dict)
    batches: dict[str, ModelledBatch] = field(default_factory=dict)
    next_seq: int = 0
    next_batch: int = 0
    burials: int = 0

    def state_of(self, k: str) -> str:
        m = self.items[k]
        return m.state if m.batch is None else self.batches[m.batch].state

    def in_state(self, state: str) -> list[str]:
        return [k for k in self.items if self.state_of(k) == state]

    def free_in_flight(self) -> list[str]:
        return [k for k, m in self.items.items() if m.batch is None and m.state == "in_flight"]

    def settle(self, k: str) -> None:
        """`k`'s fate is known, so is its request's: its batch is gone, and every item of
        it is in flight on its own."""
        batch = self.items[k].batch
        if batch is not None:
            for name in self.batches.pop(batch).items:
                self.items[name].batch, self.items[name].state = None, "in_flight"


class OutboxMachine(RuleBasedStateMachine):
    """Random sequences of every operation (and crashes) against the model: after each step
    the outbox's stats, next due time and dead letters agree with it, every claim returns
    exactly the model's FIFO choice, and at the end every key is in exactly one state."""

    kind: Literal["memory", "sqlite"] = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="outbox-machine-"))
        self.subject = Subject(self.kind, self.directory)
        self.model = Model()
        self.now = T0
        self.puts = 0

    @rule(names=st.lists(st.sampled_from(NAMES), max_size=8))
    def put(self, names: list[str]) -> None:
        self.puts += 1
        records = [rec(n, body=f"{n} #{self.puts}".encode()) for n in names]
        expected = 0
        for record in records:
            if record.key not in self.model.items:
                self.model.items[record.key] = Modelled(
                    self.model.next_seq, record.body, "pending", 0, self.now, self.now
                )
                self.model.next_seq += 1
                expected += 1
        assert self.subject.outbox.put(records, self.now) == expected

    @rule(seconds=st.sampled_from([0.0, 1.0, 5.0, 30.0]))
    def tick(self, seconds: float) -> None:
        self.now += seconds

    @rule(limit=st.integers(1, 6))
    def claim(self, limit: int) -> None:
        due = [
            (m.seq, k)
            for k, m in self.model.items.items()
            if m.batch is None and m.state == "pending" and m.due <= self.now
        ]
        chosen = [k for _, k in sorted(due)[:limit]]
        expected = []
        for k in chosen:
            m = self.model.items[k]
            m.state = "in_flight"
            expected.append(self._claimed(k))
        assert self.subject.outbox.claim(limit, self.now) == expected

    def _claimed(self, k: str) -> Claimed:
        m = self.model.items[k]
        return Claimed(k, ItemKind.FINDING, m.body, m.attempts, m.enqueued)

    @rule(data=st.data())
    def seal(self, data: st.DataObject) -> None:
        free = self.model.free_in_flight()
        if not free:
            return
        chosen = data.draw(st.lists(st.sampled_from(free), min_size=1, unique=True))
        name = f"batch-{self.model.next_batch}"
        body = f"[{','.join(chosen)}]".encode()
        self.model.batches[name] = ModelledBatch(
            self.model.next_batch, tuple(chosen), body, "in_flight", 0, self.now
        )
        self.model.next_batch += 1
        for k in chosen:
            self.model.items[k].batch = name
        self.subject.outbox.seal([Batch(name, "/batch", body, tuple(chosen))], self.now)

    @rule(limit=st.integers(1, 3))
    def claim_batches(self, limit: int) -> None:
        due = sorted(
            (b.seq, name)
            for name, b in self.model.batches.items()
            if b.state == "pending" and b.due <= self.now
        )[:limit]
        expected = []
        for _, name in due:
            b = self.model.batches[name]
            b.state = "in_flight"
            items = tuple(self._claimed(k) for k in b.items)
            expected.append(ClaimedBatch(name, "/batch", b.body, b.attempts, items))
        assert self.subject.outbox.claim_batches(limit, self.now) == expected

    def _some_batches(self, data: st.DataObject) -> list[str]:
        flying = [n for n, b in self.model.batches.items() if b.state == "in_flight"]
        anyone = st.sampled_from([f"batch-{n}" for n in range(self.model.next_batch + 1)])
        one = (st.sampled_from(flying) | anyone) if flying else anyone
        return data.draw(st.lists(one, max_size=3))

    @rule(data=st.data(), delay=st.sampled_from([0, 5, 60]))
    def reschedule_batches(self, data: st.DataObject, delay: float) -> None:
        names = self._some_batches(data)
        for name in dict.fromkeys(names):
            b = self.model.batches.get(name)
            if b is not None and b.state == "in_flight":
                b.state, b.attempts, b.due = "pending", b.attempts + 1, self.now + delay
                for k in b.items:
                    self.model.items[k].attempts += 1
        retries = [Reschedule(n, self.now + delay, "timeout") for n in names]
        self.subject.outbox.reschedule_batches(retries, self.now)

    @rule(data=st.data())
    def release_batches(self, data: st.DataObject) -> None:
        names = self._some_batches(data)
        for name in names:
            b = self.model.batches.get(name)
            if b is not None and b.state == "in_flight":
                b.state = "pending"
        self.subject.outbox.release_batches(names)

    def _some_keys(self, data: st.DataObject) -> list[str]:
        """Keys for a transition: half of them drawn from those in flight (where the
        transitions act), the others from every name; repeats allowed."""
        flying = self.model.in_state("in_flight")
        anyone = st.sampled_from([key(n) for n in NAMES])
        one = (st.sampled_from(flying) | anyone) if flying else anyone
        return data.draw(st.lists(one, max_size=5))

    def _flying(self, k: str) -> Modelled | None:
        m = self.model.items.get(k)
        return m if m is not None and self.model.state_of(k) == "in_flight" else None

    @rule(data=st.data())
    def delivered(self, data: st.DataObject) -> None:
        keys = self._some_keys(data)
        for k in keys:
            m = self._flying(k)
            if m is not None:
                self.model.settle(k)
                m.state, m.delivered_at = "delivered", self.now
        self.subject.outbox.delivered(keys, self.now)

    @rule(data=st.data(), delay=st.sampled_from([0, 5, 60]))
    def reschedule(self, data: st.DataObject, delay: float) -> None:
        keys = self._some_keys(data)
        for k in keys:
            m = self._flying(k)
            if m is not None:
                self.model.settle(k)
                m.state, m.attempts, m.due = "pending", m.attempts + 1, self.now + delay
        retries = [Reschedule(k, self.now + delay, "503") for k in keys]
        self.subject.outbox.reschedule(retries, self.now)

    @rule(data=st.data())
    def bury(self, data: st.DataObject) -> None:
        keys = self._some_keys(data)
        for i, k in enumerate(keys):
            m = self._flying(k)
            if m is not None:
                self.model.settle(k)
                m.state, m.attempts = "dead", m.attempts + 1
                m.death = (self.model.burials, f"reason {i}", self.now)
                self.model.burials += 1
        burials = [Burial(k, f"reason {i}", 422) for i, k in enumerate(keys)]
        self.subject.outbox.bury(burials, self.now)

    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        keys = self._some_keys(data)
        for k in keys:
            m = self._flying(k)
            if m is not None:
                self.model.settle(k)
                m.state = "pending"
        self.subject.outbox.release(keys)

    @rule(names=st.none() | st.lists(st.sampled_from(NAMES), max_size=3))
    def retry_dead(self, names: list[str] | None) -> None:
        chosen = self.model.in_state("dead") if names is None else [key(n) for n in names]
        moved = 0
        for k in dict.fromkeys(chosen):
            m = self.model.items.get(k)
            if m is not None and m.state == "dead":
                m.state, m.due, m.death = "pending", self.now, None
                moved += 1
        asked = None if names is None else [key(n) for n in names]
        assert self.subject.outbox.retry_dead(asked, self.now) == moved

    @rule(age=st.sampled_from([0.0, 10.0]))
    def purge(self, age: float) -> None:
        old = [
            k
            for k, m in self.model.items.items()
            if m.delivered_at is not None
            and m.state == "delivered"
            and m.delivered_at < self.now - age
        ]
        for k in old:
            del self.model.items[k]
        assert self.subject.outbox.purge_delivered(self.now - age) == len(old)

    def _recover_model(self) -> int:
        moved = len(self.model.in_state("in_flight"))
        for k in self.model.free_in_flight():
            self.model.items[k].state = "pending"
        for b in self.model.batches.values():
            b.state = "pending"
        return moved

    @rule()
    def recover(self) -> None:
        expected = self._recover_model()
        assert self.subject.outbox.recover() == expected

    @rule()
    def crash(self) -> None:
        self._recover_model()
        self.subject.crash()

    @invariant()
    def agrees_with_the_model(self) -> None:
        outbox, model = self.subject.outbox, self.model
        pending = [model.items[k] for k in model.in_state("pending")]
        oldest = min((m.enqueued for m in pending), default=None)
        assert outbox.stats(self.now) == OutboxStats(
            pending=len(pending),
            in_flight=len(model.in_state("in_flight")),
            delivered=len(model.in_state("delivered")),
            dead=len(model.in_state("dead")),
            oldest_pending_age_seconds=None if oldest is None else self.now - oldest,
        )
        dues = [m.due for m in pending if m.batch is None]
        dues += [b.due for b in model.batches.values() if b.state == "pending"]
        assert outbox.next_due() == min(dues, default=None)
        dead = sorted((m.death, k) for k, m in model.items.items() if m.death is not None)
        letters = outbox.dead_letters(limit=100)
        assert [(d.key, d.body, d.attempts, d.reason, d.died_at) for d in letters] == [
            (k, model.items[k].body, model.items[k].attempts, death[1], death[2])
            for death, k in dead
        ]

    def teardown(self) -> None:
        try:
            # Every key the model holds is in exactly one place: drain them all.
            outbox = self.subject.outbox
            outbox.recover()
            for batch in outbox.claim_batches(100, float("inf")):
                outbox.release([c.key for c in batch.items])
            outbox.retry_dead(None, self.now)
            drained = keys_of(outbox.claim(100, float("inf")))
            waiting = self.model.in_state("pending") + self.model.in_state("in_flight")
            waiting += self.model.in_state("dead")
            assert sorted(drained) == sorted(waiting)
            assert len(drained) == len(set(drained))
            assert outbox.claim_batches(100, float("inf")) == []
        finally:
            self.subject.close()
            shutil.rmtree(self.directory, ignore_errors=True)


class SqliteOutboxMachine(OutboxMachine):
    kind = "sqlite"


TestMemoryOutboxStateMachine = OutboxMachine.TestCase
TestMemoryOutboxStateMachine.settings = settings(max_examples=200, stateful_step_count=40)
TestSqliteOutboxStateMachine = SqliteOutboxMachine.TestCase
TestSqliteOutboxStateMachine.settings = settings(max_examples=150, stateful_step_count=40)
