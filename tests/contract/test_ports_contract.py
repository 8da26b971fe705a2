"""The Clock and Entropy contracts, run against the real adapter AND its fake, so fakes
cannot drift from what production does. The other ports have a suite each:
test_transport_contract.py, test_credentials_contract.py, test_signer_contract.py and
test_audit_contract.py."""

from __future__ import annotations

import threading

import pytest

from vectorvue_client.adapters.clock_system import SystemClock
from vectorvue_client.adapters.entropy_system import SystemEntropy
from vectorvue_client.ports import Clock, Entropy
from vectorvue_client.testing import (
    FakeClock,
    FakeEntropy,
)


# -- Clock and Entropy ------------------------------------------------------------------------
@pytest.fixture(params=["system", "fake"])
def clock(request: pytest.FixtureRequest) -> Clock:
    return SystemClock() if request.param == "system" else FakeClock()


def test_a_clock_moves_forward_by_at_least_a_sleep(clock: Clock) -> None:
    """monotonic never goes back; after sleep(s) at least s has passed on it; time() is Unix."""
    before = clock.monotonic()
    clock.sleep(0.02, threading.Event())
    after = clock.monotonic()
    assert after - before >= 0.02 - 1e-6
    assert clock.time() > 1_600_000_000  # after 2020: seconds, not milliseconds
    assert clock.time() < 10_000_000_000


def test_a_cancelled_sleep_does_not_wait(clock: Clock) -> None:
    """A sleep whose token is set returns at once: a cancelled send waits for nothing."""
    cancel = threading.Event()
    cancel.set()
    before = clock.monotonic()
    clock.sleep(3600.0, cancel)
    assert clock.monotonic() - before < 60.0


@pytest.fixture(params=["system", "fake"])
def entropy(request: pytest.FixtureRequest) -> Entropy:
    return SystemEntropy() if request.param == "system" else FakeEntropy(7)


def test_entropy_gives_unit_floats_and_fresh_nonces(entropy: Entropy) -> None:
    """random() in [0, 1); nonces unique, 16-128 URL-safe characters."""
    draws = [entropy.random() for _ in range(200)]
    assert all(0.0 <= d < 1.0 for d in draws)
    assert len(set(draws)) > 150
    nonces = [entropy.nonce() for _ in range(500)]
    assert len(set(nonces)) == 500
    for nonce in nonces:
        assert 16 <= len(nonce) <= 128
        assert all(c.isalnum() or c in "-_" for c in nonce)
