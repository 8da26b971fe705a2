"""Realistic SpectraStrike orchestrator outputs, bundled for the demo and the tests.

See README.md beside this file for what each file holds.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def sample_path(name: str) -> Path:
    """The path of bundled sample `name` (e.g. "findings.jsonl")."""
    path = Path(str(files(__name__).joinpath(name)))
    if not path.is_file():
        raise FileNotFoundError(f"no bundled sample named {name!r}")
    return path
