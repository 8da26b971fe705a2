"""A server that echoes the compliance signing key (issue 15, point 3): it never shows in an
exception, an envelope, the audit file or the log, whether the answer verifies, is invalid
(reported or enforced) or is an error; and the check itself is made over the bare value.

The key is random per test and is read only by the client (from the environment, through
the container, as in production): what masks it is the client's own reading of it.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

import pytest

from hostile.forged_answers import make_jwt, signed_envelope, tenant_of
from vectorvue_client import VectorVueClient, VectorVueConfig, VectorVueError
from vectorvue_client.container import Container
from vectorvue_client.domain.envelope import ResponseEnvelope

from .echo_server import EchoServer, Reply, Seen

TENANT = "10000000-0000-4000-8000-000000000001"
EVENT = {
    "event_id": "evt-1",
    "source_system": "spectrastrike",
    "event_type": "PORT_SCAN",
    "occurred_at": "2026-02-22T10:00:00Z",
    "asset_ref": "192.0.2.10",
    "message": "22/tcp open",
}


@pytest.fixture
def server() -> Iterator[EchoServer]:
    with EchoServer(lambda seen: Reply.json(500, {"detail": "unscripted"})) as running:
        yield running


def build(server: EchoServer, tmp_path: Path, key: str, mode: str) -> VectorVueClient:
    config = VectorVueConfig(
        base_url=server.url,
        ca_bundle=server.ca_pem_path,
        audit_file=str(tmp_path / "audit.jsonl"),
        max_retries=0,
        timeout_seconds=5.0,
        compliance_key_env="VV_COMPLIANCE",
        compliance_signatures=mode,  # type: ignore[arg-type]
    )
    container = Container(config=config)
    container.environ.override({"VECTORVUE_API_KEY": make_jwt(TENANT), "VV_COMPLIANCE": key})
    client: VectorVueClient = container.client()
    return client


def places(key: str) -> dict[str, Callable[[Seen], Reply]]:
    def signed(seen: Seen, data: Any, over: str) -> Reply:
        return Reply.json(202, signed_envelope(over, seen.path, tenant_of(seen), data))

    return {
        "signed-data": lambda seen: signed(seen, {"event_id": "evt-1", "echo": key}, key),
        "invalid-data": lambda seen: signed(seen, {"event_id": key}, "not-" + key),
        "detail-401": lambda seen: Reply.json(401, {"detail": key}),
        "error-envelope": lambda seen: Reply.json(
            422,
            {
                "request_id": key,
                "status": "failed",
                "data": None,
                "signature": None,
                "errors": [{"code": key, "message": key}],
            },
        ),
        "request-id-header": lambda seen: Reply(
            202,
            json.dumps(
                signed_envelope(None, seen.path, tenant_of(seen), {"event_id": "e"})
            ).encode(),
            {"X-Request-ID": key},
        ),
        "plain-500": lambda seen: Reply.text(500, f"Internal error: key={key}"),
    }


PLACES = list(places("k"))


@pytest.mark.parametrize("mode", ["report", "enforce"])
@pytest.mark.parametrize("place", PLACES)
def test_the_compliance_key_echoed_shows_nowhere(
    server: EchoServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, place: str, mode: str
) -> None:
    caplog.set_level(logging.DEBUG)
    key = "cmp_" + token_urlsafe(24)
    server.script = places(key)[place]
    client = build(server, tmp_path, key, mode)
    outcome: ResponseEnvelope | VectorVueError
    try:
        outcome = client.send_event(EVENT)
    except VectorVueError as exc:
        outcome = exc
    finally:
        client.close()
    assert server.requests, "nothing reached the server"
    texts = [repr(outcome), str(outcome)]
    if isinstance(outcome, VectorVueError):
        texts.append("".join(traceback.format_exception(outcome)))
        envelope = getattr(outcome, "envelope", None)
        texts.append(repr(envelope))
    audit = (tmp_path / "audit.jsonl").read_text()
    for where, text in {"outcome": "\n".join(texts), "audit": audit, "log": caplog.text}.items():
        assert key not in text, f"the compliance key shows in the {where}"
    if place == "signed-data":
        # Masked in what the caller sees, yet verified: the MAC was over the bare value.
        assert isinstance(outcome, ResponseEnvelope)
        assert outcome.signature_status == "verified"
