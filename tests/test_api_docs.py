"""The API reference builds from the docstrings, with no pdoc warning and no broken reference.

Owns: running docs/build_api.py as CI would, the pages it must produce, and that its
reference check catches a broken reference.
Not: the wording of the docstrings.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pq3_build_api", ROOT / "docs" / "build_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModuleType, Path, list[str]]:
    if os.environ.get("CI") != "true":  # CI installs the test extras, pdoc among them
        pytest.importorskip("pdoc")
    b = _builder()
    out = tmp_path_factory.mktemp("api")
    return b, out, b.build(out)


def test_the_reference_builds_cleanly(built: tuple[ModuleType, Path, list[str]]) -> None:
    _, _, problems = built
    assert problems == []


def test_one_page_per_public_module(built: tuple[ModuleType, Path, list[str]]) -> None:
    b, out, _ = built
    for name in b.PUBLIC_MODULES:
        page = out / (name.replace(".", "/") + ".html")
        assert page.is_file(), name
    assert (out / "index.html").is_file()
    assert not (out / "pq3proto" / "cli.html").exists()  # internal plumbing stays out


def test_the_errors_page_shows_the_hierarchy(built: tuple[ModuleType, Path, list[str]]) -> None:
    _, out, _ = built
    import pq3proto

    page = (out / "pq3proto" / "errors.html").read_text(encoding="utf-8")
    errors = [n for n in pq3proto.__all__ if n.endswith("Error")]
    for name in errors:
        assert name in page, name
    top = (out / "pq3proto.html").read_text(encoding="utf-8")
    assert "StoreError" in top and "pq_rekeys" in top


def test_a_broken_reference_is_caught() -> None:
    b = _builder()
    import pq3proto.native as native

    text = "See `native.active_path`, `native.active_pth`, `RekeyPolicy.prase` and `os.path`."
    assert b.broken_references(native, text) == ["native.active_pth", "RekeyPolicy.prase"]
