"""The global options, accepted before the command and after it (ADR 0023).

`--config`, `--base-url`, `--profile`, `--outbox-path`, `--set`, `--json`, `--debug`,
`-v/--verbose` and `-q/--quiet` are declared on the top parser and again on every command
and subcommand, so that `vectorvue-client --base-url URL health`,
`vectorvue-client health --base-url URL` and `vectorvue-client outbox --json stats` all
mean what they say.

argparse parses a subcommand's arguments into a fresh namespace and then copies every
attribute of it over the outer one, defaults included: one option declared at two levels
under one name loses whatever the outer level parsed. So each level stores under a name of
its own ("base_url@0", "base_url@1", ...) and declares no default (an option not given
leaves no attribute), and `merge` folds the levels into one value per option after
parsing: a single-valued option given twice (at two levels, or at one) must be given the
same value, `--set` accumulates, a switch is on if it is on anywhere, `-v` counts
everywhere (`-v health -v` is `-vv`). `-q` with `-v` is refused like two different values.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Final, Literal

Kind = Literal["value", "append", "switch", "count"]


@dataclass(frozen=True, slots=True)
class GlobalOption:
    """One global option: its flag, the attribute it ends up in, how the values given at
    several levels combine, and what argparse shows of it."""

    flag: str
    dest: str
    kind: Kind
    help: str
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    short: str | None = None


OPTIONS: Final = (
    GlobalOption("--config", "config", "value", "TOML settings ([vectorvue] table)", "FILE"),
    GlobalOption("--base-url", "base_url", "value", "VectorVue's https:// URL", "URL"),
    GlobalOption(
        "--profile",
        "profile",
        "value",
        "which VectorVue API to deliver to",
        choices=("integration-api", "telemetry-gateway"),
    ),
    GlobalOption("--outbox-path", "outbox_path", "value", "the outbox's SQLite file", "PATH"),
    GlobalOption(
        "--set",
        "set",
        "append",
        "any setting by its name, as `config check` lists them (repeatable)",
        "FIELD=VALUE",
    ),
    GlobalOption("--json", "json", "switch", "machine-readable output"),
    GlobalOption("--debug", "debug", "switch", "tracebacks on errors"),
    GlobalOption(
        "--verbose",
        "verbose",
        "count",
        "more of the library's log on stderr: -v info, -vv debug and the HTTP requests",
        short="-v",
    ),
    GlobalOption("--quiet", "quiet", "switch", "only errors on stderr, no warnings", short="-q"),
)
_LEVEL: Final = "@"  # separates an option's attribute from the level that parsed it
# A single-valued option is collected as a list too, so that the same option given twice
# at one level with different values is refused like one given at two levels.
_ACTIONS: Final[dict[Kind, str]] = {
    "value": "append",
    "append": "append",
    "switch": "store_true",
    "count": "count",
}


def add_global_options(parser: argparse.ArgumentParser, level: int) -> None:
    """Declare every global option on `parser`, the `level`-th parser of the nesting
    (0: the top, 1: a command, 2: a subcommand such as `outbox stats`)."""
    group = parser.add_argument_group("global options (before or after the command)")
    for option in OPTIONS:
        extra: dict[str, Any] = {}
        if option.metavar is not None:
            extra["metavar"] = option.metavar
        if option.choices is not None:
            extra["choices"] = option.choices
        flags = (option.short, option.flag) if option.short else (option.flag,)
        group.add_argument(
            *flags,
            dest=f"{option.dest}{_LEVEL}{level}",
            action=_ACTIONS[option.kind],
            default=argparse.SUPPRESS,  # not given: no attribute, nothing to overwrite
            help=option.help,
            **extra,
        )


def merge(args: argparse.Namespace) -> str | None:
    """Fold every level's global options into one attribute each (`args.base_url`, ...,
    `args.set` a list, `args.json`, `args.debug` and `args.quiet` booleans, `args.verbose`
    a count) and drop the per-level ones. Returns the error line when a single-valued
    option was given different values in two positions, or -q with -v (the caller
    refuses the command), else None."""
    given: dict[str, list[tuple[int, Any]]] = {option.dest: [] for option in OPTIONS}
    for key, value in list(vars(args).items()):
        name, marker, level = key.partition(_LEVEL)
        if marker and name in given:
            given[name].append((int(level), value))
            delattr(args, key)
    conflict = None
    for option in OPTIONS:
        # Outer levels first: a later --set of the same field wins, as within one level.
        values = [value for _, value in sorted(given[option.dest], key=lambda lv: lv[0])]
        if option.kind == "switch":
            setattr(args, option.dest, any(values))
            continue
        if option.kind == "count":
            setattr(args, option.dest, sum(values))
            continue
        merged = [item for value in values for item in value]
        if option.kind == "append":
            setattr(args, option.dest, merged or None)
            continue
        if len(set(merged)) > 1 and conflict is None:
            # The values are not repeated: one of them may be a URL an operator would
            # rather not see copied into a log.
            conflict = f"{option.flag} is given twice with different values; give it once"
        setattr(args, option.dest, merged[-1] if merged else None)
    if args.quiet and args.verbose and conflict is None:
        conflict = "-q/--quiet and -v/--verbose ask for opposite things; give one of them"
    return conflict
