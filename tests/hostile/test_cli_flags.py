"""Issue 11, item 11: a global option is never silently ignored.

`--help` lists --config, --base-url, --profile, --outbox-path, --set, --json and --debug
before the command; each must work there, between a command and its subcommand, and after
the command, with the same effect, through the real console script. The same
single-valued option given twice with different values is refused (exit 2, one line
naming it); --set accumulates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vectorvue_client.samples import sample_path
from vectorvue_client.testing import LocalVectorVue

from .cli_run import Ran, run_cli

# What the environment says; every test passes a flag that must win over it.
ENV_URL = "https://127.0.0.1:9"
FLAG_URL = "https://vectorvue.flag.example"
BASE_ENV = {"VECTORVUE_BASE_URL": ENV_URL, "VECTORVUE_API_KEY": "test-key"}


def positions(words: list[str], option: list[str], levels: int) -> list[list[str]]:
    """`words` with `option` before the command, and after each of the first `levels`
    words (the command, then its subcommand): every place a global option may stand."""
    return [[*words[:i], *option, *words[i:]] for i in range(levels + 1)]


def settings(ran: Ran) -> dict[str, Any]:
    assert ran.returncode == 0, ran.stderr
    found: dict[str, Any] = json.loads(ran.stdout)["settings"]
    return found


def test_base_url_counts_in_every_position(local_vectorvue: LocalVectorVue) -> None:
    """`--base-url` before `config`, before `check` or after it: the flag's URL, from "flag";
    and `--base-url URL health` checks URL, not the environment's (the issue's case)."""
    for argv in positions(["config", "check", "--json"], ["--base-url", FLAG_URL], 2):
        assert settings(run_cli(*argv, env=BASE_ENV))["base_url"] == {
            "value": FLAG_URL,
            "source": "flag",
        }, argv
    env = {
        **BASE_ENV,
        "VECTORVUE_CA_BUNDLE": local_vectorvue.ca_pem_path,
        "VECTORVUE_API_KEY": local_vectorvue.api_token,
        "VECTORVUE_MAX_RETRIES": "0",
    }
    for argv in positions(["health"], ["--base-url", local_vectorvue.url], 1):
        ran = run_cli(*argv, env=env)
        assert ran.returncode == 0, (argv, ran.stderr)
    assert len(local_vectorvue.requests) == 2


def test_config_counts_in_every_position(tmp_path: Path) -> None:
    """`--config FILE` in any position: its settings, each from "toml:FILE"."""
    toml = tmp_path / "vv.toml"
    toml.write_text(f'[vectorvue]\nbase_url = "{FLAG_URL}"\nbatch_size = 100\n')
    env = {"VECTORVUE_API_KEY": "test-key"}
    for argv in positions(["config", "check", "--json"], ["--config", str(toml)], 2):
        found = settings(run_cli(*argv, env=env))
        assert found["base_url"] == {"value": FLAG_URL, "source": f"toml:{toml}"}, argv
        assert found["batch_size"] == {"value": 100, "source": f"toml:{toml}"}, argv


def test_profile_counts_in_every_position() -> None:
    """`--profile telemetry-gateway` in any position: the gateway profile, from "flag"."""
    env = {
        **BASE_ENV,
        "VECTORVUE_CLIENT_CERT": "/nonexistent/client.pem",
        "VECTORVUE_CLIENT_KEY": "/nonexistent/client.key",
        "VECTORVUE_SERVICE_IDENTITY": "spectrastrike-producer",
        "VECTORVUE_SIGNING_KEY_ENV": "VV_TEST_SIGNING_KEY",
        "VV_TEST_SIGNING_KEY": "set",
    }
    option = ["--profile", "telemetry-gateway"]
    for argv in positions(["config", "check", "--json"], option, 2):
        assert settings(run_cli(*argv, env=env))["profile"] == {
            "value": "telemetry-gateway",
            "source": "flag",
        }, argv


def test_outbox_path_counts_in_every_position(tmp_path: Path) -> None:
    """`--outbox-path X send --enqueue FILE` stores into X, not the environment's outbox;
    `outbox stats` reads X wherever the option stands."""
    env_outbox = tmp_path / "from-env.sqlite3"
    env = {**BASE_ENV, "VECTORVUE_OUTBOX_PATH": str(env_outbox)}
    findings = str(sample_path("findings.jsonl"))
    outboxes = []
    for i, argv in enumerate(
        positions(["send", "--enqueue", findings], ["--outbox-path", "PLACEHOLDER"], 1)
    ):
        outbox = tmp_path / f"flag-{i}.sqlite3"
        outboxes.append(outbox)
        ran = run_cli(*[str(outbox) if a == "PLACEHOLDER" else a for a in argv], env=env)
        assert ran.returncode == 0, (argv, ran.stderr)
        assert outbox.exists(), argv
    assert not env_outbox.exists()
    for outbox in outboxes:
        option = ["--outbox-path", str(outbox)]
        for argv in positions(["outbox", "stats", "--json"], option, 2):
            ran = run_cli(*argv, env=env)
            assert ran.returncode == 0, (argv, ran.stderr)
            assert json.loads(ran.stdout)["pending"] == 4, argv
    assert not env_outbox.exists()


def test_set_counts_in_every_position_and_accumulates() -> None:
    """`--set FIELD=VALUE` in any position; given in several positions, every one counts."""
    for argv in positions(["config", "check", "--json"], ["--set", "max_retries=2"], 2):
        assert settings(run_cli(*argv, env=BASE_ENV))["max_retries"] == {
            "value": 2,
            "source": "flag",
        }, argv
    argv = [
        *("--set", "max_retries=2", "config"),
        *("--set", "batch_size=7", "check"),
        *("--set", "timeout_seconds=3.5", "--json"),
    ]
    found = settings(run_cli(*argv, env=BASE_ENV))
    assert found["max_retries"] == {"value": 2, "source": "flag"}
    assert found["batch_size"] == {"value": 7, "source": "flag"}
    assert found["timeout_seconds"] == {"value": 3.5, "source": "flag"}


def test_json_counts_in_every_position(tmp_path: Path) -> None:
    """`--json` in any position gives JSON, not a table (`config check`, `outbox stats`)."""
    env = {**BASE_ENV, "VECTORVUE_OUTBOX_PATH": str(tmp_path / "outbox.sqlite3")}
    for argv in positions(["config", "check"], ["--json"], 2):
        assert "base_url" in settings(run_cli(*argv, env=env)), argv
    for argv in positions(["outbox", "stats"], ["--json"], 2):
        ran = run_cli(*argv, env=env)
        assert ran.returncode == 0, (argv, ran.stderr)
        assert json.loads(ran.stdout)["pending"] == 0, argv


def test_debug_counts_in_every_position() -> None:
    """`--debug` in any position adds the traceback to a configuration error."""
    words = ["config", "check", "--set", "no_such_setting=1"]
    plain = run_cli(*words, env=BASE_ENV)
    assert plain.returncode == 2
    assert "Traceback" not in plain.stderr
    for argv in positions(words, ["--debug"], 2):
        ran = run_cli(*argv, env=BASE_ENV)
        assert ran.returncode == 2, argv
        assert "Traceback" in ran.stderr, argv
        assert "no_such_setting" in ran.stderr.splitlines()[-1], argv


@pytest.mark.parametrize("flag", ["--config", "--base-url", "--profile", "--outbox-path"])
def test_one_option_with_two_values_is_refused(flag: str, tmp_path: Path) -> None:
    """The same option twice with different values (before and after the command, or
    twice in one place): exit 2, one line naming the option (not echoing the values),
    nothing done (with --json that line is a JSON object); the same value twice is
    accepted."""
    values = {
        "--config": [str(tmp_path / "a.toml"), str(tmp_path / "b.toml")],
        "--base-url": ["https://a.example", "https://b.example"],
        "--profile": ["integration-api", "telemetry-gateway"],
        "--outbox-path": [str(tmp_path / "a.sqlite3"), str(tmp_path / "b.sqlite3")],
    }[flag]
    for name in ("a.toml", "b.toml"):
        (tmp_path / name).write_text("[vectorvue]\nbatch_size = 100\n")
    first, second = values
    for argv in (
        [flag, first, "config", "check", flag, second],
        ["config", flag, first, "check", flag, second],
        [flag, first, "config", flag, second, "check"],
        ["config", "check", flag, first, flag, second],
    ):
        ran = run_cli(*argv, "--json", env=BASE_ENV)
        assert ran.returncode == 2, (argv, ran.stdout)
        assert ran.stdout == ""
        assert len(ran.stderr.splitlines()) == 1, ran.stderr
        assert json.loads(ran.stderr) == {
            "error": f"{flag} is given twice with different values; give it once",
            "exit_code": 2,
        }
        assert first not in ran.stderr
        assert second not in ran.stderr
    same = run_cli(flag, first, "config", "check", flag, first, "--json", env=BASE_ENV)
    expected: dict[str, tuple[str, object]] = {
        "--config": ("batch_size", 100),
        "--base-url": ("base_url", first),
        "--profile": ("profile", first),
        "--outbox-path": ("outbox_path", first),
    }
    field, value = expected[flag]
    assert settings(same)[field]["value"] == value
