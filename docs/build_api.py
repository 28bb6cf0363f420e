"""Build the API reference from the docstrings with pdoc (the `docs` extra).

    .venv/bin/python docs/build_api.py [OUT]       # default OUT: build/api; open OUT/index.html

One HTML page per public module, the error hierarchy on pq3proto.errors. The build fails (exit
status 1) on any pdoc warning and on any broken reference in a docstring: a backquoted dotted
name, such as `native.active_path`, whose first part names a pq3proto module or a name in
the documented module but whose rest does not resolve. tests/test_api_docs.py runs it.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "build" / "api"

# The modules a user of the library or a researcher calls; the rest are internal layers
# (key schedule, ratchet, wire, hot paths, CLI plumbing), documented in spec/ instead.
PUBLIC_MODULES = (
    "pq3proto",
    "pq3proto.errors",
    "pq3proto.identity",
    "pq3proto.session",
    "pq3proto.policy",
    "pq3proto.store",
    "pq3proto.kem",
    "pq3proto.native",
    "pq3proto.traffic",
    "pq3proto.constants",
    "pq3proto.experiments",
    "pq3proto.experiments.run",
    "pq3proto.experiments.delivery",
    "pq3proto.experiments.adversary",
    "pq3proto.vectors",
)

_REF = re.compile(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\(\))?`")


def _docstrings(module: ModuleType) -> Iterator[tuple[str, str]]:
    """(qualified name, docstring) of the module and of what it defines, one level in."""
    yield module.__name__, module.__doc__ or ""
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        yield f"{module.__name__}.{name}", getattr(obj, "__doc__", None) or ""
        if isinstance(obj, type):
            for attr, member in vars(obj).items():
                doc = getattr(member, "__doc__", None)
                if not attr.startswith("_") and isinstance(doc, str):
                    yield f"{module.__name__}.{name}.{attr}", doc


def _resolve(start: Any, parts: list[str]) -> bool:
    obj = start
    for part in parts:
        if isinstance(obj, ModuleType) and not hasattr(obj, part):
            try:
                obj = importlib.import_module(f"{obj.__name__}.{part}")
                continue
            except ImportError:
                return False
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def broken_references(module: ModuleType, text: str) -> list[str]:
    """Backquoted dotted names in `text` that start at something known but do not resolve."""
    package = importlib.import_module("pq3proto")
    out = []
    for ref in _REF.findall(text):
        first, *rest = ref.split(".")
        if first == "pq3proto":
            start: Any = package
        elif hasattr(module, first):
            start = getattr(module, first)
        elif _resolve(package, [first]):
            start = getattr(package, first, None) or importlib.import_module(f"pq3proto.{first}")
        else:
            continue  # not a reference to this package: a file name, another library
        if not _resolve(start, rest):
            out.append(ref)
    return out


def check_references(modules: tuple[str, ...] = PUBLIC_MODULES) -> list[str]:
    """Every broken reference in the docstrings of `modules`, as 'where: reference'."""
    problems = []
    for name in modules:
        module = importlib.import_module(name)
        for where, doc in _docstrings(module):
            problems += [f"{where}: `{ref}`" for ref in broken_references(module, doc)]
    return problems


def build(out: Path, modules: tuple[str, ...] = PUBLIC_MODULES) -> list[str]:
    """Render the reference into `out`; returns the problems (pdoc warnings, broken refs)."""
    import pdoc
    import pdoc.render

    pdoc.render.configure(
        docformat="markdown",
        show_source=False,
        footer_text="pq3proto API reference",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*modules, *_excluded(modules), output_directory=out)
    # A package without __all__ brings its submodules along, and the list names some of them
    # again: pdoc warns that it adds them once, which is what is wanted.
    problems = [
        f"pdoc: {w.message}"
        for w in caught
        if "pdoc" in w.filename and "has already been added" not in str(w.message)
    ]
    return problems + check_references(modules)


def _excluded(modules: tuple[str, ...]) -> list[str]:
    """pdoc documents every submodule of a package it is given: leave out the internal ones."""
    import pkgutil

    keep = set(modules)
    package = importlib.import_module("pq3proto")
    names = [m.name for m in pkgutil.walk_packages(package.__path__, "pq3proto.")]
    return [f"!{re.escape(n)}$" for n in names if n not in keep]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("out", nargs="?", default=str(DEFAULT_OUT),
                    help=f"output directory (default: {DEFAULT_OUT.relative_to(ROOT)})")
    args = ap.parse_args(argv)
    try:
        problems = build(Path(args.out))
    except ImportError as e:
        print(f"build_api: {e}; install the docs extra: .venv/bin/pip install -e '.[docs]'",
              file=sys.stderr)
        return 2
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    print(f"wrote the API reference to {args.out}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
