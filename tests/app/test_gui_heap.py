"""The heap is trimmed once the workers fall quiet, once per quiet spell."""

from __future__ import annotations

import platform
import sys
import threading

import pytest

from app.heap import HeapTrimmer, heap_trim
from app.workers import JobRunner


def test_the_heap_is_trimmed_once_after_work_and_never_while_a_worker_runs(qtbot):
    trims: list[int] = []
    trimmer = HeapTrimmer(trim=lambda: trims.append(1), interval_ms=20)
    qtbot.wait(100)
    assert trims == [], "no work since it started: nothing to give back"
    lane = JobRunner("test")
    release = threading.Event()
    with qtbot.waitSignal(lane.started, timeout=5000):
        lane.submit(lambda progress, should_stop: release.wait(5), label="held")
    qtbot.wait(100)
    assert trims == [], "a worker runs"
    with qtbot.waitSignal(lane.finished, timeout=5000):
        release.set()
    qtbot.waitUntil(lambda: trims == [1], timeout=5000)
    qtbot.wait(100)
    assert trims == [1], "once per quiet spell"
    del trimmer


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="malloc_trim is glibc's")
def test_glibc_s_trim_runs_here():
    trim = heap_trim()
    assert trim is not None
    trim()
