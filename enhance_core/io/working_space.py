"""The learned filters' working space: a picture's values re-encoded as sRGB, in float, and back.

The networks were trained on sRGB-encoded values. A picture whose embedded
ICC profile is another matrix/TRC space (Adobe RGB, ProPhoto, Display P3, a
linear or gray gamma profile: what raw converters and scanners write) would
give them values in another encoding: low-light brightened a ProPhoto copy of
a dark photo by 12-14 L* more than its sRGB copy. :func:`srgb_working`
reads such a profile's tone curves and colorants (the ICC tags ``rTRC``,
``gTRC``, ``bTRC`` or ``kTRC``, ``rXYZ``, ``gXYZ``, ``bXYZ``) and converts in
float, relative colorimetric through the profile connection space (D50):
nothing is rounded to 8 bits and colours outside sRGB's gamut come out as
values below 0 or above 1, which :meth:`SrgbWorking.from_srgb` takes back
exactly. Profiles built from lookup tables, and profiles that do what sRGB
does, give None: the values are used as they are.

A filter that only takes noise or damage out is handed values clipped at 0
and 1 (the networks never saw others), and a colour outside sRGB loses a
channel there: a denoiser left the clipped channel's noise, no longer offset
by the others', four times as strong, and a fill left a white scratch across
a saturated green in red. :func:`srgb_tone_working` gives such filters the
picture's own primaries re-encoded with sRGB's tone curve only: every colour
the profile holds stays within [0, 1].
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass
from typing import Callable

import numpy as np

from enhance_core.io.profiles import differs_from_srgb

SRGB_TO_XYZ_D50 = np.array([[0.4360747, 0.3850649, 0.1430804],
                            [0.2225045, 0.7168786, 0.0606169],
                            [0.0139322, 0.0971045, 0.7141733]])
"""sRGB's linear RGB to the profile connection space (XYZ, D50, Bradford-adapted), as ICC sRGB profiles hold it."""
TABLE_GRID = np.linspace(0.0, 1.0, 8193) ** 2
"""Where a tone curve given as a table is sampled for its inverse: dense near black, where it is steep."""
BAND_PIXELS = 1 << 20
"""Pixels converted at a time (the work of a band is tens of MB, whatever the picture's size)."""
_PARAMETERS = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}
"""Parameters of each ICC parametric curve type."""


def _tags(data: bytes) -> dict[bytes, bytes]:
    """The ICC profile's tags by signature."""
    count = struct.unpack_from(">I", data, 128)[0]
    tags = {}
    for index in range(count):
        signature, offset, size = struct.unpack_from(">4sII", data, 132 + 12 * index)
        if offset + size > len(data):
            raise ValueError(f"tag {signature!r} lies past the profile's end")
        tags[signature] = data[offset:offset + size]
    return tags


def _colorant(tag: bytes) -> np.ndarray:
    """The XYZ of an ``XYZ `` tag."""
    if tag[:4] != b"XYZ ":
        raise ValueError("a colorant is not an XYZ tag")
    return np.array(struct.unpack_from(">3i", tag, 8), dtype=np.float64) / 65536.0


@dataclass(frozen=True)
class ToneCurve:
    """An ICC tone curve, encoded value -> linear light, on magnitudes (values below 0 mirror those above).

    ``parameters`` are those of ICC's parametric curve of type 4 (``g, a, b, c, d, e, f``: ``(a x + b)**g + e``
    from ``d`` up, ``c x + f`` below), which every ``curv`` gamma and ``para`` type is a case of; ``table``
    holds a sampled ``curv`` instead (continued along its last slope past 1).
    """

    parameters: tuple[float, ...] = (1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    table: np.ndarray | None = None

    def linear(self, encoded: np.ndarray) -> np.ndarray:
        """Linear light of non-negative encoded values."""
        if self.table is not None:
            return _along(encoded, np.linspace(0.0, 1.0, len(self.table)), self.table)
        g, a, b, c, d, e, f = self.parameters
        return np.where(encoded >= d, np.maximum(a * encoded + b, 0.0) ** g + e, c * encoded + f)

    def encoded(self, linear: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`linear` (where a table stays flat, the first value of the flat run)."""
        if self.table is not None:
            return _along(linear, *self._inverse_table())
        g, a, b, c, d, e, f = self.parameters
        knee = max(a * d + b, 0.0) ** g + e
        power = (np.maximum(linear - e, 0.0) ** (1.0 / g) - b) / a
        return power if c == 0.0 else np.where(linear >= knee, power, (linear - f) / c)

    def _inverse_table(self) -> tuple[np.ndarray, np.ndarray]:
        """(linear light, encoded value) of the table at :data:`TABLE_GRID`, strictly increasing: of each flat
        run (a 16-bit table starts 0, 0, 0... and may reach 1 before its end) only the first sample is kept."""
        if self.table is None:
            raise ValueError("a parametric curve has no table")
        light = np.interp(TABLE_GRID, np.linspace(0.0, 1.0, len(self.table)), self.table)
        rises = np.concatenate(([True], np.diff(light) > 0))
        return light[rises], TABLE_GRID[rises]

    def increasing(self) -> bool:
        """Whether the curve rises over [0, 1] (one that turns back cannot be undone)."""
        samples = self.linear(np.linspace(0.0, 1.0, 4097))
        return bool(np.all(np.diff(samples) >= 0) and samples[-1] > samples[0])


def _curve(tag: bytes) -> ToneCurve:
    """The tone curve of a ``curv`` or ``para`` tag."""
    if tag[:4] == b"curv":
        count = struct.unpack_from(">I", tag, 8)[0]
        if count == 0:
            return ToneCurve()
        if count == 1:
            return ToneCurve((struct.unpack_from(">H", tag, 12)[0] / 256.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0))
        return ToneCurve(table=np.frombuffer(tag, dtype=">u2", count=count, offset=12).astype(np.float64) / 65535.0)
    if tag[:4] == b"para":
        kind = struct.unpack_from(">H", tag, 8)[0]
        if kind not in _PARAMETERS:
            raise ValueError(f"parametric curve of unknown type {kind}")
        given = [value / 65536.0 for value in struct.unpack_from(f">{_PARAMETERS[kind]}i", tag, 12)]
        if kind == 0:
            return ToneCurve((given[0], 1.0, 0.0, 0.0, 0.0, 0.0, 0.0))
        g, a, b = given[:3]
        if a <= 0.0 or g <= 0.0:
            raise ValueError("parametric curve that does not rise")
        if kind in (1, 2):  # 0 (type 1) or c (type 2) below -b / a
            c = given[3] if kind == 2 else 0.0
            return ToneCurve((g, a, b, 0.0, -b / a, c, c))
        c, d = given[3:5]
        e, f = (given[5], given[6]) if kind == 4 else (0.0, 0.0)
        return ToneCurve((g, a, b, c, d, e, f))
    raise ValueError(f"tone curve of unknown type {tag[:4]!r}")


def _along(values: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Non-negative ``values`` through the increasing curve (``xs`` -> ``ys``) on [0, 1], continued along its last
    slope past its end (a float picture's values past white, colours outside sRGB)."""
    out = np.interp(values, xs, ys)
    above = values > xs[-1]
    if above.any():
        out[above] = ys[-1] + (values[above] - xs[-1]) * (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    return out


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """sRGB's tone curve, mirrored below 0 and continued above 1."""
    magnitude = np.abs(linear)
    encoded = np.where(magnitude <= 0.0031308, 12.92 * magnitude, 1.055 * magnitude ** (1 / 2.4) - 0.055)
    return np.copysign(encoded, linear)


def _srgb_decode(encoded: np.ndarray) -> np.ndarray:
    """The inverse of :func:`srgb_encode`."""
    magnitude = np.abs(encoded)
    linear = np.where(magnitude <= 0.04045, magnitude / 12.92, ((magnitude + 0.055) / 1.055) ** 2.4)
    return np.copysign(linear, encoded)


def in_bands(pixels: np.ndarray, convert: Callable[[np.ndarray], np.ndarray],
             dtype: type = np.float64) -> np.ndarray:
    """``convert`` of (rows, cols, C) ``pixels`` applied in ``dtype``, float64 by default (near black a gamma curve's
    inverse magnifies float32's rounding), to bands of :data:`BAND_PIXELS`, into one float32 array: the work of a
    band is tens of MB, whatever the picture's size."""
    out = np.empty(pixels.shape, np.float32)
    rows = max(1, BAND_PIXELS // max(1, pixels.shape[1]))
    for top in range(0, pixels.shape[0], rows):
        out[top:top + rows] = convert(pixels[top:top + rows].astype(dtype))
    return out


@dataclass(frozen=True)
class SrgbWorking:
    """Conversions of a picture encoded in one matrix/TRC profile to sRGB encoding and back, in float.

    ``curves`` holds each channel's tone curve (one for a gray profile), ``matrix`` the profile's linear RGB to
    sRGB's (the identity for :func:`srgb_tone_working`'s, which keeps the profile's primaries).
    """

    curves: tuple[ToneCurve, ...]
    matrix: np.ndarray

    @property
    def channels(self) -> int:
        """Channels of the pictures it converts (3, or 1 for a gray profile)."""
        return len(self.curves)

    def to_srgb(self, pixels: np.ndarray) -> np.ndarray:
        """``pixels`` (float32 (rows, cols, C)) encoded as sRGB; colours outside it fall below 0 or above 1."""
        return in_bands(pixels, self._to_srgb)

    def to_linear_srgb(self, pixels: np.ndarray) -> np.ndarray:
        """``pixels`` as sRGB's linear light, in float32 (for the screen, which encodes them through a table)."""
        return in_bands(pixels, self._to_linear_srgb, np.float32)

    def from_srgb(self, pixels: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`to_srgb`."""
        return in_bands(pixels, self._from_srgb)

    def _to_srgb(self, pixels: np.ndarray) -> np.ndarray:
        return srgb_encode(self._to_linear_srgb(pixels))

    def _to_linear_srgb(self, pixels: np.ndarray) -> np.ndarray:
        linear = np.stack([np.copysign(curve.linear(np.abs(pixels[:, :, c])), pixels[:, :, c])
                           for c, curve in enumerate(self.curves)], axis=-1)
        return linear @ self.matrix.T.astype(linear.dtype) if self.channels == 3 else linear

    def _from_srgb(self, pixels: np.ndarray) -> np.ndarray:
        linear = _srgb_decode(pixels)
        if self.channels == 3:
            linear = linear @ np.linalg.inv(self.matrix).T
        return np.stack([np.copysign(curve.encoded(np.abs(linear[:, :, c])), linear[:, :, c])
                         for c, curve in enumerate(self.curves)], axis=-1)


@functools.lru_cache(maxsize=8)
def srgb_working(icc_profile: bytes | None) -> SrgbWorking | None:
    """The conversions of pictures described by ``icc_profile`` to sRGB encoding and back; None when the values
    can be used as they are (no profile, one that does what sRGB does) or must be (not an RGB or gray
    matrix/TRC profile, or one that cannot be read)."""
    if not icc_profile or not differs_from_srgb(icc_profile):
        return None
    try:
        space = icc_profile[16:20]
        tags = _tags(icc_profile)
        if space == b"GRAY":
            curves: tuple[ToneCurve, ...] = (_curve(tags[b"kTRC"]),)
            colorants = SRGB_TO_XYZ_D50
        elif space == b"RGB ":
            colorants = np.stack([_colorant(tags[name]) for name in (b"rXYZ", b"gXYZ", b"bXYZ")], axis=1)
            curves = tuple(_curve(tags[name]) for name in (b"rTRC", b"gTRC", b"bTRC"))
        else:
            return None
    except (KeyError, ValueError, struct.error):
        return None
    if not all(curve.increasing() for curve in curves):
        return None  # a tone curve that turns back cannot be undone
    return SrgbWorking(curves, np.linalg.solve(SRGB_TO_XYZ_D50, colorants))


@functools.lru_cache(maxsize=8)
def srgb_tone_working(icc_profile: bytes | None) -> SrgbWorking | None:
    """The conversions of pictures described by ``icc_profile`` to sRGB's tone curve and back, in the profile's own
    primaries (no colour it holds leaves [0, 1]); None when :func:`srgb_working` gives None or the profile's
    tone curves are sRGB's (Display P3's)."""
    working = srgb_working(icc_profile)
    if working is None or all(_is_srgb_curve(curve) for curve in working.curves):
        return None
    return SrgbWorking(working.curves, np.eye(3))


def _is_srgb_curve(curve: ToneCurve) -> bool:
    """Whether ``curve`` gives every encoded value the light sRGB's does, within a tenth of an 8-bit level."""
    encoded = np.linspace(0.0, 1.0, 1025)
    return bool(np.abs(srgb_encode(curve.linear(encoded)) - encoded).max() < 0.1 / 255)


@functools.lru_cache(maxsize=8)
def power_gamma(icc_profile: bytes | None) -> float | None:
    """The exponent ``g``, to hundredths, of a profile whose tone curves are all the one pure power ``x ** g`` (1
    for a linear profile, 2.2 for Adobe RGB, 1.8 for ProPhoto), else None (no profile, sRGB's curve, tables, other
    shapes)."""
    if not icc_profile:
        return None
    try:
        tags = _tags(icc_profile)
        names = (b"kTRC",) if icc_profile[16:20] == b"GRAY" else (b"rTRC", b"gTRC", b"bTRC")
        curves = [_curve(tags[name]) for name in names]
    except (KeyError, ValueError, struct.error):
        return None
    if any(curve.table is not None or curve.parameters[1:] != (1.0, 0.0, 0.0, 0.0, 0.0, 0.0) for curve in curves):
        return None
    gammas = {round(curve.parameters[0], 2) for curve in curves}  # a curv stores 2.2 as 563/256
    return gammas.pop() if len(gammas) == 1 else None
