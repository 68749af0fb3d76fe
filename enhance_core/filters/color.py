"""Color operations: color balance (gray world, temperature and tint) and saturation.

Gray images have no color to balance or saturate: these filters return them
unchanged (a one-channel image cannot hold a color cast), so a recipe made on
color photographs still runs on gray scans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from enhance_core.filters.base import FilterDef, RenderContext, param
from enhance_core.filters.common import WHOLE_IMAGE, clip_unit, clip_unless_float, luminance

_ENCODING_GAMMA = 2.2


@dataclass(frozen=True)
class ColorBalanceParams:
    """Automatic gray-world balance plus manual temperature and tint."""

    gray_world: bool = param(False, label="Gray world",
                             help="Scale channels so the image averages to gray.")
    temperature: float = param(0.0, label="Temperature", minimum=-1.0, maximum=1.0, step=0.01,
                               help="Positive warms (more red, less blue); ±1 is one stop in linear light.")
    tint: float = param(0.0, label="Tint", minimum=-1.0, maximum=1.0, step=0.01,
                        help="Positive adds magenta (less green), negative adds green.")


def gray_world_gains(pixels: np.ndarray) -> np.ndarray:
    """Per-channel gains that make the channel means equal to their average (float32, 3)."""
    means = np.asarray(cv2.mean(pixels)[:3], dtype=np.float64)
    target = means.mean()
    gains = np.where(means > 1e-6, target / np.maximum(means, 1e-6), 1.0)
    return gains.astype(np.float32)


def balance_color(pixels: np.ndarray, params: ColorBalanceParams, ctx: RenderContext) -> np.ndarray:
    """Scale the R, G, B channels by gray-world, temperature and tint gains, clipped to [0, 1] but on a float
    source.

    Temperature and tint are gains in linear light applied to the encoded
    (gamma-2.2) values, so ``temperature=1`` multiplies red light by 2 and
    blue light by 1/2. Gray images are returned unchanged.
    """
    if pixels.shape[2] == 1:
        return pixels.copy()
    gains = gray_world_gains(pixels) if params.gray_world else np.ones(3, np.float32)
    linear = np.array([2.0 ** params.temperature, 2.0 ** -params.tint, 2.0 ** -params.temperature])
    gains = gains * (linear ** (1.0 / _ENCODING_GAMMA)).astype(np.float32)
    if np.allclose(gains, 1.0, rtol=0, atol=1e-7):
        return pixels.copy()
    # cv2 takes a Scalar (a 4-tuple) as the second factor; the stubs of OpenCV 4 list only arrays (5's list both)
    scalar: Any = (float(gains[0]), float(gains[1]), float(gains[2]), 0.0)
    out = cv2.multiply(pixels, scalar)
    return clip_unless_float(out, ctx)


def neutral_temperature_tint(mean_rgb: np.ndarray) -> tuple[float, float]:
    """The temperature and tint that make a patch of mean ``(R, G, B)`` neutral (gray world off).

    :func:`balance_color` multiplies red by ``2 ** (t / 2.2)``, blue by
    ``2 ** (-t / 2.2)`` and green by ``2 ** (-u / 2.2)``; red and blue meet at
    ``sqrt(R B)`` when ``t = 1.1 log2(B / R)``, and green there when
    ``u = 2.2 log2(G / sqrt(R B))``. The values are not clipped to the
    parameters' range (the caller says when the cast is stronger than it).

    Raises
    ------
    ValueError
        If a channel's mean is not positive (a black or clipped-to-zero patch has no color to read).
    """
    red, green, blue = (float(v) for v in np.asarray(mean_rgb, np.float64)[:3])
    if min(red, green, blue) <= 1e-6:
        raise ValueError(f"the patch has no {('red', 'green', 'blue')[int(np.argmin([red, green, blue]))]} "
                         "light to balance; pick a brighter neutral area")
    temperature = 0.5 * _ENCODING_GAMMA * float(np.log2(blue / red))
    tint = _ENCODING_GAMMA * float(np.log2(green / np.sqrt(red * blue)))
    return temperature, tint


def _balance_margin(params: ColorBalanceParams, ctx: RenderContext) -> int:
    """Gray world reads the whole image's means; manual gains need no context."""
    return WHOLE_IMAGE if params.gray_world else 0


@dataclass(frozen=True)
class SaturationParams:
    """Saturation factor."""

    saturation: float = param(1.0, label="Saturation", minimum=0.0, maximum=4.0, step=0.01, unit="×",
                              help="0 gives gray, 1 leaves colors, 2 doubles their distance from gray (a vivid "
                                   "color only up to full red, green or blue: its hue is kept).")


SATURATION_BAND = 65536
"""Pixels saturated at a time (whole rows): a band's temporaries stay in the cache (bands of 1.5 MP were 6x slower
on 24 MP)."""


def adjust_saturation(pixels: np.ndarray, params: SaturationParams, ctx: RenderContext) -> np.ndarray:
    """Scale every pixel's distance from its luma: ``luma + s (rgb - luma)``.

    Luma and hue are kept: a colour that ``s`` would push past white or
    black in a channel is scaled only as far as the first channel reaches
    it (clipping that channel alone turned an orange red and darkened it);
    a float source's values are not clipped and take the whole ``s``. Gray
    images are returned unchanged.
    """
    if pixels.shape[2] == 1 or params.saturation == 1.0:
        return pixels.copy()
    if params.saturation < 1.0 or ctx.float_source:
        out = cv2.cvtColor(luminance(pixels), cv2.COLOR_GRAY2RGB)
        cv2.addWeighted(pixels, params.saturation, out, 1.0 - params.saturation, 0.0, dst=out)
        return clip_unless_float(out, ctx)
    out = np.empty(pixels.shape, np.float32)
    band = max(1, SATURATION_BAND // pixels.shape[1])
    for top in range(0, pixels.shape[0], band):  # small temporaries: faster, and no extra memory
        rows = slice(top, top + band)
        _saturate_in_range(np.ascontiguousarray(pixels[rows], dtype=np.float32), np.float32(params.saturation),
                           out[rows])
    return clip_unit(out)


def _saturate_in_range(pixels: np.ndarray, saturation: np.float32, out: np.ndarray) -> None:
    """``luma + g (pixels - luma)`` into ``out`` with the largest ``g`` up to ``saturation`` that keeps every channel
    within [0, 1]: the brightest channel reaches 1 at ``(1 - luma) / (brightest - luma)``, the darkest 0 at
    ``luma / (luma - darkest)``. (HSV's value and saturation would give both in one call, but OpenCV divides by the
    value plus the float epsilon, so the darkest came out too high on near-black pixels, which were then clipped.)"""
    tiny = np.float32(1e-12)  # a gray pixel has no chroma to scale: any gain leaves it
    luma = luminance(pixels)
    red, green, blue = cv2.split(pixels)
    brightest = cv2.max(cv2.max(red, green), blue)
    darkest = cv2.min(cv2.min(red, green), blue)
    gain = cv2.divide(np.float32(1.0) - luma, np.maximum(brightest - luma, tiny))
    np.minimum(gain, cv2.divide(luma, np.maximum(luma - darkest, tiny)), out=gain)
    np.minimum(gain, saturation, out=gain)
    gray = cv2.cvtColor(luma, cv2.COLOR_GRAY2RGB)
    cv2.add(cv2.multiply(cv2.subtract(pixels, gray), cv2.merge((gain, gain, gain))), gray, dst=out)


FILTERS: tuple[FilterDef, ...] = (
    FilterDef(name="color_balance", label="Color balance", category="Color",
              params_type=ColorBalanceParams, apply=balance_color, margin=_balance_margin,
              description="White balance: remove a color cast (gray world) or set temperature and tint."),
    FilterDef(name="saturation", label="Saturation", category="Color", params_type=SaturationParams,
              apply=adjust_saturation, description="Make colors more or less vivid, keeping luma."),
)
