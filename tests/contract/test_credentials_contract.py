"""The CredentialSource contract, run against every source (env, file, Vault against
FakeVault, chain, cached, login against a scripted VectorVue) AND FakeCredentialSource, so
that none of them drifts; the invalidate contract, and what the sources that keep a
credential (cache, login) promise about it; then what the chain, the cache and Vault's
AppRole promise beyond it."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from integration.vault_fake import FakeVault
from vectorvue_client.adapters.credentials_cached import CachedCredentialSource
from vectorvue_client.adapters.credentials_chain import ChainCredentialSource
from vectorvue_client.adapters.credentials_env import EnvCredentialSource
from vectorvue_client.adapters.credentials_file import FileCredentialSource
from vectorvue_client.adapters.credentials_login import LoginCredentialSource
from vectorvue_client.adapters.credentials_vault import (
    VaultAppRole,
    VaultCredentialSource,
    VaultToken,
)
from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.http import HttpRequest, HttpResponse
from vectorvue_client.domain.redaction import Secret
from vectorvue_client.ports import CredentialSource
from vectorvue_client.testing import (
    FakeClock,
    FakeCredentialSource,
    FakeTransport,
    json_response,
)

KEY = "vvk_contract-key-0123456789"
ROTATED = "vvk_rotated-key-9876543210"
FIELD = "api_key_setting"
TTL = 60.0
LOGIN_LIFETIME = 300.0  # the scripted login's expires_in (its tokens are not JWTs)


@dataclass(frozen=True)
class Subject:
    """A source under test, and how to change what its backing store holds (None: remove
    the credential), as an operator would; for the cache and the login, that includes the
    time passing that makes them fetch again.

    Sources that keep the credential (cache, login) also say how to change the origin
    alone, with no time passing (`rotate`), and how many times they fetched from it
    (`fetches`).
    """

    source: CredentialSource
    store: Callable[[str | None], None]
    rotate: Callable[[str | None], None] | None = None
    fetches: Callable[[], int] | None = None


Factory = Callable[[str | None], Subject]
KEEPING = ("cached", "login")


class ScriptedLogin:
    """A VectorVue login endpoint answering the token it holds (401 when None) as an
    opaque bearer token living LOGIN_LIFETIME seconds; counts the logins."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self.logins = 0

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.logins += 1
        if self.token is None:
            return json_response(401, b'{"detail": "Invalid credentials"}')
        answer = {
            "access_token": self.token,
            "token_type": "bearer",
            "expires_in": LOGIN_LIFETIME,
        }
        return json_response(200, msgspec.json.encode(answer))


@pytest.fixture(scope="module")
def vault() -> Iterator[FakeVault]:
    """One FakeVault for the module; each subject reads its own path."""
    with FakeVault() as fake:
        yield fake


_paths = itertools.count()


@pytest.fixture(params=["env", "file", "vault", "chain", "cached", "login", "fake"])
def make(request: pytest.FixtureRequest, tmp_path: Path, vault: FakeVault) -> Factory:
    """A factory of subjects of one kind, each configured with FIELD."""
    return _factory(request.param, tmp_path, vault)


@pytest.fixture(params=KEEPING)
def make_keeping(request: pytest.FixtureRequest, tmp_path: Path, vault: FakeVault) -> Factory:
    """A factory of subjects of one kind among those that keep the credential."""
    return _factory(request.param, tmp_path, vault)


def _factory(kind: str, tmp_path: Path, vault: FakeVault) -> Factory:
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

        source = CachedCredentialSource(inner, ttl_seconds=TTL, clock=clock)
        return Subject(source, store, inner.rotate, lambda: inner.calls)

    def login(value: str | None) -> Subject:
        server, clock = ScriptedLogin(value), FakeClock()

        def rotate(new: str | None) -> None:
            server.token = new

        def store(new: str | None) -> None:
            rotate(new)
            clock.advance(LOGIN_LIFETIME)

        source = LoginCredentialSource(
            FakeTransport(handler=server),
            username="alice",
            password=FakeCredentialSource("pw-contract-0123"),
            tenant_id="6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f",
            clock=clock,
            field=FIELD,
        )
        return Subject(source, store, rotate, lambda: server.logins)

    def fake(value: str | None) -> Subject:
        source = FakeCredentialSource(value, field=FIELD)
        return Subject(source, source.rotate)

    kinds: dict[str, Factory] = {
        "env": env,
        "file": file,
        "vault": from_vault,
        "chain": chain,
        "cached": cached,
        "login": login,
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


# -- invalidate -------------------------------------------------------------------------------
def test_after_invalidate_get_returns_the_current_credential(make: Factory) -> None:
    """invalidate() before any get, once, or twice in a row breaks nothing: the next get
    returns the credential the store holds."""
    subject = make(KEY)
    subject.source.invalidate()
    assert subject.source.get().reveal() == KEY
    subject.source.invalidate()
    assert subject.source.get().reveal() == KEY
    subject.source.invalidate()
    subject.source.invalidate()
    assert subject.source.get().reveal() == KEY


def test_invalidate_never_raises_even_without_a_credential(make: Factory) -> None:
    """Forgetting is always possible; the missing credential is still get's error."""
    subject = make(None)
    subject.source.invalidate()
    with pytest.raises(VectorVueConfigError):
        subject.source.get()
    subject.source.invalidate()


def test_a_kept_credential_is_served_until_invalidate_then_fetched_once(
    make_keeping: Factory,
) -> None:
    """The origin changes with no time passing: the kept credential is still served;
    invalidate() costs exactly one fetch, which brings the new one."""
    subject = make_keeping(KEY)
    assert subject.rotate is not None and subject.fetches is not None
    assert subject.source.get().reveal() == KEY and subject.fetches() == 1
    subject.rotate(ROTATED)
    assert subject.source.get().reveal() == KEY and subject.fetches() == 1
    subject.source.invalidate()
    assert subject.fetches() == 1  # invalidate itself fetches nothing
    for _ in range(3):
        assert subject.source.get().reveal() == ROTATED
    assert subject.fetches() == 2


def test_after_invalidate_a_failing_fetch_fails_at_every_get(make_keeping: Factory) -> None:
    """The origin lost the credential: after invalidate each get makes one fetch and
    raises (a second consecutive failure is visible, there is no retry inside), the old
    credential is never served again, and a working origin is served at once."""
    subject = make_keeping(KEY)
    assert subject.rotate is not None and subject.fetches is not None
    subject.source.get()
    subject.rotate(None)
    subject.source.invalidate()
    for fetches in (2, 3):
        with pytest.raises(VectorVueConfigError) as caught:
            subject.source.get()
        assert subject.fetches() == fetches and caught.value.field == FIELD
    subject.rotate(ROTATED)
    assert subject.source.get().reveal() == ROTATED and subject.fetches() == 4


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

        def invalidate(self) -> None:
            """Nothing kept."""

    with pytest.raises(RuntimeError, match="bug"):
        ChainCredentialSource([Broken(), FakeCredentialSource(KEY)], field=FIELD).get()


def test_the_chain_invalidates_every_source() -> None:
    """Any source may answer the next get: each forgets what it keeps, the winner too."""
    sources = [FakeCredentialSource(None), FakeCredentialSource(KEY), FakeCredentialSource(KEY)]
    chain = ChainCredentialSource(sources, field=FIELD)
    chain.get()
    chain.invalidate()
    assert [s.invalidations for s in sources] == [1, 1, 1]


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


def test_the_cache_invalidates_its_source() -> None:
    """A source behind the cache that keeps a credential of its own (a login token) must
    forget it too, or the cache would fetch the one VectorVue just refused."""
    inner = FakeCredentialSource(KEY)
    cache = CachedCredentialSource(inner, ttl_seconds=TTL, clock=FakeClock())
    cache.invalidate()
    assert inner.invalidations == 1


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

    def invalidate(self) -> None:
        """Nothing kept: every get is a fetch."""


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


# -- VaultCredentialSource beyond the contract ------------------------------------------------
def test_invalidate_makes_an_approle_source_log_in_to_vault_again(vault: FakeVault) -> None:
    """The kept AppRole token is forgotten: the next get logs in (once), the gets after it
    use the new token; the role_id and secret_id sources are invalidated too."""
    vault.approles["role-contract"] = "secret-id-contract-0123"
    vault.secrets[("secret", "contract-approle")] = {"api_key": KEY}
    role_id = FakeCredentialSource("role-contract")
    secret_id = FakeCredentialSource("secret-id-contract-0123")
    source = VaultCredentialSource(
        vault.url,
        mount="secret",
        path="contract-approle",
        key="api_key",
        auth=VaultAppRole(role_id, secret_id),
        ca_bundle=vault.ca_pem_path,
        field=FIELD,
    )
    try:
        before = vault.logins
        source.get()
        source.get()
        assert vault.logins == before + 1
        source.invalidate()
        assert (role_id.invalidations, secret_id.invalidations) == (1, 1)
        assert source.get().reveal() == KEY and source.get().reveal() == KEY
        assert vault.logins == before + 2
    finally:
        source.close()


def test_invalidate_with_token_auth_invalidates_the_token_source(vault: FakeVault) -> None:
    """Nothing of Vault's is kept with token auth; the token's own source may keep it."""
    token = FakeCredentialSource(vault.issue_token())
    vault.secrets[("secret", "contract-token")] = {"api_key": KEY}
    source = VaultCredentialSource(
        vault.url,
        mount="secret",
        path="contract-token",
        key="api_key",
        auth=VaultToken(token),
        ca_bundle=vault.ca_pem_path,
        field=FIELD,
    )
    try:
        source.invalidate()
        assert token.invalidations == 1 and source.get().reveal() == KEY
    finally:
        source.close()
