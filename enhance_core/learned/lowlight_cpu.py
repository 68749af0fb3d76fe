"""The low-light filter's arithmetic around the denoiser, per tile, on the CPU with OpenCV and numpy.

The same steps as the tensor functions of :mod:`enhance_core.learned.lowlight_ops`
(the sRGB curves, the gain) and :mod:`enhance_core.learned.lowlight_color`
(chroma noise, black kept neutral), with the same constants, on float32
(rows, cols, channels) arrays; the results agree with theirs to float
rounding (``tests/learned/test_lowlight_cpu.py``). On the CPU, torch's
transcendental, ``where``, pooling and interpolation kernels on a 512-pixel
tile cost several times the arithmetic (a quarter of the filter's time went
there); OpenCV's vectorized ``log``/``exp``, area resize, box filter,
bilinear resize and colour ``transform`` do each step in one or two passes.
Only the denoiser stays in torch (:func:`enhance_tile`).

Two branch-free rewritings keep the passes few: a piecewise sRGB curve
``f(x) = toe(x) if x <= t else curve(x)`` is ``curve(max(x, t)) +
toe(min(x, t)) - curve(t)``, exact on the toe and within 2e-6 of the curve
above it (where the two pieces of the standard part by that much); and
``x ** p`` is ``exp(p * log(x))``.
"""

from __future__ import annotations

from typing import Any, Callable

import cv2
import numpy as np

from enhance_core.learned.lowlight_color import (BLACK_FLOOR, CHROMA_RADIUS, CLIPPED_LINEAR, DENOISE_FULL_GAIN,
                                                 GREEN_FOR_LUMA,
                                                 HIGHLIGHT_KNEE, HIGHLIGHT_KNEE_SRGB, INPUT_NOISE, LUMA_WEIGHTS,
                                                 NEIGHBOURHOOD, RECORDED_WHITE_FROM, REC601, TO_LUMA_CHROMA,
                                                 highlight_curve)

#: Where the sRGB decoding leaves its linear toe, in sRGB units, and where the encoding does, in linear light.
DECODE_KNEE, ENCODE_KNEE = 0.04045, 0.0031308
_LUMA_ROW = np.array([LUMA_WEIGHTS], np.float32)
_REC601_ROWS = np.array([REC601] * 3, np.float32)
_TO_LUMA_CHROMA = np.array(TO_LUMA_CHROMA, np.float32)


def _scalar(value: float) -> Any:
    """``value`` as an OpenCV Scalar for an arithmetic function's second operand.

    OpenCV takes a Scalar there; the stubs of OpenCV 4 list only arrays (those of 5 list both).
    """
    return (value,) * 4


def _at_least(x: np.ndarray, value: float) -> np.ndarray:
    """Elementwise ``max(x, value)`` (OpenCV's is several times faster than ``np.maximum``)."""
    return cv2.max(x, _scalar(value))


def _at_most(x: np.ndarray, value: float, dst: np.ndarray | None = None) -> np.ndarray:
    """Elementwise ``min(x, value)``, into ``dst`` if given."""
    return cv2.min(x, _scalar(value), dst)


def _exp_affine(x: np.ndarray, scale: float, offset: float) -> np.ndarray:
    """``exp(scale * log(x) + offset)`` in place in ``x`` (positive float32) and returned."""
    cv2.log(x, x)
    cv2.addWeighted(x, scale, x, 0.0, offset, x)
    return cv2.exp(x, x)


def _decode_curve(x: np.ndarray) -> np.ndarray:
    """``((x + 0.055) / 1.055) ** 2.4`` of positive ``x`` in place."""
    cv2.addWeighted(x, 1 / 1.055, x, 0.0, 0.055 / 1.055, x)
    return _exp_affine(x, 2.4, 0.0)


def _encode_curve(x: np.ndarray) -> np.ndarray:
    """``1.055 * x ** (1 / 2.4)`` of positive ``x`` in place (the sRGB curve less its 0.055 offset)."""
    return _exp_affine(x, 1 / 2.4, float(np.log(1.055)))


_DECODE_AT_KNEE = float(_decode_curve(np.full((1, 64), DECODE_KNEE, np.float32))[0, 0])
_ENCODE_AT_KNEE = float(_encode_curve(np.full((1, 64), ENCODE_KNEE, np.float32))[0, 0])


def srgb_to_linear_cv(srgb: np.ndarray) -> np.ndarray:
    """:func:`~enhance_core.learned.lowlight_ops.srgb_to_linear_t` of float32 ``srgb``; a new array."""
    curve = _decode_curve(_at_least(srgb, DECODE_KNEE))
    curve -= np.float32(_DECODE_AT_KNEE)  # exactly 0 on the toe, so that black keeps its exact value
    return cv2.scaleAdd(_at_most(srgb, DECODE_KNEE), 1 / 12.92, curve, curve)


def linear_to_srgb_cv(linear: np.ndarray) -> np.ndarray:
    """:func:`~enhance_core.learned.lowlight_ops.linear_to_srgb_t` (clipped to [0, 1]) of float32 ``linear``."""
    clipped = np.clip(linear, np.float32(0.0), np.float32(1.0))
    curve = _encode_curve(_at_least(clipped, ENCODE_KNEE))
    curve -= np.float32(_ENCODE_AT_KNEE)
    return cv2.scaleAdd(_at_most(clipped, ENCODE_KNEE, clipped), 12.92, curve, curve)


def keep_highlights_cv(linear: np.ndarray, gained: np.ndarray, white: float,
                       kernel: np.ndarray | None = None) -> np.ndarray:
    """:func:`~enhance_core.learned.lowlight_color.keep_highlights_t` of (rows, cols, 3) arrays, in ``gained``."""
    if white <= 1.0:
        return gained
    brightest = _at_least(brightest_channel(gained), HIGHLIGHT_KNEE)
    factor = highlight_curve(brightest, white) / brightest
    if kernel is not None:
        local = cv2.exp(cv2.sepFilter2D(cv2.log(brightest), -1, kernel, kernel, borderType=cv2.BORDER_REPLICATE))
        local = _at_least(local, HIGHLIGHT_KNEE)
        factor = cv2.min(factor, highlight_curve(local, white) / local)
    to_white = cv2.max(factor, _at_most(np.float32(1.0) / brightest, 1.0))
    recorded = np.clip((brightest_channel(linear) - np.float32(RECORDED_WHITE_FROM))
                       * np.float32(1.0 / (CLIPPED_LINEAR - RECORDED_WHITE_FROM)), 0.0, 1.0)
    factor += (to_white - factor) * recorded
    return cv2.multiply(gained, cv2.merge([factor, factor, factor]), dst=gained)


def hold_highlights_cv(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """:func:`~enhance_core.learned.lowlight_color.hold_highlights_t` of (rows, cols, 3) arrays, in ``after``."""
    top_before, top_after = brightest_channel(before), brightest_channel(after)
    weight = np.clip((top_before - np.float32(HIGHLIGHT_KNEE_SRGB)) * np.float32(1.0 / (1.0 - HIGHLIGHT_KNEE_SRGB)),
                     0.0, 1.0)
    allowed = top_before + (1.0 - weight) * _at_least(top_after - top_before, 0.0)
    factor = _at_most(allowed / _at_least(top_after, 1e-6), 1.0)
    return cv2.multiply(after, cv2.merge([factor, factor, factor]), dst=after)


def brightest_channel(image: np.ndarray) -> np.ndarray:
    """The largest of the three channels of ``image`` (rows, cols, 3 or more), per pixel."""
    return cv2.max(cv2.max(cv2.extractChannel(image, 0), cv2.extractChannel(image, 1)), cv2.extractChannel(image, 2))


def brighten_linear_cv(linear: np.ndarray, log_gain: np.ndarray, wb: np.ndarray, *,
                       white: float = 1.0, kernel: np.ndarray | None = None) -> np.ndarray:
    """:func:`~enhance_core.learned.lowlight_ops.brighten_linear_t`: ``linear`` times ``2 ** (log_gain + wb)`` as sRGB.

    ``linear`` is (rows, cols, 3), ``log_gain`` (rows, cols) and ``wb`` (3,)
    per-channel log2 gains; ``white`` above 1 bends the highlights instead of clipping them, by the factor
    of their local brightness under ``kernel`` when given.
    """
    gain = cv2.exp(log_gain * np.float32(np.log(2.0)))
    gained = cv2.multiply(linear, cv2.merge([gain, gain, gain]))
    gained = cv2.transform(gained, np.diag(np.exp2(np.float64(wb))), gained)
    return linear_to_srgb_cv(keep_highlights_cv(linear, gained, white, kernel))


def half_size(image: np.ndarray) -> np.ndarray:
    """Mean of each 2x2 block of ``image`` (rows, cols[, C]; both even)."""
    return cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)


def double_size(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` interpolated bilinearly to ``size`` (rows, cols), as ``F.interpolate(..., align_corners=False)``."""
    return cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)


def box_mean(image: np.ndarray, radius: int) -> np.ndarray:
    """:func:`~enhance_core.learned.lowlight_color.box_mean_t`: mean over the ``2 * radius + 1`` square."""
    side = 2 * radius + 1
    return cv2.boxFilter(image, -1, (side, side), normalize=True, borderType=cv2.BORDER_REPLICATE)


def _srgb_slope(linear: np.ndarray) -> np.ndarray:
    """:func:`~enhance_core.learned.lowlight_color.srgb_slope_t` of a small float32 array."""
    linear = np.clip(linear, np.float32(0.0), np.float32(1.0))
    curve = np.float32(1.055 / 2.4) * np.maximum(linear, np.float32(ENCODE_KNEE)) ** np.float32(1 / 2.4 - 1)
    return np.where(linear <= np.float32(ENCODE_KNEE), np.float32(12.92), curve)


def gained_noise_cv(half_linear: np.ndarray, half_log_gain: np.ndarray,
                    input_noise: float = INPUT_NOISE) -> np.ndarray:
    """:func:`~enhance_core.learned.lowlight_color.gained_noise_t` at half resolution.

    ``half_linear`` is :func:`half_size` of the linear input (rows/2, cols/2, 3)
    and ``half_log_gain`` the log2 gain at every other pixel (rows/2, cols/2).
    """
    luma = cv2.transform(half_linear, _LUMA_ROW)
    gain = np.exp2(half_log_gain, dtype=np.float32)
    return np.float32(input_noise) * gain * _srgb_slope(luma * gain) / _srgb_slope(luma)


def reduce_chroma_noise_cv(srgb: np.ndarray, noise: np.ndarray, radius: int = CHROMA_RADIUS) -> np.ndarray:
    """:func:`~enhance_core.learned.lowlight_color.reduce_chroma_noise_t` of ``srgb`` (rows, cols, 3); a new array.

    ``noise`` (rows/2, cols/2) is :func:`gained_noise_cv`.
    """
    guide, red, blue = cv2.split(cv2.transform(half_size(srgb), _TO_LUMA_CHROMA))
    variance = noise * noise
    means = cv2.split(box_mean(cv2.merge([guide, red, blue, guide * guide, guide * red, guide * blue, variance]),
                               radius))
    mean_guide, mean_red, mean_blue = means[:3]
    denominator = means[3] - mean_guide * mean_guide + means[6] + np.float32(1e-8)
    slope_red = (means[4] - mean_guide * mean_red) / denominator
    slope_blue = (means[5] - mean_guide * mean_blue) / denominator
    fit = cv2.split(box_mean(cv2.merge([slope_red, slope_blue, mean_red - slope_red * mean_guide,
                                        mean_blue - slope_blue * mean_guide]), radius))
    detail_red = red - (fit[0] * guide + fit[2])
    detail_blue = blue - (fit[1] * guide + fit[3])
    power = box_mean((detail_red * detail_red + detail_blue * detail_blue) * np.float32(0.5), 1)
    drop = np.minimum(variance / (power + np.float32(1e-12)), np.float32(1.0))
    change_red, change_blue = -drop * detail_red, -drop * detail_blue
    change_green = cv2.addWeighted(change_red, GREEN_FOR_LUMA[0], change_blue, GREEN_FOR_LUMA[1], 0.0)
    return srgb + double_size(cv2.merge([change_red, change_green, change_blue]), srgb.shape[:2])


def near_black_keep_cv(half_linear: np.ndarray, size: tuple[int, int],
                       floor: float = BLACK_FLOOR) -> np.ndarray:
    """:func:`~enhance_core.learned.lowlight_color.near_black_keep_t`: the share of chroma to trust.

    ``half_linear`` is :func:`half_size` of the linear input; the result is (rows, cols) = ``size``.
    """
    red, green, blue = cv2.split(box_mean(half_linear, NEIGHBOURHOOD // 4))
    level: np.ndarray = cv2.max(cv2.max(red, green), blue)
    level *= level
    return double_size(level / (level + np.float32(floor * floor)), size)


def neutralize_near_black_cv(srgb: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """:func:`~enhance_core.learned.lowlight_color.neutralize_near_black_t`: luma's grey plus ``keep`` of the chroma."""
    luma = cv2.transform(srgb, _REC601_ROWS)
    chroma = cv2.subtract(srgb, luma)
    chroma = cv2.multiply(chroma, cv2.merge([keep, keep, keep]))
    return cv2.add(chroma, luma, dst=chroma)


def enhance_tile(pixels: np.ndarray, wb: np.ndarray, amount: float,
                 denoise: Callable[[np.ndarray], np.ndarray], *, white: float = 1.0,
                 kernel: np.ndarray | None = None) -> np.ndarray:
    """The filter on one tile: ``pixels`` (rows, cols, 4) is sRGB plus the log2 gain, rows and cols even.

    ``wb`` (3,) are the white-balance log2 gains, ``amount`` the share of the
    denoiser's correction kept (less where the gain is under ``DENOISE_FULL_GAIN``),
    ``denoise`` maps the brightened tile (rows, cols, 3) to the denoiser's output, and ``white`` is the highlight
    shoulder's white point (``kernel``: its local brightness). Returns float32 (rows, cols, 3)
    in [0, 1]: the steps of ``brighten_tile`` in
    :func:`enhance_core.learned.lowlight_ops.enhance_with_model`.
    """
    srgb = cv2.cvtColor(pixels, cv2.COLOR_BGRA2BGR)
    log_gain = cv2.extractChannel(pixels, 3)
    linear = srgb_to_linear_cv(srgb)
    bright = brighten_linear_cv(linear, log_gain, wb, white=white, kernel=kernel)
    half = half_size(linear)
    if amount > 0:
        denoised = reduce_chroma_noise_cv(denoise(bright), gained_noise_cv(half, log_gain[::2, ::2]))
        if white > 1.0:
            denoised = hold_highlights_cv(bright, denoised)
        kept = np.clip(log_gain, 0.0, DENOISE_FULL_GAIN) * np.float32(amount / DENOISE_FULL_GAIN)
        denoised -= bright
        denoised *= kept[..., None]
        bright += denoised
    out = neutralize_near_black_cv(bright, near_black_keep_cv(half, bright.shape[:2]))
    return np.clip(out, np.float32(0.0), np.float32(1.0), out=out)
