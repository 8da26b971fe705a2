"""The installed `vectorvue-client` console script, run as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("vectorvue-client")


@dataclass(frozen=True)
class Ran:
    """What one run of the console script did."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 60,
) -> Ran:
    """Run the console script with a clean VECTORVUE_* environment plus `env`; output is
    decoded leniently, since a hostile input may be echoed back."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}
    done = subprocess.run(  # noqa: S603 - our own console script
        [str(SCRIPT), *args],
        capture_output=True,
        timeout=timeout,
        env={**base, **(env or {})},
        input=stdin,
        check=False,
    )
    return Ran(
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )
