"""Run Qt-free core functions on a QThread: progress, cancel, latest request wins.

A job is a plain callable ``fn(progress, should_stop) -> result`` (the
Orange3/napari pattern): it reports ``progress(fraction, message)``, checks
``should_stop()`` often and raises :class:`enhance_core.errors.Cancelled`
when asked to stop. :class:`JobRunner` owns one *lane* of work (the preview,
the histogram, the metrics...): submitting a job cancels the running one, and
the newest submission waits until the old thread has returned, so at most one
thread per lane computes.

The follow-up travels with the job: ``submit(fn, on_done=..., on_failed=...,
on_cancelled=...)`` binds the callbacks to that submission's ticket, so a
controller never routes a lane's results by hand. A superseded job's
callbacks are never called, nor a cancelled job's ``on_done`` or
``on_failed``: a stale result never lands. Results, errors and progress are
delivered on the GUI thread through queued signals; a callback whose owner (a
closed dialog) has been deleted is skipped.
"""

from __future__ import annotations

import os
import sys
import threading
import traceback
import weakref
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

import shiboken6
from PySide6.QtCore import QObject, QThread, Signal

from enhance_core.errors import Cancelled

JobFn = Callable[[Callable[[float, str], None], Callable[[], bool]], Any]
DoneFn = Callable[[Any], None]

_THREADS: weakref.WeakSet = weakref.WeakSet()
_STARTED = [0]
"""Worker threads made so far (made on the GUI thread only): :func:`jobs_started`."""
_ORPHANS: set[QThread] = set()
"""Worker threads that a closed lane stopped waiting for, unparented and held here until the process ends: Qt
aborts the process when a running thread is destroyed with its window."""
WORKER_NICENESS = 5


def lower_thread_priority() -> None:
    """Make the calling worker thread yield the CPU to the GUI thread (Linux: a higher nice value).

    Qt's thread priorities have no effect on Linux, where each thread has its own
    nice value instead; elsewhere :meth:`JobRunner.submit` starts threads at
    ``QThread.LowPriority``.
    """
    if sys.platform.startswith("linux"):
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + WORKER_NICENESS))
        except OSError:
            pass


def jobs_started() -> int:
    """How many worker threads every :class:`JobRunner` has made so far (a change says work was done since)."""
    return _STARTED[0]


def running_workers() -> list[QThread]:
    """Worker threads of every :class:`JobRunner` that have not returned yet (deleted ones are skipped)."""
    return [thread for thread in list(_THREADS) if shiboken6.isValid(thread) and thread.isRunning()]


@dataclass(frozen=True)
class JobFailure:
    """An exception raised by a job, with its formatted traceback for the "Details" pane."""

    error: BaseException
    details: str


FailedFn = Callable[[JobFailure], None]


@dataclass(frozen=True)
class _Job:
    """One submission: its ticket, the work, and the follow-ups bound to it."""

    ticket: int
    fn: JobFn
    label: str
    on_done: DoneFn | None = None
    on_failed: FailedFn | None = None
    on_cancelled: Callable[[], None] | None = None


def _still_there(callback: Callable[..., None]) -> bool:
    """Whether the QObject a callback is a method of (directly or through ``partial``) still exists."""
    while isinstance(callback, partial):
        callback = callback.func
    owner = getattr(callback, "__self__", None)
    return not isinstance(owner, QObject) or shiboken6.isValid(owner)


class _WorkerThread(QThread):
    """One job on its own thread; emits exactly one of done / failed / stopped."""

    progressed = Signal(int, float, str)
    done = Signal(int, object)
    failed = Signal(int, object)
    stopped = Signal(int)

    def __init__(self, job: _Job, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.ticket = job.ticket
        self._stop = threading.Event()
        self.superseded = False
        self.cancelled = False
        self.stands_for = job
        """The job a cancel of this thread stopped: its own, or the waiting one dropped with it."""
        _THREADS.add(self)
        _STARTED[0] += 1

    def request_stop(self) -> None:
        """Ask the job to stop at its next ``should_stop()`` check."""
        self._stop.set()

    def run(self) -> None:
        """Call the job and report how it ended (runs on the worker thread)."""
        lower_thread_priority()
        try:
            result = self.job.fn(self._report, self._stop.is_set)
        except Cancelled:
            self.stopped.emit(self.ticket)
        except Exception as error:  # every failure must reach the GUI as a dialog, never kill the thread
            self.failed.emit(self.ticket, JobFailure(error, traceback.format_exc()))
        else:
            if self._stop.is_set():
                self.stopped.emit(self.ticket)
            else:
                self.done.emit(self.ticket, result)

    def _report(self, fraction: float, message: str) -> None:
        self.progressed.emit(self.ticket, float(fraction), str(message))


class JobRunner(QObject):
    """One lane of background work where the latest request wins.

    Signals
    -------
    started(label)
        A job began computing.
    progressed(fraction, message)
        Progress of the current job.
    finished(result)
        The current job returned ``result`` (after its ``on_done``; never for a superseded job).
    failed(failure)
        The current job raised; ``failure`` is a :class:`JobFailure` (after its ``on_failed``).
    cancelled()
        The current job stopped because :meth:`cancel` was called (after the ``on_cancelled`` of the job it
        stood for).
    idle()
        Nothing is running or waiting any more.
    """

    started = Signal(str)
    progressed = Signal(float, str)
    finished = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    idle = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._ticket = 0
        self._current: _WorkerThread | None = None
        self._pending: _Job | None = None
        self._label = ""
        self._stopping: set[_WorkerThread] = set()
        self._closed = False

    @property
    def busy(self) -> bool:
        """Whether a job is running or waiting to start."""
        return self._current is not None or self._pending is not None

    @property
    def label(self) -> str:
        """The label of the running or waiting job ("" when idle)."""
        return self._label if self.busy else ""

    def submit(self, fn: JobFn, *, on_done: DoneFn | None = None, on_failed: FailedFn | None = None,
               on_cancelled: Callable[[], None] | None = None, label: str = "", cancel_running: bool = True) -> int:
        """Run ``fn`` in the background and return its ticket.

        ``on_done(result)`` or ``on_failed(failure)`` is called on the GUI
        thread when this very job ends, never when it was superseded or
        cancelled (then neither is); ``on_cancelled()`` when :meth:`cancel`
        stopped it. With ``cancel_running`` (the default) the
        running job is stopped and its result dropped. Without it the running
        job finishes and delivers its result to its own ``on_done`` first (live
        previews stay fluid while a slider moves); either way ``fn`` replaces
        any job still waiting to start. After :meth:`close` nothing starts any more.
        """
        self._ticket += 1
        if self._closed:
            return self._ticket
        self._label = label or self.name
        self._pending = _Job(self._ticket, fn, self._label, on_done, on_failed, on_cancelled)
        if self._current is None:
            self._start_pending()
        elif cancel_running:
            self._current.superseded = True
            self._current.request_stop()
        return self._ticket

    def cancel(self) -> None:
        """Stop the running job and drop the waiting one; emits ``cancelled`` once the job has stopped.

        A waiting job dropped here is the one the user saw coming: the running
        thread (superseded by it, or finishing for a live preview) then stands
        for it, and its ``on_cancelled`` is called when that thread has stopped.
        """
        pending, self._pending = self._pending, None
        thread = self._current
        if thread is not None:
            thread.cancelled = True
            if pending is not None:
                thread.superseded, thread.stands_for = False, pending
            thread.request_stop()

    def wait(self, timeout_ms: int = 10000) -> bool:
        """Cancel everything and block until every thread of this lane has returned (shutdown, tests)."""
        self.cancel()
        return all(thread.wait(timeout_ms) for thread in self._threads())

    def close(self, timeout_ms: int = 10000) -> bool:
        """Like :meth:`wait`, and refuse every later submission (window shutdown).

        A job submitted after the window has shut down, by a signal still queued
        or a timer, would otherwise run on a thread that Qt destroys with the
        window while it still runs, which aborts the process.

        A thread still running after ``timeout_ms`` (a step that checks for a
        stop only between long passes) is let go: it no longer belongs to the
        lane, so the window can be destroyed while it finishes.
        """
        self._closed = True
        _ORPHANS.difference_update([thread for thread in _ORPHANS if thread.isFinished()])
        if self.wait(timeout_ms):
            return True
        for thread in self._threads():
            if thread.isRunning():
                thread.setParent(None)
                _ORPHANS.add(thread)
        return False

    def _threads(self) -> list[_WorkerThread]:
        """Every thread of this lane that has not been swept yet: the stopping ones and the current one."""
        return list(self._stopping) + ([self._current] if self._current is not None else [])

    def _start_pending(self) -> None:
        job, self._pending = self._pending, None
        if job is None:
            return
        thread = _WorkerThread(job, self)
        thread.progressed.connect(self._on_progress)
        thread.done.connect(self._on_done)
        thread.failed.connect(self._on_failed)
        thread.stopped.connect(self._on_stopped)
        thread.finished.connect(self._sweep_finished)
        self._current = thread
        self._stopping.add(thread)
        self.started.emit(job.label)
        thread.start(QThread.Priority.LowPriority)

    def _owner(self, ticket: int) -> _WorkerThread | None:
        """The current thread if it runs job ``ticket`` and has not been superseded."""
        thread = self._current
        if thread is None or thread.ticket != ticket or thread.superseded:
            return None
        return thread

    def _on_progress(self, ticket: int, fraction: float, message: str) -> None:
        thread = self._owner(ticket)
        if thread is not None and not thread.cancelled:
            self.progressed.emit(fraction, message)

    def _on_done(self, ticket: int, result: object) -> None:
        thread = self._owner(ticket)
        if thread is not None and thread.cancelled:
            self._report_cancel(thread)
        elif thread is not None:
            callback = thread.job.on_done
            if callback is not None and _still_there(callback):
                callback(result)
            self.finished.emit(result)

    def _on_failed(self, ticket: int, failure: JobFailure) -> None:
        thread = self._owner(ticket)
        if thread is not None and thread.cancelled:
            self._report_cancel(thread)
        elif thread is not None:
            callback = thread.job.on_failed
            if callback is not None and _still_there(callback):
                callback(failure)
            self.failed.emit(failure)

    def _on_stopped(self, ticket: int) -> None:
        thread = self._owner(ticket)
        if thread is not None:
            self._report_cancel(thread)

    def _report_cancel(self, thread: _WorkerThread) -> None:
        """Tell the cancelled job's ``on_cancelled`` and the lane's listeners that ``thread`` has stopped."""
        callback = thread.stands_for.on_cancelled
        if callback is not None and _still_there(callback):
            callback()
        self.cancelled.emit()

    def _sweep_finished(self) -> None:
        """Forget threads that have returned; start the waiting job once the current one is gone."""
        for thread in [t for t in self._stopping if t.isFinished()]:
            self._stopping.discard(thread)
            thread.deleteLater()
        if self._current is None or not self._current.isFinished():
            return
        self._current = None
        if self._pending is not None:
            self._start_pending()
        else:
            self.idle.emit()
