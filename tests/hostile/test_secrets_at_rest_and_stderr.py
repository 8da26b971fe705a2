"""Attack: a server that echoes secrets bare, read where the client keeps or prints its
words: the outbox file (an item's last error, a dead letter's reason) and the command
line's stderr, --debug tracebacks included (issue 11, item 3; ADR 0021). The other sinks
(exceptions, envelopes, the audit file, every logger) are in test_echoed_secrets.py and
test_secrets_in_errors_and_logs.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from vectorvue_client import VectorVueClient, VectorVueConfig
from vectorvue_client.container import Container

from .echo_server import EchoServer, Reply, Seen

API_KEY = "vv-api-key-5f1c2e9a7b3d4c6e"
HMAC_SECRET = "hmac-4b8d2f6a1c9e3b7d5a0f"
SCRIPT = Path(sys.executable).with_name("vectorvue-client")
FINDING = (
    '{"finding_id": "leak-1", "title": "Weak cipher", "description": "TLS 1.0",'
    ' "severity": "medium", "first_seen": "2026-11-25T09:14:03+00:00",'
    ' "asset_ref": "203.0.113.9"}\n'
)


def echo_of_both(status: int) -> Reply:
    """The secrets bare, as a careless server's error page would quote them."""
    text = f"signature mismatch: expected key {HMAC_SECRET}, token {API_KEY} not allowed"
    if status == 503:
        return Reply.text(503, text)
    return Reply.json(status, {"detail": text})


def test_the_outbox_file_never_holds_an_echoed_secret(tmp_path: Path) -> None:
    """A 503 (the item waits, with its last error) then a 422 (it is dead-lettered, with
    the reason), both quoting the API key and the HMAC secret bare: neither is anywhere
    in the outbox file or its journal, nor in what the outbox reports."""
    answers = iter([echo_of_both(503), echo_of_both(422)])
    with EchoServer(lambda _seen: next(answers)) as server:
        container = Container(
            config=VectorVueConfig(
                base_url=server.url,
                ca_bundle=server.ca_pem_path,
                outbox_path=str(tmp_path / "outbox.sqlite3"),
                signing_secret_env="VV_TEST_SIGNING",
                max_retries=0,
                outbox_backoff_base_seconds=0.001,
                outbox_backoff_max_seconds=0.001,
            )
        )
        container.environ.override({"VECTORVUE_API_KEY": API_KEY, "VV_TEST_SIGNING": HMAC_SECRET})
        client: VectorVueClient = container.client()
        with client:
            client.enqueue(json.loads(FINDING))
            first = client.drain(10.0)
            stored_while_waiting = _bytes_of(tmp_path)
            while client.outbox.stats().pending and client.drain(10.0).dead == 0:
                pass
            letters = client.outbox.dead_letters()
    assert first.rescheduled == 1
    assert [d.status_code for d in letters] == [422]
    assert "***" in letters[0].reason
    for stored in (stored_while_waiting, _bytes_of(tmp_path)):
        assert HMAC_SECRET.encode() not in stored
        assert API_KEY.encode() not in stored
    assert HMAC_SECRET not in letters[0].reason and API_KEY not in letters[0].reason


def _bytes_of(directory: Path) -> bytes:
    """The outbox file and its journal, as the disk holds them."""
    return b"".join(p.read_bytes() for p in sorted(directory.glob("outbox.sqlite3*")))


def test_stderr_never_shows_an_echoed_secret(tmp_path: Path) -> None:
    """`send` against a server answering 401 with the secrets in its detail, and 500 with
    them in plain text: the one-line error, and the --debug traceback, mask both."""
    findings = tmp_path / "findings.jsonl"
    findings.write_text(FINDING)
    for status in (401, 500):

        def answer(_seen: Seen, status: int = status) -> Reply:
            return echo_of_both(503 if status == 500 else status)

        with EchoServer(answer) as server:
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")},
                "VECTORVUE_BASE_URL": server.url,
                "VECTORVUE_CA_BUNDLE": server.ca_pem_path,
                "VECTORVUE_API_KEY": API_KEY,
                "VECTORVUE_SIGNING_SECRET_ENV": "VV_TEST_SIGNING",
                "VV_TEST_SIGNING": HMAC_SECRET,
                "VECTORVUE_MAX_RETRIES": "0",
            }
            for debug in ([], ["--debug"]):
                ran = subprocess.run(  # noqa: S603 - our own console script
                    [str(SCRIPT), *debug, "send", str(findings)],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=False,
                    timeout=60,
                )
                assert ran.returncode != 0
                assert "***" in ran.stderr, ran.stderr
                shown = ran.stdout + ran.stderr
                assert HMAC_SECRET not in shown and API_KEY not in shown, (status, debug)
                if debug:
                    assert "Traceback" in ran.stderr
