"""The tone curve: an RGB curve plus red, green and blue curves through control points.

Each curve is given by 2 to 16 control points ``(x, y)`` in [0, 1] and drawn
through them by monotone piecewise-cubic Hermite interpolation (PCHIP, the
Fritsch-Carlson slopes with SciPy's end conditions): between two points the
curve rises, falls or stays flat as they do, never overshoots them, and is
constant beyond the first and the last point (moving an end point sets the
black or white point). The default curve, ``(0, 0)`` to ``(1, 1)``, is the
identity.

The RGB curve is plain RGB, as in Lightroom's and darktable's RGB curves: it
maps each channel's value, so a steep curve also changes saturation. The
channel curves then map red, green and blue; a gray image gets the RGB curve
only. Curves are applied as a look-up table of :data:`LUT_SIZE` samples per
channel (one row each of a table image), evaluated exactly and interpolated
linearly by ``cv2.remap``, so 16-bit and float data keep float precision
(within 1e-6 of the exact curve even for steep curves, see
``tests/filters/test_curves.py``); values outside [0, 1] take the ends'.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from enhance_core.filters.base import FilterDef, Points, RenderContext, param

IDENTITY: Points = ((0.0, 0.0), (1.0, 1.0))
LUT_SIZE = 32766
"""Samples per channel's look-up table (the most ``cv2.remap`` takes in a row)."""
_BLOCK_PIXELS = 1024
_BLOCK_ROWS = 256
"""Pixels are mapped in blocks of this many rows of ``_BLOCK_PIXELS`` (cv2.remap takes under 32767 columns)."""


@dataclass(frozen=True)
class ToneCurveParams:
    """Control points of the RGB curve and of the red, green and blue curves."""

    rgb: Points = param(IDENTITY, label="RGB", help="Curve applied to every channel (gray images: the only one).")
    red: Points = param(IDENTITY, label="Red", help="Curve of the red channel, after the RGB curve.")
    green: Points = param(IDENTITY, label="Green", help="Curve of the green channel, after the RGB curve.")
    blue: Points = param(IDENTITY, label="Blue", help="Curve of the blue channel, after the RGB curve.")


def is_identity(points: Points) -> bool:
    """True when ``points`` draw the identity: every point on the diagonal, from 0 to 1."""
    return points[0][0] == 0.0 and points[-1][0] == 1.0 and all(x == y for x, y in points)


def pchip_slopes(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Fritsch-Carlson slopes at the control points (as ``scipy.interpolate.PchipInterpolator``)."""
    h = np.diff(xs)
    secants = np.diff(ys) / h
    if len(xs) == 2:
        return np.array([secants[0], secants[0]])
    slopes = np.zeros_like(xs)
    w1 = 2.0 * h[1:] + h[:-1]
    w2 = h[1:] + 2.0 * h[:-1]
    same_sign = secants[:-1] * secants[1:] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 + w2) / (w1 / secants[:-1] + w2 / secants[1:])
    slopes[1:-1] = np.where(same_sign, harmonic, 0.0)
    slopes[0] = _end_slope(h[0], h[1], secants[0], secants[1])
    slopes[-1] = _end_slope(h[-1], h[-2], secants[-1], secants[-2])
    return slopes


def _end_slope(h0: float, h1: float, m0: float, m1: float) -> float:
    """Shape-preserving three-point slope at an end point."""
    d = ((2.0 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > abs(3.0 * m0):
        return 3.0 * m0
    return float(d)


def evaluate_curve(points: Points, t: np.ndarray) -> np.ndarray:
    """The curve through ``points`` at ``t`` (float64), constant beyond the first and last point."""
    xs = np.array([x for x, _ in points], np.float64)
    ys = np.array([y for _, y in points], np.float64)
    slopes = pchip_slopes(xs, ys)
    t = np.clip(np.asarray(t, np.float64), xs[0], xs[-1])
    k = np.clip(np.searchsorted(xs, t, side="right") - 1, 0, len(xs) - 2)
    h = xs[k + 1] - xs[k]
    s = (t - xs[k]) / h
    h00, h10 = (1 + 2 * s) * (1 - s) ** 2, s * (1 - s) ** 2
    h01, h11 = s * s * (3 - 2 * s), s * s * (s - 1)
    return h00 * ys[k] + h10 * h * slopes[k] + h01 * ys[k + 1] + h11 * h * slopes[k + 1]


def channel_tables(params: ToneCurveParams, channels: int) -> list[np.ndarray | None]:
    """Each channel's look-up table (float64, :data:`LUT_SIZE`), None where its curve is the identity."""
    t = np.linspace(0.0, 1.0, LUT_SIZE)
    rgb = t if is_identity(params.rgb) else evaluate_curve(params.rgb, t)
    curves = (params.red, params.green, params.blue) if channels == 3 else (IDENTITY,) * channels
    tables: list[np.ndarray | None] = []
    for points in curves:
        if is_identity(points):
            tables.append(None if rgb is t else rgb)
        else:
            tables.append(evaluate_curve(points, rgb))
    return tables


def apply_tone_curve(pixels: np.ndarray, params: ToneCurveParams, ctx: RenderContext) -> np.ndarray:
    """Map every channel through the RGB curve, then red, green and blue through their curves.

    Returns a new float32 array in [0, 1]; channels whose curves are all the
    identity are copied bit for bit (the default returns the input unchanged).
    """
    channels = pixels.shape[2]
    tables = channel_tables(params, channels)
    if all(table is None for table in tables):
        return pixels.copy()
    identity = np.linspace(0.0, 1.0, LUT_SIZE)
    table = np.stack([np.clip(t if t is not None else identity, 0.0, 1.0) for t in tables]).astype(np.float32)
    lut = _ChannelLut(table)
    out = np.empty_like(pixels)
    flat_in, flat_out = pixels.reshape(-1, channels), out.reshape(-1, channels)
    step = _BLOCK_ROWS * _BLOCK_PIXELS
    for start in range(0, len(flat_in), step):
        count = min(step, len(flat_in) - start)
        whole = count - count % _BLOCK_PIXELS
        lut.map(flat_in[start:start + whole], flat_out[start:start + whole], _BLOCK_PIXELS)
        lut.map(flat_in[start + whole:start + count], flat_out[start + whole:start + count], count - whole)
    for c, channel_table in enumerate(tables):
        if channel_table is None:
            out[:, :, c] = pixels[:, :, c]
    return out


class _ChannelLut:
    """Each channel's table as one row of an image, looked up by ``cv2.remap`` at (value, channel)."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = table
        channels = table.shape[0]
        self.rows = np.tile(np.arange(channels, dtype=np.float32), (_BLOCK_ROWS, _BLOCK_PIXELS))

    def map(self, values: np.ndarray, out: np.ndarray, width: int) -> None:
        """Write the mapped ``values`` ((pixels, C), a whole number of ``width``-pixel rows) into ``out``."""
        if len(values) == 0:
            return
        channels = values.shape[1]
        block = values.reshape(-1, width * channels)
        columns = np.multiply(block, np.float32(LUT_SIZE - 1))
        rows = self.rows[:block.shape[0], :width * channels]
        out.reshape(block.shape)[:] = cv2.remap(self.table, columns, rows, cv2.INTER_LINEAR,
                                                borderMode=cv2.BORDER_REPLICATE)


FILTERS: tuple[FilterDef, ...] = (
    FilterDef(name="tone_curve", label="Tone curve", category="Tone", params_type=ToneCurveParams,
              apply=apply_tone_curve,
              description="Reshape tones with smooth curves through points: RGB and per channel."),
)
