"""`vectorvue-client receiver` through the real console script: the export blocks it prints
are pasted into a shell and `vectorvue-client send` runs against it in both profiles, and it
logs one line per request on stderr, never a secret."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vectorvue_client.samples import sample_path

SCRIPT = Path(sys.executable).with_name("vectorvue-client")
BASH = shutil.which("bash")
LAST_LINE = "# One line per request follows on stderr; Ctrl-C stops it."


def clean_env() -> dict[str, str]:
    """This process's environment without any VECTORVUE_* variable."""
    return {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}


@dataclass
class Receiver:
    """A running `vectorvue-client receiver` and what it printed on stdout."""

    process: subprocess.Popen[str]
    printed: list[str]

    def block(self, title: str) -> str:
        """The export lines under the comment that starts with `title`, as printed."""
        start = next(i for i, line in enumerate(self.printed) if line.startswith(f"# {title}"))
        end = self.printed.index("", start)
        return "\n".join(self.printed[start + 1 : end])

    def stop(self) -> tuple[int, str]:
        """SIGTERM, as a service manager stops it: its exit code and all of its stderr."""
        self.process.send_signal(signal.SIGTERM)
        try:
            _, stderr = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # it did not stop: fail, leaving no process behind
            self.process.kill()
            self.process.communicate(timeout=30)
            raise
        return self.process.returncode, stderr


def start(*args: str) -> Receiver:
    """Start the receiver and read its stdout up to the line that closes the exports."""
    process = subprocess.Popen(  # noqa: S603 - our own console script
        [str(SCRIPT), "receiver", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    assert process.stdout is not None
    printed: list[str] = []
    while (line := process.stdout.readline()) and line.rstrip("\n") != LAST_LINE:
        printed.append(line.rstrip("\n"))
    if not line:  # it ended before printing its exports
        _, stderr = process.communicate(timeout=30)
        pytest.fail(f"receiver exited {process.returncode}: {stderr}")
    return Receiver(process, printed)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver on a free port (--port 0), stopped at the end even when a test fails."""
    running = start("--port", "0")
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.communicate(timeout=30)


def run_pasted(exports: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Paste `exports` into bash, then run `vectorvue-client ARGS...` there."""
    assert BASH is not None
    script = f'{exports}\nexec "$0" "$@"\n'
    return subprocess.run(  # noqa: S603 - bash running our own console script
        [BASH, "-c", script, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
        check=False,
    )


def send_pasted(exports: str, sample: str) -> subprocess.CompletedProcess[str]:
    """Paste `exports` into bash, then run `vectorvue-client send SAMPLE --json` there."""
    return run_pasted(exports, "send", str(sample_path(sample)), "--json")


@pytest.mark.skipif(BASH is None, reason="needs bash to paste the export lines into")
def test_each_printed_block_is_enough_for_send_in_its_profile(receiver: Receiver) -> None:
    """Pasted as printed, each block delivers: the API with the token, the API with the
    login, the gateway (operator, campaign, tenant and attestation from the block). Pasted
    one after another in the same shell, each still wins over the one before."""
    token_block = receiver.block("integration API, with the API token")
    login_block = receiver.block("integration API, with a login")
    gateway_block = receiver.block("telemetry gateway")
    runs = [
        (token_block, "findings.jsonl"),
        (login_block, "findings.jsonl"),
        (gateway_block, "nmap-result.json"),
        (f"{gateway_block}\n{token_block}", "findings.jsonl"),
        (f"{token_block}\n{gateway_block}", "nmap-result.json"),
    ]
    for exports, sample in runs:
        result = send_pasted(exports, sample)
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["accepted"] == summary["items"] > 0, summary

    code, log = receiver.stop()
    assert code == 0
    lines = log.splitlines()
    api = [line for line in lines if " /api/v1/integrations/spectrastrike/" in line]
    gateway = [line for line in lines if " /internal/v1/telemetry " in line]
    assert api and all(line.split()[1] == "POST" for line in api)
    assert all(line.endswith((" 200", " 202")) for line in api), api
    assert any(" /api/v1/client/auth/login 200" in line for line in lines)
    assert len(gateway) == 2 * len(json.loads(sample_path("nmap-result.json").read_text())["hosts"])
    assert all(line.endswith(" 202 operator=op-001") for line in gateway), gateway
    secrets = [
        exports.partition(f"export {name}=")[2].partition("\n")[0]
        for exports, name in (
            (token_block, "VECTORVUE_API_KEY"),
            (login_block, "VECTORVUE_PASSWORD"),
        )
    ]
    assert all(secrets) and not any(secret in log for secret in secrets)
    assert "Bearer" not in log and "{" not in log


def test_a_given_port_is_the_one_it_listens_on() -> None:
    """--port N: the printed URL and the socket are 127.0.0.1:N."""
    with socket.socket() as probe:  # a port free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = start("--port", str(port))
    try:
        assert f"export VECTORVUE_BASE_URL=https://127.0.0.1:{port}" in running.printed
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass
    finally:
        assert running.stop()[0] == 0


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT] * 4)
def test_a_stop_signal_stops_it_whichever_thread_the_kernel_hands_it_to(
    stop_signal: signal.Signals,
) -> None:
    """A process-directed signal goes to any thread that does not block it. One taken by a
    server thread (likelier just after a connection woke it, hence the connection here)
    never woke a main thread asleep until the stop: the receiver hung, about one run in
    three. Repeated, since which thread takes it is the kernel's choice."""
    running = start("--port", "0")
    url = next(line for line in running.printed if "VECTORVUE_BASE_URL=" in line)
    port = int(url.rpartition(":")[2])
    with socket.create_connection(("127.0.0.1", port), timeout=10):
        pass
    running.process.send_signal(stop_signal)
    try:
        running.process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.communicate(timeout=30)
        pytest.fail(f"the receiver did not stop on {stop_signal.name}")
    assert running.process.returncode == 0


def test_a_port_in_use_is_one_line_naming_the_option() -> None:
    """A port another process holds: exit 2 and one line naming --port, no traceback."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(  # noqa: S603 - our own console script
            [str(SCRIPT), "receiver", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(),
            check=False,
        )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"--port: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("port", ["65536", "-1", "http"])
def test_a_port_out_of_range_is_a_usage_error(port: str) -> None:
    """--port outside 0-65535: argparse's usage error (exit 2) naming the value."""
    result = subprocess.run(  # noqa: S603 - our own console script
        [str(SCRIPT), "receiver", f"--port={port}"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
        check=False,
    )
    assert result.returncode == 2
    assert f"'{port}' is not a port number (0-65535)" in result.stderr


def test_a_hostile_gateway_body_is_answered_and_logged_without_the_operator(
    receiver: Receiver,
) -> None:
    """A body nested too deep to read, with no valid headers: the gateway's 401 as usual,
    and the log line, whose operator is "-", is written all the same."""
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in receiver.block("telemetry gateway").splitlines()
    )
    context = ssl.create_default_context(cafile=exports["VECTORVUE_CA_BUNDLE"])
    host, _, port = exports["VECTORVUE_BASE_URL"].removeprefix("https://").partition(":")
    connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=30)
    try:
        body = b"[" * 200_000
        connection.request(
            "POST", "/internal/v1/telemetry?x=1", body, {"Content-Type": "application/json"}
        )
        with connection.getresponse() as response:
            response.read()
        assert response.status == 401
    finally:
        connection.close()
    code, log = receiver.stop()
    assert code == 0
    assert log.splitlines()[-1].endswith(" POST /internal/v1/telemetry 401 operator=-")


@pytest.mark.skipif(BASH is None, reason="needs bash to paste the export lines into")
def test_with_signed_the_api_blocks_carry_the_hmac_secret() -> None:
    """receiver --signed requires HMAC signatures: the API blocks export the secret and the
    variable naming it, so that a pasted block still delivers."""
    running = start("--port", "0", "--signed")
    try:
        for title in ("integration API, with the API token", "integration API, with a login"):
            block = running.block(title)
            assert "export VECTORVUE_SIGNING_SECRET_ENV=VECTORVUE_SIGNING_SECRET" in block
            result = send_pasted(block, "findings.jsonl")
            assert result.returncode == 0, result.stderr
            assert json.loads(result.stdout)["accepted"] == 4
    finally:
        code, log = running.stop()
    assert code == 0
    assert " 401" not in log


@pytest.mark.skipif(BASH is None, reason="needs bash to paste the export lines into")
def test_the_gateway_block_pushes_a_graph_and_verifies_the_feedback(
    receiver: Receiver, tmp_path: Path
) -> None:
    """The gateway block carries the feedback keyring the receiver signs with: a graph
    pushed from it comes back as an adjustment that `feedback` verifies (exit 0)."""
    block = receiver.block("telemetry gateway")
    graph = tmp_path / "run.graph.json"
    graph.write_text(
        json.dumps(
            {
                "execution_fingerprint": "cd" * 32,
                "graph": {"target_urn": "urn:target:web-01", "nodes": list(range(9))},
            }
        )
    )
    pushed = run_pasted(block, "graph", "push", str(graph), "--json")
    assert pushed.returncode == 0, pushed.stderr
    tenant = block.partition("export VECTORVUE_TENANT_ID=")[2].partition("\n")[0]
    answered = run_pasted(block, "feedback", tenant, "--json")
    assert answered.returncode == 0, answered.stderr
    feedback = json.loads(answered.stdout)
    assert [a["target_urn"] for a in feedback["adjustments"]] == ["urn:target:web-01"]
    assert feedback["dropped"] == []
    # The block's keyring is what verifies it: another one lacks the receiver's kid.
    other = tmp_path / "other-keyring.json"
    other.write_text(json.dumps({"elsewhere": "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}))
    foreign = run_pasted(
        f"{block}\nexport VECTORVUE_FEEDBACK_KEYRING_FILE={other}", "feedback", tenant, "--json"
    )
    assert foreign.returncode == 1
    assert json.loads(foreign.stdout)["check"] == "kid", foreign.stdout
    unkeyed = block.replace("export VECTORVUE_FEEDBACK_KEYRING_FILE=", "export _UNUSED=")
    missing = run_pasted(unkeyed, "feedback", tenant, "--json")
    assert missing.returncode == 2
    assert "feedback_keyring_file" in missing.stderr


@pytest.mark.skipif(BASH is None, reason="needs bash to paste the export lines into")
def test_the_login_block_carries_the_compliance_key_its_envelopes_are_signed_with(
    receiver: Receiver,
) -> None:
    """Answers are signed with the compliance key the login block exports: enforced, the
    pasted block still delivers; with another key the signature is refused. The token
    block has no key: its opaque token names no tenant, which the signature covers."""
    block = receiver.block("integration API, with a login")
    enforced = f"{block}\nexport VECTORVUE_COMPLIANCE_SIGNATURES=enforce"
    result = send_pasted(enforced, "findings.jsonl")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["accepted"] == 4
    refused = send_pasted(f"{enforced}\nexport VECTORVUE_COMPLIANCE_KEY=not-it", "findings.jsonl")
    assert refused.returncode == 1
    assert "signature_invalid" in refused.stdout + refused.stderr
    assert "COMPLIANCE" not in receiver.block("integration API, with the API token")
    code, log = receiver.stop()
    assert code == 0
    key = block.partition("export VECTORVUE_COMPLIANCE_KEY=")[2].partition("\n")[0]
    assert key and key not in log
