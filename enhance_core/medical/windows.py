"""Display windows of a medical image, and the rules of the window/level step that shows one.

A window is a :class:`~enhance_core.image.Window` (center and width in the
image's physical unit, HU for CT). The :data:`WINDOW_LEVEL` filter turns it
into display values; :func:`window_params` gives the parameters of that step,
so every window choice (header, preset, automatic, mouse drag) is a stack edit.

The step rules every part of the program follows (editor, export, CLI):

* an image opens, and a new window/level step starts, on :func:`default_window_params`
  (the header's first window, else the value range);
* window edits go to :func:`window_step_to_edit`: the selected window/level
  step, else the first in the stack;
* the enabled, unmasked window/level steps that open the stack are the
  display mapping (:func:`display_steps`): the "before" side and the
  original's metrics go through them too, so before and after compare under
  the same window;
* an export describes the window of the first enabled window/level step
  (:func:`stack_window`);
* a drag (:func:`dragged_window`) moves the level by the image's value range
  per image height and doubles the width per quarter of the image width.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from enhance_core.errors import ParameterError
from enhance_core.image import WINDOW_CENTER_LIMIT, WINDOW_WIDTH_LIMIT, Image, Window
from enhance_core.metrics import compute_luma
from enhance_core.stack import StackItem, make_item

if TYPE_CHECKING:
    from enhance_core.medical.presets import WindowPreset

WINDOW_LEVEL = "window_level"
"""Name of the window/level filter, the step that maps physical values to display values."""
MIN_WIDTH = 1e-6
"""Narrowest window width accepted by the ``window_level`` filter."""
MAX_DRAG_WIDTH = 200000.0
"""Widest window a drag reaches on an image whose value range is narrower than a quarter of it."""


def _span_window(low: float, high: float, name: str) -> Window:
    """The window from ``low`` to ``high``, at least :data:`MIN_WIDTH` wide and held to what the window/level
    step takes (values beyond ±1e12, from a huge RescaleSlope, show as far as it reaches)."""
    center = min(max((low + high) / 2.0, -WINDOW_CENTER_LIMIT), WINDOW_CENTER_LIMIT)
    return Window(center, min(max(high - low, MIN_WIDTH), WINDOW_WIDTH_LIMIT), name)


def value_range_window(image: Image) -> Window:
    """Return the window spanning the frame's physical value range (``meta.extra["value_range"]``).

    Without a recorded range, the whole range the stored values can reach.
    """
    low, high = image.meta.extra.get("value_range") or image.physical_range()
    return _span_window(float(low), float(high), "Value range")


def header_window(image: Image, index: int = 0) -> Window:
    """Return window ``index`` of the file header (DICOM VOI), else the value range window.

    This is the window a DICOM file opens with and what "reset to header" restores.
    """
    windows = image.meta.windows
    if windows:
        window = windows[min(max(index, 0), len(windows) - 1)]
        return Window(float(window.center), max(float(window.width), MIN_WIDTH), window.name or "Header",
                      window.function)
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
        Named ``"Auto"``; at least :data:`MIN_WIDTH` wide (a flat image gets a hair-thin window). Pixels
        of the header's padding (``meta.extra["padding"]``) are left out.
    """
    if not 0.0 <= low_percent < high_percent <= 100.0:
        raise ParameterError(f"percentiles must satisfy 0 <= low < high <= 100, got {low_percent} and {high_percent}")
    values = compute_luma(image.pixels)
    step = max(1, int(np.sqrt(values.size / 1_000_000)))
    sample = np.asarray(image.to_physical(np.asarray(values[::step, ::step], dtype=np.float64)))
    padding = image.meta.extra.get("padding")
    if padding is not None:  # the header's padding is no anatomy: left out (a CT's corners outside its circle)
        slack = 1e-6 * abs(image.meta.value_scale)  # float32 pixels hold the padding's values to about 6e-8 of it
        kept = sample[(sample < padding[0] - slack) | (sample > padding[1] + slack)]
        sample = kept if kept.size else sample
    low, high = np.percentile(sample, (low_percent, high_percent))
    return _span_window(float(low), float(high), "Auto")


def window_params(window: Window) -> dict[str, float | str]:
    """Return the ``window_level`` step parameters for ``window``."""
    return {"center": float(window.center), "width": max(float(window.width), MIN_WIDTH), "function": window.function}


def default_window_params(image: Image) -> dict[str, float | str]:
    """Window/level parameters that suit ``image``: the file's first window (DICOM VOI), else its physical
    value range, else the whole display range (see :func:`header_window`)."""
    return window_params(header_window(image))


def window_item(window: Window) -> StackItem:
    """A new window/level step showing ``window``."""
    return make_item(WINDOW_LEVEL, window_params(window))


def with_window(item: StackItem, center: float, width: float, function: str | None = None) -> StackItem:
    """A copy of window/level step ``item`` (same uid, opacity, mask) showing ``center`` and ``width`` through
    ``function`` (default: the step's own curve)."""
    params = window_params(Window(center, width, function=function or item.params.function))
    return make_item(item.filter, params, enabled=item.enabled, opacity=item.opacity, mask=item.mask, uid=item.uid)


def window_step_to_edit(steps: Sequence[StackItem], selected: StackItem | None = None) -> StackItem | None:
    """The window/level step a window edit changes: ``selected`` when it is one, else the first in ``steps``."""
    if selected is not None and selected.filter == WINDOW_LEVEL:
        return selected
    return next((item for item in steps if item.filter == WINDOW_LEVEL), None)


def display_steps(steps: Sequence[StackItem]) -> tuple[StackItem, ...]:
    """The enabled, unmasked window/level steps that open ``steps``: the display mapping of a medical image.

    The original (the "before" side, its histogram and metrics) is rendered through them, so before and
    after compare the processing under the same window instead of a raw, unwindowed original. Disabled
    steps are skipped; the first other step (or a masked window step) ends the mapping.
    """
    leading = []
    for item in steps:
        if not item.enabled:
            continue
        if item.filter != WINDOW_LEVEL or item.mask is not None:
            break
        leading.append(item)
    return tuple(leading)


def stack_window(steps: Sequence[StackItem], named: Sequence[Window] = ()) -> Window | None:
    """The window of the first enabled window/level step of ``steps`` (what an export describes), or None; named
    as the first of ``named`` (:func:`known_windows`) with its center and width, else "Window/level"."""
    item = next((step for step in steps if step.enabled and step.filter == WINDOW_LEVEL), None)
    if item is None:
        return None
    center, width = float(item.params.center), float(item.params.width)
    name = next((window.name for window in named if (window.center, window.width) == (center, width)),
                "Window/level")
    return Window(center, width, name, item.params.function)


def known_windows(image: Image, user: Iterable[WindowPreset] = ()) -> list[Window]:
    """The windows a step may repeat, by which an export names it: the file header's (DICOM VOI; "Header" for
    one without an explanation), then the presets of its modality, built in and the ``user``'s
    (:func:`enhance_core.medical.presets.presets_for`)."""
    from enhance_core.medical.presets import presets_for

    header = [header_window(image, index) for index in range(len(image.meta.windows))]
    return header + [preset.window for preset in presets_for(image.meta.modality, user)]


def drag_span(image: Image) -> float:
    """The physical value range a drag down the whole image height moves the level by (at least 1)."""
    low, high = image.meta.extra.get("value_range") or (0.0, abs(image.meta.value_scale))
    return max(float(high) - float(low), 1.0)


def dragged_window(center: float, width: float, dx: float, dy: float, *, span: float, cols: int,
                   rows: int) -> tuple[float, float]:
    """Window after a drag of (``dx``, ``dy``) source pixels from (``center``, ``width``).

    As in OHIF, Weasis and Horos, across is the width and down the level. ``span`` is the image's
    physical value range (:func:`drag_span`): a drag down the image's height raises the level by
    it; a drag right by a quarter of the width doubles the width, up to :data:`MAX_DRAG_WIDTH` or
    four times ``span``, whichever is wider (a PET scan in Bq/ml spans hundreds of thousands), and
    never beyond what the step takes (a level within ±1e12, a width up to 2e12).
    """
    level = min(max(center + dy * span / max(rows, 1), -WINDOW_CENTER_LIMIT), WINDOW_CENTER_LIMIT)
    new_width = width * 2.0 ** (dx / max(cols / 4.0, 1.0))
    return level, min(max(new_width, MIN_WIDTH), max(MAX_DRAG_WIDTH, 4.0 * span), WINDOW_WIDTH_LIMIT)
