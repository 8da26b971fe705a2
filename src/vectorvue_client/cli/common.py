"""What every command shares: the exit codes, building the client, printing results."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TextIO

from vectorvue_client.config import Resolved, resolve
from vectorvue_client.domain.errors import VectorVueConfigError
from vectorvue_client.domain.redaction import mask_known

if TYPE_CHECKING:
    from vectorvue_client.service.client import VectorVueClient

EXIT_OK: Final = 0  # everything delivered (or the command did what it was asked)
EXIT_REJECTED: Final = 1  # some items rejected, refused or dead-lettered
EXIT_USAGE: Final = 2  # usage or configuration error
EXIT_UNREACHABLE: Final = 3  # VectorVue unreachable (or unhealthy)
EXIT_INTERRUPTED: Final = 130  # Ctrl-C: 128 + SIGINT, as a shell reports it
EXIT_STDOUT_CLOSED: Final = 141  # the stdout pipe closed early: 128 + SIGPIPE, likewise


# What a command that sends nothing resolves base_url to when none is configured: a name
# that can never resolve (RFC 6761), so that nothing could reach anything through it.
OFFLINE_BASE_URL: Final = "https://offline.invalid"


def settings(args: argparse.Namespace, *, offline: bool = False) -> Resolved:
    """The configuration the flags, the environment and --config resolve to; `offline`
    (a command that sends nothing): base_url may be missing."""
    flags = setting_flags(args)
    try:
        return resolve(toml_path=args.config, flags=flags)
    except VectorVueConfigError as exc:
        if not (offline and exc.field == "base_url" and exc.rule.startswith("is required")):
            raise
    return resolve(toml_path=args.config, flags={"base_url": OFFLINE_BASE_URL, **flags})


def setting_flags(args: argparse.Namespace) -> dict[str, str]:
    """The settings the command line gives: --base-url, --profile, --outbox-path, --set."""
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
    return flags


def open_client(args: argparse.Namespace, *, offline: bool = False) -> VectorVueClient:
    """A client with the default adapters for the resolved configuration; `offline` for a
    command that sends nothing (a dry run), which needs no base_url."""
    # Imported here: the adapters load only for the commands that talk to VectorVue.
    from vectorvue_client.container import build_client

    return build_client(settings(args, offline=offline).config)


def emit(args: argparse.Namespace, data: Mapping[str, Any], human: str) -> None:
    """Print `data` as one JSON object with --json, else `human`."""
    if getattr(args, "json", False):
        print(json.dumps(data, sort_keys=True, default=str))
    else:
        print(human)


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A plain aligned text table."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = _widths(cells)
    lines = [_line(row, widths) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


class TableWriter:
    """`table()` written row by row, for listings too long to hold: the first
    `width_rows` rows set the column widths (so a short table is exactly table()'s),
    later rows are written at once, a wider cell pushing its row out of line."""

    def __init__(self, out: TextIO, header: Sequence[str], width_rows: int) -> None:
        self._out = out
        self._header = [str(c) for c in header]
        self._width_rows = width_rows
        self._pending: list[list[str]] = []
        self._widths: list[int] | None = None

    def row(self, cells: Sequence[object]) -> None:
        """One more row."""
        row = [str(c) for c in cells]
        if self._widths is not None:
            self._out.write(_line(row, self._widths) + "\n")
            return
        self._pending.append(row)
        if len(self._pending) >= self._width_rows:
            self._start()

    def close(self) -> None:
        """Write what is still held (the whole table, when it is short)."""
        if self._widths is None:
            self._start()

    def _start(self) -> None:
        self._widths = _widths([self._header, *self._pending])
        self._out.write(table(self._pending, self._header) + "\n")
        self._pending = []


def _widths(cells: Sequence[Sequence[str]]) -> list[int]:
    return [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]


def _line(row: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip()


# Set once by main from --json: errors then go to stderr as one JSON object a line, so
# that stdout keeps the command's own result (one JSON object) and stays parseable.
_errors_as_json = False


def errors_as_json(on: bool) -> None:
    """Print the errors that follow as JSON objects (--json) or as text lines."""
    global _errors_as_json  # one CLI process, one output format
    _errors_as_json = on


def error(
    message: str,
    *,
    exit_code: int | None = None,
    field: str | None = None,
    rule: str | None = None,
    problems: Sequence[Mapping[str, object]] = (),
) -> None:
    """One line on stderr: readable text, or with --json the object {"error", "exit_code",
    and "field", "rule", "problems" when the error has them}."""
    # Masked of every secret the process knows: a server may have echoed one into it. The
    # values are masked before JSON encoding, which could escape a secret out of sight.
    if not _errors_as_json:
        text = " ".join(mask_known(message).split())  # one line, whatever the message held
        print(f"vectorvue-client: {text}", file=sys.stderr)
        return
    data: dict[str, object] = {"error": mask_known(message), "exit_code": exit_code}
    if field is not None:
        data["field"] = mask_known(field)
    if rule is not None:
        data["rule"] = mask_known(rule)
    if problems:
        data["problems"] = [
            {k: mask_known(v) if isinstance(v, str) else v for k, v in p.items()} for p in problems
        ]
    print(json.dumps(data, sort_keys=True, default=str), file=sys.stderr)
