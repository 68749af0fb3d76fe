"""Progress lines on stderr for subcommands that work through several files.

Standard output stays machine-readable (JSON, tables); progress and per-file
errors go to standard error, one line each.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping


def json_line(data: Mapping[str, Any]) -> str:
    """``data`` as one line of JSON for standard output: names in their own letters where the output takes any
    (写真 rather than \\u5199\\u771f), escaped where it does not (a code page would break the JSON)."""
    readable = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "").startswith("utf")
    return json.dumps(data, ensure_ascii=not readable)


_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(32), 127)} | {10: "\\n", 13: "\\r", 9: "\\t"}


def one_line(text: str) -> str:
    """``text`` with its control characters escaped (``\\n`` for a line break), so a file name holding one
    cannot break a progress line in two (or fake a line of its own in a log)."""
    return text.translate(_CONTROLS)


def report_progress(done: int, total: int, item: Path | str, *, verb: str = "reading") -> None:
    """Print ``[done/total] verb item`` to stderr when a run has more than one item."""
    if total > 1:
        print(one_line(f"[{done}/{total}] {verb} {item}"), file=sys.stderr, flush=True)


def report_failure(item: Path | str, error: Exception) -> None:
    """Print one ``error: ...`` line for a failed item of a batch, which then goes on."""
    message = " ".join(str(error).split())
    print(f"error: {message}", file=sys.stderr, flush=True)


@dataclass
class Tally:
    """Files a command wrote, kept (already there, ``--skip-existing``) and failed, for its summary lines."""

    written: int = 0
    kept: int = 0
    failed: int = 0

    def count(self, outcome: str) -> None:
        """Count one file's ``outcome``: "written", "kept" or "failed"."""
        setattr(self, outcome, getattr(self, outcome) + 1)

    def told(self, total: int, noun: str, folder: Path) -> str:
        """"N of TOTAL NOUN written to FOLDER", with those kept and those that failed."""
        kept = f" ({self.kept} already there, kept)" if self.kept else ""
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.written} of {total} {noun} written to {folder}{kept}{failed}"


class BatchProgress:
    """Files done, megapixels per second and time left of a batch, for its per-file lines.

    Only files run by this process count towards the speed (files kept or
    done in an earlier run do not); the time left is the files left times the
    wall time per file run: the pace since the first one finished, so the
    start-up the first wave waits for (worker processes, a model loaded)
    does not inflate it. Until more files have run than there are
    ``workers`` there is no such pace (the first wave of parallel workers
    finishes almost at once, which says nothing of it), and the time left
    shows as ``–``.
    """

    def __init__(self, total: int, *, workers: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.workers, self._clock = total, max(1, workers), clock
        self._start = clock()
        self._first: float | None = None
        self.done = self.ran = 0
        self.megapixels = 0.0

    def update(self, *, ran: bool, megapixels: float = 0.0) -> str:
        """Count one finished file; return ``percent done, MP/s, ETA`` for its line."""
        now = self._clock()
        self.done += 1
        if ran:
            self.ran += 1
            self.megapixels += megapixels
            if self._first is None:
                self._first = now
        elapsed = max(now - self._start, 1e-9)
        text = f"{100 * self.done / max(self.total, 1):.0f} %"
        if self.ran:
            left = "–"
            if self.ran > self.workers and self._first is not None:
                left = format_duration((self.total - self.done) * (now - self._first) / (self.ran - 1))
            text += f", {self.megapixels / elapsed:.2f} MP/s, ETA {left}"
        return text


def format_duration(seconds: float) -> str:
    """``h:mm:ss`` (``m:ss`` under an hour)."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
