"""Every code block of the README and docs/ does what it shows.

- each ```python block runs (tests/docs/blocks.py says how each kind is run; a `fragment`
  is only parsed), in a fresh interpreter, with no VECTORVUE_* variable but those a `local`
  block is given for the LocalVectorVue started here; nothing leaves 127.0.0.1;
- each python block imports from the package only public names: `vectorvue_client`'s
  `__all__`, or the test kit's (`vectorvue_client.testing`);
- each `vectorvue-client` command of a shell block is one the command line's parser takes;
- each ```toml block is a configuration `VectorVueConfig.from_toml` accepts.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Final

import pytest

import vectorvue_client
import vectorvue_client.testing
from vectorvue_client import VectorVueConfig
from vectorvue_client.cli import build_parser
from vectorvue_client.testing import LocalVectorVue

from .blocks import (
    ROOT,
    SHELL_LANGUAGES,
    Block,
    MarkdownError,
    all_blocks,
    blocks_of,
    cli_invocations,
)

TIMEOUT_SECONDS: Final = 120
BLOCKS: Final = all_blocks()
PYTHON: Final = [b for b in BLOCKS if b.language == "python" and b.kind != "conftest"]
SHELL: Final = [b for b in BLOCKS if b.language in SHELL_LANGUAGES]
TOML: Final = [b for b in BLOCKS if b.language == "toml"]
PUBLIC: Final = {
    "vectorvue_client": frozenset(vectorvue_client.__all__),
    "vectorvue_client.testing": frozenset(vectorvue_client.testing.__all__),
}


def _environment(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without any VECTORVUE_* setting, plus `extra`: a block
    sees only the settings it is given."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}
    return {**kept, **extra}


def run_block(block: Block, directory: Path, extra: dict[str, str] | None = None) -> str:
    """Run `block` as its kind says, in `directory`; returns its output, or fails the test
    naming the block, its exit code and its output."""
    if block.kind == "pytest":
        assert block.conftest is not None, f"{block.where}: a pytest block needs a conftest"
        (directory / "conftest.py").write_text(block.conftest, encoding="utf-8")
        (directory / "test_example.py").write_text(block.code, encoding="utf-8")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(directory)]
    else:
        script = directory / "example.py"
        script.write_text(block.code, encoding="utf-8")
        command = [sys.executable, str(script)]
    result = subprocess.run(  # noqa: S603 - our own interpreter on the docs' own code
        command,
        cwd=directory,
        env=_environment(extra or {}),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, (
        f"the {block.kind} block at {block.where} failed (exit {result.returncode}):\n"
        f"{result.stdout}\n{result.stderr}"
    )
    return result.stdout


def _ids(blocks: list[Block]) -> list[str]:
    return [f"{b.where}:{b.kind or b.language}" for b in blocks]


# -- python blocks ----------------------------------------------------------------------------
@pytest.mark.parametrize("block", PYTHON, ids=_ids(PYTHON))
def test_the_python_block_runs(block: Block, tmp_path: Path) -> None:
    if block.kind == "fragment":
        ast.parse(block.code, filename=block.where)
    elif block.kind == "local":
        with LocalVectorVue(api_token="token-for-the-docs") as vv:
            settings = {
                "VECTORVUE_BASE_URL": vv.url,
                "VECTORVUE_CA_BUNDLE": vv.ca_pem_path,
                "VECTORVUE_API_KEY": vv.api_token,
            }
            run_block(block, tmp_path, settings)
            assert vv.requests, f"the block at {block.where} never reached the LocalVectorVue"
    else:
        run_block(block, tmp_path)


def test_fragments_stay_few() -> None:
    """A fragment is not run, so it can drift: most blocks must run."""
    fragments = [b.where for b in PYTHON if b.kind == "fragment"]
    assert len(fragments) <= 3, f"too many blocks are not run: {fragments}"


@pytest.mark.parametrize("block", PYTHON, ids=_ids(PYTHON))
def test_the_python_block_imports_only_public_names(block: Block) -> None:
    for node in ast.walk(ast.parse(block.code, filename=block.where)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
            private = [m for m in modules if m.startswith("vectorvue_client.")]
            assert not private, f"{block.where}: `import {private[0]}`: import from the package"
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "vectorvue_client"
        ):
            module = node.module or ""
            assert module in PUBLIC, (
                f"{block.where}: `from {module} import ...` reaches inside the package; "
                f"import from vectorvue_client (or the test kit, vectorvue_client.testing)"
            )
            unknown = [a.name for a in node.names if a.name not in PUBLIC[module]]
            assert not unknown, f"{block.where}: {unknown} not in {module}.__all__"


# -- shell and TOML blocks --------------------------------------------------------------------
def _parse(words: list[str]) -> int:
    """The exit status argparse gives `words` (0 when they parse)."""
    try:
        build_parser().parse_args(words)
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


COMMANDS: Final = [(b, words) for b in SHELL for words in cli_invocations(b)]


@pytest.mark.parametrize(
    ("block", "words"), COMMANDS, ids=[f"{b.where}:{' '.join(w)}" for b, w in COMMANDS]
)
def test_the_command_parses(
    block: Block, words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = _parse(words)
    assert status == 0, (
        f"{block.where}: `vectorvue-client {' '.join(words)}` is refused by the parser: "
        f"{capsys.readouterr().err.strip()}"
    )


def test_the_docs_show_commands() -> None:
    """The README's commands were found (the extraction did not silently lose them)."""
    shown = {words[0] for block, words in COMMANDS if block.path == "README.md" and words}
    assert {"demo", "send", "outbox", "health", "status", "config", "receiver"} <= shown


@pytest.mark.parametrize("block", TOML, ids=_ids(TOML))
def test_the_toml_block_is_a_valid_configuration(block: Block, tmp_path: Path) -> None:
    table = tomllib.loads(block.code)
    assert "vectorvue" in table, f"{block.where}: no [vectorvue] table"
    path = tmp_path / "client.toml"
    path.write_text(block.code, encoding="utf-8")
    VectorVueConfig.from_toml(str(path))


# -- the checks themselves fail when a block breaks ---------------------------------------------
BROKEN: Final = """\
Intro.

```python
print("before")
raise SystemExit(3)
```

```sh
vectorvue-client sned findings.jsonl
vectorvue-client outbox stats --limit 5 && .venv/bin/vectorvue-client demo
```

<!-- example: fragment -->
```python
client.send_finding(
```
"""


def test_a_failing_block_fails_its_test(tmp_path: Path) -> None:
    program, _, fragment = blocks_of(Path("BROKEN.md"), BROKEN)
    assert (program.kind, program.line) == ("runnable", 3)
    with pytest.raises(AssertionError, match=r"BROKEN\.md:3 failed \(exit 3\)"):
        run_block(program, tmp_path)
    with pytest.raises(SyntaxError):
        ast.parse(fragment.code)


def test_a_command_the_parser_refuses_is_caught() -> None:
    shell = blocks_of(Path("BROKEN.md"), BROKEN)[1]
    invocations = cli_invocations(shell)
    assert invocations == [
        ["sned", "findings.jsonl"],
        ["outbox", "stats", "--limit", "5"],
        ["demo"],
    ]
    assert [_parse(words) for words in invocations] == [2, 2, 0]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("<!-- example: runable -->\n```python\npass\n```\n", "unknown example kind"),
        ("<!-- example: local -->\n\n```python\npass\n```\n", "must precede"),
        ("```python\npass\n", "not closed"),
    ],
)
def test_a_broken_convention_is_an_error_not_a_skip(text: str, rule: str) -> None:
    with pytest.raises(MarkdownError, match=rule):
        blocks_of(Path("BROKEN.md"), text)


def test_every_document_is_read() -> None:
    assert {b.path for b in BLOCKS} >= {"README.md", "docs/embedding.md"}
    assert (ROOT / "docs" / "configuration.md").is_file()
