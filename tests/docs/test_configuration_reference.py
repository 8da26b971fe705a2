"""The configuration reference cannot fall behind the code.

- docs/configuration.md is exactly what `reference_markdown()` renders from VectorVueConfig;
- every field of VectorVueConfig carries its section and description in its Meta.

The code blocks of every document are run by test_docs_code_blocks.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Final

import msgspec
import pytest

from vectorvue_client import config, config_docs
from vectorvue_client.config import VectorVueConfig
from vectorvue_client.config_docs import REGENERATE, reference_markdown

DOCS: Final = Path(__file__).resolve().parents[2] / "docs"
TIMEOUT_SECONDS: Final = 120


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
        timeout=TIMEOUT_SECONDS,
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
