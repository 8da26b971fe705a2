"""The package version and the User-Agent it sends.

A constant, not importlib.metadata: reading the installed metadata costs about 10 ms of
every import (tests/unit/test_version.py keeps the two equal)."""

from __future__ import annotations

__version__ = "0.1.0"

USER_AGENT = f"vectorvue-client/{__version__}"
