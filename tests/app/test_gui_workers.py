"""JobRunner: results on the GUI thread, latest request wins, cancel, failures reported."""

from __future__ import annotations

import threading
from functools import partial

import pytest
import shiboken6
from PySide6.QtCore import QObject, QThread

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


def test_a_job_that_does_not_stop_is_let_go_at_close_so_its_owner_can_be_destroyed(qtbot):
    owner = QObject()
    runner = JobRunner("test", owner)
    gate = threading.Event()
    runner.submit(lambda progress, should_stop: gate.wait(5))
    qtbot.waitUntil(lambda: any(t.isRunning() for t in runner.findChildren(QThread)), timeout=5000)
    assert not runner.close(50)
    assert runner.findChildren(QThread) == []
    shiboken6.delete(owner)  # with the thread still its child, Qt would abort the process here
    gate.set()
    from app.workers import running_workers
    qtbot.waitUntil(lambda: not running_workers(), timeout=5000)


def failing_job(gate: threading.Event, message: str):
    """A job that waits for ``gate`` and then raises, ignoring stop requests (a slow failure)."""
    def job(progress, should_stop):
        gate.wait(5)
        raise ValueError(message)
    return job


def test_each_result_goes_to_its_own_submissions_callback(qtbot):
    runner = JobRunner("test")
    landed = []
    gate = threading.Event()
    runner.submit(blocking_job(gate, "old"), on_done=lambda r: landed.append(("first", r)))
    runner.submit(lambda progress, should_stop: "new", on_done=lambda r: landed.append(("second", r)))
    gate.set()
    with qtbot.waitSignal(runner.idle, timeout=5000):
        pass
    assert landed == [("second", "new")]


def test_a_superseded_job_that_finishes_anyway_never_lands(qtbot):
    runner = JobRunner("test")
    landed, failures = [], []
    gate = threading.Event()

    def ignores_stop(progress, should_stop):
        gate.wait(5)
        return "stale"

    runner.submit(ignores_stop, on_done=landed.append, on_failed=failures.append)
    runner.submit(lambda progress, should_stop: "fresh", on_done=landed.append, on_failed=failures.append)
    gate.set()
    with qtbot.waitSignal(runner.idle, timeout=5000):
        pass
    assert landed == ["fresh"] and failures == []


def test_a_superseded_failure_never_lands(qtbot):
    runner = JobRunner("test")
    failures, landed = [], []
    gate = threading.Event()
    runner.submit(failing_job(gate, "stale failure"), on_failed=failures.append)
    runner.submit(lambda progress, should_stop: 7, on_done=landed.append, on_failed=failures.append)
    gate.set()
    with qtbot.waitSignal(runner.idle, timeout=5000):
        pass
    assert failures == [] and landed == [7]


def test_failure_goes_to_its_on_failed_and_the_lane_signal(qtbot):
    runner = JobRunner("test")
    failures = []
    gate = threading.Event()
    gate.set()
    with qtbot.waitSignal(runner.idle, timeout=5000):
        with qtbot.waitSignal(runner.failed, timeout=5000) as blocker:
            runner.submit(failing_job(gate, "bad value 8"), on_done=lambda r: pytest.fail("no result"),
                          on_failed=failures.append)
    assert [str(f.error) for f in failures] == ["bad value 8"] and blocker.args[0] is failures[0]


def test_coalesced_jobs_keep_their_own_callbacks(qtbot):
    runner = JobRunner("test")
    landed = []
    gate = threading.Event()
    with qtbot.waitSignal(runner.progressed, timeout=5000):
        runner.submit(blocking_job(gate, "running"), on_done=lambda r: landed.append(("running", r)))
    runner.submit(lambda progress, should_stop: "dropped", on_done=lambda r: landed.append(("dropped", r)),
                  cancel_running=False)
    runner.submit(lambda progress, should_stop: "latest", on_done=lambda r: landed.append(("latest", r)),
                  cancel_running=False)
    gate.set()
    with qtbot.waitSignal(runner.idle, timeout=5000):
        pass
    assert landed == [("running", "running"), ("latest", "latest")]


def test_cancelled_job_calls_neither_callback(qtbot):
    runner = JobRunner("test")
    called = []
    gate = threading.Event()
    with qtbot.waitSignal(runner.progressed, timeout=5000):
        runner.submit(blocking_job(gate, "never"), on_done=called.append, on_failed=called.append)
    with qtbot.waitSignals([runner.cancelled, runner.idle], timeout=5000):
        runner.cancel()
    assert called == []


def test_a_cancelled_job_calls_its_own_on_cancelled(qtbot):
    runner = JobRunner("test")
    called = []
    gate = threading.Event()
    with qtbot.waitSignal(runner.progressed, timeout=5000):
        runner.submit(blocking_job(gate, "never"), on_done=called.append, on_cancelled=lambda: called.append("stop"))
    with qtbot.waitSignals([runner.cancelled, runner.idle], timeout=5000):
        runner.cancel()
    assert called == ["stop"]


def test_a_cancel_while_a_superseded_job_winds_down_stops_the_waiting_one_and_says_so(qtbot):
    runner = JobRunner("test")
    called = []
    release = threading.Event()

    def winds_down_slowly(progress, should_stop):
        progress(0.5, "working")
        while not should_stop():
            threading.Event().wait(0.005)
        release.wait(5)
        raise Cancelled("stopped late")

    with qtbot.waitSignal(runner.progressed, timeout=5000):
        runner.submit(winds_down_slowly, on_cancelled=lambda: called.append("old"))
    runner.submit(lambda progress, should_stop: called.append("ran") or "new", on_done=called.append,
                  on_cancelled=lambda: called.append("new stopped"))
    runner.cancel()
    release.set()
    with qtbot.waitSignals([runner.cancelled, runner.idle], timeout=5000):
        pass
    assert called == ["new stopped"], "the dropped job is the one the cancel stopped; nothing ran after it"


def test_callback_of_a_deleted_owner_is_skipped(qtbot):
    got = []

    class Owner(QObject):
        def take(self, result):
            got.append(result)

    runner, owner = JobRunner("test"), Owner()
    gate = threading.Event()
    runner.submit(blocking_job(gate, "late"), on_done=partial(owner.take))
    shiboken6.delete(owner)
    with qtbot.waitSignal(runner.idle, timeout=5000):
        with qtbot.waitSignal(runner.finished, timeout=5000) as blocker:
            gate.set()
    assert blocker.args == ["late"] and got == []


def test_the_editor_process_ends_cleanly_with_a_worker_it_let_go_still_running(tmp_path):
    import os
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import threading
        from PySide6.QtWidgets import QApplication, QWidget
        app = QApplication([])
        from app.editor import end_process
        from app.workers import JobRunner
        window = QWidget()
        lane, gate = JobRunner("stubborn", window), threading.Event()
        lane.submit(lambda progress, should_stop: gate.wait(30))  # checks for no stop
        assert not lane.close(300)
        window.deleteLater()
        app.processEvents()
        end_process(0)
    """)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": os.getcwd()}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr[-800:]


def test_the_status_bar_says_cancelled_only_for_a_job_the_user_stopped(qtbot):
    from app.status_bar import EditorStatusBar

    status = EditorStatusBar()
    qtbot.addWidget(status)
    runner = JobRunner("measuring")
    status.watch(runner)
    gate = threading.Event()
    with qtbot.waitSignal(runner.idle, timeout=5000):
        runner.submit(blocking_job(gate, None))
        runner.cancel()  # the editor stopped it itself (another image opened)
    assert status.currentMessage() == ""
    with qtbot.waitSignal(runner.idle, timeout=5000):
        runner.submit(blocking_job(gate, None))
        status.cancel_jobs()
    assert status.currentMessage() == "Cancelled"


def test_running_out_of_memory_in_opencv_or_pytorch_is_said_as_such(qtbot):
    import cv2

    from app.error_reporter import RecordingReporter

    class OutOfMemoryError(RuntimeError):
        """As torch.OutOfMemoryError is named."""

    reporter = RecordingReporter()
    for error in (cv2.error("OpenCV(5.1.0) alloc.cpp:73: error: (-4:Insufficient memory) Failed to allocate 972000000 "
                            "bytes in function 'OutOfMemoryError'"),
                  OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), MemoryError()):
        reporter.report(None, "Export failed", error)
    assert [message for _, message, _ in reporter.errors] == [
        "There was not enough memory for this operation. Close other programs or use a smaller image."] * 3
    reporter.report(None, "Export failed", cv2.error("OpenCV(5.1.0) (-215:Assertion failed) ..."))
    assert reporter.errors[-1][1].startswith("An unexpected error occurred")
