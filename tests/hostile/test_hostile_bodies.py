"""Attack: an answer nested far deeper than the interpreter's recursion limit (a few
hundred kilobytes of "[" from a hostile server or proxy). It is read as an answer that is
not VectorVue's, never a RecursionError out of the client: in a send's envelope, in a
health report, and in a login answer."""

from __future__ import annotations

from pathlib import Path

from vectorvue_client import VectorVueTransportError

from .clients import wired_client
from .echo_server import EchoServer, Reply, Seen

# Deeper than Python 3.12's limit (about 1000) and 3.13's (about 10,000) alike.
DEEP = b"[" * 100_000 + b"]" * 100_000
EVENT = {
    "event_id": "deep-0001",
    "source_system": "spectrastrike",
    "event_type": "PORT_SCAN",
    "occurred_at": 1_795_564_800,
    "severity": "low",
    "asset_ref": "198.51.100.7",
    "message": "22/tcp open",
}


def deep(_seen: Seen) -> Reply:
    return Reply(202, DEEP)


def test_a_send_and_a_health_check_read_it_as_not_vectorvues(tmp_path: Path) -> None:
    with EchoServer(deep) as server:
        environ = {"VECTORVUE_API_KEY": "k" * 24}
        with wired_client(server.url, server.ca_pem_path, tmp_path, environ=environ) as client:
            envelope = client.send_event(EVENT)
            report = client.health()
    assert not envelope.success
    assert envelope.error is not None and "not a VectorVue response" in envelope.error
    assert not report.healthy


def test_a_login_answer_reads_as_not_json(tmp_path: Path) -> None:
    with EchoServer(lambda _seen: Reply(200, DEEP)) as server:
        environ = {"VECTORVUE_PASSWORD": "p" * 16}
        client = wired_client(
            server.url,
            server.ca_pem_path,
            tmp_path,
            environ=environ,
            auth="login",
            login_username="alice",
            login_tenant_id="10000000-0000-0000-0000-000000000001",
        )
        with client:
            try:
                client.send_event(EVENT)
            except VectorVueTransportError as exc:
                failed = exc
            else:
                raise AssertionError("a login answer of brackets was accepted")
    assert "login answer is not JSON" in str(failed)
