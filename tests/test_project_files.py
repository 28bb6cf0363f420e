"""The files a new user reads first agree with each other and with the package.

Owns: the licence (LICENSE, the SPDX string in pyproject.toml), CITATION.cff and CHANGELOG.md
against the package version, and the README's commands: the two set-up commands (the second
exactly as .ci/run runs it), `.venv/bin/` on every other command, the apt line.
Not: whether the commands succeed (CI runs them).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pq3proto

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
INSTALL = "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/pq3proto demo"
TEST = (
    "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/ruff check . "
    "&& .venv/bin/mypy && .venv/bin/python -m pytest"
)


def _shell_lines(markdown: str) -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", markdown, flags=re.S)
    return [line.strip() for b in blocks for line in b.splitlines() if line.strip()]


def test_licence_is_apache_2_everywhere() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert PYPROJECT["project"]["license"] == "Apache-2.0"  # an SPDX expression, not a table
    assert "LICENSE" in PYPROJECT["project"]["license-files"]
    requires = PYPROJECT["build-system"]["requires"]
    setuptools = next(r for r in requires if r.startswith("setuptools"))
    found = re.fullmatch(r"setuptools>=(\d+).*", setuptools)
    assert found is not None
    assert int(found.group(1)) >= 77  # the first setuptools that reads an SPDX license string
    assert "Apache-2.0" in README


def test_citation_and_changelog_name_this_version() -> None:
    version = PYPROJECT["project"]["version"]
    assert version == pq3proto.__version__
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(r"^cff-version: 1\.2\.0$", cff, flags=re.M)
    assert re.search(rf"^version: {re.escape(version)}$", cff, flags=re.M)
    assert re.search(r"^license: Apache-2\.0$", cff, flags=re.M)
    assert "\t" not in cff  # YAML forbids tabs
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## Unreleased" in changelog and f"## {version} - " in changelog


def test_extras_for_plot_and_docs() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert any(r.startswith("matplotlib") for r in extras["plot"])
    assert any(r.startswith("pdoc") for r in extras["docs"])
    # CI installs only the test extras: they must hold what the plot and docs tests need.
    for req in extras["plot"] + extras["docs"]:
        assert req in extras["test"], req


def test_the_two_setup_commands_and_ci() -> None:
    lines = _shell_lines(README)
    assert INSTALL in lines and TEST in lines
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert TEST in ci  # verbatim, on a line of its own


def test_every_other_readme_command_uses_the_venv() -> None:
    for line in _shell_lines(README):
        if line in (INSTALL, TEST):
            continue
        assert line.startswith(".venv/bin/"), line


def test_readme_apt_line_has_what_a_fresh_debian_needs() -> None:
    apt = re.search(r"apt-get install ([^`\n]+)", README)
    assert apt is not None
    packages = set(apt.group(1).split())
    assert {"python3-venv", "gcc", "libssl-dev", "python3-dev"} <= packages


def test_readme_lists_every_exported_error() -> None:
    for name in pq3proto.__all__:
        if name.endswith("Error"):
            assert f"`{name}`" in README, name
    assert "the issue" not in README.lower()  # no internal context in user docs
