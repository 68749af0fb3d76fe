"""``enhance_core`` never imports Qt: no Qt import in its source, and everything imports with Qt blocked."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QT_MODULES = ("PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "shiboken2", "qtpy", "pyqtgraph")


def imported_names(source: Path) -> set[str]:
    """Return the top-level module names that ``source`` imports anywhere (lazily too)."""
    names = set()
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_core_module_mentions_qt_in_an_import():
    offenders = {
        str(path.relative_to(REPO)): sorted(imported_names(path) & set(QT_MODULES))
        for path in (REPO / "enhance_core").rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}


IMPORT_ALL_WITHOUT_QT = """
import importlib, pkgutil, sys
for name in {qt!r}:
    sys.modules[name] = None
import enhance_core
for module in pkgutil.walk_packages(enhance_core.__path__, "enhance_core."):
    importlib.import_module(module.name)
from app.launcher import main
assert main(["info", {sample!r}]) == 0
loaded = sorted(name for name in sys.modules if name.split(".")[0] in {qt!r} and sys.modules[name] is not None)
assert not loaded, loaded
print("imported", len([m for m in sys.modules if m.startswith("enhance_core")]), "core modules without Qt")
"""


def test_every_core_module_and_the_headless_cli_work_with_qt_absent():
    from app.launcher import SAMPLE_IMAGE

    script = IMPORT_ALL_WITHOUT_QT.format(qt=QT_MODULES, sample=str(SAMPLE_IMAGE))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "core modules without Qt" in done.stdout
