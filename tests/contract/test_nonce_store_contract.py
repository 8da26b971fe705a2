"""The NonceStore contract, run against every implementation: in memory, and the SQLite
file (which also keeps its nonces across a reopening, and shares them between two stores
on one file, as two processes would)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vectorvue_client.adapters.nonce_memory import MemoryNonceStore
from vectorvue_client.adapters.nonce_sqlite import SqliteNonceStore
from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.ports import NonceStore

NOW = 1_795_564_800.0

type Opener = Callable[[], NonceStore]


@pytest.fixture(params=["memory", "sqlite"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    opened: list[NonceStore] = []
    memory = MemoryNonceStore()

    def open_store() -> NonceStore:
        store: NonceStore = (
            memory if request.param == "memory" else SqliteNonceStore(str(tmp_path / "n.db"))
        )
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        store.close()


def test_a_new_nonce_is_not_seen_and_is_remembered_once(opener: Opener) -> None:
    store = opener()
    assert not store.seen("n-1", NOW)
    assert store.remember("n-1", NOW, NOW + 300)
    assert store.seen("n-1", NOW + 300)
    assert not store.remember("n-1", NOW + 1, NOW + 301)
    assert not store.seen("n-2", NOW)


def test_a_nonce_is_forgotten_once_expired(opener: Opener) -> None:
    store = opener()
    assert store.remember("n-1", NOW, NOW + 300)
    assert not store.seen("n-1", NOW + 300.5)
    assert store.remember("n-1", NOW + 301, NOW + 601)
    assert store.seen("n-1", NOW + 500)


def test_of_two_threads_remembering_one_nonce_one_wins(opener: Opener) -> None:
    stores = [opener(), opener()]  # the SQLite file opened twice: two processes alike
    start = threading.Barrier(2)
    won: list[bool] = []

    def run(store: NonceStore) -> None:
        start.wait(timeout=10)
        won.append(store.remember("n-race", NOW, NOW + 300))

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(won) == [False, True]


def test_the_sqlite_store_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "nonces.sqlite3")
    first = SqliteNonceStore(path)
    assert first.remember("n-1", NOW, NOW + 300)
    first.close()
    again = SqliteNonceStore(path)
    try:
        assert again.seen("n-1", NOW + 10)
        assert not again.remember("n-1", NOW + 10, NOW + 310)
    finally:
        again.close()


def test_an_unusable_file_is_a_config_error_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(VectorVueConfigError) as caught:
        SqliteNonceStore(str(tmp_path / "missing-dir" / "n.db"))
    assert caught.value.field == "feedback_nonce_file"
