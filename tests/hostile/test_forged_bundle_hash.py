"""A federation answer LocalVectorVue never gives: a bundle_hash that is not the SHA-256 of
the bundle the client signed. EchoServer (real TLS on 127.0.0.1) sends it; the client,
wired by the container as in production, must not take it as a verification."""

from __future__ import annotations

from pathlib import Path

import pytest

from hostile.echo_server import EchoServer, Reply
from hostile.forged_answers import FeedbackForger, gateway_settings
from vectorvue_client import VectorVueAPIError, VectorVueConfig
from vectorvue_client.container import Container
from vectorvue_client.testing import FakeClock

BUNDLE = {
    "operator_id": "op-1",
    "campaign_id": "camp-7",
    "execution_hash": "ab" * 32,
    "timestamp": 1771754400,
    "nonce": "nonce-000000001",
}


def test_a_hash_that_is_not_of_this_bundle_is_an_error(tmp_path: Path) -> None:
    answer = Reply.json(200, {"accepted": True, "bundle_hash": "0" * 64})
    with EchoServer(lambda seen: answer) as server:
        settings = gateway_settings(server, tmp_path, FeedbackForger(tmp_path, FakeClock().time))
        container = Container(config=VectorVueConfig(**settings))
        with container.client() as client, pytest.raises(VectorVueAPIError) as caught:
            client.verify_federation_bundle(BUNDLE)
        assert [seen.path for seen in server.requests] == ["/internal/v1/federation/verify"]
    assert caught.value.error_code == "bundle_hash_mismatch"
