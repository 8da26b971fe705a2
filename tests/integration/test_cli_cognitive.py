"""`vectorvue-client graph push FILE` and `vectorvue-client feedback TENANT`, the real
console script in a subprocess, against CognitiveGateway (mutual TLS, its own schema and
signatures written from the contract; its clock is the real one here, like the script's)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cognitive_gateway import GRAPH, QUERY, CognitiveGateway, Reply, Seen
from .test_cli import cli

TENANT = "a0000000-0000-4000-8000-00000000000b"
OTHER_TENANT = "b0000000-0000-4000-8000-00000000000c"


@pytest.fixture
def gateway() -> Iterator[CognitiveGateway]:
    with CognitiveGateway(operators={"op-1": TENANT}) as gw:
        yield gw


@pytest.fixture
def env(gateway: CognitiveGateway) -> dict[str, str]:
    settings = gateway.settings(
        operator_id="op-1", tenant_id=TENANT, attestation_measurement_hash="ab" * 32
    )
    return {f"VECTORVUE_{name.upper()}": str(value) for name, value in settings.items()}


def write_graph(tmp_path: Path, **graph: object) -> str:
    path = tmp_path / "run.graph.json"
    document = {
        "execution_fingerprint": "cd" * 32,
        "graph": {"target_urn": "urn:target:web-01", "nodes": list(range(9)), **graph},
    }
    path.write_text(json.dumps(document))
    return str(path)


def test_push_a_graph_then_read_verified_feedback(
    gateway: CognitiveGateway, env: dict[str, str], tmp_path: Path
) -> None:
    pushed = cli("graph", "push", write_graph(tmp_path), "--json", env=env)
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(pushed.stdout)["accepted"] is True
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


def test_a_poison_graph_is_refused_and_not_sent(
    gateway: CognitiveGateway, env: dict[str, str], tmp_path: Path
) -> None:
    ran = cli("graph", "push", write_graph(tmp_path, target_urn="u" * 513), "--json", env=env)
    assert ran.returncode == 1
    assert json.loads(ran.stderr.splitlines()[-1])["field"] == "graph.target_urn"
    assert gateway.seen == []


def test_a_forged_answer_exits_1_naming_the_check(
    gateway: CognitiveGateway, env: dict[str, str]
) -> None:
    def forged(seen: Seen) -> Reply | None:
        if seen.path != QUERY:
            return None
        return gateway.signed(TENANT, [], signed_data=[{"forged": True}])

    gateway.script = forged
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


def test_dropped_items_are_shown_and_exit_1(
    gateway: CognitiveGateway, env: dict[str, str], tmp_path: Path
) -> None:
    assert cli("graph", "push", write_graph(tmp_path), env=env).returncode == 0
    good = gateway.adjustment(gateway.state.graphs[TENANT][0])
    gateway.script = lambda seen: (
        gateway.signed(TENANT, [good, {**good, "tenant_id": OTHER_TENANT}])
        if seen.path == QUERY
        else None
    )
    ran = cli("feedback", TENANT, env=env)
    assert ran.returncode == 1
    assert "1 verified adjustment(s)" in ran.stdout
    assert "dropped item 1 (tenant)" in ran.stdout
    assert [s.path for s in gateway.seen] == [GRAPH, QUERY]
