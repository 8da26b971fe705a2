"""Issue 13, item 10: `config check` on bad settings still shows every setting and where it
came from, each bad one marked with the rule it breaks (all of them, not only the first),
then exits 2 with one error line; with --json the same as one JSON object. Invalid values,
unknown variables' values and secrets are never shown. The real console script."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec

from vectorvue_client.config import VectorVueConfig

from .test_cli import cli

FIELDS = [field.name for field in msgspec.structs.fields(VectorVueConfig)]
URL = "https://vectorvue.example"
# Values that must never be printed: a key, and a secret pasted into the wrong variables.
API_KEY = "vv-api-key-4f1d9c2e"
PASTED = "hunter2-pasted-secret"
BAD = {
    "VECTORVUE_API_KEY": API_KEY,
    "VECTORVUE_TIMEOUT_SECONDS": PASTED,  # not a number
    "VECTORVUE_BASE_URL": "http://vectorvue.example",  # plain HTTP
    "VECTORVUE_MAX_RETIRES": PASTED,  # misspelt
}
RULES = {
    "timeout_seconds": "Expected `float`, got `str`",
    "base_url": "must use https:// (got http scheme): plain HTTP is refused",
    "VECTORVUE_MAX_RETIRES": "is not a setting (did you mean VECTORVUE_MAX_RETRIES?)",
}
RULES_REQUIRED = "is required (--base-url, VECTORVUE_BASE_URL, or base_url in --config)"


def rows(stdout: str) -> dict[str, tuple[bool, list[str]]]:
    """The table read back: per setting, whether it is marked, and its other cells (value,
    from, problem), which are apart by two spaces or more."""
    found = {}
    for line in stdout.splitlines()[2:]:  # after the header and its rule
        if not line.strip():
            break
        name, *cells = re.split(r" {2,}", line[1:].strip())
        found[name] = (line.startswith("!"), cells)
    return found


def test_every_bad_setting_is_marked_in_the_full_table() -> None:
    """A bad number, a plain-HTTP URL and a misspelt variable: every setting is listed,
    exactly the three bad rows are marked with their rules, then one error line (the
    first problem, naming the others) and exit 2."""
    ran = cli("config", "check", env=BAD)
    assert ran.returncode == 2, ran.stderr
    table = rows(ran.stdout)
    assert list(table) == [*FIELDS, "VECTORVUE_MAX_RETIRES"]
    assert {name for name, (marked, _) in table.items() if marked} == set(RULES)
    assert table["timeout_seconds"][1] == [
        "(invalid, not shown)",
        "env:VECTORVUE_TIMEOUT_SECONDS",
        RULES["timeout_seconds"],
    ]
    assert table["base_url"][1] == [
        "(invalid, not shown)",
        "env:VECTORVUE_BASE_URL",
        RULES["base_url"],
    ]
    assert table["VECTORVUE_MAX_RETIRES"][1] == [
        "(not shown)",
        "env:VECTORVUE_MAX_RETIRES",
        RULES["VECTORVUE_MAX_RETIRES"],
    ]
    assert table["max_retries"] == (False, ["3", "default"])
    [line] = ran.stderr.splitlines()
    assert line == (
        "vectorvue-client: timeout_seconds: Expected `float`, got `str` "
        "(from env:VECTORVUE_TIMEOUT_SECONDS) (and also: VECTORVUE_MAX_RETIRES, base_url)"
    )
    for secret in (API_KEY, PASTED):
        assert secret not in ran.stdout + ran.stderr


def test_with_json_each_bad_setting_carries_its_problem() -> None:
    """The same as one JSON object: every setting, a "problem" on exactly the bad ones
    (with no value shown for them), the list of the bad names; the error a JSON line."""
    ran = cli("config", "check", "--json", env=BAD)
    assert ran.returncode == 2, ran.stderr
    data: dict[str, Any] = json.loads(ran.stdout)
    settings = data["settings"]
    assert set(settings) == {*FIELDS, "VECTORVUE_MAX_RETIRES"}
    assert {name: s["problem"] for name, s in settings.items() if "problem" in s} == RULES
    assert settings["timeout_seconds"] == {
        "source": "env:VECTORVUE_TIMEOUT_SECONDS",
        "problem": RULES["timeout_seconds"],
    }
    assert settings["VECTORVUE_MAX_RETIRES"] == {
        "source": "env:VECTORVUE_MAX_RETIRES",
        "problem": RULES["VECTORVUE_MAX_RETIRES"],
    }
    assert settings["max_retries"] == {"value": 3, "source": "default"}
    assert settings["api_key_env"]["secret"] == "set"
    assert data["invalid"] == ["timeout_seconds", "VECTORVUE_MAX_RETIRES", "base_url"]
    error = json.loads(ran.stderr)
    assert (error["exit_code"], error["field"]) == (2, "timeout_seconds")
    for secret in (API_KEY, PASTED):
        assert secret not in ran.stdout + ran.stderr


def test_every_rule_between_settings_is_reported_not_only_the_first() -> None:
    """The gateway profile with nothing it needs: its three missing settings are marked,
    their (valid) values shown, and the unknown --set name too."""
    ran = cli(
        "config",
        "check",
        "--base-url",
        URL,
        "--profile",
        "telemetry-gateway",
        "--set",
        "batch_sise=3",
        "--json",
    )
    assert ran.returncode == 2, ran.stderr
    settings = json.loads(ran.stdout)["settings"]
    problems = {name: s["problem"] for name, s in settings.items() if "problem" in s}
    assert problems == {
        "client_cert": "is required by the telemetry gateway (mutual TLS)",
        "service_identity": "is required by the telemetry gateway (X-Service-Identity)",
        "signing_key_file": "the gateway needs exactly one of it or signing_key_env",
        "batch_sise": "is not a setting (did you mean batch_size?) "
        "(`vectorvue-client config check` lists every setting)",
    }
    assert settings["client_cert"]["value"] is None
    assert settings["profile"] == {"value": "telemetry-gateway", "source": "flag"}


def test_a_missing_base_url_still_shows_the_table() -> None:
    """No base_url anywhere: the table, base_url marked as required, the usual line."""
    ran = cli("config", "check", env={"VECTORVUE_BATCH_SIZE": "100"})
    assert ran.returncode == 2
    table = rows(ran.stdout)
    assert table["base_url"] == (True, ["(not set)", "default", RULES_REQUIRED])
    assert table["batch_size"] == (False, ["100", "env:VECTORVUE_BATCH_SIZE"])
    assert ran.stderr == f"vectorvue-client: base_url: {RULES_REQUIRED}\n"


def test_an_unreadable_config_file_is_a_marked_row_too(tmp_path: Path) -> None:
    """A --config that is not TOML: its own row, marked, beside the other settings."""
    toml = tmp_path / "vv.toml"
    toml.write_text("batch_size = = 3\n")
    ran = cli("config", "check", "--config", str(toml), "--base-url", URL, "--json")
    assert ran.returncode == 2
    settings = json.loads(ran.stdout)["settings"]
    assert settings["config file"]["source"] == f"toml:{toml}"
    assert "is not valid TOML" in settings["config file"]["problem"]
    assert settings["base_url"] == {"value": URL, "source": "flag"}


def test_a_valid_flag_replaces_an_invalid_variable() -> None:
    """Flags are the highest layer: the variable's bad value is not used, so not an error."""
    env = {"VECTORVUE_BASE_URL": URL, "VECTORVUE_TIMEOUT_SECONDS": "abc"}
    ran = cli("config", "check", "--set", "timeout_seconds=3", "--json", env=env)
    assert ran.returncode == 1, ran.stderr  # 1: the API key's variable is not set
    data = json.loads(ran.stdout)
    assert data["settings"]["timeout_seconds"] == {"value": 3.0, "source": "flag"}
    assert data["invalid"] == []
    assert data["missing_secrets"] == ["api_key_env"]
