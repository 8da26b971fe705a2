"""`vectorvue-client graph push FILE` and `vectorvue-client feedback TENANT`, the real
console script in a subprocess, against LocalVectorVue (mutual TLS, its own schema and
Ed25519 feedback signatures; its clock is the real one here, like the script's). Items a
server should not send (dropped, shown with exit 1) are in tests/hostile/
test_forged_feedback.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory

from .local_gateway import TENANT, Gateway, start_gateway, write_keyring
from .test_cli import cli


@pytest.fixture
def gateway(local_vectorvue_factory: LocalVectorVueFactory, tmp_path: Path) -> Gateway:
    return start_gateway(local_vectorvue_factory, tmp_path)


def write_graph(tmp_path: Path, **graph: object) -> str:
    path = tmp_path / "run.graph.json"
    document = {
        "execution_fingerprint": "cd" * 32,
        "graph": {"target_urn": "urn:target:web-01", "nodes": list(range(9)), **graph},
    }
    path.write_text(json.dumps(document))
    return str(path)


def test_push_a_graph_then_read_verified_feedback(gateway: Gateway, tmp_path: Path) -> None:
    env = gateway.env()
    pushed = cli("graph", "push", write_graph(tmp_path), "--json", env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(pushed.stdout)["accepted"] is True
    assert [g["graph"]["target_urn"] for g in gateway.vv.stored_graphs(TENANT)] == [
        "urn:target:web-01"
    ]
    read = cli("feedback", TENANT, "--limit", "5", "--json", env=env)
    assert read.returncode == 0, read.stderr
    data = json.loads(read.stdout)
    assert data["verified"] is True and data["dropped"] == []
    assert [(a["action"], a["target_urn"]) for a in data["adjustments"]] == [
        ("tighten", "urn:target:web-01")
    ]
    human = cli("feedback", TENANT, env=env)
    assert human.returncode == 0
    assert "1 verified adjustment(s)" in human.stdout and "tighten" in human.stdout


def test_a_poison_graph_is_refused_and_not_sent(gateway: Gateway, tmp_path: Path) -> None:
    graph = write_graph(tmp_path, target_urn="u" * 513)
    ran = cli("graph", "push", graph, "--json", env=gateway.env())
    assert ran.returncode == 1
    assert json.loads(ran.stderr.splitlines()[-1])["field"] == "graph.target_urn"
    assert gateway.vv.requests == []


def test_an_answer_that_does_not_verify_exits_1_naming_the_check(
    gateway: Gateway, tmp_path: Path
) -> None:
    # The keyring holds another key under the receiver's kid: its signature cannot verify.
    keyring = write_keyring(
        tmp_path / "wrong.json", {"default": Ed25519PrivateKey.generate().public_key()}
    )
    env = gateway.env(feedback_keyring_file=keyring)
    ran = cli("feedback", TENANT, "--json", env=env)
    assert ran.returncode == 1
    assert json.loads(ran.stdout) == {
        "tenant_id": TENANT,
        "verified": False,
        "check": "signature",
        "detail": json.loads(ran.stdout)["detail"],
    }
    assert json.loads(ran.stderr.splitlines()[-1])["rule"] == "signature"
    text = cli("feedback", TENANT, env=env)
    assert text.returncode == 1 and "(signature)" in text.stderr
