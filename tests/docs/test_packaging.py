"""What a release carries, read from the files that decide it (building an sdist would need
the build backend from a package registry, so the tests read its inputs instead)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[2]


def _project() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def test_the_license_is_an_spdx_expression_with_its_file() -> None:
    """PEP 639: `license` a string (the table form is deprecated), its text in
    license-files, and a backend that reads them (setuptools 77 or later)."""
    data = _project()
    assert data["project"]["license"] == "Apache-2.0"
    assert data["project"]["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    (backend,) = [r for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    minimum = re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", backend)
    assert minimum and int(minimum.group(1)) >= 77, backend


def test_the_project_urls_are_there() -> None:
    urls = _project()["project"]["urls"]
    assert set(urls) == {"Documentation", "Source", "Changelog", "Issues"}
    assert all(url.startswith("https://") for url in urls.values())


def test_every_tested_python_is_a_classifier_and_a_tox_env() -> None:
    classifiers = _project()["project"]["classifiers"]
    tox = (ROOT / "tox.ini").read_text(encoding="utf-8")
    for version in ("3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
        assert f"py{version.replace('.', '')}" in tox
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert '.venv/bin/tox -e py313 --discover "$(bash .ci/python 3.13)"' in ci


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    command = next(line for line in readme[:20] if line.endswith("&& .venv/bin/tox"))
    assert command in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_the_sdist_holds_the_whole_project() -> None:
    """MANIFEST.in adds to the package what a source release is checked with."""
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8").splitlines()
    grafted = {line.split()[1] for line in manifest if line.startswith("graft ")}
    assert {"tests", "docs", "adr", "bench", ".ci"} <= grafted
    included = {w for line in manifest if line.startswith("include ") for w in line.split()[1:]}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "tox.ini"} <= included
    for path in ("tests", "docs", "adr", "bench", ".ci", "LICENSE", "CHANGELOG.md"):
        assert (ROOT / path).exists(), path


def test_the_changelog_is_unreleased_and_cites_real_adrs() -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in text
    for number in re.findall(r"ADR (\d{4})", text):
        assert list((ROOT / "adr").glob(f"{number}-*.md")), f"the changelog cites ADR {number}"
