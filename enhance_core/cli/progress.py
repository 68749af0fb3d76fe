"""Progress lines on stderr for subcommands that work through several files.

Standard output stays machine-readable (JSON, tables); progress and per-file
errors go to standard error, one line each.
"""

from __future__ import annotations

import sys
from pathlib import Path


def report_progress(done: int, total: int, item: Path | str, *, verb: str = "reading") -> None:
    """Print ``[done/total] verb item`` to stderr when a run has more than one item."""
    if total > 1:
        print(f"[{done}/{total}] {verb} {item}", file=sys.stderr, flush=True)


def report_failure(item: Path | str, error: Exception) -> None:
    """Print one ``error: ...`` line for a failed item of a batch, which then goes on."""
    message = " ".join(str(error).split())
    print(f"error: {message}", file=sys.stderr, flush=True)
