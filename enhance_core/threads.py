"""How many threads one picture's work may use: OpenCV's, SciPy's FFTs', and the parts the filters split into.

A batch runs one file per worker process, side by side, so each worker limits
itself to one thread (:func:`limit_threads`). The count is kept here rather
than read back from OpenCV: on macOS OpenCV's parallel backend (GCD) ignores
``cv2.setNumThreads`` and ``cv2.getNumThreads`` always answers the number of
CPUs.
"""

from __future__ import annotations

import cv2

_limit: int | None = None


def limit_threads(count: int | None) -> None:
    """Use at most ``count`` threads from now on (OpenCV's too); None goes back to OpenCV's default."""
    global _limit
    cv2.setNumThreads(-1 if count is None else count)
    _limit = count


def thread_count() -> int:
    """The threads a picture's work may use: the limit set, else OpenCV's own count (at least 1)."""
    return max(1, _limit if _limit is not None else cv2.getNumThreads())
