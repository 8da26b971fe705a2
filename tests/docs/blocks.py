"""The fenced code blocks of the project's Markdown, and what each is marked as.

A block's kind is given by an HTML comment on the line just before its fence,
`<!-- example: KIND -->`; a ```python block without one is a complete program. The kinds:

- `runnable` (or no marker): a complete program, run in a fresh interpreter;
- `local`: a complete program that reads its settings from `VectorVueConfig.from_env()`, run
  with VECTORVUE_BASE_URL, VECTORVUE_CA_BUNDLE and VECTORVUE_API_KEY naming a LocalVectorVue
  the test started;
- `conftest` and `pytest`: a conftest.py, then a test module run by pytest beside it;
- `fragment`: a piece of a program shown for its shape, deliberately not run (it must still
  parse, and still import only public names).

Shell blocks (sh, bash, console, shell) are read for their `vectorvue-client` commands.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
PYTHON_KINDS: Final = frozenset({"runnable", "local", "conftest", "pytest", "fragment"})
SHELL_LANGUAGES: Final = frozenset({"sh", "bash", "console", "shell"})
_MARKER: Final = re.compile(r"^<!-- example: (?P<kind>[a-z]+) -->\s*$")
_FENCE: Final = re.compile(r"^```(?P<language>[A-Za-z0-9_+-]*)\s*$")
_COMMAND: Final = "vectorvue-client"


class MarkdownError(AssertionError):
    """The Markdown breaks the block conventions (an unknown kind, a marker before no
    python block, a fence never closed): the test fails rather than skip a block."""


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced block: its file (relative to the root), the line of its fence, its
    language, its kind (python blocks only) and its text. A pytest block carries the text
    of the conftest block before it."""

    path: str
    line: int
    language: str
    kind: str
    code: str
    conftest: str | None = None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


def blocks_of(path: Path, text: str | None = None) -> list[Block]:
    """Every fenced block of `path` (or of `text`, named as `path`), in order."""
    name = path.relative_to(ROOT).as_posix() if path.is_absolute() else path.as_posix()
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    found: list[Block] = []
    conftest: str | None = None
    number = 0
    while number < len(lines):
        marker = _MARKER.match(lines[number])
        fence = _FENCE.match(lines[number])
        if marker:
            kind = marker.group("kind")
            if kind not in PYTHON_KINDS:
                raise MarkdownError(f"{name}:{number + 1}: unknown example kind {kind!r}")
            if number + 1 >= len(lines) or lines[number + 1].strip() != "```python":
                raise MarkdownError(f"{name}:{number + 1}: a marker must precede a ```python block")
        if not fence:
            number += 1
            continue
        end = next((i for i in range(number + 1, len(lines)) if lines[i].strip() == "```"), None)
        if end is None:
            raise MarkdownError(f"{name}:{number + 1}: the code block is not closed")
        language = fence.group("language")
        previous = _MARKER.match(lines[number - 1]) if number else None
        kind = previous.group("kind") if previous else ("runnable" if language == "python" else "")
        code = "\n".join(lines[number + 1 : end]) + "\n"
        if kind == "conftest":
            conftest = code
        found.append(
            Block(name, number + 1, language, kind, code, conftest if kind == "pytest" else None)
        )
        number = end + 1
    return found


def documents() -> list[Path]:
    """The Markdown a user reads: the README, docs/, and the samples' README."""
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "src" / "vectorvue_client" / "samples" / "README.md",
    ]


def all_blocks() -> list[Block]:
    return [block for path in documents() for block in blocks_of(path)]


def cli_invocations(block: Block) -> list[list[str]]:
    """The argument lists given to `vectorvue-client` (by any path, e.g. .venv/bin/...) or to
    `python -m vectorvue_client` in a shell block: one per command of each line (lines
    joined at a trailing backslash, a console's `$ ` prompt dropped, comments dropped,
    commands split at `&&`, `||`, `;` and `|`)."""
    text = block.code.replace("\\\n", " ")
    found: list[list[str]] = []
    for raw in text.splitlines():
        line = raw.removeprefix("$ ") if block.language == "console" else raw
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        words = list(lexer)
        command: list[str] = []
        for word in [*words, ";"]:
            if word and set(word) <= set(";&|"):
                found.extend(_invocation(command))
                command = []
            else:
                command.append(word)
    return found


def _invocation(words: list[str]) -> list[list[str]]:
    if words and Path(words[0]).name == _COMMAND:
        return [words[1:]]
    if (
        len(words) >= 3
        and Path(words[0]).name.startswith("python")
        and words[1:3]
        == [
            "-m",
            "vectorvue_client",
        ]
    ):
        return [words[3:]]
    return []
