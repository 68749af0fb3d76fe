"""The background thread that writes recovery states: the newest state only, never on the GUI thread.

:meth:`RecoveryWriter.submit` replaces whatever state still waits, so a
burst of edits during one write costs one more write, not one per edit, and
the file is never more than the running write behind. Each write goes
through :class:`~app.recovery_format.SessionEncoder` (atomic renames), so a
kill at any moment leaves the previous complete file. Qt-free.
"""

from __future__ import annotations

import threading
import traceback
from enum import Enum
from typing import Callable

from app.recovery_format import SessionEncoder, SessionState, WriteReport

class _Slot(Enum):
    """The writer's slot when no state waits to be written."""

    EMPTY = "empty"


_NOTHING = _Slot.EMPTY


class RecoveryWriter:
    """Writes :class:`SessionState` s with ``encoder`` on its own thread, newest first and only.

    Parameters
    ----------
    encoder : SessionEncoder
        Writes into the session folder.
    written : callable
        ``written(report)`` after each write (a :class:`WriteReport`, or None
        after the files were cleared), called on the writer thread.
    failed : callable
        ``failed(message, details)`` when a write raised, on the writer thread.
    """

    def __init__(self, encoder: SessionEncoder, *, written: Callable[[WriteReport | None], None],
                 failed: Callable[[str, str], None]) -> None:
        self.encoder = encoder
        self._written, self._failed = written, failed
        self._condition = threading.Condition()
        self._pending: SessionState | None | _Slot = _NOTHING
        self._busy = False
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="recovery-writer", daemon=True)
        self._thread.start()

    def submit(self, state: SessionState | None) -> None:
        """Write ``state`` next (None: remove the files, nothing is left to recover), replacing any waiting one."""
        with self._condition:
            if self._closing:
                return
            self._pending = state
            self._condition.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is written or waiting; False when ``timeout`` seconds passed first."""
        with self._condition:
            return self._condition.wait_for(lambda: self._pending is _NOTHING and not self._busy, timeout)

    def close(self, *, discard: bool, timeout: float = 30.0) -> None:
        """Stop the thread: finish the running write and, unless ``discard``, the waiting one."""
        with self._condition:
            self._closing = True
            if discard:
                self._pending = _NOTHING
            self._condition.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._pending is not _NOTHING or self._closing)
                if self._pending is _NOTHING:
                    return
                state, self._pending, self._busy = self._pending, _NOTHING, True
            try:
                if state is None:
                    self.encoder.clear()
                    report = None
                else:
                    report = self.encoder.write(state)
            except Exception as error:  # noqa: BLE001 - any failure is reported, the editor goes on
                self._failed(f"{type(error).__name__}: {error}" if not isinstance(error, OSError)
                             else f"{error.strerror or error} ({error.filename or self.encoder.folder})",
                             traceback.format_exc())
            else:
                self._written(report)
            finally:
                with self._condition:
                    self._busy = False
                    self._condition.notify_all()
