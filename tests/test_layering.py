"""The package's modules import each other without circles.

Every `import` and `from ... import` of a pq3proto module is read from the source (module
level and inside functions alike): a function-level import that would close a circle is the
circle still there, only deferred.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pq3proto"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("pq3proto", *path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _targets(
    module: str, path: Path, node: ast.Import | ast.ImportFrom, known: set[str]
) -> set[str]:
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in known}
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    if node.level:
        package = package[: len(package) - node.level + 1]
        base = ".".join([*package, *([node.module] if node.module else [])])
    else:
        base = node.module or ""
    out = set()
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        if sub in known:
            out.add(sub)
        elif base in known:
            out.add(base)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[module] |= _targets(module, path, node, known) - {module}
    return graph


def _cycle_from(graph: dict[str, set[str]], start: str) -> list[str] | None:
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, trail = stack.pop()
        for nxt in sorted(graph[node]):
            if nxt == start:
                return [*trail, start]
            if nxt not in seen and not start.startswith(nxt + "."):
                seen.add(nxt)
                stack.append((nxt, [*trail, nxt]))
    return None


def test_no_import_circles() -> None:
    graph = _graph()
    # A module's path back to its own parent package (`from .. import x` seen as importing
    # the package) is not followed: a package's __init__ runs before its modules.
    cycles = {m: c for m in graph if (c := _cycle_from(graph, m)) is not None}
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles.values())


def test_the_graph_sees_the_imports() -> None:
    graph = _graph()
    assert "pq3proto.wire" in graph["pq3proto.session"]
    assert "pq3proto.native_ext" in graph["pq3proto.kem_base"]
    assert "pq3proto.native" in graph["pq3proto.benchmarks_support"]  # inside a function
