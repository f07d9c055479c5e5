"""The sandbox's modules import each other in one direction only, and only by public names."""

from __future__ import annotations

import ast
from pathlib import Path

import airflow_provider_thulium.sandbox as sandbox_package

PACKAGE = Path(sandbox_package.__file__).parent


def _imports() -> dict[str, list[tuple[str, str]]]:
    """``{module: [(imported module, imported name), ...]}`` of every relative import, wherever it is."""
    found: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        edges = found.setdefault(path.stem, [])
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                for alias in node.names:
                    if node.module is None:
                        edges.append((alias.name, ""))
                    else:
                        edges.append((node.module, alias.name))
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = {module: {target for target, _ in edges} for module, edges in _imports().items()}

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph.get(module, ()))
        return seen

    assert sorted(module for module in graph if module in reachable(module)) == []


def test_no_underscore_name_is_imported_across_modules() -> None:
    crossing = [
        f"{module} imports {target}.{name}"
        for module, edges in _imports().items()
        for target, name in edges
        if name.startswith("_")
    ]
    assert crossing == []
