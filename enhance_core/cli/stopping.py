"""SIGTERM stops a command as Ctrl+C does: a batch ends with its summary, its workers stop, nothing partial stays.

A scheduler's time limit, ``kill PID``, ``timeout`` and a closing session
send SIGTERM, which by default ends Python at once: a batch then printed no
summary and its worker pool's semaphores were reported leaked. While a
command runs, :func:`terminate_as_interrupt` turns SIGTERM into the SIGINT
of Ctrl+C, sent to the main thread, so it waits where the batch holds Ctrl+C
back and is handled where Ctrl+C is. The exit status is then 143 (128 +
SIGTERM) instead of Ctrl+C's 130.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

INTERRUPTED = 130
"""Exit status after Ctrl+C (128 + SIGINT)."""
TERMINATED = 143
"""Exit status after SIGTERM (128 + SIGTERM)."""
_terminated = threading.Event()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM handler: send the main thread the SIGINT of Ctrl+C (handled, even where the shell that started this
    process in the background ignores Ctrl+C)."""
    _terminated.set()
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    main = threading.main_thread().ident
    if main is not None:
        signal.pthread_kill(main, signal.SIGINT)


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within: SIGTERM stops the command as Ctrl+C does (main thread, POSIX; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_kill"):
        yield
        return
    _terminated.clear()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def stop_status() -> int:
    """The exit status of a command stopped by Ctrl+C or by SIGTERM."""
    return TERMINATED if _terminated.is_set() else INTERRUPTED


def stopped_word() -> str:
    """How a stop is told: "interrupted" after Ctrl+C, "stopped by SIGTERM" after SIGTERM."""
    return "stopped by SIGTERM" if _terminated.is_set() else "interrupted"


def finish_advice(overwrite: bool, what: str) -> str:
    """How to finish a stopped run that writes one file per input: with ``--skip-existing``; after ``--overwrite``
    the same command again (the outputs it had not yet replaced are the old ones, which ``--skip-existing`` would
    keep, and the two options do not go together)."""
    if overwrite:
        return f"run the same command again to finish (it replaces all the {what} again)"
    return f"run the same command with --skip-existing to finish (the {what} written are kept)"
