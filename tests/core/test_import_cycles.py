"""No import cycles in ``enhance_core`` or ``app``: the graph of import statements, read from the source, is acyclic.

Every ``import`` and ``from ... import`` counts, wherever it stands: at the
top, inside a function (lazy imports) or under ``if TYPE_CHECKING`` (a cycle
there is still two modules that cannot be understood one without the other).
An edge goes to the module an import names: ``from enhance_core.io import
read_image`` to the package ``enhance_core.io``, ``from enhance_core import
atomic`` to ``enhance_core.atomic``. The graph is read with :mod:`ast`, so no
module runs and the test needs no Qt.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("enhance_core", "app")


def module_files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> source file, for every ``.py`` file of ``packages`` under ``root``."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ``modules`` its import statements name (itself excluded)."""

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(known(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                targets.update(known(f"{base}.{alias.name}") for alias in node.names)
        graph[module] = {target for target in targets if target is not None and target != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, each as one cycle through it, sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(start: str) -> None:  # Tarjan's algorithm with an explicit stack (no recursion limit)
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(_cycle_through(sorted(component), graph))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def _cycle_through(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One closed path of imports inside ``component``, from its first module back to it."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & members):
            if child == start:
                return paths[node] + [start]
            if child not in paths:
                paths[child] = paths[node] + [child]
                queue.append(child)
    raise AssertionError(f"{component} is not strongly connected")


def test_enhance_core_and_app_have_no_import_cycles():
    found = cycles(import_graph(module_files(REPO, PACKAGES)))
    assert found == [], "import cycles (break each by moving the shared part into a module both import):\n" + \
        "\n".join(" -> ".join(cycle) for cycle in found)


def test_the_checker_finds_cycles_through_lazy_relative_and_type_checking_imports(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from pkg.sub.b import B\n")
    (package / "a.py").write_text("def f():\n    from .sub import b\n")
    (package / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..c import C\n"
    )
    (package / "c.py").write_text("import pkg.a\nfrom pkg import d\n")
    (package / "d.py").write_text("from pkg.sub import B\n")
    graph = import_graph(module_files(tmp_path, ("pkg",)))
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.d"] == {"pkg.sub"}
    assert cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]]
    (package / "c.py").write_text("import pkg.sub.b\n")
    assert cycles(import_graph(module_files(tmp_path, ("pkg",)))) == [["pkg.c", "pkg.sub.b", "pkg.c"]]
    (package / "c.py").write_text("from pkg import d\n")
    (package / "d.py").write_text("")
    assert cycles(import_graph(module_files(tmp_path, ("pkg",)))) == []
