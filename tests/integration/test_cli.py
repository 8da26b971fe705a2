"""The real `vectorvue-client` console script, in a subprocess, against LocalVectorVue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vectorvue_client.container import build_client
from vectorvue_client.samples import sample_path
from vectorvue_client.testing import LocalVectorVue

SCRIPT = Path(sys.executable).with_name("vectorvue-client")


def cli(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the console script with a clean VECTORVUE_* environment plus `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}
    return subprocess.run(  # noqa: S603 - our own console script
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**base, **(env or {})},
        input=stdin,
        check=False,
    )


@pytest.fixture
def env(local_vectorvue: LocalVectorVue, tmp_path: Path) -> dict[str, str]:
    """Settings for the receiver, as an operator would export them."""
    return {
        "VECTORVUE_BASE_URL": local_vectorvue.url,
        "VECTORVUE_CA_BUNDLE": local_vectorvue.ca_pem_path,
        "VECTORVUE_API_KEY": local_vectorvue.api_token,
        "VECTORVUE_OUTBOX_PATH": str(tmp_path / "outbox.sqlite3"),
        "VECTORVUE_BACKOFF_BASE_SECONDS": "0.01",
        "VECTORVUE_BACKOFF_MAX_SECONDS": "0.05",
    }


def summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_the_script_is_installed_and_knows_its_version() -> None:
    """`--version` prints the package version; an unknown command is a usage error (2)."""
    assert SCRIPT.exists()
    result = cli("--version")
    assert result.returncode == 0
    assert "vectorvue-client" in result.stdout
    assert cli("launch-missiles").returncode == 2


def test_send_delivers_a_findings_file(
    local_vectorvue: LocalVectorVue, env: dict[str, str]
) -> None:
    """A JSONL file: every finding accepted, exit 0, a JSON summary with counts and rate."""
    result = cli("send", str(sample_path("findings.jsonl")), "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = summary(result)
    assert (data["mode"], data["documents"], data["items"], data["accepted"]) == ("send", 4, 4, 4)
    assert data["items_per_second"] > 0
    assert len(local_vectorvue.accepted_findings()) == 4


def test_send_reads_stdin_and_splits_an_nmap_result(
    local_vectorvue: LocalVectorVue, env: dict[str, str]
) -> None:
    """ "-" reads standard input; one nmap result gives one event per host."""
    text = sample_path("nmap-result.json").read_text()
    result = cli("send", "-", "--json", env=env, stdin=text)
    assert result.returncode == 0, result.stderr
    assert summary(result)["accepted"] == 3
    assert {e["asset_ref"] for e in local_vectorvue.accepted_events().values()} == {
        "192.0.2.10",
        "192.0.2.11",
        "192.0.2.12",
    }


def test_a_dry_run_names_every_problem_and_sends_nothing(
    local_vectorvue: LocalVectorVue, env: dict[str, str]
) -> None:
    """bad-inputs.jsonl: exit 1, one line per problem with the line, field and rule."""
    result = cli("send", str(sample_path("bad-inputs.jsonl")), "--dry-run", env=env)
    assert result.returncode == 1
    for expected in (
        "line 1: severity:",
        "line 2: occurred_at:",
        "line 3: event_type:",
        "line 4: message:",
        "line 5: not JSON: NaN is not a JSON number",  # msgspec refuses what json read
        "line 6: tenant_id:",
        "line 7: mitre_techniques[0]:",
    ):
        assert expected in result.stdout, result.stdout
    assert "nothing was sent" in result.stderr
    assert local_vectorvue.requests == []


def test_skip_invalid_sends_the_rest(
    local_vectorvue: LocalVectorVue, env: dict[str, str], tmp_path: Path
) -> None:
    """One bad line among good ones: the good ones go, exit 1 says something was refused."""
    good = sample_path("findings.jsonl").read_text().splitlines()
    bad = sample_path("bad-inputs.jsonl").read_text().splitlines()[0]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([*good[:2], bad, *good[2:]]) + "\n")
    assert cli("send", str(path), env=env).returncode == 1
    assert local_vectorvue.requests == []
    result = cli("send", str(path), "--skip-invalid", "--json", env=env)
    assert result.returncode == 1
    data = summary(result)
    assert data["accepted"] == 4
    refused = data["refused_locally"]
    assert {problem["line"] for problem in refused} == {"line 3"}
    assert "severity" in {problem["field"] for problem in refused}
    assert data["refused"] == 1  # one document, however many problems it has


def test_an_unreachable_vectorvue_is_exit_3_in_one_line(env: dict[str, str]) -> None:
    """Connection refused: exit 3, one readable line; --debug adds the traceback."""
    env = {**env, "VECTORVUE_BASE_URL": "https://127.0.0.1:9", "VECTORVUE_MAX_RETRIES": "0"}
    result = cli("send", str(sample_path("findings.jsonl")), env=env)
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("vectorvue-client: connect:")
    assert "Traceback" not in result.stderr
    debug = cli("send", str(sample_path("findings.jsonl")), "--debug", env=env)
    assert debug.returncode == 3
    assert "Traceback" in debug.stderr


def test_health_and_status(local_vectorvue: LocalVectorVue, env: dict[str, str]) -> None:
    """health: 0 when healthy, 3 when not; status: the ingest record, 1 when unknown."""
    assert cli("health", env=env).returncode == 0
    local_vectorvue.fail_next(1, 503, include_health=True)
    assert cli("health", env=env).returncode == 3
    from vectorvue_client import VectorVueConfig

    os.environ["VV_TEST_KEY"] = local_vectorvue.api_token
    try:
        config = VectorVueConfig(
            base_url=local_vectorvue.url,
            ca_bundle=local_vectorvue.ca_pem_path,
            api_key_env="VV_TEST_KEY",
        )
        with build_client(config) as client:
            request_id = client.send_outputs(
                [json.loads(sample_path("cloudevent.json").read_text())]
            ).request_id
    finally:
        del os.environ["VV_TEST_KEY"]
    assert request_id is not None
    result = cli("status", request_id, "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert summary(result)["counts"]["accepted"] == 1
    assert cli("status", "00000000-0000-0000-0000-000000000000", env=env).returncode == 1


def test_config_check_shows_sources_and_never_secrets(env: dict[str, str], tmp_path: Path) -> None:
    """Each value with where it came from; the key's variable shows as set, never its value."""
    toml = tmp_path / "vv.toml"
    toml.write_text("[vectorvue]\nbatch_size = 100\nmax_retries = 7\n")
    result = cli(
        "config",
        "check",
        "--config",
        str(toml),
        "--set",
        "max_retries=2",
        "--json",
        env={**env, "VECTORVUE_TIMEOUT_SECONDS": "3.5"},
    )
    assert result.returncode == 0, result.stderr
    settings = summary(result)["settings"]
    assert settings["batch_size"] == {"value": 100, "source": f"toml:{toml}"}
    assert settings["max_retries"] == {"value": 2, "source": "flag"}
    assert settings["timeout_seconds"] == {"value": 3.5, "source": "env:VECTORVUE_TIMEOUT_SECONDS"}
    assert settings["pool_size"]["source"] == "default"
    assert settings["api_key_env"]["secret"] == "set"
    assert env["VECTORVUE_API_KEY"] not in result.stdout
    missing = cli("config", "check")
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        "vectorvue-client: base_url: is required "
        "(--base-url, VECTORVUE_BASE_URL, or base_url in --config)"
    )


def test_enqueue_then_the_outbox_commands(
    local_vectorvue: LocalVectorVue, env: dict[str, str]
) -> None:
    """send --enqueue stores without sending; outbox stats/drain/dead/retry manage it."""
    result = cli("send", str(sample_path("metasploit-result.json")), "--enqueue", env=env)
    assert result.returncode == 0, result.stderr
    assert local_vectorvue.requests == []
    stats = summary(cli("outbox", "stats", "--json", env=env))
    assert stats["pending"] == 2
    local_vectorvue.fail_next(
        1,
        422,
        b'{"request_id":"r","status":"failed","data":null,'
        b'"errors":[{"code":"validation_error","message":"no"}]}',
    )
    drained = cli("outbox", "drain", "--json", env=env)
    assert drained.returncode == 1  # the 422 dead-lettered the batch
    dead = summary(cli("outbox", "dead", "--json", env=env))["dead_letters"]
    assert len(dead) == 2
    assert "422" in dead[0]["reason"]
    assert cli("outbox", "retry", "--all", env=env).returncode == 0
    assert cli("outbox", "drain", env=env).returncode == 0
    assert summary(cli("outbox", "stats", "--json", env=env))["delivered"] == 2
    assert cli("outbox", "retry", env=env).returncode == 2


def test_outbox_stats_says_when_the_next_item_is_due(env: dict[str, str]) -> None:
    empty = cli("outbox", "stats", env=env)
    assert empty.returncode == 0, empty.stderr
    assert "next due" in empty.stdout
    assert summary(cli("outbox", "stats", "--json", env=env))["next_due_in_seconds"] is None
    enqueued = cli("send", str(sample_path("metasploit-result.json")), "--enqueue", env=env)
    assert enqueued.returncode == 0, enqueued.stderr
    assert summary(cli("outbox", "stats", "--json", env=env))["next_due_in_seconds"] == 0
    assert cli("outbox", "stats", env=env).stdout.splitlines()[-1].endswith("now")


def test_a_drain_that_leaves_items_pending_says_why_and_when_they_are_due(
    local_vectorvue: LocalVectorVue, env: dict[str, str]
) -> None:
    env = {**env, "VECTORVUE_MAX_RETRIES": "0"}
    enqueued = cli("send", str(sample_path("metasploit-result.json")), "--enqueue", env=env)
    assert enqueued.returncode == 0, enqueued.stderr

    # A deadline spent before the first request (the smallest one --deadline takes, 1 ns, is
    # spent by the drain's own reading of the outbox): nothing is tried, everything is due now.
    spent = summary(cli("outbox", "drain", "--deadline", "1e-9", "--json", env=env))
    assert (spent["stopped_by"], spent["pending"], spent["next_due_in_seconds"]) == (
        "deadline",
        2,
        0,
    )
    assert "deadline" in spent["reason"]
    assert local_vectorvue.requests == []

    # VectorVue says "not now, for 600 s": the items wait for their backoff.
    local_vectorvue.fail_next(1, 503, retry_after=600)
    result = cli("outbox", "drain", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = summary(result)
    assert (report["rescheduled"], report["pending"], report["stopped_by"]) == (2, 2, "empty")
    assert 500 < report["next_due_in_seconds"] <= 600
    assert "backoff" in report["reason"] and "503" in report["reason"]
    assert "503" in report["last_error"]
    stats = summary(cli("outbox", "stats", "--json", env=env))
    assert 500 < stats["next_due_in_seconds"] <= 600

    human = cli("outbox", "drain", env=env).stdout
    assert "still pending 2" in human
    assert "stopped: nothing more is due" in human and "next item due in " in human


def test_a_drain_that_empties_the_outbox_gives_no_stop_reason(env: dict[str, str]) -> None:
    cli("send", str(sample_path("metasploit-result.json")), "--enqueue", env=env)
    report = summary(cli("outbox", "drain", "--json", env=env))
    assert (report["delivered"], report["pending"], report["reason"]) == (2, 0, None)
    assert report["next_due_in_seconds"] is None


def test_retrying_an_unknown_key_is_an_error_naming_it(
    local_vectorvue: LocalVectorVue, env: dict[str, str]
) -> None:
    cli("send", str(sample_path("metasploit-result.json")), "--enqueue", env=env)
    local_vectorvue.fail_next(
        1,
        422,
        b'{"request_id":"r","status":"failed","data":null,'
        b'"errors":[{"code":"validation_error","message":"no"}]}',
    )
    assert cli("outbox", "drain", env=env).returncode == 1
    dead = summary(cli("outbox", "dead", "--json", env=env))["dead_letters"]
    known = dead[0]["key"]

    alone = cli("outbox", "retry", "finding:nope", env=env)
    assert alone.returncode == 2
    assert "finding:nope" in alone.stderr
    assert len(alone.stderr.splitlines()) == 1
    assert alone.stdout == ""  # not "0 dead letter(s) back in line"

    mixed = cli("outbox", "retry", "finding:nope", known, "--json", env=env)
    assert mixed.returncode == 2
    assert summary(mixed) == {"requeued": 1, "unknown": ["finding:nope"]}
    assert "finding:nope" in mixed.stderr and known not in mixed.stderr
    remaining = summary(cli("outbox", "dead", "--json", env=env))["dead_letters"]
    assert [d["key"] for d in remaining] == [dead[1]["key"]]

    assert cli("outbox", "retry", dead[1]["key"], env=env).returncode == 0
    assert summary(cli("outbox", "dead", "--json", env=env))["dead_letters"] == []


def test_the_receiver_command_prints_how_to_reach_it() -> None:
    """receiver --seconds 1: URL, CA path and credentials, then it stops by itself."""
    result = cli("receiver", "--seconds", "1", "--json")
    assert result.returncode == 0, result.stderr
    data = summary(result)
    assert data["url"].startswith("https://127.0.0.1:")
    assert Path(data["integration_api"]["VECTORVUE_CA_BUNDLE"]).name == "ca.pem"
