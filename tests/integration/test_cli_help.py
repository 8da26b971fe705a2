"""Issue 13, item 9: the help of the real console script, walked from the top through every
command and subcommand (`... --help` in a subprocess each): every option and positional
has help text, every parser ends with an example naming a real command (the top level
with several), and no help cites a file the installed package does not ship."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from .test_cli import cli

# A fixed width, so that argparse lays the help out the same on every terminal.
WIDTH = {"COLUMNS": "100"}
# An argument's entry: its invocation at 2 spaces (a subcommand's name at 4), then its help
# after at least two spaces, or on the lines below, indented further.
ENTRY = re.compile(r"^(?P<indent> {2}| {4})(?P<name>\S+(?: \S+)*?)(?: {2,}(?P<help>\S.*))?$")
CONTINUATION = " " * 8
# The files a help text may not cite: the repository's, not the installed package's.
UNSHIPPED = ("ADR", "adr/", "docs/")


@dataclass(frozen=True)
class Help:
    """One parser's --help, read back: its entries without help, its subcommands, its
    examples (the words after `vectorvue-client`)."""

    text: str
    without_help: list[str]
    subcommands: list[str]
    examples: list[list[str]]


def read_help(path: tuple[str, ...]) -> Help:
    ran = cli(*path, "--help", env=WIDTH)
    assert ran.returncode == 0, (path, ran.stderr)
    lines = ran.stdout.splitlines()
    without_help: list[str] = []
    subcommands: list[str] = []
    examples: list[list[str]] = []
    section = ""
    for i, line in enumerate(lines):
        if line and not line[0].isspace() and line.endswith(":"):
            section = line
            continue
        if section.startswith("Example"):
            if line.strip():
                words = line.split()
                assert words[0] == "vectorvue-client", (path, line)
                examples.append(words[1:])
            continue
        if not section.endswith(("arguments:", "options:", "command):")):
            continue  # the usage and the description
        match = ENTRY.match(line)
        if match is None:
            continue
        if match["indent"] == "    ":
            subcommands.append(match["name"])
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if match["help"] is None and not following.startswith(CONTINUATION):
            without_help.append(match["name"])
    return Help(ran.stdout, without_help, subcommands, examples)


def walk() -> dict[tuple[str, ...], Help]:
    """Every parser's help, from the top level down, keyed by its command words."""
    found: dict[tuple[str, ...], Help] = {}
    waiting: list[tuple[str, ...]] = [()]
    while waiting:
        path = waiting.pop()
        found[path] = read_help(path)
        waiting += [(*path, name) for name in found[path].subcommands]
    return found


@pytest.fixture(scope="module")
def tree() -> dict[tuple[str, ...], Help]:
    return walk()


def test_the_walk_reaches_every_command(tree: dict[tuple[str, ...], Help]) -> None:
    """The walk itself is sound: it finds the commands and subcommands there are."""
    assert {("send",), ("config", "check"), ("outbox", "drain"), ("outbox", "retry")} <= set(tree)
    assert set(tree[("outbox",)].subcommands) == {"stats", "drain", "dead", "retry"}


def test_every_option_and_positional_has_help(tree: dict[tuple[str, ...], Help]) -> None:
    """No entry of any parser's help is a bare flag or name."""
    bare = {" ".join(path) or "(top)": h.without_help for path, h in tree.items() if h.without_help}
    assert bare == {}


def test_every_command_shows_an_example_of_itself(tree: dict[tuple[str, ...], Help]) -> None:
    """Each command and subcommand ends with one example that runs it; the top level lists
    several, each naming a command that exists."""
    for path, found in tree.items():
        if not path:
            continue
        assert len(found.examples) == 1, (path, found.examples)
        example = found.examples[0]
        assert tuple(example[: len(path)]) == path, (path, example)
        # A subcommand's parent shows one of its subcommands at work.
        if found.subcommands:
            assert example[len(path)] in found.subcommands, (path, example)
    top = tree[()].examples
    assert len(top) >= 3
    leaves = {path for path, found in tree.items() if path and not found.subcommands}
    for example in top:
        assert any(tuple(example[: len(leaf)]) == leaf for leaf in leaves), example


def test_no_help_cites_a_file_the_package_does_not_ship(
    tree: dict[tuple[str, ...], Help],
) -> None:
    """ADR numbers and docs/ paths mean nothing to someone who installed the package."""
    cited = {
        " ".join(path) or "(top)": [word for word in UNSHIPPED if word in found.text]
        for path, found in tree.items()
    }
    assert {path: words for path, words in cited.items() if words} == {}


def test_the_exit_codes_and_the_json_errors_stay_in_the_top_level_help(
    tree: dict[tuple[str, ...], Help],
) -> None:
    """The contract paragraphs are kept while the rest changes."""
    text = " ".join(tree[()].text.split())
    assert "Exit codes: 0 everything delivered" in text
    assert '{"error": TEXT, "exit_code": N}' in text


@pytest.mark.parametrize(
    ("argv", "rule"),
    [
        (["outbox", "drain", "--deadline", "-1"], "above 0"),
        (["outbox", "drain", "--deadline", "0"], "above 0"),
        (["outbox", "drain", "--deadline", "soon"], "above 0"),
        (["outbox", "drain", "--deadline", "inf"], "at most 604800"),
        (["outbox", "drain", "--deadline", "nan"], "a number of seconds"),
        (["outbox", "dead", "--limit", "0"], "from 1 to 1000000"),
        (["outbox", "dead", "--limit", "-5"], "from 1 to 1000000"),
        (["outbox", "dead", "--limit", "2.5"], "a whole number"),
        (["outbox", "dead", "--limit", "99999999999999999999"], "from 1 to 1000000"),
    ],
)
def test_a_bad_deadline_or_limit_is_refused_in_one_line(argv: list[str], rule: str) -> None:
    """Before anything is opened: exit 2, one line naming the option and the rule."""
    ran = cli(*argv, env={"VECTORVUE_BASE_URL": "https://127.0.0.1:9"})
    assert ran.returncode == 2
    assert ran.stdout == ""
    [line] = ran.stderr.splitlines()
    assert f"argument {argv[2]}" in line
    assert rule in line
