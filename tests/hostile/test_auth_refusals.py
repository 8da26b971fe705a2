"""Attack: a refused credential resent unchanged (issue 11, item 9, the auth half). VectorVue
answers 401 to a static API key: the client reads the key anew (a rotation would be picked
up at once), but never sends the same key again: the 401 is the answer. A login token that
expired is still replaced by a new login and tried once more.

The TLS half (a server that requires a client certificate looks like a lost connection
under TLS 1.3) is in test_tls_refusals.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vectorvue_client import VectorVueAPIError, VectorVueClient
from vectorvue_client.testing import LocalVectorVue
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory

from .clients import wired_client

EVENT = {
    "event_id": "auth-0001",
    "source_system": "spectrastrike",
    "event_type": "PORT_SCAN",
    "occurred_at": 1_795_564_800,
    "severity": "low",
    "asset_ref": "198.51.100.7",
    "message": "22/tcp open",
}


def client_with_key(
    receiver: LocalVectorVue, key: str, tmp_path: Path, **settings: Any
) -> VectorVueClient:
    environ = {"VECTORVUE_API_KEY": key}
    return wired_client(receiver.url, receiver.ca_pem_path, tmp_path, environ=environ, **settings)


def test_a_static_key_refused_with_401_is_sent_once(
    local_vectorvue: LocalVectorVue, tmp_path: Path
) -> None:
    """Today the same refused key went out a second time after the 401."""
    with client_with_key(local_vectorvue, "a-key-vectorvue-does-not-know", tmp_path) as client:
        try:
            client.send_event(EVENT)
        except VectorVueAPIError as exc:
            refused = exc
        else:
            raise AssertionError("a wrong key was accepted")
    assert refused.status_code == 401
    assert len(local_vectorvue.requests) == 1
    assert refused.envelope is not None and refused.envelope.attempts == 1


def test_the_outbox_keeps_items_refused_for_their_credential(
    local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path
) -> None:
    """Through a drain: one request, the items stay in the outbox (a credential problem is
    not theirs), nothing is dead-lettered."""
    receiver = local_vectorvue_factory()
    with client_with_key(receiver, "a-key-vectorvue-does-not-know", tmp_path) as client:
        client.enqueue(EVENT)
        report = client.drain(10.0)
        stats = client.outbox.stats()
    assert len(receiver.requests) == 1
    assert (report.delivered, report.dead, report.rescheduled) == (0, 0, 1)
    assert (stats.pending, stats.dead) == (1, 0)
