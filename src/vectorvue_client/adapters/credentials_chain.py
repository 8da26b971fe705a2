"""CredentialSource that tries several sources in order (e.g. a mounted file, then env)."""

from __future__ import annotations

from collections.abc import Sequence

from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.redaction import Secret
from vectorvue_client.ports import CredentialSource


class ChainCredentialSource:
    """The first of `sources` that has the credential wins, at every `get`.

    Only VectorVueConfigError moves the chain on: any other exception is a bug in a source
    and propagates, rather than being mistaken for "not configured here".
    """

    def __init__(self, sources: Sequence[CredentialSource], *, field: str) -> None:
        if not sources:
            raise ValueError("a credential chain needs at least one source")
        self._sources = tuple(sources)
        self._field = field

    def get(self) -> Secret:
        """The first credential found; else one VectorVueConfigError naming `field` and
        every source's reason, in order (each is secret-free by the port's contract)."""
        reasons: list[str] = []
        for number, source in enumerate(self._sources, start=1):
            try:
                return source.get()
            except VectorVueConfigError as exc:
                reasons.append(f"[{number}] {exc}")
        raise VectorVueConfigError(
            self._field, "no credential source had the credential: " + "; ".join(reasons)
        )

    def invalidate(self) -> None:
        """Invalidate every source of the chain: the next `get` may be answered by any of
        them, so what each keeps must go."""
        for source in self._sources:
            source.invalidate()
