"""``enhance-studio --help``, each subcommand's ``--help`` and ``apply --list`` start without the heavy libraries.

Each command runs through :func:`app.launcher.main` (what the ``enhance-studio``
script calls) in a fresh Python process, which then prints the heavy packages
found in ``sys.modules``. Importing torch, SciPy, scikit-image, pydicom or Qt
cost these commands seconds (issue 20); they import them only when a command
needs them. ``benchmarks/bench_cli_startup.py`` measures the time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from enhance_core.cli import SUBCOMMANDS

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "PySide6", "scipy", "skimage", "pydicom")

LOADED_AFTER = """
import contextlib, io, json, sys
from app.launcher import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "loaded": sorted({name.split(".")[0] for name in sys.modules} & set(HEAVY))}))
"""


def heavy_modules_after(args: list[str]) -> list[str]:
    """Run ``enhance-studio ARGS`` in a fresh process; return the heavy packages it imported (it must exit 0)."""
    done = subprocess.run([sys.executable, "-c", f"HEAVY = {HEAVY!r}\n" + LOADED_AFTER, *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["code"] == 0, done.stderr
    return report["loaded"]


@pytest.mark.parametrize("args", [["--help"], ["apply", "--list"]] + [[name, "--help"] for name in SUBCOMMANDS],
                         ids=" ".join)
def test_help_and_the_filter_list_import_no_heavy_library(args: list[str]) -> None:
    assert heavy_modules_after(args) == []


def test_python_dash_m_runs_the_subcommands(tmp_path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "enhance_core.cli", *args], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=tmp_path)

    done = run("info", str(REPO / "resources/sample_astronaut.png"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["width"] == 512
    missing = run("info", str(tmp_path / "none.png"))
    assert missing.returncode != 0 and "none.png" in missing.stderr and "Traceback" not in missing.stderr
