"""The image model: pixels plus everything that came with the file.

Pixel contract
--------------
``Image.pixels`` is a C-contiguous float32 array of shape (rows, cols, C) with
C = 1 (gray) or C = 3 (RGB); :class:`Image` copies an array in another layout
(a slice or a transposed view) into C order. Alpha is never part of
``pixels``; it travels in ``Image.alpha`` (float32, (rows, cols), 0
transparent .. 1 opaque), so filters see color only and alpha survives every
edit. Neither holds NaN or infinities: :class:`Image` refuses them (the file
readers replace them as they read, and say so).

Values are *display-referred and normalized*: 0 is black and 1 is white.
Integer sources map their full integer range onto [0, 1] (an 8-bit 255 and a
16-bit 65535 are both 1.0). Float TIFFs keep their stored values, which may
lie outside [0, 1]. Filters keep the range [0, 1] unless they document
otherwise; writers clip.

Physical units (DICOM) are an affine map of the normalized values:
``physical = meta.value_offset + meta.value_scale * pixel``. For MONOCHROME1
images the pixels are inverted for display, which makes ``value_scale``
negative, so the map stays exact. Use :meth:`Image.to_physical` and
:meth:`Image.from_physical` instead of doing the arithmetic by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from enhance_core.errors import ParameterError


WINDOW_CENTER_LIMIT = 1e12
"""Farthest from 0 a window's center may lie, either way, in physical units: what the window/level step takes."""
WINDOW_WIDTH_LIMIT = 2e12
"""Widest window the window/level step takes, in physical units."""


def window_out_of_reach(center: float, width: float, *, names: tuple[str, str] = ("center", "width")) -> str:
    """What of a window the window/level step cannot take, ``names`` naming its center and width
    ("center 1e+15 lies beyond ±1e+12"); "" when it takes both."""
    beyond = []
    if not abs(center) <= WINDOW_CENTER_LIMIT:
        beyond.append(f"{names[0]} {center:g} lies beyond ±{WINDOW_CENTER_LIMIT:g}")
    if not width <= WINDOW_WIDTH_LIMIT:
        beyond.append(f"{names[1]} {width:g} is above {WINDOW_WIDTH_LIMIT:g}")
    return " and ".join(beyond)


@dataclass(frozen=True)
class Window:
    """A display window in physical units (DICOM VOI): ``center`` and ``width``, and the curve between
    (``function``: "linear", "sigmoid" as the DICOM VOI LUT Function SIGMOID, or "file LUT": the file's
    VOI LUT Sequence, whose entries ``lut`` (display values 0..1) span the window evenly)."""

    center: float
    width: float
    name: str = ""
    function: str = "linear"
    lut: tuple[float, ...] | None = None


@dataclass
class ImageMeta:
    """What came with the file besides the pixels.

    Attributes
    ----------
    format : str
        Container format in upper case: ``PNG``, ``JPEG``, ``TIFF``, ``BMP``, ``WEBP``, ``DICOM``.
    bit_depth : int
        Bits per sample in the source: 1, 8, 16 or 32 (32 means float for TIFF),
        and for DICOM the stored bits (for example 12).
    float_source : bool
        True when the source samples were floating point.
    exif : bytes or None
        Raw EXIF block; the orientation tag is reset to 1 because pixels are stored upright.
    orientation : int
        The EXIF orientation found in the file (1..8), already applied to ``pixels``.
    icc_profile : bytes or None
        The embedded ICC profile; pixels stay in that color space and writers embed it again.
    xmp : bytes or None
        The XMP packet (JPEG APP1, PNG ``XML:com.adobe.xmp`` iTXt, TIFF tag 700, WebP XMP chunk); writers
        embed it again with its ``tiff:Orientation`` set to 1.
    iptc : bytes or None
        The IPTC-IIM records (JPEG APP13 Photoshop resource 0x0404, TIFF tag 33723), written back as they came.
    source : Path or None
        The file the image was read from.
    page, page_count : int
        Page (TIFF) or frame (DICOM) read, and how many the file holds.
    unit : str
        Physical unit of ``value_offset + value_scale * pixel``: ``""`` for photographs, ``"HU"`` for CT.
    value_offset, value_scale : float
        Affine map from normalized pixels to physical values.
    windows : list of Window
        Display windows from the file header, in physical units.
    modality : str
        DICOM modality (``CT``, ``MR``, ``CR``...) or ``""``.
    dicom : Any
        The pydicom ``Dataset`` (header only; pixel data dropped) for DICOM sources.
    extra : dict
        Format-specific details worth keeping (JPEG quality estimate, TIFF compression...).
    """

    format: str = ""
    bit_depth: int = 8
    float_source: bool = False
    exif: bytes | None = None
    orientation: int = 1
    icc_profile: bytes | None = None
    xmp: bytes | None = None
    iptc: bytes | None = None
    source: Path | None = None
    page: int = 0
    page_count: int = 1
    unit: str = ""
    value_offset: float = 0.0
    value_scale: float = 1.0
    windows: list[Window] = field(default_factory=list)
    modality: str = ""
    dicom: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def other_pages(self) -> int:
        """Pages (TIFF) or frames (DICOM) of the file besides the one read, not counting reduced-resolution
        copies (``extra["preview_pages"]``: the previews and thumbnails scanners and cameras write)."""
        return self.page_count - 1 - int(self.extra.get("preview_pages", 0))

    @property
    def page_words(self) -> str:
        """``page P of N``, with how many of the others are previews when some are (for what is left out)."""
        previews = int(self.extra.get("preview_pages", 0))
        words = f"page {self.page + 1} of {self.page_count}"
        if not previews:
            return words
        return f"{words} ({previews} of the others {'is a preview' if previews == 1 else 'are previews'})"

    @property
    def integer_max(self) -> int:
        """Largest integer sample of the source depth (255 for 8 bit, 65535 for 16 bit)."""
        return (1 << min(self.bit_depth, 16)) - 1 if not self.float_source else 1


VALUE_MAP = "value_map"
"""``meta.extra`` key set on a file read with its value map (:mod:`enhance_core.io.value_map`): it holds values,
with or without a unit (an MR's have none)."""

HIDDEN_ALPHA = 0.5 / 65535.0
"""Alpha at or below which a pixel is transparent (0 in 8 or 16 bits) and its colour hidden (0.5/255 took a
16-bit alpha of 1 to 128 for none, and gave such a pixel its neighbour's colour)."""


def count_non_finite(values: np.ndarray) -> int:
    """How many of ``values`` are NaN or infinite (a sum first: it is finite exactly when they all are, unless
    finite values add up past the float range, so most arrays are checked without a mask as large as they are)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(values.sum()):
            return 0
    return int(np.count_nonzero(~np.isfinite(values)))


def _refuse_non_finite(values: np.ndarray, name: str, replacements: str) -> None:
    """Raise :class:`ParameterError` when ``values``, the image's ``name`` (pixels, alpha), hold NaN or infinities."""
    bad = count_non_finite(values)
    if bad:
        raise ParameterError(f"Image: {bad:,} of the {values.size:,} values in {name} are NaN or infinite; filters and "
                             f"writers need finite values: replace them first, e.g. with numpy.nan_to_num({name}, "
                             f"{replacements})")


@dataclass
class Image:
    """Pixels (float32, (rows, cols, C), C in {1, 3}), optional alpha, and :class:`ImageMeta`.

    A wrong shape or dtype raises :class:`ValueError`, NaN or infinite pixels
    or alpha :class:`ParameterError` (saying how many); pixels not C-contiguous
    are copied into C order.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    meta: ImageMeta = field(default_factory=ImageMeta)

    def __post_init__(self) -> None:
        px = self.pixels
        if px.ndim != 3 or px.shape[2] not in (1, 3):
            raise ValueError(f"pixels must have shape (rows, cols, 1 or 3), got {px.shape}")
        if px.dtype != np.float32:
            raise ValueError(f"pixels must be float32, got {px.dtype}; convert with astype(np.float32)")
        if self.alpha is not None and self.alpha.shape != px.shape[:2]:
            raise ValueError(f"alpha must have shape {px.shape[:2]}, got {self.alpha.shape}")
        _refuse_non_finite(px, "pixels", "nan=0.0, posinf=1.0, neginf=0.0")
        if self.alpha is not None:
            _refuse_non_finite(self.alpha, "alpha", "nan=1.0, posinf=1.0, neginf=0.0")
        self.pixels = np.ascontiguousarray(px)

    @property
    def rows(self) -> int:
        """Image height in pixels."""
        return self.pixels.shape[0]

    @property
    def cols(self) -> int:
        """Image width in pixels."""
        return self.pixels.shape[1]

    @property
    def channels(self) -> int:
        """Color channels in ``pixels`` (1 or 3; alpha not counted)."""
        return self.pixels.shape[2]

    @property
    def holds_values(self) -> bool:
        """Whether the pixels are physical values: a gray DICOM image, or a value export of one read back
        (:mod:`enhance_core.io.value_map`), in its unit or, for an MR's, in none."""
        return (self.meta.dicom is not None or bool(self.meta.unit) or bool(self.meta.extra.get(VALUE_MAP))
                ) and self.channels == 1

    def to_physical(self, values: np.ndarray | float) -> np.ndarray | float:
        """Map normalized pixel values to physical units (identity map for photographs)."""
        return self.meta.value_offset + self.meta.value_scale * values

    def physical_range(self) -> tuple[float, float]:
        """The lowest and highest physical value the pixel range [0, 1] maps to (MONOCHROME1 maps it downward)."""
        low, high = sorted((float(self.to_physical(0.0)), float(self.to_physical(1.0))))
        return low, high

    def from_physical(self, values: np.ndarray | float) -> np.ndarray | float:
        """Map physical values (for example Hounsfield units) to normalized pixel values."""
        return (values - self.meta.value_offset) / self.meta.value_scale

    def stored_as(self, other: Image) -> np.ndarray:
        """These pixels stored as ``other`` stores the same physical values, when both hold values of one unit
        stored differently (a value export and its DICOM image, another rescale); else the pixels themselves. A
        value of an integer file within half of its own level (a hundredth where its levels are as coarse as
        ``other``'s) of one of ``other``'s levels is that level: an unchanged export of a 12-bit image, whose
        16-bit codes hold each level to a sixteenth, is identical to it."""
        meta, theirs = self.meta, other.meta
        if not (self.holds_values and other.holds_values) or meta.unit != theirs.unit or (
                meta.value_offset, meta.value_scale, meta.integer_max) == (
                theirs.value_offset, theirs.value_scale, theirs.integer_max):
            return self.pixels
        stored = np.asarray(other.from_physical(self.to_physical(self.pixels.astype(np.float64))))
        if not theirs.float_source and not meta.float_source:
            steps = abs(meta.value_scale / meta.integer_max) / abs(theirs.value_scale / theirs.integer_max)
            reach = 0.505 * steps + 0.001 if steps < 0.9 else 0.01
            levels = stored * theirs.integer_max
            whole = np.rint(levels)
            stored = np.where(np.abs(levels - whole) < reach, whole / theirs.integer_max, stored)
        return stored.astype(np.float32)

    def with_pixels(self, pixels: np.ndarray) -> Image:
        """Return a new image with ``pixels`` replaced; alpha and metadata are shared."""
        return replace(self, pixels=pixels)
