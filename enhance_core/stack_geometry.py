"""Sizes and affines along a stack: what each enabled step gets and gives, at a render scale.

Kept apart from :mod:`enhance_core.geometry` because it looks filters up in
the registry, and filters import :mod:`enhance_core.geometry`.

The affines here map the *source*'s full-resolution continuous pixel
coordinates (see :mod:`enhance_core.geometry`) to a step's input or output at
the render scale; before any size-changing step that is scaling by the
render scale, as the renderer's downscaled source is (up to the rounding of
:func:`enhance_core.masks.scaled_shape`). Sizes are propagated at the render
scale, step by step, so a preview at scale p has the full render's sizes
times p up to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from enhance_core.errors import ParameterError
from enhance_core.filters.base import RenderContext
from enhance_core.filters.registry import get_filter
from enhance_core.geometry import Matrix, StepGeometry, as_affine, as_matrix, compose_affines, scale_affine
from enhance_core.io.limits import MAX_PIXELS_ENV, resolve_max_pixels
from enhance_core.masks import scaled_shape

if TYPE_CHECKING:
    from enhance_core.stack import StackItem


@dataclass(frozen=True)
class StepShape:
    """One enabled step's place in the stack's geometry at a render scale.

    Attributes
    ----------
    item : StackItem
        The step.
    in_rows, in_cols, out_rows, out_cols : int
        Its input and output size at the render scale (equal unless it changes the size).
    to_input : Matrix
        Affine from the source's full-resolution coordinates to the step's input.
    geometry : StepGeometry or None
        What the step does to the size (None: nothing).
    """

    item: Any
    in_rows: int
    in_cols: int
    out_rows: int
    out_cols: int
    to_input: Matrix
    geometry: StepGeometry | None = None

    @property
    def to_output(self) -> np.ndarray:
        """Affine from the source's full-resolution coordinates to the step's output."""
        if self.geometry is None:
            return as_affine(self.to_input)
        return compose_affines(self.to_input, self.geometry.matrix)


def stack_geometry(steps: Sequence[StackItem], rows: int, cols: int, scale: float = 1.0, *,
                   ctx: RenderContext | None = None) -> list[StepShape]:
    """The :class:`StepShape` of every enabled step of ``steps`` on a ``rows`` x ``cols`` source.

    Parameters
    ----------
    steps : sequence of StackItem
        The stack (disabled steps are skipped).
    rows, cols : int
        The source's full-resolution size.
    scale : float
        Render scale.
    ctx : RenderContext, optional
        The render's context (``source`` for filters that measure the image
        to decide their geometry, such as deskew); its ``scale``, ``in_shape``
        and ``in_affine`` are set per step.
    """
    base = ctx if ctx is not None else RenderContext(scale=float(scale))
    base = base.with_(scale=float(scale))
    in_rows, in_cols = scaled_shape(rows, cols, scale)
    to_input = as_matrix(scale_affine(scale))
    shapes = []
    for item in steps:
        if not item.enabled:
            continue
        definition = get_filter(item.filter)
        geometry = None
        out_rows, out_cols = in_rows, in_cols
        if definition.geometry is not None:
            step_ctx = base.with_(in_shape=(in_rows, in_cols), in_affine=to_input)
            geometry = definition.geometry(item.params, in_rows, in_cols, step_ctx)
            if not isinstance(geometry, StepGeometry):
                raise TypeError(f"filter {item.filter!r}: geometry returned {type(geometry).__name__}, "
                                "expected a StepGeometry")
            out_rows, out_cols = geometry.out_shape
            _check_output_size(item.filter, out_rows, out_cols, scale)
        shapes.append(StepShape(item, in_rows, in_cols, out_rows, out_cols, to_input, geometry))
        if geometry is not None:
            to_input = as_matrix(compose_affines(to_input, geometry.matrix))
        in_rows, in_cols = out_rows, out_cols
    return shapes


def _check_output_size(name: str, rows: int, cols: int, scale: float) -> None:
    """Refuse a step output above the pixel limit (``ENHANCE_MAX_PIXELS``) at full resolution."""
    limit = resolve_max_pixels(None)
    if limit is not None and rows * cols > limit * scale * scale:
        full_rows, full_cols = int(round(rows / scale)), int(round(cols / scale))
        raise ParameterError(f"step {name!r} would make a {full_cols}x{full_rows} image, more than the limit of "
                             f"{limit:,} pixels; choose a smaller size or raise the limit with {MAX_PIXELS_ENV}")


def output_shape(steps: Sequence[StackItem], rows: int, cols: int, scale: float = 1.0, *,
                 ctx: RenderContext | None = None) -> tuple[int, int]:
    """(rows, cols) of the render of ``steps`` on a ``rows`` x ``cols`` source at ``scale``."""
    shapes = stack_geometry(steps, rows, cols, scale, ctx=ctx)
    return (shapes[-1].out_rows, shapes[-1].out_cols) if shapes else scaled_shape(rows, cols, scale)


def output_affine(steps: Sequence[StackItem], rows: int, cols: int, scale: float = 1.0, *,
                  ctx: RenderContext | None = None) -> np.ndarray:
    """Affine from the source's full-resolution coordinates to the render of ``steps`` at ``scale``."""
    shapes = stack_geometry(steps, rows, cols, scale, ctx=ctx)
    return shapes[-1].to_output if shapes else scale_affine(scale)


def has_geometry(steps: Sequence[StackItem]) -> bool:
    """Whether an enabled step of ``steps`` changes the image size or moves its content."""
    return any(item.enabled and get_filter(item.filter).geometry is not None for item in steps)
