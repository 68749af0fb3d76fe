"""Worker processes for batch runs: they die with their parent, stop on Ctrl+C and leave no partial file.

:func:`run_pool` runs tasks in spawn-started worker processes.

Parent killed (``kill -9`` included): on Linux each worker asks the kernel
(``prctl(PR_SET_PDEATHSIG, SIGKILL)``) to be killed the moment its parent
exits, so not one more file is written, and a small *janitor* process started
beside the workers then removes the partial files they were writing. The
signal is tied to the thread that started the worker: :func:`run_pool`'s
caller, which waits for the pool, so it outlives every worker. Elsewhere, and
as a second line on Linux, each worker watches a pipe whose only writing end
the parent holds: when it reads end-of-file the worker removes its partial
file and exits (a few milliseconds later, up to tens under heavy load, which
is why Linux uses the kernel's signal first).

Ctrl+C: workers ignore SIGINT (a terminal sends it to the whole process
group), and SIGTERM, which the command line turns into Ctrl+C in the parent;
the parent catches it, closes the pipe so every worker stops,
removes what they were writing, and raises :class:`BatchInterrupted` naming
the tasks that were running and those never started.

Partial files are ``write_image``'s hidden temporary files,
``.<output name>.<8 random characters>.part`` beside the output;
:func:`remove_partial_files` removes those of given outputs (and nothing
else), which also clears what a killed earlier run left.
"""

from __future__ import annotations

import ctypes
import os
import re
import select
import signal
import stat
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from multiprocessing import get_context, resource_tracker
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from enhance_core.atomic import partial_name

_PARTIAL = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.part")
"""``tempfile.mkstemp(prefix=".<name>.", suffix=".part")``, as :func:`enhance_core.io.write_image` names them."""
PR_SET_PDEATHSIG = 1
"""``prctl`` option: the signal this process gets when its parent exits (Linux)."""
DONE = b"done"
"""Told to the janitor when the pool ended normally or was stopped: nothing to clean."""
POLL_SECONDS = 0.1
"""Longest wait for a result with Ctrl+C held: a Ctrl+C stops the batch at most this much later."""
WINDOWS_PROCESSES = 61
"""Most worker processes Windows can wait on (Python's process pool refuses more there)."""
_current_target: Path | None = None
"""In a worker: the output of the task it is running."""


class StopBatch(KeyboardInterrupt):
    """Raised by a batch's own ``finish`` to stop it as Ctrl+C does, for the reason it gives (a disk that refuses
    every file)."""


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl+C stopped a batch; ``running`` and ``not_started`` are task indices, ``results`` what finished.

    A :class:`KeyboardInterrupt`, so a caller that does not handle it still
    stops as on Ctrl+C. ``reason`` is the :class:`StopBatch` message when
    the batch stopped itself ("" for Ctrl+C).
    """

    def __init__(self, running: Sequence[int], not_started: Sequence[int], results: Sequence[Any] = (), *,
                 reason: str = "") -> None:
        super().__init__("batch interrupted")
        self.running, self.not_started, self.results = list(running), list(not_started), list(results)
        self.reason = reason


def stop_reason(stop: KeyboardInterrupt) -> str:
    """The reason a batch stopped itself, "" for Ctrl+C."""
    return str(stop) if isinstance(stop, StopBatch) else ""


def partial_files(output: Path) -> list[Path]:
    """The hidden partial files ``write_image`` leaves beside ``output`` when it is stopped mid-write."""
    return _partial_files_of([output])


def _partial_files_of(outputs: Iterable[Path]) -> list[Path]:
    """The partial files of all ``outputs``, each folder listed once (a folder of 24,000 outputs listed once per
    output took minutes before a rerun began)."""
    wanted: dict[Path, set[str]] = {}
    for output in outputs:
        wanted.setdefault(output.parent, set()).add(partial_name(output.name))
    found = []
    for folder, names in wanted.items():
        try:
            with os.scandir(folder) as entries:
                files = [entry.name for entry in entries if entry.is_file(follow_symlinks=False)]
        except OSError:
            continue
        found += [folder / name for name in files
                  if (match := _PARTIAL.fullmatch(name)) is not None and match["name"] in names]
    return found


def remove_partial_files(outputs: Iterable[Path]) -> int:
    """Remove the partial files of ``outputs`` (only files named as ``write_image`` names them); return how many."""
    removed = 0
    for path in _partial_files_of(outputs):
        try:
            if sys.platform == "win32":  # a read-only partial file (an older run's) cannot be removed there as it is
                with suppress(OSError):
                    os.chmod(path, stat.S_IREAD | stat.S_IWRITE)
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def _watch_parent(pipe: Connection) -> None:
    """Worker thread: wait until the parent closes the pipe (it exited or was interrupted), then exit now."""
    try:
        pipe.recv_bytes()
    except (EOFError, OSError):
        pass
    if _current_target is not None:
        remove_partial_files([_current_target])
    os._exit(1)


def _die_with_parent(parent: int) -> bool:
    """Ask the kernel to SIGKILL this process when ``parent`` exits (Linux); return whether that is in force."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:
        os._exit(1)
    return True


def process_limit() -> int | None:
    """The most worker processes this platform can run in one pool (None: no limit)."""
    return WINDOWS_PROCESSES if sys.platform == "win32" else None


def worker_threads(jobs: int) -> int:
    """Torch threads for each of ``jobs`` worker processes: the CPUs shared out, at least one.

    A learned step in every worker with torch's default of one thread per core
    would run ``jobs`` times more threads than cores (measured: two workers on
    2 cores 1.4-1.5x slower than one process).
    """
    return max(1, (os.cpu_count() or 1) // max(1, jobs))


def _start_worker(pipe: Connection, parent: int, threads: int) -> None:
    """Worker start-up: ignore Ctrl+C and SIGTERM (the parent handles them), one OpenCV thread, ``threads`` torch
    threads (read when torch is imported), die with the parent.

    OpenCV is imported here, not with this module: the janitor, spawned from
    this module too, then starts on the standard library alone instead of
    importing NumPy and OpenCV beside the starting workers.
    """
    from enhance_core.threads import limit_threads

    ignore_sigint()
    ignore_sigterm()
    limit_threads(1)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    _die_with_parent(parent)
    threading.Thread(target=_watch_parent, args=(pipe,), name="watch-parent", daemon=True).start()


def _janitor(pipe: Connection, parent: int, outputs: list[Path]) -> None:
    """Process beside the workers: unless told :data:`DONE`, wait for the parent to exit, then remove partials.

    The kernel kills the workers as the parent exits; what they were writing
    is removed once the parent is gone (``pidfd``), so no worker can create
    another partial file afterwards. It ignores Ctrl+C and SIGTERM as the workers do.
    """
    ignore_sigint()
    ignore_sigterm()
    try:
        if pipe.recv_bytes() == DONE:
            return
    except (EOFError, OSError):
        pass
    try:
        handle = os.pidfd_open(parent)
    except (AttributeError, OSError):
        handle = None
    if handle is not None:
        select.select([handle], [], [], 10.0)
        os.close(handle)
    remove_partial_files(outputs)


def _run_one(fn: Callable[[Any], Any], task: Any, target: Path | None) -> Any:
    """Worker: run ``fn(task)``, remembering ``target`` so a stop can remove its partial file."""
    global _current_target
    _current_target = target
    try:
        return fn(task)
    finally:
        _current_target = None


@contextmanager
def sigint_held() -> Iterator[None]:
    """Hold Ctrl+C back while workers are started (they start with it held and ignore it before running code),
    and while the pool is waited on (raised there, it could leave a future's lock taken).

    A handler notes a Ctrl+C pressed in the window, and the previous handler
    gets it as the window closes (ignoring the press, as once, lost it: CI saw
    a batch finish all its files after a Ctrl+C, and on Windows no Ctrl+C could
    stop a batch, whose pool is waited on in this window). Where Ctrl+C is
    ignored already (a background job) no handler is put in its place.

    POSIX: SIGINT is also blocked in this thread, whose new processes and
    threads inherit the mask; the handler catches a Ctrl+C that another thread
    (one of numpy's) took, which otherwise interrupted a worker's start mid-way
    (its "EOFError: Ran out of input"). SIGTERM is held with it: sent to the
    process group, it killed workers still starting, and the broken pool lost
    their files from the summary. The workers ignore both in
    :func:`ignore_sigint` and :func:`ignore_sigterm`.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    masked = hasattr(signal, "pthread_sigmask")
    if masked:
        # multiprocessing's resource tracker, started by the first process a run starts, unblocks both signals
        # after starting: begun inside the window, it let the janitor start unguarded (a Ctrl+C 0.3 s into a
        # batch printed the janitor's traceback)
        resource_tracker.ensure_running()
    pressed: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    # A background job's Ctrl+C stays ignored: a SIGTERM there finds it so and puts the default back to stop the
    # batch (stopping.terminate_as_interrupt); a noting handler in its place swallowed the SIGTERM.
    noting = previous not in (signal.SIG_IGN, None)
    if noting:
        signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    previous_mask: set[int | signal.Signals] = set()
    try:
        if masked:
            previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        yield
    finally:
        if masked:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        if noting:
            signal.signal(signal.SIGINT, previous)
    if pressed and callable(previous):
        previous(signal.SIGINT, None)
    elif pressed:  # the default action (SIG_DFL): stop
        raise KeyboardInterrupt


def ignore_sigint() -> None:
    """In a worker or the janitor: ignore Ctrl+C (which drops one held since start-up), then stop holding it."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def ignore_sigterm() -> None:
    """In a worker or the janitor: ignore SIGTERM. Sent to the whole process group (``kill -- -PGID``, a service
    stopping), it reaches the parent too, which stops every worker in order (the command line turns it into Ctrl+C
    there: :mod:`enhance_core.cli.stopping`); then stop holding it (:func:`sigint_held`)."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def run_pool(fn: Callable[[Any], Any], tasks: Sequence[Any], pending: list[int], jobs: int, *,
             finish: Callable[[int, Any], None], died: Callable[[Any], Any],
             target: Callable[[Any], Path | None], begin: Callable[[int], None] = lambda index: None,
             again: Callable[[Any], Any] = lambda task: task) -> None:
    """Run ``fn(tasks[i])`` for each ``i`` in ``pending`` in ``jobs`` worker processes.

    ``finish(i, result)`` is called as each task ends; ``jobs`` is cut to :func:`process_limit`. When a worker dies
    (killed, out of memory) the pool breaks and cannot tell which of its
    running tasks did it: the partial files they leave are removed, each of
    them runs again alone, as ``again(task)`` (it may have written its
    output before the pool broke), and only one whose worker dies alone gets
    ``died(task)`` as its result; then a new pool goes on with the rest.
    ``target(task)`` is the file the task writes (its partial file is
    removed if the task is stopped). ``begin(i)`` is called as task ``i`` is handed to a worker.

    Raises
    ------
    BatchInterrupted
        Ctrl+C; every worker has stopped and their partial files are removed.
    """
    queue = list(pending)
    jobs = min(jobs, process_limit() or jobs)
    context = get_context("spawn")
    janitor = _start_janitor(context, [path for path in (target(tasks[i]) for i in pending) if path is not None])
    try:
        while queue:
            suspects = _run_pool_once(fn, tasks, queue, jobs, context, finish=finish, target=target, begin=begin)
            remove_partial_files(path for path in (target(tasks[i]) for i in suspects) if path is not None)
            while suspects:
                index = suspects.pop(0)
                rerun = list(tasks)
                rerun[index] = again(tasks[index])
                try:
                    alone = [index] if jobs == 1 else _run_pool_once(fn, rerun, [index], 1, context, finish=finish,
                                                                    target=target, begin=begin)
                    remove_partial_files(path for path in (target(tasks[i]) for i in alone) if path is not None)
                except BatchInterrupted as interrupted:
                    interrupted.not_started += suspects + queue
                    raise
                if alone:
                    finish(index, died(tasks[index]))
    finally:
        if janitor is not None:
            with suppress(OSError):  # a janitor that could not start has nothing to be told
                janitor[1].send_bytes(DONE)
            janitor[1].close()
            janitor[0].join()


def _start_janitor(context: Any, outputs: list[Path]) -> tuple[Any, Connection] | None:
    """Start the janitor process (Linux, where workers die by the kernel's signal); return it and its pipe."""
    if not sys.platform.startswith("linux"):
        return None
    reader, writer = context.Pipe(duplex=False)
    process = context.Process(target=_janitor, args=(reader, os.getpid(), outputs), name="batch-janitor",
                              daemon=True)
    with sigint_held():
        process.start()
    reader.close()
    return process, writer


def _run_pool_once(fn: Callable[[Any], Any], tasks: Sequence[Any], queue: list[int], jobs: int, context: Any, *,
                   finish: Callable[[int, Any], None], target: Callable[[Any], Path | None],
                   begin: Callable[[int], None]) -> list[int]:
    """Run queued tasks in one pool until they are done or a worker dies; return the tasks that were running when
    one died (none when all ended), for the caller to run again alone before a new pool takes the rest."""
    reader, writer = context.Pipe(duplex=False)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_start_worker,
                               initargs=(reader, os.getpid(), worker_threads(jobs)))
    running: dict[Future, int] = {}
    suspects: list[int] = []
    try:
        while queue or running:
            # Ctrl+C is held through each pass and raised between passes: raised inside wait() it could leave a
            # future's lock taken, and shutdown() then hung for good (seen once in the Ctrl+C test).
            with sigint_held():
                while queue and len(running) < jobs:
                    index = queue.pop(0)
                    begin(index)
                    running[pool.submit(_run_one, fn, tasks[index], target(tasks[index]))] = index
                done, _ = wait(running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                broken = _finish_done(done, running, finish)
                if broken:
                    suspects = broken + sorted(running.values())
            if suspects:  # after the window: a Ctrl+C held through it is raised as it closes, with them known
                running.clear()
                return suspects
        return []
    except KeyboardInterrupt as stop:
        writer.close()
        pool.shutdown(wait=True, cancel_futures=True)
        stopped = sorted(set(running.values()) | set(suspects))
        remove_partial_files(path for path in (target(tasks[i]) for i in stopped) if path is not None)
        raise BatchInterrupted(stopped, list(queue), reason=stop_reason(stop)) from None
    finally:
        pool.shutdown(wait=True)
        writer.close()
        reader.close()


def _finish_done(done: set[Future], running: dict[Future, int], finish: Callable[[int, Any], None]) -> list[int]:
    """Report finished futures; return the tasks a dead worker left without a result (the pool is broken)."""
    broken = []
    for future in done:
        index = running.pop(future)
        try:
            result = future.result()
        except BrokenProcessPool:
            broken.append(index)
        else:
            finish(index, result)
    return sorted(broken)
