"""How the real console script fails: one readable, masked line on stderr (a JSON object
with --json), never a traceback without --debug, and quietly when its reader goes away."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from vectorvue_client.samples import sample_path
from vectorvue_client.testing import LocalVectorVue

SCRIPT = Path(sys.executable).with_name("vectorvue-client")
NOWHERE = "https://127.0.0.1:9"  # nothing listens: a dry run or a refusal never connects


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the console script with a clean VECTORVUE_* environment plus `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}
    return subprocess.run(  # noqa: S603 - our own console script
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **(env or {})},
        check=False,
    )


def one_json_line(stderr: str) -> dict[str, Any]:
    """The single line of `stderr`, decoded as a JSON object."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    data: dict[str, Any] = json.loads(lines[0])
    return data


def test_a_closed_stdout_pipe_ends_quietly(tmp_path: Path) -> None:
    """`send --dry-run BIG | head -1`: the reader goes after one line; the script stops
    with 141 (128 + SIGPIPE, as the shell reports a program a pipe killed) and prints
    nothing on stderr: no traceback, no "Exception ignored" at interpreter exit."""
    finding = sample_path("findings.jsonl").read_text().splitlines()[0]
    path = tmp_path / "big.jsonl"
    # Far more listing than a pipe buffers, so the script is still writing when it closes.
    path.write_text((finding + "\n") * 3000)
    base = {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}
    with subprocess.Popen(  # noqa: S603 - our own console script
        [str(SCRIPT), "send", "--dry-run", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**base, "VECTORVUE_BASE_URL": NOWHERE},
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().startswith(b"kind")
        proc.stdout.close()
        stderr = proc.stderr.read()
        code = proc.wait(timeout=60)
    assert stderr == b""
    assert code == 141


def test_a_pin_mismatch_is_one_readable_line(local_vectorvue: LocalVectorVue) -> None:
    """A certificate that is not the pinned one: exit 3, one line in words (not the repr
    of an exception's argument tuple); with --json the same as an object, exit_code 3."""
    env = {
        "VECTORVUE_BASE_URL": local_vectorvue.url,
        "VECTORVUE_CA_BUNDLE": local_vectorvue.ca_pem_path,
        "VECTORVUE_API_KEY": local_vectorvue.api_token,
        "VECTORVUE_MAX_RETRIES": "0",
        "VECTORVUE_PINNED_CERT_SHA256": "ab" * 32,
    }
    findings = str(sample_path("findings.jsonl"))
    ran = cli("send", findings, env=env)
    assert ran.returncode == 3
    assert ran.stderr.count("\n") == 1, ran.stderr
    assert ran.stderr.startswith("vectorvue-client: pin_mismatch: "), ran.stderr
    assert "is not among the 1 pinned certificate(s)" in ran.stderr
    assert "('" not in ran.stderr
    assert "Traceback" not in ran.stderr
    data = one_json_line(cli("send", findings, "--json", env=env).stderr)
    assert data["exit_code"] == 3
    assert data["error"].startswith("pin_mismatch: ")
    assert "('" not in data["error"]
    assert local_vectorvue.requests == []


def test_a_json_error_names_its_field_rule_and_exit_code() -> None:
    """A bad setting with --json: stdout stays empty (it holds only results), stderr is one
    object with the error, the setting, the rule it broke and the exit code."""
    ran = cli(
        "--json",
        "send",
        str(sample_path("findings.jsonl")),
        "--set",
        "batch_size=-1",
        env={"VECTORVUE_BASE_URL": NOWHERE},
    )
    assert ran.returncode == 2
    assert ran.stdout == ""
    data = one_json_line(ran.stderr)
    assert data["exit_code"] == 2
    assert data["field"] == "batch_size"
    assert ">= 1" in data["rule"]
    assert data["error"] == f"batch_size: {data['rule']}"


def test_refusals_are_objects_counted_per_document(tmp_path: Path) -> None:
    """A document with four problems and a good one: `refused` counts one document, each
    problem is {line, field, rule}; the text form lists each problem on its own line."""
    good = sample_path("findings.jsonl").read_text().splitlines()[0]
    path = tmp_path / "mixed.jsonl"
    path.write_text(good + "\n" + '{"title": "x", "severity": "urgent-ish"}\n')
    env = {"VECTORVUE_BASE_URL": NOWHERE}
    ran = cli("send", "--dry-run", "--skip-invalid", "--json", str(path), env=env)
    assert ran.returncode == 1
    data = json.loads(ran.stdout)
    assert (data["documents"], len(data["would_send"]), data["refused"]) == (2, 1, 1)
    problems = data["refused_locally"]
    assert len(problems) > 1
    assert {p["line"] for p in problems} == {"line 2"}
    assert all(set(p) == {"line", "field", "rule"} for p in problems)
    assert {"field": "title", "line": "line 2", "rule": problems[0]["rule"]} in problems
    assert "severity" in {p["field"] for p in problems}
    error = one_json_line(ran.stderr)
    assert (error["exit_code"], error["field"]) == (1, problems[0]["field"])
    assert "1 document(s) would be left out" in error["error"]
    text = cli("send", "--dry-run", "--skip-invalid", str(path), env=env)
    assert text.stdout.count("refused: line 2: ") == len(problems)


def test_an_unreadable_line_is_refused_without_a_field(tmp_path: Path) -> None:
    """A line that is no JSON has no field: its refusal's field is null."""
    path = tmp_path / "broken.jsonl"
    path.write_text('{"title": \n')
    ran = cli("send", "--dry-run", "--json", str(path), env={"VECTORVUE_BASE_URL": NOWHERE})
    assert ran.returncode == 1
    [problem] = json.loads(ran.stdout)["refused_locally"]
    assert (problem["line"], problem["field"]) == ("line 1", None)
    assert problem["rule"]


def test_errors_are_masked_in_text_and_in_json(tmp_path: Path) -> None:
    """A known secret in an error (here the input file's own name) is masked on both forms."""
    secret = "s3cretTOKENvalue12345abc"
    path = tmp_path / f"{secret}.jsonl"
    path.write_text('{"title": "x"}\n')
    env = {"VECTORVUE_BASE_URL": NOWHERE, "VECTORVUE_API_KEY": secret}
    for json_flag in ((), ("--json",)):
        ran = cli("send", "--dry-run", *json_flag, str(path), env=env)
        assert ran.returncode == 1
        assert secret not in ran.stderr
        assert secret not in ran.stdout
        assert f"{tmp_path}/***.jsonl" in ran.stderr


def test_a_usage_error_is_one_line_too() -> None:
    """A missing argument or an unknown command: exit 2, one line naming the command and
    where its usage is; with --json an object with exit_code 2."""
    ran = cli("send")
    assert ran.returncode == 2
    assert ran.stderr == (
        "vectorvue-client: send: the following arguments are required: FILE|- "
        "(see vectorvue-client send --help)\n"
    )
    ran = cli("--json", "no-such-command")
    assert ran.returncode == 2
    data = one_json_line(ran.stderr)
    assert data["exit_code"] == 2
    assert data["error"].startswith("argument COMMAND: invalid choice: 'no-such-command'")
