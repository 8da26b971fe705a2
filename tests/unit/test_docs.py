"""The docs cannot fall behind the code.

- docs/configuration.md is exactly what `reference_markdown()` renders from VectorVueConfig;
- every field of VectorVueConfig carries its section and description in its Meta;
- every example of docs/embedding.md marked `<!-- example: runnable -->` runs as a program,
  and every one marked `<!-- example: pytest -->` passes as a test module (with the
  conftest.py of the `<!-- example: conftest -->` block before it), each in a subprocess
  with a timeout. The examples use nothing but 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final

import msgspec
import pytest

from vectorvue_client import config, config_docs
from vectorvue_client.config import VectorVueConfig
from vectorvue_client.config_docs import REGENERATE, reference_markdown

DOCS: Final = Path(__file__).resolve().parents[2] / "docs"
EXAMPLE_TIMEOUT_SECONDS: Final = 120
KINDS: Final = frozenset({"runnable", "pytest", "conftest"})
_MARKER: Final = re.compile(r"^<!-- example: (?P<kind>[a-z]+) -->\s*$")


@dataclass(frozen=True, slots=True)
class Example:
    """One marked code block: its kind, where it starts, its code, and for a pytest
    example the conftest block before it."""

    kind: str
    line: int
    code: str
    conftest: str | None = None


def marked_examples(path: Path) -> list[Example]:
    """Every marked block of `path`, in order. A marker must be followed by a ```python
    fence on the next line; anything else fails the test rather than being skipped."""
    lines = path.read_text(encoding="utf-8").splitlines()
    examples: list[Example] = []
    conftest: str | None = None
    for number, line in enumerate(lines, start=1):
        match = _MARKER.match(line)
        if not match:
            continue
        kind = match.group("kind")
        if kind not in KINDS:
            raise AssertionError(f"{path.name}:{number}: unknown example kind {kind!r}")
        if number >= len(lines) or lines[number].strip() != "```python":
            raise AssertionError(f"{path.name}:{number}: a marker must precede a ```python block")
        end = next((i for i in range(number + 1, len(lines)) if lines[i].strip() == "```"), None)
        if end is None:
            raise AssertionError(f"{path.name}:{number}: the code block is not closed")
        code = "\n".join(lines[number + 1 : end]) + "\n"
        if kind == "conftest":
            conftest = code
        examples.append(Example(kind, number, code, conftest if kind == "pytest" else None))
    return examples


EMBEDDING: Final = DOCS / "embedding.md"
EXAMPLES: Final = [e for e in marked_examples(EMBEDDING) if e.kind != "conftest"]


def _environment() -> dict[str, str]:
    """This process's environment without any VECTORVUE_* setting, so an example sees
    only what it configures itself."""
    return {k: v for k, v in os.environ.items() if not k.startswith("VECTORVUE_")}


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter on our own files
        command,
        cwd=cwd,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=EXAMPLE_TIMEOUT_SECONDS,
        check=False,
    )


# -- the configuration reference -----------------------------------------------------------
def test_configuration_md_is_the_rendered_reference() -> None:
    committed = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert committed == reference_markdown(), (
        f"docs/configuration.md is out of date with VectorVueConfig: "
        f"regenerate it with `{REGENERATE}` (from the repository root)"
    )


def test_every_field_carries_a_section_and_a_description() -> None:
    for field in msgspec.structs.fields(VectorVueConfig):
        section, description = config_docs.described(field.type)
        assert section, f"{field.name} has no section in its Meta"
        assert description.strip(), f"{field.name} has no description in its Meta"


class _Undescribed(msgspec.Struct, kw_only=True):
    described: Annotated[int, config.TRANSPORT("A field with its description.")] = 1
    pinned_cert_sha256: tuple[str, ...] = ()


def test_a_missing_description_makes_rendering_fail() -> None:
    with pytest.raises(config_docs.FieldDocsError, match="pinned_cert_sha256"):
        reference_markdown(_Undescribed)


class _Scattered(msgspec.Struct, kw_only=True):
    first: Annotated[int, config.TRANSPORT("In the transport section.")] = 1
    second: Annotated[int, config.AUDIT("In the audit section.")] = 2
    third: Annotated[int, config.TRANSPORT("Back in the transport section.")] = 3


def test_a_section_split_in_two_makes_rendering_fail() -> None:
    with pytest.raises(config_docs.FieldDocsError, match="third"):
        reference_markdown(_Scattered)


def test_the_misspelt_variable_rule_is_documented() -> None:
    """The reference says what the resolver does: a misspelt VECTORVUE_* is refused."""
    text = reference_markdown()
    assert "is refused, with the nearest setting's" in text
    assert "name no field are ignored" not in text


def test_every_field_is_in_the_reference_in_definition_order() -> None:
    text = reference_markdown()
    positions = [text.index(f"\n### `{f.name}`\n") for f in msgspec.structs.fields(VectorVueConfig)]
    assert positions == sorted(positions)
    for field in msgspec.structs.fields(VectorVueConfig):
        assert f"`VECTORVUE_{field.name.upper()}`" in text


def test_defaults_are_rendered_as_written_in_python() -> None:
    assert config_docs.render_value(None) == "None"
    assert config_docs.render_value(("env",)) == '("env",)'
    assert config_docs.render_value(()) == "()"
    assert config_docs.render_value(1 << 20) == "1048576"
    assert config_docs.render_value(300.0) == "300.0"
    assert config_docs.render_value("secret") == '"secret"'


def test_the_module_prints_the_reference(tmp_path: Path) -> None:
    result = _run([sys.executable, "-m", "vectorvue_client.config_docs"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == reference_markdown()


# -- the embedding guide's examples --------------------------------------------------------
def test_the_guide_has_examples_of_each_kind() -> None:
    kinds = {e.kind for e in EXAMPLES}
    assert kinds == {"runnable", "pytest"}, "the example markers were lost or renamed"
    assert all(e.conftest is not None for e in EXAMPLES if e.kind == "pytest")


@pytest.mark.parametrize(
    "example", EXAMPLES, ids=[f"embedding.md:{e.line}:{e.kind}" for e in EXAMPLES]
)
def test_the_example_runs(example: Example, tmp_path: Path) -> None:
    if example.kind == "runnable":
        script = tmp_path / "example.py"
        script.write_text(example.code, encoding="utf-8")
        result = _run([sys.executable, str(script)], tmp_path)
    else:
        assert example.conftest is not None
        (tmp_path / "conftest.py").write_text(example.conftest, encoding="utf-8")
        (tmp_path / "test_example.py").write_text(example.code, encoding="utf-8")
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
        result = _run(command, tmp_path)
    assert result.returncode == 0, (
        f"the example at docs/embedding.md:{example.line} failed "
        f"(exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
