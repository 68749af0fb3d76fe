"""Measures of the low-light filter beyond PSNR: neutrality near black and where the exposure lands.

* :func:`near_black_chroma` scores any method against a reference: over the
  pixels whose neighbourhood (``REGION`` pixels square) is dark and neutral
  (grey) on average in the reference, the output's mean chroma (Cb/Cr
  magnitude: a colour cast plus chroma noise) and its tint (the magnitude
  of the mean Cb/Cr: the cast alone), in 0-255 units. Single grey pixels
  inside coloured texture do not count: no method can keep their colour;
* :func:`real_photo_figures` runs the filter on real dark photographs (no
  reference) and returns per photo the mean RGB of the darkest 10 % before
  and after, their chroma and tint; the same for the photo's *black*, the
  pixels whose neighbourhood lies within ``BLACK_LEVELS`` of black in every
  channel, where the input cannot hold a colour and the output should be
  grey; the mean and median luminance before and after; and the share of
  pixels with a channel at white (the highlights the filter clipped).
  :func:`summarize_real` averages them per folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from enhance_core.learned.lowlight_color import CLIPPED_LEVEL
from enhance_core.training.data import list_images, load_uint8

#: Reference pixels count as dark at or below this Rec. 709 luma of their sRGB values (31 of 255).
DARK_LUMA = 0.12
#: ... and as neutral when no two channels differ by more than this (3 of 255).
NEUTRAL_SPREAD = 3.0 / 255.0
#: Side of the box whose mean decides whether a reference pixel lies in a dark neutral region.
REGION = 9
#: The share of a real photo's pixels, by luma, that counts as its darkest part.
DARKEST_SHARE = 0.10
#: A real photo's pixel is black when its ``REGION``-wide mean is at most this in every channel (4 of 255).
BLACK_LEVELS = 4.0 / 255.0
LUMA_709 = np.array([0.2126, 0.7152, 0.0722], np.float32)
MID_GREY = 0.18


def luma(srgb: np.ndarray) -> np.ndarray:
    """Rec. 709 weighted sum of the sRGB-encoded channels of ``srgb`` (..., 3)."""
    return srgb @ LUMA_709


def chroma_and_tint(srgb: np.ndarray) -> tuple[float, float]:
    """Return (mean Cb/Cr magnitude, magnitude of the mean Cb/Cr) of sRGB pixels ``srgb`` (N, 3), in 0-255 units.

    Cb and Cr are those of JPEG (BT.601, full range), so a grey pixel has 0
    and pure red has about 0.5 * 255 in Cr.
    """
    if srgb.size == 0:
        return float("nan"), float("nan")
    r, g, b = srgb[:, 0], srgb[:, 1], srgb[:, 2]
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b
    chroma = float(np.mean(np.hypot(cb, cr))) * 255.0
    tint = float(np.hypot(cb.mean(), cr.mean())) * 255.0
    return chroma, tint


def local_mean(image: np.ndarray) -> np.ndarray:
    """Mean of ``image`` (rows, cols, C) over the ``REGION``-wide box around each pixel (edges reflected)."""
    return cv2.blur(image, (REGION, REGION), borderType=cv2.BORDER_REFLECT)


def neutral_dark_mask(reference: np.ndarray) -> np.ndarray:
    """Return the (rows, cols) boolean mask of pixels of ``reference`` whose neighbourhood is dark and neutral."""
    mean = local_mean(reference)
    spread = mean.max(axis=2) - mean.min(axis=2)
    return (luma(mean) <= DARK_LUMA) & (spread <= NEUTRAL_SPREAD)


def near_black_chroma(output: np.ndarray, reference: np.ndarray) -> tuple[float, float, int]:
    """Return the (chroma, tint, pixel count) of ``output`` over the pixels in dark neutral regions of ``reference``.

    Both are float (rows, cols, 3) sRGB in [0, 1]; chroma and tint as in
    :func:`chroma_and_tint` (NaN when the reference has no such pixel).
    """
    mask = neutral_dark_mask(reference)
    chroma, tint = chroma_and_tint(np.clip(output, 0.0, 1.0)[mask])
    return chroma, tint, int(mask.sum())


@dataclass(frozen=True)
class RealPhotoFigures:
    """Figures of one real photo before (``*_in``) and after (``*_out``) the filter; levels in 0-255 units.

    ``darkest_*`` is the mean RGB of the darkest 10 % of the input's pixels
    (the same pixels after the filter), ``chroma_*`` and ``tint_*`` their
    :func:`chroma_and_tint`; ``black_share`` is the share of the photo that
    is black (see the module), ``black_*`` those pixels' mean RGB and
    ``black_chroma_*``, ``black_tint_*`` their chroma and tint (NaN without
    black); ``mean_luma_*`` the mean Rec. 709 luma of the
    whole photo, ``key_out`` the output's median linear luminance in stops
    from 18 % grey (0: the median sits on mid-grey, -1: one stop darker);
    ``clipped_*`` the percentage of pixels with a channel at white
    (:data:`CLIPPED_LEVEL`).
    """

    name: str
    darkest_in: tuple[float, float, float]
    darkest_out: tuple[float, float, float]
    chroma_in: float
    chroma_out: float
    tint_in: float
    tint_out: float
    black_share: float
    black_in: tuple[float, float, float]
    black_out: tuple[float, float, float]
    black_chroma_out: float
    black_tint_in: float
    black_tint_out: float
    mean_luma_in: float
    mean_luma_out: float
    key_out: float
    clipped_in: float
    clipped_out: float


def photo_figures(name: str, photo: np.ndarray, output: np.ndarray) -> RealPhotoFigures:
    """Measure one real ``photo`` and the filter's ``output`` (float sRGB (rows, cols, 3) in [0, 1])."""
    from enhance_core.learned.lowlight_ops import srgb_to_linear

    lum = luma(photo)
    darkest = lum <= np.quantile(lum, DARKEST_SHARE)
    chroma_in, tint_in = chroma_and_tint(photo[darkest])
    chroma_out, tint_out = chroma_and_tint(output[darkest])
    black = local_mean(photo).max(axis=2) <= BLACK_LEVELS
    _, black_tint_in = chroma_and_tint(photo[black])
    black_chroma_out, black_tint_out = chroma_and_tint(output[black])
    linear = float(np.median(srgb_to_linear(output) @ LUMA_709))

    def rgb(pixels: np.ndarray) -> tuple[float, float, float]:
        if not pixels.size:
            return float("nan"), float("nan"), float("nan")
        red, green, blue = pixels.mean(axis=0)
        return float(red) * 255.0, float(green) * 255.0, float(blue) * 255.0

    return RealPhotoFigures(name, rgb(photo[darkest]), rgb(output[darkest]), chroma_in, chroma_out, tint_in, tint_out,
                            float(black.mean()), rgb(photo[black]), rgb(output[black]), black_chroma_out,
                            black_tint_in, black_tint_out, float(lum.mean()) * 255.0,
                            float(luma(output).mean()) * 255.0, float(np.log2(max(linear, 1e-6) / MID_GREY)),
                            clipped_share(photo), clipped_share(output))


def clipped_share(srgb: np.ndarray) -> float:
    """Percentage of the pixels of ``srgb`` (rows, cols, 3) with a channel at or above :data:`CLIPPED_LEVEL`."""
    return float((srgb.max(axis=2) >= CLIPPED_LEVEL).mean()) * 100.0


def real_photo_figures(model: Any, folder: Path, *, strength: float = 1.0) -> dict[str, list[RealPhotoFigures]]:
    """Run the filter (``model``, at ``strength``) on every photo of each sub-folder of ``folder``; measure them.

    Returns {sub-folder name: [figures per photo]}.
    """
    from enhance_core.learned.lowlight import enhance_low_light

    folders = sorted(p for p in folder.iterdir() if p.is_dir()) or [folder]
    figures: dict[str, list[RealPhotoFigures]] = {}
    for sub in folders:
        paths = list_images(sub)
        for path, photo in zip(paths, load_uint8(paths, mode="RGB")):
            image = photo.astype(np.float32) / 255.0
            output = enhance_low_light(image, strength=strength, model=model, device="cpu")
            figures.setdefault(sub.name, []).append(photo_figures(path.name, image, output))
    return figures


def summarize_real(figures: list[RealPhotoFigures]) -> dict[str, Any]:
    """Average one folder's figures; ``mean_luma_out_range`` and ``key_out_range`` give the spread.

    The ``black_*`` figures are averaged over the photos that have black
    (weighted by its share of each photo); ``black_photos`` counts them.
    """
    def mean(field: str) -> Any:
        return np.mean([getattr(f, field) for f in figures], axis=0)

    def spread(field: str) -> list[float]:
        return [float(min(getattr(f, field) for f in figures)), float(max(getattr(f, field) for f in figures))]

    dark = [f for f in figures if f.black_share > 0]
    weights = np.array([f.black_share for f in dark])

    def black(field: str) -> Any:
        if not dark:
            return float("nan")
        return np.round(np.average([getattr(f, field) for f in dark], axis=0, weights=weights), 2).tolist()

    return {
        "photos": len(figures),
        **{field: np.round(mean(field), 2).tolist() for field in
           ("darkest_in", "darkest_out", "chroma_in", "chroma_out", "tint_in", "tint_out", "mean_luma_in",
            "mean_luma_out", "key_out", "clipped_in", "clipped_out")},
        "black_photos": len(dark),
        **{field: black(field) for field in ("black_in", "black_out", "black_chroma_out", "black_tint_in",
                                             "black_tint_out")},
        "mean_luma_out_range": spread("mean_luma_out"),
        "key_out_range": spread("key_out"),
        "clipped_out_range": spread("clipped_out"),
    }
