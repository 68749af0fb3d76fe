"""Recipe fuzzing in CI (issue 21): a few hundred mutated recipes, each a valid stack or a typed one-line error.

The cases run in a child process under an address-space limit and a per-case
alarm (see :mod:`tests.fuzz.recipe_fuzz`, which also runs longer by hand:
``python -m tests.fuzz.recipe_fuzz --cases 10000``); ``ENHANCE_FUZZ_CASES``
and ``ENHANCE_FUZZ_SEED`` change the CI count and seed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from . import recipe_fuzz

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the fuzzer limits its memory with RLIMIT_AS and its time with SIGALRM")
ROOT = Path(__file__).resolve().parents[2]


def test_mutated_recipes_load_and_render_or_fail_cleanly() -> None:
    count, seed = os.environ.get("ENHANCE_FUZZ_CASES", "400"), os.environ.get("ENHANCE_FUZZ_SEED", "0")
    result = subprocess.run([sys.executable, "-m", "tests.fuzz.recipe_fuzz", "--cases", count, "--seed", seed,
                             "--memory-mb", "2048", "--case-seconds", "20"],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = next(line for line in result.stdout.splitlines() if " cases from seed " in line)
    assert " 0 failed" in summary
    loaded = int(summary.split(": ")[1].split()[0])
    assert loaded >= int(count) // 20, "the mutations should leave enough recipes valid to exercise rendering"


def test_the_fuzzer_reports_an_untyped_failure(tmp_path, monkeypatch) -> None:
    def crash(path):
        raise KeyError("boom")

    monkeypatch.setattr(recipe_fuzz, "load_recipe", crash)
    image = recipe_fuzz.Image(recipe_fuzz.np.zeros((recipe_fuzz.ROWS, recipe_fuzz.COLS, 3), "float32"))
    outcome, detail = recipe_fuzz.run_case("{}", tmp_path / "c.json", image)
    assert outcome == "FAIL" and "KeyError" in detail
