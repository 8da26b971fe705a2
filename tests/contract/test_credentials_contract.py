"""The CredentialSource contract, run against every source (env, file, Vault against
FakeVault, chain, cached) AND FakeCredentialSource, so that none of them drifts; then what
the chain and the cache promise beyond it."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from integration.vault_fake import FakeVault
from vectorvue_client.adapters.credentials_cached import CachedCredentialSource
from vectorvue_client.adapters.credentials_chain import ChainCredentialSource
from vectorvue_client.adapters.credentials_env import EnvCredentialSource
from vectorvue_client.adapters.credentials_file import FileCredentialSource
from vectorvue_client.adapters.credentials_vault import VaultCredentialSource, VaultToken
from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.redaction import Secret
from vectorvue_client.ports import CredentialSource
from vectorvue_client.testing import FakeClock, FakeCredentialSource

KEY = "vvk_contract-key-0123456789"
ROTATED = "vvk_rotated-key-9876543210"
FIELD = "api_key_setting"
TTL = 60.0


@dataclass(frozen=True)
class Subject:
    """A source under test, and how to change what its backing store holds (None: remove
    the credential), as an operator would; for the cache, that includes the TTL passing."""

    source: CredentialSource
    store: Callable[[str | None], None]


Factory = Callable[[str | None], Subject]


@pytest.fixture(scope="module")
def vault() -> Iterator[FakeVault]:
    """One FakeVault for the module; each subject reads its own path."""
    with FakeVault() as fake:
        yield fake


_paths = itertools.count()


@pytest.fixture(params=["env", "file", "vault", "chain", "cached", "fake"])
def make(request: pytest.FixtureRequest, tmp_path: Path, vault: FakeVault) -> Factory:
    """A factory of subjects of one kind, each configured with FIELD."""
    kind: str = request.param

    def env(value: str | None) -> Subject:
        environ: dict[str, str] = {}

        def store(new: str | None) -> None:
            environ.pop("VV_KEY", None)
            environ.update({} if new is None else {"VV_KEY": new})

        store(value)
        return Subject(EnvCredentialSource(environ, "VV_KEY", field=FIELD), store)

    def file(value: str | None) -> Subject:
        path = tmp_path / f"key-{next(_paths)}"

        def store(new: str | None) -> None:
            if new is None:
                path.unlink(missing_ok=True)
            else:
                path.write_text(new + "\n")
                path.chmod(0o600)

        store(value)
        return Subject(FileCredentialSource(str(path), field=FIELD), store)

    def from_vault(value: str | None) -> Subject:
        where = ("secret", f"contract-{next(_paths)}")

        def store(new: str | None) -> None:
            vault.secrets.pop(where, None)
            vault.secrets.update({} if new is None else {where: {"api_key": new}})

        store(value)
        token = VaultToken(FakeCredentialSource(vault.issue_token()))
        source = VaultCredentialSource(
            vault.url,
            mount=where[0],
            path=where[1],
            key="api_key",
            auth=token,
            ca_bundle=vault.ca_pem_path,
            field=FIELD,
        )
        return Subject(source, store)

    def chain(value: str | None) -> Subject:
        inner = FakeCredentialSource(value, field="second")
        missing = EnvCredentialSource({}, "VV_UNSET", field="first")
        return Subject(ChainCredentialSource([missing, inner], field=FIELD), inner.rotate)

    def cached(value: str | None) -> Subject:
        inner, clock = FakeCredentialSource(value, field=FIELD), FakeClock()

        def store(new: str | None) -> None:
            inner.rotate(new)
            clock.advance(TTL)

        return Subject(CachedCredentialSource(inner, ttl_seconds=TTL, clock=clock), store)

    def fake(value: str | None) -> Subject:
        source = FakeCredentialSource(value, field=FIELD)
        return Subject(source, source.rotate)

    kinds: dict[str, Factory] = {
        "env": env,
        "file": file,
        "vault": from_vault,
        "chain": chain,
        "cached": cached,
        "fake": fake,
    }
    return kinds[kind]


def test_get_returns_a_masked_secret_holding_the_value(make: Factory) -> None:
    """A Secret whose reveal() is the value, and whose str, repr and format are masked."""
    secret = make(KEY).source.get()
    assert isinstance(secret, Secret)
    assert secret.reveal() == KEY
    assert KEY not in str(secret) and KEY not in repr(secret) and KEY not in f"{secret}"
    assert KEY not in f"{secret!r:>40}"


def test_a_missing_credential_is_a_config_error_naming_the_setting(make: Factory) -> None:
    """No value: VectorVueConfigError whose field is the configured setting."""
    with pytest.raises(VectorVueConfigError) as caught:
        make(None).source.get()
    assert caught.value.field == FIELD


def test_a_credential_that_goes_away_is_an_error_without_its_old_value(make: Factory) -> None:
    """Read once, then removed from its store: the error never holds the value it had."""
    subject = make(KEY)
    assert subject.source.get().reveal() == KEY
    subject.store(None)
    with pytest.raises(VectorVueConfigError) as caught:
        subject.source.get()
    error = caught.value
    assert error.field == FIELD
    assert KEY not in str(error) and KEY not in repr(error) and KEY not in error.rule


def test_a_rotated_credential_is_picked_up(make: Factory) -> None:
    """After the store changes (and, for the cache, its TTL passes) get() has the new one."""
    subject = make(KEY)
    subject.source.get()
    subject.store(ROTATED)
    assert subject.source.get().reveal() == ROTATED


# -- ChainCredentialSource beyond the contract ------------------------------------------------
def test_the_first_source_with_a_credential_wins() -> None:
    """Sources after the winner are not asked."""
    first, second = FakeCredentialSource("first-key"), FakeCredentialSource("second-key")
    assert ChainCredentialSource([first, second], field=FIELD).get().reveal() == "first-key"
    assert (first.calls, second.calls) == (1, 0)


def test_when_every_source_fails_one_error_lists_each_reason_in_order() -> None:
    """One VectorVueConfigError on the chain's field, quoting each source's own error."""
    sources: list[CredentialSource] = [
        EnvCredentialSource({}, "VV_KEY", field="api_key_env"),
        FakeCredentialSource(None, field="api_key_file"),
    ]
    with pytest.raises(VectorVueConfigError) as caught:
        ChainCredentialSource(sources, field=FIELD).get()
    assert caught.value.field == FIELD
    rule = caught.value.rule
    assert rule.index("[1] api_key_env: environment variable VV_KEY is not set") < rule.index(
        "[2] api_key_file: the credential is not available"
    )


def test_an_empty_chain_is_refused_at_construction() -> None:
    """A chain of nothing could never give a credential."""
    with pytest.raises(ValueError, match="at least one source"):
        ChainCredentialSource([], field=FIELD)


def test_a_source_that_breaks_is_not_skipped() -> None:
    """Only a config error moves the chain on; a bug in a source propagates."""

    class Broken:
        def get(self) -> Secret:
            raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        ChainCredentialSource([Broken(), FakeCredentialSource(KEY)], field=FIELD).get()


# -- CachedCredentialSource beyond the contract -----------------------------------------------
def test_the_cache_serves_until_the_ttl_has_passed_exactly() -> None:
    """Fetched at t; cached until just before t + ttl; fetched again at t + ttl."""
    inner, clock = FakeCredentialSource(KEY), FakeClock()
    cache = CachedCredentialSource(inner, ttl_seconds=TTL, clock=clock)
    cache.get()
    clock.advance(TTL - 0.001)
    inner.rotate(ROTATED)
    assert cache.get().reveal() == KEY and inner.calls == 1
    clock.advance(0.001)
    assert cache.get().reveal() == ROTATED and inner.calls == 2


def test_invalidate_makes_the_next_get_fetch() -> None:
    """After a 401 the client invalidates: a rotated key is used at once, not after the TTL."""
    inner = FakeCredentialSource(KEY)
    cache = CachedCredentialSource(inner, ttl_seconds=TTL, clock=FakeClock())
    cache.get()
    inner.rotate(ROTATED)
    cache.invalidate()
    assert cache.get().reveal() == ROTATED and inner.calls == 2


def test_a_failing_refresh_raises_and_never_serves_the_stale_value() -> None:
    """Past the TTL a failed fetch raises (every time), then a fetch that works is served."""
    inner, clock = FakeCredentialSource(KEY), FakeClock()
    cache = CachedCredentialSource(inner, ttl_seconds=TTL, clock=clock)
    cache.get()
    inner.rotate(None)
    clock.advance(TTL)
    for _ in range(2):
        with pytest.raises(VectorVueConfigError):
            cache.get()
    inner.rotate(ROTATED)
    assert cache.get().reveal() == ROTATED


@pytest.mark.parametrize("ttl", [0.0, -1.0, float("nan"), float("inf")])
def test_a_ttl_must_be_positive_and_finite(ttl: float) -> None:
    """No TTL means no cache: do not wrap the source instead."""
    with pytest.raises(ValueError, match="ttl_seconds"):
        CachedCredentialSource(FakeCredentialSource(KEY), ttl_seconds=ttl, clock=FakeClock())


class _SlowSource:
    """Counts fetches; each takes a little real time, so that threads pile up on it."""

    def __init__(self) -> None:
        self.fetches = 0
        self._lock = threading.Lock()

    def get(self) -> Secret:
        with self._lock:
            self.fetches += 1
            number = self.fetches
        time.sleep(0.01)
        return Secret(f"key-{number:04d}")


def test_many_threads_share_one_fetch_per_ttl() -> None:
    """16 threads x 50 gets: one fetch per TTL period, every thread sees that credential,
    and invalidate() from another thread meanwhile breaks nothing."""
    inner, clock = _SlowSource(), FakeClock()
    cache = CachedCredentialSource(inner, ttl_seconds=TTL, clock=clock)

    def hammer() -> set[str]:
        barrier = threading.Barrier(16)
        seen: list[set[str]] = [set() for _ in range(16)]

        def work(i: int) -> None:
            barrier.wait()
            for _ in range(50):
                seen[i].add(cache.get().reveal())

        threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        return set().union(*seen)

    assert hammer() == {"key-0001"} and inner.fetches == 1
    clock.advance(TTL)
    assert hammer() == {"key-0002"} and inner.fetches == 2

    def invalidate_now_and_then() -> None:
        for _ in range(20):
            cache.invalidate()
            time.sleep(0.005)

    invalidator = threading.Thread(target=invalidate_now_and_then)
    invalidator.start()
    seen = hammer()
    invalidator.join(timeout=5)
    # The clock stands still: a fetch needs an invalidate before it, and racing threads
    # share it (single flight), so no more fetches than invalidations.
    assert inner.fetches <= 2 + 20
    assert seen <= {f"key-{n:04d}" for n in range(2, inner.fetches + 1)}
