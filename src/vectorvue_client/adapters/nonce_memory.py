"""NonceStore in memory: the nonces of accepted feedback answers, for this process only
(a restart forgets them: within the freshness window a captured answer could then be
replayed once; `feedback_nonce_file` keeps them on disk)."""

from __future__ import annotations

import threading


class MemoryNonceStore:
    """Nonces with their expiry, under one lock (check-and-remember is atomic)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def seen(self, nonce: str, now: float) -> bool:
        """True when `nonce` is remembered and has not expired by `now`."""
        with self._lock:
            until = self._until.get(nonce)
            return until is not None and until >= now

    def remember(self, nonce: str, now: float, expires_at: float) -> bool:
        """Remember `nonce` until `expires_at`; False when it already is (not expired)."""
        with self._lock:
            # Expired nonces are forgotten here: at most one window of answers is kept.
            for old in [n for n, until in self._until.items() if until < now]:
                del self._until[old]
            if nonce in self._until:
                return False
            self._until[nonce] = expires_at
            return True

    def close(self) -> None:
        """Nothing to release."""
