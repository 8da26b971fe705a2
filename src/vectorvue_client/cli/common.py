"""What every command shares: the exit codes, building the client, printing results."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Final

from vectorvue_client.client import VectorVueClient
from vectorvue_client.config_sources import Resolved, resolve
from vectorvue_client.domain.errors import VectorVueConfigError

EXIT_OK: Final = 0  # everything delivered (or the command did what it was asked)
EXIT_REJECTED: Final = 1  # some items rejected, refused or dead-lettered
EXIT_USAGE: Final = 2  # usage or configuration error
EXIT_UNREACHABLE: Final = 3  # VectorVue unreachable (or unhealthy)


def settings(args: argparse.Namespace) -> Resolved:
    """The configuration the flags, the environment and --config resolve to."""
    flags: dict[str, str] = {}
    for name in ("base_url", "profile", "outbox_path"):
        value = getattr(args, name, None)
        if value is not None:
            flags[name] = value
    for item in getattr(args, "set", None) or ():
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise VectorVueConfigError("--set", f"{item!r} is not FIELD=VALUE")
        flags[name.strip()] = value
    return resolve(toml_path=args.config, flags=flags)


def open_client(args: argparse.Namespace) -> VectorVueClient:
    """A client with the default adapters for the resolved configuration."""
    return VectorVueClient.from_config(settings(args).config)


def emit(args: argparse.Namespace, data: Mapping[str, Any], human: str) -> None:
    """Print `data` as one JSON object with --json, else `human`."""
    if getattr(args, "json", False):
        print(json.dumps(data, sort_keys=True, default=str))
    else:
        print(human)


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A plain aligned text table."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def error(message: str) -> None:
    """One readable line on stderr."""
    print(f"vectorvue-client: {message}", file=sys.stderr)
