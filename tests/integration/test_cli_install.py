"""What an installation gives: `python -m vectorvue_client`, and the commands that need the
`testing` extra refusing in one line, naming it, when it is not installed. Through the real
console script and interpreter, in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vectorvue_client.version import __version__

SCRIPT = Path(sys.executable).with_name("vectorvue-client")
EXTRA_HINT = "pip install 'vectorvue-client[testing]'"


def run(
    argv: list[str],
    *,
    hide_trustme: Path | None = None,
    hidden: str = "trustme",
    env_extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `argv` with a clean VECTORVUE_* environment (plus `env_extra`); with
    `hide_trustme` (a directory), as if the module `hidden` (the testing extra's trustme
    by default) were not installed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}
    env.update(env_extra or {})
    if hide_trustme is not None:
        # A sitecustomize that marks the module as absent in sys.modules: every import of
        # it then raises the interpreter's own ModuleNotFoundError, as it does when the
        # package is not installed.
        hiding = f"import sys\nsys.modules[{hidden!r}] = None\n"
        (hide_trustme / "sitecustomize.py").write_text(hiding)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(hide_trustme), env.get("PYTHONPATH")) if p
        )
    return subprocess.run(  # noqa: S603 - our own interpreter and console script
        argv, capture_output=True, text=True, timeout=60, env=env, check=False
    )


def test_python_dash_m_is_the_console_script() -> None:
    """`python -m vectorvue_client` answers --version and --help as the console script does."""
    module = [sys.executable, "-m", "vectorvue_client"]
    version = run([*module, "--version"])
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"vectorvue-client {__version__}"
    assert version.stdout == run([str(SCRIPT), "--version"]).stdout
    helped = run([*module, "--help"])
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout == run([str(SCRIPT), "--help"]).stdout
    assert "receiver" in helped.stdout and "demo" in helped.stdout
    assert run([*module, "launch-missiles"]).returncode == 2


def test_the_trustme_hiding_is_real(tmp_path: Path) -> None:
    """The environment the next test uses really lacks trustme (and only it)."""
    probe = [sys.executable, "-c", "import trustme"]
    assert run(probe).returncode == 0
    hidden = run(probe, hide_trustme=tmp_path)
    assert hidden.returncode == 1
    assert "ModuleNotFoundError" in hidden.stderr and "trustme" in hidden.stderr


@pytest.mark.parametrize(
    "argv", [["demo"], ["receiver", "--seconds", "0.01"]], ids=["demo", "receiver"]
)
def test_without_the_testing_extra_the_command_names_it(argv: list[str], tmp_path: Path) -> None:
    """No traceback: one line on stderr naming the extra to install, exit 2 (a missing
    prerequisite is a usage or configuration error), nothing on stdout."""
    result = run([str(SCRIPT), *argv], hide_trustme=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert EXTRA_HINT in lines[0] and "trustme" in lines[0] and argv[0] in lines[0]


def test_without_the_fleet_extra_the_library_works_and_bridge_names_it(tmp_path: Path) -> None:
    """pika (the `fleet` extra) is needed by `bridge` alone: without it the composition
    root imports and builds a client, and `bridge` refuses in one line naming the extra."""
    probe = [sys.executable, "-c", "import pika"]
    assert run(probe, hide_trustme=tmp_path, hidden="pika").returncode == 1
    built = run(
        [
            sys.executable,
            "-c",
            "from vectorvue_client import VectorVueConfig, build_client\n"
            "build_client(VectorVueConfig(base_url='https://vectorvue.invalid')).close()\n"
            "import sys; assert 'pika' not in sys.modules or sys.modules['pika'] is None\n",
        ],
        hide_trustme=tmp_path,
        hidden="pika",
        env_extra={"VECTORVUE_API_KEY": "k" * 32},
    )
    assert built.returncode == 0, built.stderr
    bridge = run(
        [str(SCRIPT), "bridge", "--base-url", "https://vectorvue.invalid"],
        hide_trustme=tmp_path,
        hidden="pika",
        env_extra={
            "VECTORVUE_API_KEY": "k" * 32,
            "VECTORVUE_BROKER_URL": "amqp://bridge:not-a-real-password@127.0.0.1:1/%2F",
        },
    )
    assert bridge.returncode == 2, bridge.stderr
    lines = bridge.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "pip install 'vectorvue-client[fleet]'" in lines[0] and "pika" in lines[0]
    assert "not-a-real-password" not in bridge.stderr + bridge.stdout
