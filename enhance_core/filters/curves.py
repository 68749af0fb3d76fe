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
channel, evaluated exactly and interpolated linearly, chunk by chunk so
every pass stays in cache (large images in parts on OpenCV's thread count);
16-bit and float data keep float precision (the linear
interpolation between samples is within 1e-4 of the exact curve, a few
16-bit levels, for points at least 0.01 apart, and within 3e-3 where two
points are 0.001 apart); values outside [0, 1] take the ends'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from enhance_core.filters.base import FilterDef, Points, RenderContext, param
from enhance_core.filters.common import part_count, part_executor

IDENTITY: Points = ((0.0, 0.0), (1.0, 1.0))
LUT_SIZE = 1 << 15
"""Samples per channel's look-up table (linear interpolation between them errs by 1.2e-10 f'' at most)."""
_CHUNK = 1 << 16
"""Values looked up per pass."""


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
    NaN pixels stay NaN (the readers replace non-finite values, so only a
    direct call meets them).
    """
    channels = pixels.shape[2]
    tables = channel_tables(params, channels)
    if all(table is None for table in tables):
        return pixels.copy()
    identity = np.linspace(0.0, 1.0, LUT_SIZE)
    values = [np.clip(t if t is not None else identity, 0.0, 1.0) for t in tables]
    if all(t is tables[0] for t in tables):
        values = values[:1]
    pairs = np.empty((len(values) * LUT_SIZE, 2), np.float32)
    pairs[:, 0] = np.concatenate(values)
    pairs[:, 1] = np.concatenate([np.append(np.diff(v), 0.0) for v in values])
    out = np.empty_like(pixels)
    _look_up_in_parts(pixels.reshape(-1), out.reshape(-1), pairs, len(values))
    for c, channel_table in enumerate(tables):
        if channel_table is None:
            out[:, :, c] = pixels[:, :, c]
    return out


def _look_up_in_parts(values: np.ndarray, out: np.ndarray, pairs: np.ndarray, channels: int) -> None:
    """:func:`_look_up` on the point-operation threads (:func:`~enhance_core.filters.common.part_count` parts)."""
    parts = part_count(len(values))
    if parts <= 1:
        _look_up(values, out, pairs, channels)
        return
    size = -(-len(values) // (parts * channels)) * channels
    bounds = [(start, min(start + size, len(values))) for start in range(0, len(values), size)]
    futures = [part_executor().submit(_look_up, values[a:b], out[a:b], pairs, channels) for a, b in bounds]
    for future in futures:
        future.result()


def _look_up(values: np.ndarray, out: np.ndarray, pairs: np.ndarray, channels: int) -> None:
    """Write the table ``pairs`` interpolated at interleaved ``values`` into ``out``, chunk by chunk.

    ``pairs`` holds, for each of ``channels`` tables of :data:`LUT_SIZE`
    samples one after another (one table: every channel takes it), each
    sample's value and its step to the next sample (0 after the last). Each
    pair is gathered as one float64 (one ``np.take`` instead of two), indices
    are ``intp`` (``np.take`` converts any other type first), and chunks of
    :data:`_CHUNK` values keep every pass in cache. A NaN value stays NaN
    (its index, undefined after the cast, is clipped into the table).
    """
    packed = pairs.view(np.float64).ravel()
    chunk = _CHUNK - _CHUNK % channels
    offsets = np.tile(np.arange(channels, dtype=np.intp) * LUT_SIZE, chunk // channels)
    position, floor, rise = (np.empty(chunk, np.float32) for _ in range(3))
    index = np.empty(chunk, np.intp)
    gathered = np.empty(chunk, np.float64)
    top = np.float32(LUT_SIZE - 1)
    with np.errstate(invalid="ignore"):  # NaN to intp
        for start in range(0, len(values), chunk):
            count = min(chunk, len(values) - start)
            pos, whole, at, step = position[:count], floor[:count], index[:count], rise[:count]
            np.multiply(values[start:start + count], top, out=pos)
            np.clip(pos, 0.0, top, out=pos)
            np.floor(pos, out=whole)
            at[:] = whole
            pos -= whole
            if channels > 1:
                at += offsets[:count]
            got = np.take(packed, at, out=gathered[:count], mode="clip").view(np.float32)
            np.multiply(got[1::2], pos, out=step)
            np.add(got[0::2], step, out=out[start:start + count])


FILTERS: tuple[FilterDef, ...] = (
    FilterDef(name="tone_curve", label="Tone curve", category="Tone", params_type=ToneCurveParams,
              apply=apply_tone_curve,
              description="Reshape tones with smooth curves through points: RGB and per channel.",
              unit_range=True),
)
