"""The README's first screen: what the client is and why, then the two commands a new user
copies, then what the demo prints, as the demo prints it today (run here through the
console script)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Final

from .blocks import ROOT, Block, blocks_of

SCRIPT: Final = Path(sys.executable).with_name("vectorvue-client")
CUT: Final = " ..."  # where the README cuts a long line of the demo's output
COUNTED: Final = ("integration-api ", "telemetry-gateway ")  # the table's rows
# profile, enqueued, delivered, dead_lettered, stored: not rescheduled (how many deliveries
# the outage puts back depends on how the drain's rounds fall in time) nor the seconds.
COMPARED: Final = (0, 1, 2, 4, 5)


def _opening() -> tuple[list[str], Block, Block]:
    """The prose before the first block, the first block, and the first text block."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    blocks = blocks_of(ROOT / "README.md")
    demo = next(b for b in blocks if b.language == "text")
    return lines[: blocks[0].line - 1], blocks[0], demo


def test_what_and_why_come_before_the_two_commands() -> None:
    prose, commands, _ = _opening()
    assert prose[0] == "# vectorvue-client"
    said = " ".join(prose)
    assert "SpectraStrike" in said and "VectorVue" in said and "exactly once" in said
    assert commands.line <= 15, "the two commands must stay on the first screen"
    first, second = commands.code.splitlines()
    assert first.endswith("&& .venv/bin/vectorvue-client demo")
    assert second.endswith("&& .venv/bin/tox")


def test_the_demo_output_shown_is_what_the_demo_prints() -> None:
    """Every line shown is a line the demo prints: whole, or its start where the README cuts
    it, or (a row of the table) every column that does not depend on timing."""
    _, _, shown = _opening()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}
    result = subprocess.run(  # noqa: S603 - our own console script
        [str(SCRIPT), "demo"], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    printed = result.stdout.splitlines()
    for line in shown.code.splitlines():
        if line.endswith(CUT):
            start = line.removesuffix(CUT)
            assert any(p.startswith(start) for p in printed), f"not printed: {line!r}"
        elif line.startswith(COUNTED):
            rows = [p.split() for p in printed if p.startswith(COUNTED)]
            shown_row = line.split()
            assert any(
                len(row) == len(shown_row) and all(row[i] == shown_row[i] for i in COMPARED)
                for row in rows
            ), f"not printed: {line!r}"
        else:
            assert line in printed, f"not printed: {line!r}"
