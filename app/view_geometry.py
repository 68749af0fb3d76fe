"""Where the canvas's pixels come from when the stack changes the image size (crop, rotate, resize...).

The canvas shows the *output* of the stack: its viewport coordinates are the
final output's full-resolution pixels (x = column, y = row). While a crop step
is selected the canvas shows that crop's input instead, uncropped, so its box
can be dragged (:func:`shown_steps`). :class:`ViewGeometry` maps between the
shown frame and the source (brush strokes and masks stay in source
coordinates), and says the physical pixel spacing of the shown frame.
Planning here runs on the GUI thread, so it never measures the image
(:func:`planning_context`): a deskew step whose angle the preview render has
not measured yet is planned with a guess, and the canvas refits when that
render lands.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from enhance_core.filters.base import RenderContext
from enhance_core.filters.registry import get_filter
from enhance_core.geometry import affine_scale, as_affine, identity_affine, invert_affine, map_points, spacing_after
from enhance_core.image import Image
from enhance_core.stack import StackItem
from enhance_core.stack_geometry import stack_geometry

CROP_FILTER = "crop"


def editing_crop(steps: Sequence[StackItem], selected_uid: str) -> StackItem | None:
    """The selected, enabled crop step of ``steps`` (its box is being edited on the canvas), or None."""
    for item in steps:
        if item.uid == selected_uid and item.filter == CROP_FILTER and item.enabled:
            return item
    return None


def shown_steps(steps: Sequence[StackItem], selected_uid: str) -> tuple[StackItem, ...]:
    """The steps whose output the canvas shows: ``steps``, with a selected crop step shown uncropped.

    The crop is switched off when no size-changing step follows it (the rest of the stack still shows);
    otherwise the stack is shown up to the crop's input, whose frame its box is drawn in.
    """
    steps = tuple(steps)
    crop = editing_crop(steps, selected_uid)
    if crop is None:
        return steps
    index = steps.index(crop)
    later = steps[index + 1:]
    if any(item.enabled and get_filter(item.filter).geometry is not None for item in later):
        return steps[:index]
    return steps[:index] + (dataclasses.replace(crop, enabled=False),) + later


@dataclass(frozen=True)
class ViewGeometry:
    """The shown frame of a source under a stack, at full resolution.

    Attributes
    ----------
    source_rows, source_cols : int
        The source's size.
    rows, cols : int
        The shown output's size (the canvas's image size).
    affine : ndarray
        2x3, from the source's continuous pixel coordinates to the shown frame's.
    """

    source_rows: int
    source_cols: int
    rows: int
    cols: int
    affine: np.ndarray

    @property
    def scale(self) -> float:
        """Shown pixels per source pixel (linear)."""
        return affine_scale(self.affine)

    def to_source(self, x: float, y: float, *, centres: bool = True) -> tuple[float, float]:
        """Source coordinates of shown point (x, y).

        ``centres``: both are pixel-centre coordinates (pixel (c, r) at (c, r): brush strokes);
        else continuous ones (pixel (c, r) covers [c, c+1) x [r, r+1): ROIs).
        """
        half = 0.5 if centres else 0.0
        point = map_points(invert_affine(self.affine), np.array([[x + half, y + half]]))[0]
        return float(point[0]) - half, float(point[1]) - half

    def to_shown(self, x: float, y: float) -> tuple[float, float]:
        """Shown pixel-centre coordinates of source pixel-centre point (x, y)."""
        point = map_points(self.affine, np.array([[x + 0.5, y + 0.5]]))[0]
        return float(point[0]) - 0.5, float(point[1]) - 0.5

    def spacing(self, spacing: tuple[float, float] | None) -> tuple[float, float] | None:
        """(row, column) physical spacing of the shown pixels for a source of ``spacing`` (None stays None)."""
        return None if spacing is None else spacing_after(self.affine, spacing)


def planning_context(source: Image) -> RenderContext:
    """The context the GUI thread plans a stack's geometry on ``source`` in: it sees the source, never measures it.

    See :attr:`RenderContext.measure`: a deskew angle not measured yet by a render is guessed.
    """
    return RenderContext(source=source.pixels, measure=False)


def view_geometry(source: Image, steps: Sequence[StackItem]) -> ViewGeometry:
    """The :class:`ViewGeometry` of ``steps`` (already :func:`shown_steps`) on ``source``, planned on the GUI thread."""
    shapes = stack_geometry(steps, source.rows, source.cols, ctx=planning_context(source))
    if not shapes:
        return ViewGeometry(source.rows, source.cols, source.rows, source.cols, identity_affine())
    last = shapes[-1]
    return ViewGeometry(source.rows, source.cols, last.out_rows, last.out_cols, as_affine(last.to_output))


def step_input_affine(source: Image, steps: Sequence[StackItem], uid: str) -> np.ndarray | None:
    """Affine from the source to the input of step ``uid`` (None when it is not an enabled step of ``steps``)."""
    for shape in stack_geometry(steps, source.rows, source.cols, ctx=planning_context(source)):
        if shape.item.uid == uid:
            return as_affine(shape.to_input)
    return None
