"""`vectorvue-client send` says what happened, however it ends: through the real console
script against LocalVectorVue, interrupted (SIGINT, SIGTERM) inside a request the receiver
holds, or stopped by a 429 that outlasts the retries or a dropped connection. The counts
add up, VectorVue's request ids and its reasons for refusing items are shown, and the
progress on stderr moves per request."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vectorvue_client.samples import sample_path
from vectorvue_client.testing import LocalVectorVue
from vectorvue_client.testing.pytest_plugin import LocalVectorVueFactory

SCRIPT = Path(sys.executable).with_name("vectorvue-client")
FINDINGS = 10
BATCH = 2  # items per request: five requests for the file
WAIT_SECONDS = 30  # the longest any step may take before the test gives up (never reached)


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}, **extra}


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own console script
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS * 2,
        env=clean_env(env),
        check=False,
    )


@pytest.fixture
def env(local_vectorvue: LocalVectorVue, tmp_path: Path) -> dict[str, str]:
    return {
        "VECTORVUE_BASE_URL": local_vectorvue.url,
        "VECTORVUE_CA_BUNDLE": local_vectorvue.ca_pem_path,
        "VECTORVUE_API_KEY": local_vectorvue.api_token,
        "VECTORVUE_OUTBOX_PATH": str(tmp_path / "outbox.sqlite3"),
        "VECTORVUE_BATCH_SIZE": str(BATCH),
        "VECTORVUE_MAX_RETRIES": "1",
        "VECTORVUE_BACKOFF_BASE_SECONDS": "0.01",
        "VECTORVUE_BACKOFF_MAX_SECONDS": "0.05",
    }


@pytest.fixture
def findings_file(tmp_path: Path) -> Path:
    """FINDINGS distinct findings, one per line."""
    template = json.loads(sample_path("findings.jsonl").read_text().splitlines()[0])
    path = tmp_path / "findings.jsonl"
    title = template["title"]
    lines = [json.dumps({**template, "title": f"{title} ({i})"}) for i in range(FINDINGS)]
    path.write_text("\n".join(lines) + "\n")
    return path


def posts(vv: LocalVectorVue) -> int:
    return sum(1 for r in vv.requests if r.method == "POST")


def until(condition: Callable[[], bool], proc: subprocess.Popen[str]) -> None:
    """Wait for `condition` (checked whenever a short wait ends), failing if the process
    ends first or it never holds."""
    done = threading.Event()
    for _ in range(WAIT_SECONDS * 100):
        if condition():
            return
        assert proc.poll() is None, proc.communicate()
        done.wait(0.01)
    pytest.fail("the condition never held")


def added_up(data: dict[str, Any]) -> int:
    return int(data["accepted"] + data["rejected"] + data["unconfirmed"] + data["not_attempted"])


@pytest.mark.parametrize(
    ("sent", "code", "stopped"),
    [(signal.SIGINT, 130, "interrupted (Ctrl-C)"), (signal.SIGTERM, -15, "terminated (SIGTERM)")],
    ids=["sigint", "sigterm"],
)
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "table"])
def test_an_interrupted_send_says_what_was_delivered_and_what_was_not(
    local_vectorvue: LocalVectorVue,
    env: dict[str, str],
    findings_file: Path,
    sent: signal.Signals,
    code: int,
    stopped: str,
    as_json: bool,
) -> None:
    """Two requests answered, the third held by the receiver when the signal comes: 4
    accepted, 2 unconfirmed (in the request that got no answer), 4 not attempted: all 10
    items accounted for; Ctrl-C exits 130, SIGTERM ends the process by SIGTERM; both say
    that resending is safe and point to --enqueue."""
    local_vectorvue.stall_next(2, 0.0)  # answered at once
    local_vectorvue.stall_next(1, 3600.0)  # held until the receiver stops
    args = ["send", str(findings_file), *(["--json"] if as_json else [])]
    with subprocess.Popen(  # noqa: S603 - our own console script
        [str(SCRIPT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(env),
    ) as proc:
        until(lambda: posts(local_vectorvue) == 3, proc)
        proc.send_signal(sent)
        stdout, stderr = proc.communicate(timeout=WAIT_SECONDS)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert posts(local_vectorvue) == 3
    if as_json:
        data = json.loads(stdout)
        assert (data["items"], data["accepted"], data["unconfirmed"]) == (FINDINGS, 4, 2)
        assert (data["not_attempted"], data["rejected"], data["refused"]) == (4, 0, 0)
        assert added_up(data) == FINDINGS
        assert data["stopped"] == stopped
        assert data["requests"] == 2 and len(data["request_ids"]) == 2
        assert "safe" in data["resend"] and "--enqueue" in data["resend"]
        return
    header, _, row = stdout.splitlines()[:3]
    counts = dict(zip(re.split(r"\s{2,}", header), re.split(r"\s{2,}", row), strict=True))
    assert counts["accepted"] == "4"
    assert (counts["unconfirmed"], counts["not attempted"]) == ("2", "4")
    assert f"stopped: {stopped}" in stdout
    assert "Sending the same file again is safe" in stdout
    assert "send --enqueue FILE" in stdout


@pytest.mark.parametrize("fault", ["429", "reset", "422"])
def test_a_send_stopped_by_vectorvue_prints_its_summary_before_its_error(
    local_vectorvue: LocalVectorVue, env: dict[str, str], findings_file: Path, fault: str
) -> None:
    """Two requests answered, then a 429 on every attempt of the third (or a dropped
    connection): exit 3, the summary on stdout (the JSON object with --json), the error
    one JSON line on stderr; its 2 items unconfirmed, 4 not attempted. A 422 refuses the
    third request's items: they are rejected, with its reason, and the exit code is 1."""
    local_vectorvue.stall_next(2, 0.0)
    if fault == "429":
        local_vectorvue.fail_next(2, 429, b'{"detail":"Rate limit exceeded"}')  # 1 + 1 retry
    elif fault == "reset":
        local_vectorvue.reset_next(2)
    else:
        local_vectorvue.fail_next(1, 422, b'{"detail":"batch refused on purpose"}')
    ran = cli("send", str(findings_file), "--json", env=env)
    error = json.loads(ran.stderr.splitlines()[-1])
    data = json.loads(ran.stdout)
    assert data["stopped"] == error["error"]
    assert data["accepted"] == 4 and data["not_attempted"] == 4
    assert added_up(data) == FINDINGS
    assert "--enqueue" in data["resend"]
    if fault == "422":
        assert ran.returncode == error["exit_code"] == 1, ran.stderr
        assert (data["rejected"], data["unconfirmed"]) == (2, 0)
        [rejected] = data["rejected_items"]
        assert (rejected["code"], rejected["message"]) == ("http_422", "batch refused on purpose")
        assert (rejected["id"], rejected["items"]) == (None, 2)
        local_vectorvue.stall_next(2, 0.0)
        local_vectorvue.fail_next(1, 422, b'{"detail":"batch refused on purpose"}')
        table = cli("send", str(findings_file), env=env)
        assert re.search(
            r"^rejected by VectorVue: the 2 item\(s\) of one request: "
            r"http_422: batch refused on purpose$",
            table.stdout,
            re.MULTILINE,
        ), table.stdout
    else:
        assert ran.returncode == error["exit_code"] == 3, ran.stderr
        assert (data["rejected"], data["unconfirmed"]) == (0, 2)
    # And resending the same file is indeed safe: every finding stored once.
    again = cli("send", str(findings_file), "--json", env=env)
    assert again.returncode == 0, again.stderr
    assert len(local_vectorvue.accepted_findings()) == FINDINGS


def test_request_ids_and_the_servers_reasons_are_shown(
    local_vectorvue: LocalVectorVue, env: dict[str, str], findings_file: Path
) -> None:
    """Five requests: every request id in --json, the first and the last in the table,
    each usable with `status`; an item the server refused shows its code and message."""
    ran = cli("send", str(findings_file), "--json", env=env)
    assert ran.returncode == 0, ran.stderr
    ids = json.loads(ran.stdout)["request_ids"]
    assert len(ids) == FINDINGS // BATCH == len(set(ids))
    for request_id in (ids[0], ids[-1]):
        status = cli("status", request_id, "--json", env=env)
        assert status.returncode == 0, status.stderr

    partial = {
        "request_id": "5b0c6a2e-0d6f-4c55-9d0e-3f1c1b7c9a11",
        "status": "partial",
        "data": {
            "results": [
                {"index": 0, "status": "accepted"},
                {
                    "index": 1,
                    "status": "failed",
                    "error_code": "asset_unknown",
                    "error_message": "no asset 192.0.2.11 in this tenant",
                },
            ]
        },
        "errors": [],
    }
    local_vectorvue.fail_next(1, 202, json.dumps(partial).encode())
    table = cli("send", str(findings_file), env=env)
    assert table.returncode == 1, table.stderr
    assert re.search(
        rf"request ids: 5, first {partial['request_id']}, last [0-9a-f-]{{36}}", table.stdout
    ), table.stdout
    assert "vectorvue-client status REQUEST_ID" in table.stdout
    assert re.search(
        r"rejected by VectorVue: fnd-[0-9a-f]+: asset_unknown: no asset 192.0.2.11 in this tenant",
        table.stdout,
    ), table.stdout

    local_vectorvue.fail_next(1, 202, json.dumps(partial).encode())
    data = json.loads(cli("send", str(findings_file), "--json", env=env).stdout)
    assert (data["accepted"], data["rejected"]) == (FINDINGS - 1, 1)
    [rejected] = data["rejected_items"]
    assert (rejected["code"], rejected["message"]) == (
        "asset_unknown",
        "no asset 192.0.2.11 in this tenant",
    )
    assert rejected["request_id"] == partial["request_id"] == data["request_ids"][0]


def test_an_answer_that_is_not_vectorvues_leaves_its_items_unconfirmed(
    local_vectorvue: LocalVectorVue, env: dict[str, str], findings_file: Path
) -> None:
    """A proxy's HTML page with a 202 for the second request: the send goes on, its 2
    items are unconfirmed (nothing says VectorVue has them), and the exit code is 1."""
    local_vectorvue.stall_next(1, 0.0)
    local_vectorvue.non_json_next(1, 202)
    ran = cli("send", str(findings_file), "--json", env=env)
    assert ran.returncode == 1, ran.stderr
    data = json.loads(ran.stdout)
    assert (data["accepted"], data["unconfirmed"], data["not_attempted"]) == (8, 2, 0)
    assert added_up(data) == FINDINGS
    assert data["stopped"] is None
    assert "safe" in data["resend"]


def gateway_env(vv: LocalVectorVue, key: Ed25519PrivateKey) -> dict[str, str]:
    cert = vv.issue_client_cert("spectrastrike-producer")
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return {
        "VECTORVUE_PROFILE": "telemetry-gateway",
        "VECTORVUE_BASE_URL": vv.url,
        "VECTORVUE_CA_BUNDLE": vv.ca_pem_path,
        "VECTORVUE_CLIENT_CERT": cert.cert_path,
        "VECTORVUE_CLIENT_KEY": cert.key_path,
        "VECTORVUE_SERVICE_IDENTITY": "spectrastrike-producer",
        "VECTORVUE_SIGNING_KEY_ENV": "GATEWAY_KEY",
        "GATEWAY_KEY": base64.b64encode(seed).decode(),
        "VECTORVUE_OPERATOR_ID": "op-001",
        "VECTORVUE_CAMPAIGN_ID": "cmp-001",
        "VECTORVUE_TENANT_ID": TENANT,
        "VECTORVUE_ATTESTATION_MEASUREMENT_HASH": "0" * 64,
        "VECTORVUE_BACKOFF_BASE_SECONDS": "0.01",
        "VECTORVUE_BACKOFF_MAX_SECONDS": "0.05",
    }


TENANT = "6f1c2b7e-3d4a-4f5b-8c9d-0e1f2a3b4c5d"


def test_gateway_progress_moves_per_request_and_shows_its_waits(
    local_vectorvue_factory: LocalVectorVueFactory, findings_file: Path
) -> None:
    """The gateway takes one event per request: the plain progress lines of a run whose
    stderr is not a terminal count each request (the first line is 1 of 10, not 10 of 10
    at the end of a chunk), and a wait before a retry is shown as it starts."""
    key = Ed25519PrivateKey.generate()
    vv = local_vectorvue_factory(
        gateway_identities={"spectrastrike-producer": key.public_key()},
        operator_tenants={"op-001": [TENANT]},
    )
    env = gateway_env(vv, key)
    ran = cli("send", str(findings_file), env=env)
    assert ran.returncode == 0, ran.stderr
    lines = ran.stderr.splitlines()
    assert re.fullmatch(rf"sending: 1/{FINDINGS} items \(\d+/s\)", lines[0]), lines
    assert re.fullmatch(rf"sending: {FINDINGS}/{FINDINGS} items \(\d+/s\)", lines[-1]), lines
    ids = json.loads(cli("send", str(findings_file), "--json", env=env).stdout)["request_ids"]
    assert len(ids) == FINDINGS == len(set(ids))  # one request (and id) per event

    vv.fail_next(1, 503, b'{"detail":"Service Unavailable"}')
    ran = cli("send", str(findings_file), env=env)
    assert ran.returncode == 0, ran.stderr
    first = ran.stderr.splitlines()[0]
    assert re.fullmatch(rf"sending: 0/{FINDINGS} items; waiting \d+\.\d s before retrying", first)


def test_the_check_of_a_long_file_shows_its_progress(
    local_vectorvue: LocalVectorVue, env: dict[str, str], tmp_path: Path
) -> None:
    """A file of more documents than one chunk: the first reading (every document checked
    before anything is sent) prints its count on stderr, up to the last, before the send's
    own lines; -q prints no progress at all."""
    template = json.loads(sample_path("findings.jsonl").read_text().splitlines()[0])
    path = tmp_path / "long.jsonl"
    count = 450
    lines = [json.dumps({**template, "title": f"finding {i}"}) for i in range(count)]
    path.write_text("\n".join(lines) + "\n")
    env = {**env, "VECTORVUE_BATCH_SIZE": "100"}
    ran = cli("send", str(path), env=env)
    assert ran.returncode == 0, ran.stderr
    printed = ran.stderr.splitlines()
    checking = [line for line in printed if line.startswith("checking: ")]
    assert re.fullmatch(r"checking: 200 documents \(\d+/s\)", checking[0]), printed
    assert checking[-1] == f"checking: {count} documents", printed
    assert printed.index(checking[-1]) < next(
        i for i, line in enumerate(printed) if line.startswith("sending: ")
    )
    quiet = cli("send", str(path), "-q", env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""


def test_a_wait_for_the_gateways_rate_limit_is_shown_and_can_be_interrupted(
    local_vectorvue_factory: LocalVectorVueFactory, findings_file: Path
) -> None:
    """One request a minute: after the first event the send waits for the operator's
    budget, and says so on stderr as the wait starts; Ctrl-C then ends it: 1 accepted,
    the rest not attempted (none unconfirmed: no request was in flight). With --json no
    progress line says when the wait has begun: the receiver's record of the first POST
    may come before the client has its answer, so there the first event is accepted or
    unconfirmed; the table's run, stopped once the wait is shown, says which."""
    key = Ed25519PrivateKey.generate()
    vv = local_vectorvue_factory(
        gateway_identities={"spectrastrike-producer": key.public_key()},
        operator_tenants={"op-001": [TENANT]},
    )
    env = {**gateway_env(vv, key), "VECTORVUE_GATEWAY_RATE_PER_MINUTE": "1"}
    with subprocess.Popen(  # noqa: S603 - our own console script
        [str(SCRIPT), "send", str(findings_file), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(env),
    ) as proc:
        until(lambda: posts(vv) == 1, proc)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=WAIT_SECONDS)
    assert proc.returncode == 130, stderr
    data = json.loads(stdout)
    assert data["accepted"] + data["unconfirmed"] == 1
    assert data["not_attempted"] == FINDINGS - 1
    assert data["stopped"] == "interrupted (Ctrl-C)"

    with subprocess.Popen(  # noqa: S603 - our own console script
        [str(SCRIPT), "send", str(findings_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(env),
    ) as proc:
        assert proc.stderr is not None
        waiting = ""
        while line := proc.stderr.readline():
            if "waiting" in line:
                waiting = line
                break
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=WAIT_SECONDS)
    assert re.fullmatch(
        rf"sending: 1/{FINDINGS} items; waiting \d+\.\d s for the gateway's rate limit\n", waiting
    ), waiting
    assert "stopped: interrupted (Ctrl-C)" in stdout
    # documents, items, accepted 1, rejected, refused, unconfirmed 0, not attempted
    row = rf"^{FINDINGS} +{FINDINGS} +1 +0 +0 +0 +{FINDINGS - 1} "
    assert re.search(row, stdout, re.MULTILINE), stdout


def test_a_gateway_event_vectorvue_keeps_answering_429_is_unconfirmed_not_rejected(
    local_vectorvue_factory: LocalVectorVueFactory, findings_file: Path
) -> None:
    """The gateway's batch goes on past an event whose 429s outlast the retries. That
    event is not refused (VectorVue would take it later): it is unconfirmed, with the
    reason, the resend hint is given, and the exit code is 1."""
    key = Ed25519PrivateKey.generate()
    vv = local_vectorvue_factory(
        gateway_identities={"spectrastrike-producer": key.public_key()},
        operator_tenants={"op-001": [TENANT]},
    )
    env = {**gateway_env(vv, key), "VECTORVUE_MAX_RETRIES": "1"}
    vv.fail_next(2, 429, b'{"detail":"rate limit exceeded"}')  # the first try and its retry
    ran = cli("send", str(findings_file), "--json", env=env)
    assert ran.returncode == 1, ran.stderr
    data = json.loads(ran.stdout)
    assert (data["accepted"], data["rejected"], data["unconfirmed"]) == (FINDINGS - 1, 0, 1)
    assert added_up(data) == FINDINGS
    assert "429" in data["unconfirmed_reason"]
    assert "safe" in data["resend"]


def test_a_hostile_servers_reasons_neither_echo_a_secret_nor_drive_the_terminal(
    local_vectorvue: LocalVectorVue, env: dict[str, str], findings_file: Path
) -> None:
    """A refusal whose code, message and request id carry the API key and terminal escape
    sequences: the summary shows them masked and escaped, in the table and in --json."""
    token = local_vectorvue.api_token
    hostile = {
        "request_id": f"\x1b]0;{token}\x07",
        "status": "partial",
        "data": {
            "results": [
                {"index": 0, "status": "accepted"},
                {
                    "index": 1,
                    "status": "failed",
                    "error_code": f"\x1b[2J{token}",
                    "error_message": f"your key is {token}\r\x1b[31mOK",
                },
            ]
        },
        "errors": [],
    }
    for as_json in ((), ("--json",)):
        local_vectorvue.fail_next(1, 202, json.dumps(hostile).encode())
        ran = cli("send", str(findings_file), *as_json, env=env)
        assert ran.returncode == 1, ran.stderr
        shown = ran.stdout + ran.stderr
        assert token not in shown
        assert "\x1b" not in shown and "\r" not in shown and "\x07" not in shown
        assert "your key is" in shown
