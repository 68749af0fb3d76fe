"""Per-color hue, saturation and lightness (HSL), and vibrance.

Both read hue and saturation in OpenCV's HSV (hue in degrees, saturation and
value in [0, 1]), so a gray pixel (saturation 0) is never changed. They raise
saturation in HSV (capped at 1, value kept) and lower it by moving a color
toward the gray of its luma, as the Saturation filter does (in HSV a red taken
to gray would turn white). Both are point
operations fast enough for a live 2 MP preview: what depends on hue is
looked up in a table of :data:`HUE_STEPS` entries (0.1 degree) instead of
being computed per pixel. Gray images have no color: these filters return
them unchanged, so a recipe made on color photographs still runs on gray scans.

HSL bands are centered on the hues photographers name (red 0°, orange 30°,
yellow 60°, green 120°, aqua 180°, blue 240°, purple 270°, magenta 300°).
Between two neighbouring centers the weights of the two bands are a raised
cosine that sums to one, so a slider moves every hue between its band's
neighbours, fully at its center, and there is no hard edge anywhere on the
hue circle.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from enhance_core.filters.base import FilterDef, RenderContext, param
from enhance_core.filters.common import clip_unit, in_row_bands, per_brightness

BANDS: tuple[tuple[str, float], ...] = (
    ("red", 0.0), ("orange", 30.0), ("yellow", 60.0), ("green", 120.0),
    ("aqua", 180.0), ("blue", 240.0), ("purple", 270.0), ("magenta", 300.0),
)
"""HSL band names and their center hues in degrees, in hue order."""
HUE_STEPS = 3600
"""Entries of the hue tables (one per 0.1 degree)."""
LIGHTNESS_GAIN = 0.5
"""Value gain of a lightness of ±1 on a fully saturated color: 1.5x or 0.5x (one stop down)."""
SKIN_HUE, SKIN_WIDTH, SKIN_PROTECTION = 25.0, 20.0, 0.7
"""Vibrance protects hues around 25° (skin) with a Gaussian of 20° by up to 70 %."""


def band_weights(hues: np.ndarray) -> np.ndarray:
    """Weight of each HSL band at ``hues`` (degrees): float32 (len(BANDS), len(hues)), columns summing to 1."""
    centers = np.array([c for _, c in BANDS] + [BANDS[0][1] + 360.0])
    h = np.mod(np.asarray(hues, np.float64), 360.0)
    index = np.clip(np.searchsorted(centers, h, side="right") - 1, 0, len(BANDS) - 1)
    t = (h - centers[index]) / (centers[index + 1] - centers[index])
    upper = 0.5 - 0.5 * np.cos(np.pi * t)
    weights = np.zeros((len(BANDS), h.size))
    columns = np.arange(h.size)
    weights[index, columns] = 1.0 - upper
    weights[(index + 1) % len(BANDS), columns] += upper
    return weights.astype(np.float32)


_TABLE_WEIGHTS = band_weights(np.arange(HUE_STEPS) * (360.0 / HUE_STEPS))


def _hue_param(band: str) -> float:
    """The hue-shift field of ``band``."""
    return param(0.0, label=f"{band.capitalize()} hue", minimum=-45.0, maximum=45.0, step=0.5, unit="°",
                 help=f"Turn {band} hues by this many degrees.")


def _saturation_param(band: str) -> float:
    """The saturation field of ``band``."""
    return param(0.0, label=f"{band.capitalize()} sat.", minimum=-1.0, maximum=1.0, step=0.01,
                 help=f"-1 makes {band} colors gray, 1 doubles their saturation.")


def _lightness_param(band: str) -> float:
    """The lightness field of ``band``."""
    return param(0.0, label=f"{band.capitalize()} light.", minimum=-1.0, maximum=1.0, step=0.01,
                 help=f"Darken or brighten {band} colors (grays are kept).")


@dataclass(frozen=True)
class HSLParams:
    """Hue shift (degrees), saturation and lightness of each of the eight color bands of :data:`BANDS`."""

    red_hue: float = _hue_param("red")
    red_saturation: float = _saturation_param("red")
    red_lightness: float = _lightness_param("red")
    orange_hue: float = _hue_param("orange")
    orange_saturation: float = _saturation_param("orange")
    orange_lightness: float = _lightness_param("orange")
    yellow_hue: float = _hue_param("yellow")
    yellow_saturation: float = _saturation_param("yellow")
    yellow_lightness: float = _lightness_param("yellow")
    green_hue: float = _hue_param("green")
    green_saturation: float = _saturation_param("green")
    green_lightness: float = _lightness_param("green")
    aqua_hue: float = _hue_param("aqua")
    aqua_saturation: float = _saturation_param("aqua")
    aqua_lightness: float = _lightness_param("aqua")
    blue_hue: float = _hue_param("blue")
    blue_saturation: float = _saturation_param("blue")
    blue_lightness: float = _lightness_param("blue")
    purple_hue: float = _hue_param("purple")
    purple_saturation: float = _saturation_param("purple")
    purple_lightness: float = _lightness_param("purple")
    magenta_hue: float = _hue_param("magenta")
    magenta_saturation: float = _saturation_param("magenta")
    magenta_lightness: float = _lightness_param("magenta")


def _hue_lookup(hue: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hue-table indices (intp, which np.take uses as they are) of OpenCV hues in degrees [0, 360], and a scratch plane.

    Tables have ``HUE_STEPS + 1`` entries (the last one repeats the first, for a hue of exactly 360);
    look up with ``np.take(table, index, out=plane, mode="clip")`` so no new image-size array is made.
    """
    plane = np.multiply(hue, np.float32(HUE_STEPS / 360.0))
    return plane.astype(np.intp), plane


def _wrap_table(values: np.ndarray) -> np.ndarray:
    """A float32 hue table of ``HUE_STEPS`` entries with the first repeated at the end."""
    return np.append(values, values[:1]).astype(np.float32)


def adjust_hsl(pixels: np.ndarray, params: HSLParams, ctx: RenderContext) -> np.ndarray:
    """Shift hue, scale saturation and value of each pixel by its hue's band weights.

    Per pixel, with ``k = 1 + weighted saturation``: hue turns by the weighted
    band hue shifts; a ``k`` above 1 multiplies the HSV saturation (at most 1,
    value kept); value is multiplied by ``1 + 0.5 * weighted lightness *
    saturation`` (grays keep their value; a value ``v`` past 1 is 1 and the
    saturation is multiplied by ``2 - v``, so a bright colour lightens toward
    white keeping its hue, where clipping its brightest channel turned an
    orange yellow); then a ``k`` below 1 moves the color
    toward the gray of its luma (:func:`toward_luma`: -1 gives that gray).
    Results are clipped to [0, 1] (a float picture's colours past white are
    edited at their brightness: :func:`per_brightness`); gray images are returned unchanged. The HSV
    image is edited in place through channel views and one scratch plane (at a
    2 MP preview every image-size array costs milliseconds).
    """
    values = np.array([[getattr(params, f"{band}_{part}") for band, _ in BANDS]
                       for part in ("hue", "saturation", "lightness")], np.float32)
    if pixels.shape[2] == 1 or not values.any():
        return pixels.copy()
    tables = values @ _TABLE_WEIGHTS
    return per_brightness(pixels, ctx, lambda colours: in_row_bands(
        lambda band, first_row, out: _hsl_band(band, values, tables, out), colours))


def _hsl_band(pixels: np.ndarray, values: np.ndarray, tables: np.ndarray, out: np.ndarray) -> None:
    """:func:`adjust_hsl` of some rows into ``out``, given the band settings and their per-hue tables."""
    hsv = cv2.cvtColor(pixels, cv2.COLOR_RGB2HSV)
    hue, saturation, value = hsv[:, :, 0], hsv[:, :, 1], hsv[:, :, 2]
    index, plane = _hue_lookup(hue)
    factor = None
    if values[1].any():
        factor = np.take(_wrap_table(1.0 + tables[1]), index, mode="clip")
        saturation *= np.maximum(factor, np.float32(1.0))
        np.minimum(saturation, np.float32(1.0), out=saturation)
    if values[2].any():
        np.take(_wrap_table(tables[2] * LIGHTNESS_GAIN), index, out=plane, mode="clip")
        plane *= saturation if factor is None else saturation * np.minimum(factor, np.float32(1.0))
        plane += np.float32(1.0)
        value *= plane
        np.subtract(np.float32(2.0), value, out=plane)  # past full value: toward white along the hue
        np.clip(plane, np.float32(0.0), np.float32(1.0), out=plane)
        saturation *= plane
        np.minimum(value, np.float32(1.0), out=value)
    if values[0].any():
        # OpenCV wraps hues in [360, 720) but not negative ones: shift by the positive equivalent
        np.take(_wrap_table(np.mod(tables[0], 360.0)), index, out=plane, mode="clip")
        hue += plane
    cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB, dst=out)
    if factor is not None and factor.min() < 1.0:
        toward_luma(out, np.minimum(factor, np.float32(1.0)))
    clip_unit(out)


def toward_luma(rgb: np.ndarray, factor: np.ndarray) -> None:
    """Move each pixel of ``rgb`` (rows, cols, 3; in place) to ``factor`` (0..1) times its distance from its luma.

    Luma and hue are kept: 0 gives the gray of the pixel's luma, as the
    Saturation filter does (in HSV, which keeps the largest channel, a red
    taken to gray turns white).
    """
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None]
    rgb -= luma
    rgb *= factor[:, :, None]
    rgb += luma


@dataclass(frozen=True)
class VibranceParams:
    """Vibrance amount."""

    vibrance: float = param(0.0, label="Vibrance", minimum=-1.0, maximum=1.0, step=0.01,
                            help="Saturate dull colors more than vivid ones and spare skin tones; "
                                 "negative mutes dull colors first.")


def _skin_protection() -> np.ndarray:
    """Per hue-table entry, the fraction of vibrance applied: 1 away from skin hues, 0.3 at 25°."""
    hues = np.arange(HUE_STEPS) * (360.0 / HUE_STEPS)
    distance = np.abs((hues - SKIN_HUE + 180.0) % 360.0 - 180.0)
    return (1.0 - SKIN_PROTECTION * np.exp(-0.5 * (distance / SKIN_WIDTH) ** 2)).astype(np.float32)


_SKIN_TABLE = _wrap_table(_skin_protection())


def adjust_vibrance(pixels: np.ndarray, params: VibranceParams, ctx: RenderContext) -> np.ndarray:
    """Change each color's saturation by ``k = 1 + vibrance * (1 - s)^2 * skin``, clipped to [0, 1].

    ``s`` is the HSV saturation: dull colors (low ``s``) change most,
    saturated ones almost nothing, grays nothing; ``skin`` is 0.3 at skin hues
    (about 25°) and 1 away from them. A positive vibrance multiplies the HSV
    saturation by ``k`` (at most 1, value kept); a negative one moves the color
    toward the gray of its luma (:func:`toward_luma`). Gray images are returned
    unchanged.
    """
    if pixels.shape[2] == 1 or params.vibrance == 0.0:
        return pixels.copy()
    table = _SKIN_TABLE * np.float32(params.vibrance)
    return per_brightness(pixels, ctx, lambda colours: in_row_bands(
        lambda band, first_row, out: _vibrance_band(band, table, params.vibrance > 0, out), colours))


def _vibrance_band(pixels: np.ndarray, table: np.ndarray, more: bool, out: np.ndarray) -> None:
    """:func:`adjust_vibrance` of some rows into ``out``, given the per-hue gain table and its sign (``more``)."""
    hsv: np.ndarray = cv2.cvtColor(pixels, cv2.COLOR_RGB2HSV)
    hue, saturation = hsv[:, :, 0], hsv[:, :, 1]
    index, plane = _hue_lookup(hue)
    np.take(table, index, out=plane, mode="clip")
    dull = np.subtract(np.float32(1.0), saturation)
    dull *= dull
    plane *= dull
    plane += np.float32(1.0)
    if more:
        saturation *= plane
        np.minimum(saturation, np.float32(1.0), out=saturation)
        cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB, dst=out)
    else:
        out[:] = pixels
        toward_luma(out, plane)
    clip_unit(out)


FILTERS: tuple[FilterDef, ...] = (
    FilterDef(name="hsl", label="HSL (per color)", category="Color", params_type=HSLParams, apply=adjust_hsl,
              description="Hue, saturation and lightness of eight color bands (reds, oranges ... magentas)."),
    FilterDef(name="vibrance", label="Vibrance", category="Color", params_type=VibranceParams,
              apply=adjust_vibrance, description="Saturate dull colors more than vivid ones, sparing skin tones."),
)
