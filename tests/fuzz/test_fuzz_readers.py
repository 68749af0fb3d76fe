"""Fuzzing ``read_image``: mutated JPEG, PNG, TIFF, WebP, BMP and DICOM files give a typed error or a valid image.

A few hundred cases run in CI in a few seconds (``ENHANCE_FUZZ_CASES`` and
``ENHANCE_FUZZ_SEED`` change the count and the seed); ``python -m
tests.fuzz.run_fuzz --cases 10000`` is the long run by hand. The worker
process reads under a 1 GiB address-space budget and a 10 s timeout per file.
"""

from __future__ import annotations

import os
import sys

import pytest

from .harness import run_fuzz

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the worker limits its memory with RLIMIT_AS and /proc (Linux)")


def test_mutated_files_give_a_typed_error_or_a_valid_image(tmp_path):
    count = int(os.environ.get("ENHANCE_FUZZ_CASES", "400"))
    report = run_fuzz(count, seed=int(os.environ.get("ENHANCE_FUZZ_SEED", "0")), keep=tmp_path / "failures")
    assert not report.failures, report.summary()
    assert report.cases == count
    assert report.outcomes["image"] > count // 10 and report.outcomes["typed"] > count // 10, report.summary()


def test_the_harness_reports_hangs_crashes_memory_blowups_and_untyped_errors(tmp_path):
    report = run_fuzz(5, reader="misbehaving_readers:misbehave", timeout=5.0, memory=64 << 20)
    assert [failure.outcome for failure in report.failures] == ["untyped", "hang", "crash", "memory", "bad-image"]
    assert "ZeroDivisionError" in report.failures[0].detail and report.cases == 5
