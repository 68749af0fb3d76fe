"""Output size: resize a finished result for export, then sharpen it for the new size.

This is an export option applied after the filter stack, not a stack step:
the stack renders at the source's size and :func:`resize_for_output` turns
the result into the file's size. Three ways to say the size, one at a time:
the long edge in pixels, a percentage, or megapixels; the aspect ratio is
kept. Shrinking averages with OpenCV's area filter (``INTER_AREA``: no
aliasing, no ringing), enlarging interpolates with Lanczos (``INTER_LANCZOS4``)
and clips its ringing to the input's range. Colour is resized premultiplied
by alpha so transparent pixels do not bleed into the edges, and alpha is
resized with it.

Output sharpening is a light unsharp mask whose radius follows the resize
(0.6 output pixels after shrinking, 0.6 x the factor after enlarging, where
the interpolation blurred that much): ``low``, ``standard`` and ``high`` add
30 %, 60 % and 100 % of the detail back.

Metadata is kept. The EXIF pixel dimensions (``PixelXDimension`` and
``PixelYDimension`` of the EXIF sub-IFD) are rewritten in place to the new
size, and a DICOM source's ``PixelSpacing``/``ImagerPixelSpacing`` are scaled
so physical sizes stay right.

:func:`parse_output_size` reads the command line's ``--resize`` values:
``long=2000`` (or ``2000px``), ``50%`` and ``12mp``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import cv2
import numpy as np

from enhance_core.errors import ParameterError
from enhance_core.geometry import dicom_after_geometry, scale_affine
from enhance_core.image import Image, ImageMeta
from enhance_core.io.exif import set_pixel_dimensions
from enhance_core.io.limits import MAX_PIXELS_ENV, resolve_max_pixels
from enhance_core.io.xmp_iptc import xmp_for_new_picture

SHARPEN_AMOUNTS = {"none": 0.0, "low": 0.3, "standard": 0.6, "high": 1.0}
"""Share of the unsharp mask's detail added back for each output sharpening level."""
SHARPEN_RADIUS = 0.6
"""Gaussian sigma of the unsharp mask in output pixels (times the factor when enlarging)."""
MAX_PERCENT = 1000.0


@dataclass(frozen=True)
class OutputSize:
    """How big an exported file is: one of ``long_edge``, ``percent``, ``megapixels`` (or none), and sharpening.

    Attributes
    ----------
    long_edge : int, optional
        Pixels of the longer side.
    percent : float, optional
        Percent of the source's sides (50 halves each side).
    megapixels : float, optional
        Millions of pixels of the result.
    sharpen : {"none", "low", "standard", "high"}
        Output sharpening after the resize.
    only_shrink : bool
        Leave images that are already smaller than the target at their size.
    """

    long_edge: int | None = None
    percent: float | None = None
    megapixels: float | None = None
    sharpen: str = "none"
    only_shrink: bool = False

    def __post_init__(self) -> None:
        given = [name for name in ("long_edge", "percent", "megapixels") if getattr(self, name) is not None]
        if len(given) > 1:
            raise ParameterError(f"give one output size, not {' and '.join(given)}")
        if self.long_edge is not None and (isinstance(self.long_edge, bool) or not isinstance(self.long_edge, int)
                                           or self.long_edge < 1):
            raise ParameterError(f"the long edge must be a whole number of pixels >= 1, got {self.long_edge!r}")
        if self.percent is not None and not 0 < self.percent <= MAX_PERCENT:
            raise ParameterError(f"the percentage must be above 0 and at most {MAX_PERCENT:g}, got {self.percent:g}")
        if self.megapixels is not None and not self.megapixels > 0:
            raise ParameterError(f"megapixels must be above 0, got {self.megapixels:g}")
        if self.sharpen not in SHARPEN_AMOUNTS:
            raise ParameterError(f"output sharpening must be one of {', '.join(SHARPEN_AMOUNTS)}, "
                                 f"got {self.sharpen!r}")

    @property
    def resizes(self) -> bool:
        """Whether a target size is set."""
        return any(value is not None for value in (self.long_edge, self.percent, self.megapixels))

    @property
    def is_identity(self) -> bool:
        """Whether this leaves every image as it is (no size, no sharpening)."""
        return not self.resizes and self.sharpen == "none"

    def describe(self) -> str:
        """A short text of the settings, for manifests and messages (``long=2000 sharpen=low``)."""
        parts = []
        if self.long_edge is not None:
            parts.append(f"long={self.long_edge}")
        if self.percent is not None:
            parts.append(f"{self.percent:g}%")
        if self.megapixels is not None:
            parts.append(f"{self.megapixels:g}mp")
        if self.only_shrink:
            parts.append("only-shrink")
        if self.sharpen != "none":
            parts.append(f"sharpen={self.sharpen}")
        return " ".join(parts) or "original"

    def target_shape(self, rows: int, cols: int) -> tuple[int, int]:
        """Return the (rows, cols) an image of ``rows`` x ``cols`` is resized to (the aspect ratio kept).

        Raises
        ------
        ParameterError
            A result above the pixel limit (``ENHANCE_MAX_PIXELS``).
        """
        if self.long_edge is not None:
            scale = self.long_edge / max(rows, cols)
        elif self.percent is not None:
            scale = self.percent / 100.0
        elif self.megapixels is not None:
            scale = float(np.sqrt(self.megapixels * 1e6 / (rows * cols)))
        else:
            return rows, cols
        if self.only_shrink and scale >= 1.0:
            return rows, cols
        target = max(1, round(rows * scale)), max(1, round(cols * scale))
        if self.long_edge is not None:
            longer = int(cols >= rows)
            target = (target[0], self.long_edge) if longer else (self.long_edge, target[1])
        limit = resolve_max_pixels(None)
        if limit is not None and target[0] * target[1] > limit:
            raise ParameterError(
                f"resizing {cols} x {rows} to {self.describe()} gives {target[1]} x {target[0]} = "
                f"{target[0] * target[1]:,} pixels, more than the limit of {limit:,}; choose a smaller size "
                f"or raise the limit with {MAX_PIXELS_ENV}")
        return target


_SIZE_PATTERNS = (
    (re.compile(r"long=(\d+)(?:px)?|(\d+)px", re.IGNORECASE), "long_edge"),
    (re.compile(r"(\d+(?:\.\d+)?)%"), "percent"),
    (re.compile(r"(\d+(?:\.\d+)?)\s*mp", re.IGNORECASE), "megapixels"),
)


def parse_output_size(text: str, *, sharpen: str = "none", only_shrink: bool = False) -> OutputSize:
    """Read a size written as ``long=2000`` (or ``2000px``), ``50%`` or ``12mp``.

    Raises
    ------
    ParameterError
        Text in none of these forms, or a value out of range.
    """
    cleaned = text.strip().replace(" ", "")
    for pattern, name in _SIZE_PATTERNS:
        match = pattern.fullmatch(cleaned)
        if match:
            value = next(group for group in match.groups() if group is not None)
            if name == "long_edge":
                return OutputSize(long_edge=int(value), sharpen=sharpen, only_shrink=only_shrink)
            if name == "percent":
                return OutputSize(percent=float(value), sharpen=sharpen, only_shrink=only_shrink)
            return OutputSize(megapixels=float(value), sharpen=sharpen, only_shrink=only_shrink)
    if cleaned.isdigit():
        raise ParameterError(f"--resize {text!r} needs its unit: long={cleaned} (or {cleaned}px) for the long edge "
                             f"in pixels, {cleaned}% or {cleaned}mp")
    raise ParameterError(f"--resize {text!r} is not a size; write the long edge (long=2000), "
                         "a percentage (50%) or megapixels (12mp)")


def _resample(plane: np.ndarray, rows: int, cols: int, shrinking: bool) -> np.ndarray:
    """Resize a (rows, cols[, C]) float32 plane with area averaging (shrinking) or Lanczos (enlarging)."""
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4
    resized = cv2.resize(plane, (cols, rows), interpolation=interpolation)
    return resized.reshape(rows, cols, *plane.shape[2:])


def _sharpen(pixels: np.ndarray, amount: float, sigma: float) -> np.ndarray:
    """Unsharp mask: ``pixels + amount * (pixels - blur)``."""
    blurred = cv2.GaussianBlur(pixels, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
    return (pixels + amount * (pixels - blurred.reshape(pixels.shape))).astype(np.float32)


def _meta_for_size(meta: ImageMeta, rows: int, cols: int, row_factor: float, col_factor: float) -> ImageMeta:
    """A copy of ``meta`` describing the resized pixels (EXIF dimensions, DICOM pixel spacing)."""
    extra = dict(meta.extra)
    extra["output_size"] = (rows, cols)
    return replace(meta, exif=set_pixel_dimensions(meta.exif, rows, cols),
                   xmp=xmp_for_new_picture(meta.xmp, rows, cols, same_picture=True),
                   dicom=dicom_after_geometry(meta.dicom, scale_affine(col_factor, row_factor))[0], extra=extra)


def resize_for_output(image: Image, *, long_edge: int | None = None, percent: float | None = None,
                      megapixels: float | None = None, sharpen: str = "none", only_shrink: bool = False) -> Image:
    """Resize a finished result to the size of the exported file, then sharpen it for that size.

    Parameters
    ----------
    image : Image
        The rendered result; it is not changed.
    long_edge : int, optional
        Pixels of the longer side of the result.
    percent : float, optional
        Percent of each side (0 < percent <= 1000).
    megapixels : float, optional
        Millions of pixels of the result.
    sharpen : {"none", "low", "standard", "high"}
        Output sharpening (unsharp mask scaled to the resize).
    only_shrink : bool
        Keep images already smaller than the target at their size.

    Returns
    -------
    Image
        The resized image with alpha resized too and metadata kept (EXIF pixel
        dimensions and DICOM pixel spacing updated); ``image`` itself when
        nothing is to be done.

    Raises
    ------
    ParameterError
        More than one size, a value out of range, an unknown sharpening level,
        or a result above the pixel limit.
    """
    size = OutputSize(long_edge=long_edge, percent=percent, megapixels=megapixels, sharpen=sharpen,
                      only_shrink=only_shrink)
    return apply_output_size(image, size)


def apply_output_size(image: Image, size: OutputSize) -> Image:
    """:func:`resize_for_output` with its settings in an :class:`OutputSize`."""
    rows, cols = size.target_shape(image.rows, image.cols)
    same = (rows, cols) == (image.rows, image.cols)
    if same and size.sharpen == "none":
        return image
    pixels, alpha = image.pixels, image.alpha
    low, high = float(pixels.min()), float(pixels.max())
    scale = max(rows / image.rows, cols / image.cols)
    if not same:
        shrinking = scale < 1.0
        if alpha is None:
            pixels = _resample(pixels, rows, cols, shrinking)
        else:
            weighted = _resample(pixels * alpha[:, :, None], rows, cols, shrinking)
            alpha = np.clip(_resample(alpha, rows, cols, shrinking), 0.0, 1.0)
            pixels = np.divide(weighted, alpha[:, :, None], out=np.zeros_like(weighted),
                               where=alpha[:, :, None] > 1e-6)
    amount = SHARPEN_AMOUNTS[size.sharpen]
    if amount:
        pixels = _sharpen(pixels, amount, SHARPEN_RADIUS * max(1.0, scale))
    pixels = np.ascontiguousarray(np.clip(pixels, low, high), dtype=np.float32)
    meta = _meta_for_size(image.meta, rows, cols, rows / image.rows, cols / image.cols) if not same else image.meta
    return Image(pixels, None if alpha is None else np.ascontiguousarray(alpha, dtype=np.float32), meta)
