"""CredentialSource that keeps another source's credential for a time to live."""

from __future__ import annotations

import math
import threading

from vectorvue_client.domain.redaction import Secret
from vectorvue_client.ports import Clock, CredentialSource


class CachedCredentialSource:
    """Serves the credential `source` gave until `ttl_seconds` have passed on
    `clock.monotonic()` since it was fetched, then fetches again.

    When a refresh fails the error propagates and nothing is served: a stale credential
    is never served past its TTL. The TTL is the operator's bound on how long a revoked
    or rotated credential may stay in use; serving past it on a failed refresh would
    also hide a broken secret store until the credential itself stopped working, far
    from the cause. Deliveries that fail on it are retried or kept in the outbox.
    """

    def __init__(self, source: CredentialSource, *, ttl_seconds: float, clock: Clock) -> None:
        if not (math.isfinite(ttl_seconds) and ttl_seconds > 0):
            raise ValueError("ttl_seconds must be a positive number of seconds")
        self._source = source
        self._ttl = ttl_seconds
        self._clock = clock
        # Held during a fetch, so that many threads finding the cache expired make one
        # fetch (one Vault round trip), not one each.
        self._lock = threading.Lock()
        self._value: Secret | None = None
        self._expires_at = 0.0

    def get(self) -> Secret:
        """The cached credential while fresh; else a new one from the source (its
        VectorVueConfigError propagates, and the cache stays empty)."""
        with self._lock:
            # The TTL runs from the start of the fetch: the credential is at least that old.
            now = self._clock.monotonic()
            if self._value is not None and now < self._expires_at:
                return self._value
            self._value = None
            value = self._source.get()
            self._value, self._expires_at = value, now + self._ttl
            return value

    def invalidate(self) -> None:
        """Forget the cached credential and invalidate the source, so the next `get`
        fetches anew from the origin (after a 401, a rotated key is picked up at once
        instead of at the end of the TTL; a source that keeps a credential of its own,
        such as a login token, would otherwise hand back the one just refused)."""
        with self._lock:
            # Both under the lock: no fetch through this cache can run between the two
            # steps and cache what the source is about to forget.
            self._value = None
            self._source.invalidate()
