"""Display windows of a medical image: the header's, an automatic one, and a window as step parameters.

A window is a :class:`~enhance_core.image.Window` (center and width in the
image's physical unit, HU for CT). The ``window_level`` filter turns it into
display values; :func:`window_params` gives the parameters of that step, so
every window choice (header, preset, automatic, mouse drag) is a stack edit.
"""

from __future__ import annotations

import numpy as np

from enhance_core.errors import ParameterError
from enhance_core.image import Image, Window
from enhance_core.metrics import compute_luma

MIN_WIDTH = 1e-6
"""Narrowest window width accepted by the ``window_level`` filter."""


def value_range_window(image: Image) -> Window:
    """Return the window spanning the frame's physical value range (``meta.extra["value_range"]``).

    Without a recorded range, the whole range the stored values can reach.
    """
    low, high = image.meta.extra.get("value_range") or sorted(
        (float(image.to_physical(0.0)), float(image.to_physical(1.0))))
    return Window((float(low) + float(high)) / 2.0, max(float(high) - float(low), MIN_WIDTH), "Value range")


def header_window(image: Image, index: int = 0) -> Window:
    """Return window ``index`` of the file header (DICOM VOI), else the value range window.

    This is the window a DICOM file opens with and what "reset to header" restores.
    """
    windows = image.meta.windows
    if windows:
        window = windows[min(max(index, 0), len(windows) - 1)]
        return Window(float(window.center), max(float(window.width), MIN_WIDTH), window.name or "Header")
    return value_range_window(image)


def auto_window(image: Image, *, low_percent: float = 0.5, high_percent: float = 99.5) -> Window:
    """Return the window between two percentiles of the image's physical values.

    Parameters
    ----------
    image : Image
        A gray or color image; color images use their luma (Rec. 601).
    low_percent, high_percent : float
        Percentiles (0..100) of the physical values that become black and white;
        the defaults clip the darkest and brightest 0.5 %.

    Returns
    -------
    Window
        Named ``"Auto"``; at least :data:`MIN_WIDTH` wide (a flat image gets a hair-thin window).
    """
    if not 0.0 <= low_percent < high_percent <= 100.0:
        raise ParameterError(f"percentiles must satisfy 0 <= low < high <= 100, got {low_percent} and {high_percent}")
    values = compute_luma(image.pixels)
    step = max(1, int(np.sqrt(values.size / 1_000_000)))
    sample = np.asarray(values[::step, ::step], dtype=np.float64)
    low, high = np.percentile(image.to_physical(sample), (low_percent, high_percent))
    return Window((float(low) + float(high)) / 2.0, max(float(high) - float(low), MIN_WIDTH), "Auto")


def window_params(window: Window) -> dict[str, float]:
    """Return the ``window_level`` step parameters for ``window``."""
    return {"center": float(window.center), "width": max(float(window.width), MIN_WIDTH)}
