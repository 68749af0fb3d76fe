"""A reader that fails in each way the fuzz harness must catch (imported by the worker in the harness's own test)."""

from __future__ import annotations

import os
import time

import numpy as np

from enhance_core.image import Image


def misbehave(path: str) -> Image:
    """Case 0 raises an untyped error, 1 hangs, 2 crashes the process, 3 exhausts memory, 4 returns an integer
    source's pixels above 1 (Image itself refuses NaN).

    The worker restarts after the hang and the crash, so the case number comes from the file name.
    """
    case = int(os.path.basename(path).removeprefix("case").split(".")[0])
    if case == 0:
        return 1 / 0
    if case == 1:
        time.sleep(60)
    if case == 2:
        os.abort()
    if case == 3:
        np.ones(1 << 31, dtype=np.uint8)
    return Image(np.full((4, 4, 1), 2.0, dtype=np.float32))
