"""`vectorvue-client demo` through the real console script: it says what it simulates,
uses one vocabulary in the table and in --json, and exits by its script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vectorvue_client.demo import Run, judge
from vectorvue_client.domain.outbox import DeadLetter
from vectorvue_client.testing import LocalVectorVue

SCRIPT = Path(sys.executable).with_name("vectorvue-client")

COUNTS = ["enqueued", "delivered", "rescheduled", "dead_lettered", "stored"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The console script, without any VECTORVUE_* setting of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}
    return subprocess.run(  # noqa: S603 - our own console script
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=90, env=env, check=False
    )


@pytest.fixture(scope="module")
def human() -> subprocess.CompletedProcess[str]:
    return cli("demo")


@pytest.fixture(scope="module")
def as_json() -> subprocess.CompletedProcess[str]:
    return cli("demo", "--json")


def test_the_demo_says_what_it_simulates_before_and_how_it_ended_after(
    human: subprocess.CompletedProcess[str],
) -> None:
    """The outage and the three refusals on purpose come first, the verdict last."""
    assert human.returncode == 0, human.stdout + human.stderr
    out = human.stdout
    intro = out.partition("profile ")[0]
    assert "503 (Retry-After 1) to the next 6 requests" in intro
    refused = [line for line in intro.splitlines() if "dead-lettered: findings.jsonl #" in line]
    assert [line.split("#")[1][0] for line in refused] == ["2", "3", "4"]
    assert all("names no MITRE technique" in line for line in refused)
    assert "'or 1=1'" in refused[2] and "'or 1=1'" not in refused[0] + refused[1]
    assert out.count("dead_lettered (on purpose): findings.jsonl #") == 3
    assert "NOT EXPECTED" not in out and "unexpected:" not in out
    assert out.rstrip().splitlines()[-1].startswith("exit 0: everything ended as the script")


def test_the_table_and_the_json_use_the_same_words(
    human: subprocess.CompletedProcess[str], as_json: subprocess.CompletedProcess[str]
) -> None:
    """The table's header is the --json keys; the numbers are what the script expects."""
    header = next(line for line in human.stdout.splitlines() if line.startswith("profile "))
    assert header.split() == ["profile", *COUNTS, "seconds"]
    assert "sent" not in header and "accepted" not in header

    assert as_json.returncode == 0, as_json.stderr
    data: dict[str, Any] = json.loads(as_json.stdout)
    assert data["as_expected"] is True and data["exit_code"] == 0
    assert data["simulated"]["outage"].startswith("VectorVue answers 503")
    on_purpose = data["simulated"]["refused_on_purpose"]
    assert [(r["profile"], r["sample"], r["document"]) for r in on_purpose] == [
        ("telemetry-gateway", "findings.jsonl", n) for n in (2, 3, 4)
    ]
    runs = data["profiles"]
    assert [r["profile"] for r in runs] == ["integration-api", "telemetry-gateway"]
    for run in runs:
        assert set(COUNTS) <= set(run)
        assert run["unexpected"] == []
        assert run["stored"] == run["delivered"] == run["enqueued"] - run["dead_lettered"]
        assert run["rescheduled"] > 0  # the outage was met
        assert run["seconds"] < 30
    api, gateway = runs
    assert api["dead_lettered"] == 0 and api["stored"] == api["enqueued"]
    assert gateway["dead_lettered"] == 3
    for letter in gateway["dead_letters"]:
        assert letter["on_purpose"] is True
        assert "payload.mitre_techniques: " in letter["reason"]
    assert "payload.description: " in gateway["dead_letters"][2]["reason"]


def _letter(key: str, reason: str) -> DeadLetter:
    return DeadLetter(key, "finding", b"{}", 1, reason, None, 0.0, 0.0)


NO_TECHNIQUE = "refused locally: payload.mitre_techniques: no technique"


def test_a_refusal_for_another_reason_or_a_missing_one_is_not_as_scripted(
    local_vectorvue: LocalVectorVue,
) -> None:
    """The verdict behind the exit code: a dead letter must be one of the script's, for its
    reason; a refusal the script expects must happen; the outage must be met."""
    origin = {f"finding:{n}": ("findings.jsonl", n) for n in (1, 2, 3, 4)}
    right = [
        _letter("finding:2", NO_TECHNIQUE),
        _letter("finding:3", NO_TECHNIQUE),
        _letter("finding:4", f"{NO_TECHNIQUE}; payload.description: SQL"),
    ]
    as_scripted = Run("telemetry-gateway", enqueued=3, rescheduled=1, dead_lettered=3)
    judge(as_scripted, local_vectorvue, origin, right)
    assert as_scripted.unexpected == []

    wrong_reason = [*right[:2], _letter("finding:4", NO_TECHNIQUE)]
    run = Run("telemetry-gateway", enqueued=3, rescheduled=1, dead_lettered=3)
    judge(run, local_vectorvue, origin, wrong_reason)
    assert run.unexpected == [f"findings.jsonl #4 dead-lettered: {NO_TECHNIQUE}"]
    assert [d["on_purpose"] for d in run.dead_letters] == [True, True, False]

    not_scripted = [*right, _letter("finding:1", NO_TECHNIQUE)]
    run = Run("telemetry-gateway", enqueued=4, rescheduled=1, dead_lettered=4)
    judge(run, local_vectorvue, origin, not_scripted)
    assert run.unexpected == [f"findings.jsonl #1 dead-lettered: {NO_TECHNIQUE}"]

    run = Run("telemetry-gateway", enqueued=3, rescheduled=0, dead_lettered=2)
    judge(run, local_vectorvue, origin, right[:2])
    assert run.unexpected == [
        "findings.jsonl #4 was to be refused, and was not",
        "1 item(s) were to be stored, 0 delivered, 0 stored",
        "the outage was not met (nothing rescheduled)",
    ]
