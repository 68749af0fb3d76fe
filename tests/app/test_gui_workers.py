"""JobRunner: results on the GUI thread, latest request wins, cancel, failures reported."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QThread

from app.workers import JobFailure, JobRunner
from enhance_core.errors import Cancelled


def blocking_job(gate: threading.Event, value):
    """A job that waits for ``gate`` (or a stop request) and then returns ``value``."""
    def job(progress, should_stop):
        progress(0.5, "waiting")
        while not gate.wait(0.005):
            if should_stop():
                raise Cancelled("stopped")
        return value
    return job


def test_result_lands_on_gui_thread(qtbot):
    runner = JobRunner("test")
    seen = {}

    def record(result):
        seen["thread"] = QThread.currentThread()
        seen["result"] = result

    runner.finished.connect(record)
    with qtbot.waitSignal(runner.idle, timeout=5000):
        runner.submit(lambda progress, should_stop: 42)
    assert seen == {"thread": qtbot_main_thread(), "result": 42}
    assert not runner.busy


def qtbot_main_thread() -> QThread:
    from PySide6.QtWidgets import QApplication
    return QApplication.instance().thread()


def test_latest_request_wins(qtbot):
    runner = JobRunner("test")
    results = []
    runner.finished.connect(results.append)
    first_gate, second_gate = threading.Event(), threading.Event()
    runner.submit(blocking_job(first_gate, "old"))
    runner.submit(blocking_job(second_gate, "stale"))
    runner.submit(lambda progress, should_stop: "new")
    first_gate.set()
    with qtbot.waitSignal(runner.idle, timeout=5000):
        pass
    assert results == ["new"]


def test_cancel_stops_promptly_and_reports(qtbot):
    runner = JobRunner("test")
    gate = threading.Event()
    progress = []
    runner.progressed.connect(lambda fraction, message: progress.append((fraction, message)))
    with qtbot.waitSignal(runner.progressed, timeout=5000):
        runner.submit(blocking_job(gate, "never"))
    with qtbot.waitSignals([runner.cancelled, runner.idle], timeout=2000):
        runner.cancel()
    assert progress == [(0.5, "waiting")]
    assert not runner.busy


def test_failure_carries_error_and_traceback(qtbot):
    runner = JobRunner("test")

    def broken(progress, should_stop):
        raise ValueError("bad value 7")

    with qtbot.waitSignal(runner.idle, timeout=5000):  # listening before submit: idle may follow failed at once
        with qtbot.waitSignal(runner.failed, timeout=5000) as blocker:
            runner.submit(broken)
    failure = blocker.args[0]
    assert isinstance(failure, JobFailure)
    assert str(failure.error) == "bad value 7"
    assert "ValueError" in failure.details


@pytest.mark.parametrize("jobs", [3])
def test_wait_joins_every_thread(qtbot, jobs):
    runner = JobRunner("test")
    gates = [threading.Event() for _ in range(jobs)]
    for gate in gates:
        runner.submit(blocking_job(gate, None))
    assert runner.wait(5000)
    assert not any(t.isRunning() for t in runner.findChildren(QThread))


def test_coalescing_keeps_running_job_and_runs_latest(qtbot):
    runner = JobRunner("test")
    results = []
    runner.finished.connect(results.append)
    gate = threading.Event()
    with qtbot.waitSignal(runner.progressed, timeout=5000):
        runner.submit(blocking_job(gate, "running"))
    runner.submit(lambda progress, should_stop: "dropped", cancel_running=False)
    runner.submit(lambda progress, should_stop: "latest", cancel_running=False)
    gate.set()
    with qtbot.waitSignal(runner.idle, timeout=5000):
        pass
    assert results == ["running", "latest"]


def test_closed_runner_starts_nothing_more(qtbot):
    runner = JobRunner("test")
    gate = threading.Event()
    runner.submit(blocking_job(gate, None))
    assert runner.close(5000)
    started = []
    runner.started.connect(started.append)
    runner.submit(blocking_job(gate, "late"))
    qtbot.wait(50)
    assert started == [] and not runner.busy
    assert not any(t.isRunning() for t in runner.findChildren(QThread))
