"""NonceStore in a small SQLite file: the nonces of accepted feedback answers survive a
restart, and processes on one host that share the file share them (setting
`feedback_nonce_file`). A nonce is kept until its answer would be stale anyway (signed_at
plus the freshness window), then deleted."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Final

from vectorvue_client.domain.errors import VectorVueConfigError, VectorVueError

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS feedback_nonces (nonce TEXT PRIMARY KEY, expires_at REAL NOT NULL)"
)
_FIELD: Final = "feedback_nonce_file"


class SqliteNonceStore:
    """Nonces in the file at `path` (created if missing). Check-and-remember is one
    BEGIN IMMEDIATE transaction: atomic across threads and processes."""

    def __init__(self, path: str, *, busy_timeout_seconds: float = 5.0) -> None:
        self._path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                path,
                timeout=busy_timeout_seconds,
                isolation_level=None,  # no implicit transactions: every BEGIN is ours
                check_same_thread=False,  # the lock serializes this process's threads
            )
            self._db.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise VectorVueConfigError(_FIELD, f"cannot use {path}: {exc}") from None

    def seen(self, nonce: str, now: float) -> bool:
        """True when `nonce` is remembered and has not expired by `now`."""
        with self._lock:
            row = self._run(
                lambda: self._db.execute(
                    "SELECT 1 FROM feedback_nonces WHERE nonce = ? AND expires_at >= ?",
                    (nonce, now),
                ).fetchone()
            )
        return row is not None

    def remember(self, nonce: str, now: float, expires_at: float) -> bool:
        """Remember `nonce` until `expires_at`; False when it already is (not expired)."""

        def run() -> bool:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM feedback_nonces WHERE expires_at < ?", (now,))
                added = self._db.execute(
                    "INSERT OR IGNORE INTO feedback_nonces (nonce, expires_at) VALUES (?, ?)",
                    (nonce, expires_at),
                ).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return added == 1

        with self._lock:
            return self._run(run)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def _run[R](self, work: Callable[[], R]) -> R:
        try:
            return work()
        except sqlite3.Error as exc:
            raise VectorVueError(f"feedback nonce file {self._path}: {exc}") from None
