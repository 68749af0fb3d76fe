"""Turning rendered pixels into what the screen shows, and pixel values into words.

The array work (:func:`to_display_array`) runs in workers; the GUI thread only
wraps finished 8-bit buffers in :class:`~PySide6.QtGui.QImage` objects, which
costs nothing. A picture with an embedded ICC profile that is not sRGB
(Adobe RGB, Display P3, ProPhoto, a gray gamma) is shown converted through it
to sRGB (:func:`enhance_core.io.profiles.to_srgb`, LittleCMS through Pillow),
the colour space screens are taken to have; its pixels, the histogram, the metrics and the files
written keep the picture's own values. :func:`describe_value` writes a pixel value in the source's own
units for the status bar: 0-255 for 8-bit files, 0-65535 for 16-bit, the
stored value for float TIFFs, and physical units (Hounsfield) for DICOM.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

import numpy as np
from PySide6.QtGui import QImage

from enhance_core.image import ImageMeta
from enhance_core.io.profiles import ToSrgb
from enhance_core.io.working_space import SrgbWorking, power_gamma, srgb_encode, srgb_working
from enhance_core.view_plan import Detail, add_patch

STEEP_GAMMA = 1.6
"""Below this gamma a profile's darkest 8-bit levels are too far apart to be converted for the screen."""


def float_colours(icc_profile: bytes | None) -> SrgbWorking | None:
    """The conversion to sRGB in float of pictures whose profile's tone curves are one pure power below
    :data:`STEEP_GAMMA` (a linear profile, as float HDR masters carry: rounded to 8 bits before LittleCMS's
    conversion, a dark ramp showed 14 of its 64 levels, its first 21 pixels black); None for the others, which
    are converted in 8 bits within a level."""
    gamma = power_gamma(icc_profile)
    return srgb_working(icc_profile) if gamma is not None and gamma < STEEP_GAMMA else None


SCREEN_TABLE_STEPS = 65535
"""Steps of linear light over [0, 1] in the table that encodes it as sRGB for the screen (the steepest part,
near black, moves 0.05 of an 8-bit level per step)."""


@functools.lru_cache(maxsize=1)
def _srgb_table() -> np.ndarray:
    """sRGB's encoding of :data:`SCREEN_TABLE_STEPS` + 1 even steps of linear light."""
    return srgb_encode(np.linspace(0.0, 1.0, SCREEN_TABLE_STEPS + 1)).astype(np.float32)


def _screen_encoded(linear: np.ndarray) -> np.ndarray:
    """Linear sRGB light encoded as sRGB within [0, 1] through :func:`_srgb_table` (a power per value took most
    of a linear-profile picture's preview time)."""
    steps = np.clip(linear * np.float32(SCREEN_TABLE_STEPS) + np.float32(0.5), 0, SCREEN_TABLE_STEPS)
    return _srgb_table()[steps.astype(np.uint16)]


def to_display_array(pixels: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    """8-bit display copy of float (rows, cols, C) pixels: (rows, cols, 3) for color, (rows, cols) for gray,
    (rows, cols, 4) RGBA (straight alpha) with a (rows, cols) ``alpha``.

    Values are clipped to [0, 1] (black to white, transparent to opaque) and rounded.
    """
    if alpha is not None:
        color = pixels if pixels.shape[2] == 3 else np.repeat(pixels, 3, axis=2)
        pixels = np.concatenate([color, alpha[:, :, None]], axis=2)
    scaled = np.clip(pixels, 0.0, 1.0) * np.float32(255.0) + np.float32(0.5)
    array = scaled.astype(np.uint8)
    if array.shape[2] == 1:
        array = array[:, :, 0]
    return np.ascontiguousarray(array)


@dataclass(frozen=True, eq=False)
class DisplayImage:
    """An 8-bit image ready to paint, placed in source coordinates.

    Attributes
    ----------
    array : ndarray
        uint8 (rows, cols, 3), (rows, cols) or, for an image with transparency,
        (rows, cols, 4) RGBA with straight alpha; C-contiguous.
    left, top, width, height : float
        The source-pixel rectangle the array covers.
    """

    array: np.ndarray
    left: float
    top: float
    width: float
    height: float

    @classmethod
    def from_pixels(cls, pixels: np.ndarray, *, alpha: np.ndarray | None = None, left: float = 0.0,
                    top: float = 0.0, width: float | None = None, height: float | None = None,
                    colours: ToSrgb | None = None, working: SrgbWorking | None = None) -> DisplayImage:
        """Convert float pixels (and their alpha) covering the given source rectangle (default: one source pixel
        each), through ``colours`` (:func:`~enhance_core.io.profiles.to_srgb`) when the picture's colour space is
        not the screen's, or in float through ``working`` (:func:`float_colours`) when it is given."""
        rows, cols = pixels.shape[:2]
        if working is not None and working.channels == pixels.shape[2]:
            pixels, colours = _screen_encoded(working.to_linear_srgb(pixels)), None
        array = to_display_array(pixels, alpha)
        if colours is not None:
            array = colours(array)
        return cls(array, float(left), float(top),
                   float(cols if width is None else width), float(rows if height is None else height))

    @property
    def has_alpha(self) -> bool:
        """Whether the array holds an alpha channel (the canvas paints a checkerboard under it)."""
        return self.array.ndim == 3 and self.array.shape[2] == 4

    @property
    def scale(self) -> float:
        """Array pixels per source pixel, along the longer side (a 1-pixel-wide picture's screen copy, 923 x 1 of
        4000 x 1, is not at scale 1)."""
        if self.height > self.width:
            return self.array.shape[0] / self.height
        return self.array.shape[1] / self.width

    def to_qimage(self) -> QImage:
        """A QImage of the array in the format QPainter draws fastest (premultiplied ARGB32).

        An 8-bit gray or RGB888 image is converted at every scaled paint (4.7 ms for a 512 x 512
        CT slice drawn at 1.7x, against 0.7 ms once converted; the conversion costs 0.2 ms).
        """
        array = self.array
        rows, cols = array.shape[:2]
        fmt = (QImage.Format.Format_Grayscale8 if array.ndim == 2 else QImage.Format.Format_RGBA8888
               if self.has_alpha else QImage.Format.Format_RGB888)
        return QImage(array.data, cols, rows, array.strides[0], fmt).convertToFormat(
            QImage.Format.Format_ARGB32_Premultiplied)


@dataclass(frozen=True)
class DetailPatch:
    """A sharp patch ready to paint: what it shows (generation, source rectangle, scale) and its image."""

    detail: Detail
    image: DisplayImage


@dataclass(frozen=True)
class SideLayers:
    """What one side of the canvas (the original or the result) paints, bottom to top.

    ``whole`` is the preview over the whole image; ``screen`` the same preview resampled to the
    screen zoom (painted instead of ``whole`` at that zoom, cheaper to repaint); ``details`` the
    mosaic of sharp patches rendered when zoomed in past the preview's resolution, oldest first,
    painted on top in that order (:func:`enhance_core.view_plan.add_patch` says which stay).
    """

    whole: DisplayImage | None = None
    screen: DisplayImage | None = None
    details: tuple[DetailPatch, ...] = ()

    @property
    def detail(self) -> DisplayImage | None:
        """The newest sharp patch, or None."""
        return self.details[-1].image if self.details else None

    def with_patch(self, patch: DetailPatch) -> SideLayers:
        """These layers with ``patch`` painted on top, keeping the older patches the mosaic's rules keep."""
        kept = add_patch(tuple(old.detail for old in self.details), patch.detail)
        older = tuple(old for old in self.details if old.detail in kept[:-1])
        return replace(self, details=older + (patch,))


@dataclass(frozen=True)
class CanvasLayers:
    """Everything the canvas paints: the layers of the ``before`` side and of the ``after`` side."""

    before: SideLayers = field(default_factory=SideLayers)
    after: SideLayers = field(default_factory=SideLayers)

    def without_detail(self) -> CanvasLayers:
        """These layers with the sharp patches of both sides removed."""
        return CanvasLayers(replace(self.before, details=()), replace(self.after, details=()))


def describe_value(meta: ImageMeta, values: np.ndarray) -> str:
    """A pixel's normalized channel values written in the source's units.

    Examples: ``"R 255  G 128  B 0"`` (8-bit), ``"1024"`` (16-bit gray),
    ``"-998 HU"`` (CT), ``"0.731"`` (float TIFF).
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if meta.unit or meta.value_scale != 1.0 or meta.value_offset != 0.0:
        physical = meta.value_offset + meta.value_scale * values
        texts = [_format_number(v) for v in physical]
        unit = f" {meta.unit}" if meta.unit else ""
    elif meta.float_source:
        texts, unit = [f"{v:.4g}" for v in values], ""
    else:
        top = meta.integer_max
        texts, unit = [str(int(round(min(max(v, 0.0), 1.0) * top))) for v in values], ""
    if len(texts) == 3:
        return "  ".join(f"{name} {text}" for name, text in zip("RGB", texts)) + unit
    return " ".join(texts) + unit


def _format_number(value: float) -> str:
    """Whole numbers without decimals, others with up to four significant digits."""
    return str(int(round(value))) if abs(value - round(value)) < 1e-3 or abs(value) >= 1000 else f"{value:.4g}"
