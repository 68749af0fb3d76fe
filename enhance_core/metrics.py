"""Image quality: MSE, PSNR, SSIM against a reference, how much an edit changed an image, and
no-reference indicators (noise level, sharpness, clipped shadows and highlights).

Conventions (the same as scikit-image's ``skimage.metrics`` where both exist):

* Arguments are ``(result, reference)`` arrays of equal shape and dtype,
  (rows, cols) or (rows, cols, C); the pixel contract's float32 [0, 1] values
  go with the default ``data_range=1.0``. Integer arrays need
  ``data_range=255`` (8 bit) or ``65535`` (16 bit).
* PSNR of identical images is ``inf``.
* SSIM uses a Gaussian window (sigma 1.5, truncated at 3.5 sigma: 11 x 11),
  population covariances and K1 = 0.01, K2 = 0.03, averaged over the image
  without a 5-pixel border, exactly as ``skimage.metrics.structural_similarity(
  ..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``.
  Color: ``channels="per_channel"`` (default) computes SSIM per channel and
  averages, like skimage with ``channel_axis=-1``; ``channels="luminance"``
  compares the Rec. 709 luma ``0.2126 R + 0.7152 G + 0.0722 B`` of the stored
  (gamma-encoded) values.

Without a reference, :func:`describe_without_reference` gives the noise level
(Immerkær's estimator, :func:`estimate_noise`), the sharpness (variance of the
Laplacian, :func:`estimate_sharpness`), both on Rec. 709 luma of a central
crop, and the shares of clipped shadows and highlights (:func:`clipped_shares`).

SSIM filters with OpenCV's separable Gaussian blur in float32, so a 2 MP
preview scores in tens of milliseconds (``benchmarks/bench_metrics.py``);
it agrees with scikit-image to 1e-4.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

from enhance_core.geometry import affine_scale, compose_affines, invert_affine, map_points, scale_affine, warp_image
from enhance_core.image import HIDDEN_ALPHA

LUMA_WEIGHTS = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
"""Rec. 709 luma weights for R, G, B."""

SSIM_SIGMA = 1.5
SSIM_WINDOW = 11
_SSIM_CROP = (SSIM_WINDOW - 1) // 2
_K1, _K2 = 0.01, 0.03
_SSIM_CHANNELS = ("per_channel", "luminance")
CLIP_TOLERANCE = 0.5 / 255.0
"""A value this close to 0 or 1 counts as clipped (half an 8-bit step)."""
CROP_SIDE = 768
"""Side of the central crop noise and sharpness are measured on."""
SAMPLE_STRIDE_PIXELS = 500_000
"""About how many pixels the clipped shares sample."""
_OPENCV_DTYPES = tuple(np.dtype(name) for name in ("uint8", "int8", "uint16", "int16", "int32", "float32", "float64"))


def compute_luma(pixels: np.ndarray) -> np.ndarray:
    """Return Rec. 709 luma (rows, cols) of RGB pixels (rows, cols, 3); gray (rows, cols[, 1]) is returned as is.

    Parameters
    ----------
    pixels : ndarray
        (rows, cols), (rows, cols, 1) or (rows, cols, 3) values.
    """
    if pixels.ndim == 2:
        return pixels
    if pixels.shape[2] == 1:
        return pixels[:, :, 0]
    if pixels.shape[2] != 3:
        raise ValueError(f"luma needs 1 or 3 channels, got an array of shape {pixels.shape}")
    return pixels.astype(np.float32, copy=False) @ LUMA_WEIGHTS


def comparable(pixels: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pair as arrays of one shape: luma of both when one is gray and the other color.

    A color image whose three channels are equal (a gray picture saved as RGB) gives its one
    channel itself, so a gray image and its RGB copy compare as identical, not through luma's rounding.
    """
    if pixels.shape[2] == reference.shape[2]:
        return pixels, reference
    return _gray(pixels), _gray(reference)


def _gray(pixels: np.ndarray) -> np.ndarray:
    """(rows, cols, 1): the one channel of gray pixels or of color pixels with equal channels, else luma."""
    if pixels.shape[2] == 1:
        return pixels
    if np.array_equal(pixels[:, :, 0], pixels[:, :, 1]) and np.array_equal(pixels[:, :, 1], pixels[:, :, 2]):
        return pixels[:, :, :1]
    return compute_luma(pixels)[:, :, None]


def _check_pair(result: np.ndarray, reference: np.ndarray) -> None:
    """Raise ValueError unless both arrays have one shape and one dtype."""
    if result.shape != reference.shape:
        raise ValueError(
            f"result and reference must have the same shape, got result {result.shape} "
            f"and reference {reference.shape}; resize or crop one to match the other"
        )
    if result.dtype != reference.dtype:
        raise ValueError(
            f"result and reference must have the same dtype, got result {result.dtype} and reference {reference.dtype} "
            f"(shapes {result.shape}); convert both to the pixel contract's float32 first"
        )


def mean_squared_error(result: np.ndarray, reference: np.ndarray) -> float:
    """Return the mean of the squared differences over all pixels and channels.

    Parameters
    ----------
    result, reference : ndarray
        Arrays of one shape and dtype.
    """
    _check_pair(result, reference)
    if result.size == 0:
        raise ValueError("result and reference are empty; MSE needs at least one pixel")
    if result.dtype in _OPENCV_DTYPES:
        first, second = np.ascontiguousarray(result), np.ascontiguousarray(reference)
        return float(cv2.norm(first, second, cv2.NORM_L2SQR) / result.size)
    difference = result.astype(np.float64) - reference.astype(np.float64)
    return float(np.mean(np.square(difference)))


def peak_signal_noise_ratio(result: np.ndarray, reference: np.ndarray, *, data_range: float = 1.0) -> float:
    """Return PSNR in dB: ``10 log10(data_range**2 / MSE)``; ``inf`` for identical images.

    Parameters
    ----------
    result, reference : ndarray
        Arrays of one shape and dtype.
    data_range : float
        Distance between the smallest and largest possible value (1.0 for contract pixels).
    """
    if data_range <= 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    error = mean_squared_error(result, reference)
    if error == 0.0:
        return float("inf")
    return float(10.0 * np.log10(data_range**2 / error))


def _gaussian(values: np.ndarray) -> np.ndarray:
    """Blur (rows, cols[, C]) float32 values with the SSIM window."""
    return cv2.GaussianBlur(values, (SSIM_WINDOW, SSIM_WINDOW), SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)


def _ssim_planes(first: np.ndarray, second: np.ndarray, data_range: float,
                 visible: np.ndarray | None = None) -> np.ndarray:
    """Return the mean SSIM per channel of two float32 (rows, cols[, C]) arrays (C <= 4 for OpenCV), over the
    ``visible`` pixels (bool (rows, cols)) when given and some lie inside the border.

    Works in place on the blurred statistics to keep a 2 MP preview to a few
    passes over memory; only the region without the 5-pixel border is computed.
    """
    c1, c2 = (_K1 * data_range) ** 2, (_K2 * data_range) ** 2
    crop = (slice(_SSIM_CROP, -_SSIM_CROP), slice(_SSIM_CROP, -_SSIM_CROP))
    # variances from values centred per channel: float32's E[x^2] - E[x]^2 cancels on a high baseline
    offset = np.mean(second, axis=(0, 1), dtype=np.float64)
    offset = np.where(np.isfinite(offset), offset, 0.0).astype(np.float32)  # a NaN a mask hides stays hidden
    first, second = first - offset, second - offset
    squares = np.multiply(first, first)
    squares += np.multiply(second, second)
    sum_squares = _gaussian(squares)[crop]
    cross = _gaussian(np.multiply(first, second))[crop]
    mean_x, mean_y = _gaussian(first)[crop], _gaussian(second)[crop]
    cross -= mean_x * mean_y
    cross *= 2
    cross += c2
    sum_squares -= np.multiply(mean_x, mean_x)
    sum_squares -= np.multiply(mean_y, mean_y)
    sum_squares += c2
    mean_x += offset
    mean_y += offset
    mean_xy = mean_x * mean_y
    mean_xy *= 2
    mean_xy += c1
    numerator = np.multiply(mean_xy, cross, out=mean_xy)
    mean_squares = np.multiply(mean_x, mean_x, out=mean_x)
    mean_squares += np.multiply(mean_y, mean_y, out=mean_y)
    mean_squares += c1
    denominator = np.multiply(mean_squares, sum_squares, out=mean_squares)
    ssim_map = np.divide(numerator, denominator, out=numerator)
    np.minimum(ssim_map, 1.0, out=ssim_map)  # at most 1 in exact arithmetic; float32 cancellation on flat areas
    channels = 1 if ssim_map.ndim == 2 else ssim_map.shape[2]
    inside = None if visible is None else visible[crop].astype(np.uint8)
    if inside is not None and not inside.any():
        inside = None
    return np.array(cv2.mean(ssim_map, mask=inside)[:channels], dtype=np.float64)


def structural_similarity(
    result: np.ndarray, reference: np.ndarray, *, data_range: float = 1.0, channels: str = "per_channel",
    visible: np.ndarray | None = None,
) -> float:
    """Return the mean structural similarity (SSIM) of ``result`` to ``reference``.

    Parameters
    ----------
    result, reference : ndarray
        Arrays of one shape and dtype, (rows, cols) or (rows, cols, C), at least 11 x 11 pixels.
    data_range : float
        Distance between the smallest and largest possible value (1.0 for contract pixels).
    channels : {"per_channel", "luminance"}
        Average SSIM over channels, or compare Rec. 709 luma only (see the module notes).
    visible : ndarray, optional
        Bool (rows, cols): average the SSIM map over these pixels only (all when none of them lies
        inside the 5-pixel border).
    """
    _check_pair(result, reference)
    if channels not in _SSIM_CHANNELS:
        raise ValueError(f"channels must be one of {_SSIM_CHANNELS}, got {channels!r}")
    if data_range <= 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    if min(result.shape[:2]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got shape {result.shape}")
    first = np.asarray(result, dtype=np.float32)
    second = np.asarray(reference, dtype=np.float32)
    if channels == "luminance" and first.ndim == 3:
        first, second = compute_luma(first), compute_luma(second)
    if first.ndim == 3 and first.shape[2] == 1:
        first, second = first[:, :, 0], second[:, :, 0]
    if first.ndim == 3 and first.shape[2] > 4:
        scores = np.concatenate([_ssim_planes(first[:, :, c], second[:, :, c], data_range, visible)
                                 for c in range(first.shape[2])])
    else:
        scores = _ssim_planes(first, second, data_range, visible)
    return float(scores.mean())


def visible_in(*alphas: np.ndarray | None) -> np.ndarray | None:
    """Bool (rows, cols): the pixels no one of ``alphas`` (transparencies, None for an opaque picture) hides
    (alpha above :data:`~enhance_core.image.HIDDEN_ALPHA`); None when every pixel shows in all."""
    visible = None
    for alpha in alphas:
        if alpha is not None:
            shown = alpha > HIDDEN_ALPHA
            visible = shown if visible is None else visible & shown
    return None if visible is None or visible.all() else visible


def transparency_differs(first: np.ndarray | None, second: np.ndarray | None) -> str:
    """What to say of two pictures whose transparencies (``first``, ``second``: alpha (rows, cols) of one size,
    None for an opaque picture) show different pixels: the share shown in one and hidden in the other, which
    the scores leave out (:func:`visible_in`); "" when they show the same pixels."""
    if first is None or second is None:
        alpha = first if second is None else second
        if alpha is None:
            return ""
        shown, other = alpha > HIDDEN_ALPHA, np.ones(alpha.shape, np.bool_)
    else:
        shown, other = first > HIDDEN_ALPHA, second > HIDDEN_ALPHA
    differs = int(np.count_nonzero(shown != other))
    if differs == 0:
        return ""
    counted = ("the pixels both show" if np.any(np.logical_and(shown, other))
               else "every pixel's colour, hidden or not, as no pixel shows in both")
    return (f"their transparency differs: {differs / shown.size:.1%} of the pixels show in one and are hidden in "
            f"the other; the scores count {counted}")


def compare_images(result: np.ndarray, reference: np.ndarray, *, data_range: float = 1.0,
                   visible: np.ndarray | None = None) -> dict[str, float]:
    """Return ``{"mse", "psnr", "ssim"}`` of ``result`` against ``reference`` (SSIM per channel).

    This is what the reference layer and ``enhance-studio metrics`` report. SSIM
    is NaN for pictures under :data:`SSIM_WINDOW` pixels on a side (its window
    does not fit). With ``visible`` (bool (rows, cols), :func:`visible_in`),
    only those pixels count: the colour under a transparent pixel is never
    seen, and files differ in what they keep there (a writer may store black,
    or the nearest colour); when none is visible, every pixel counts.
    """
    if visible is not None and visible.any() and not visible.all():
        shown = visible if result.ndim == 2 else visible[:, :, None]
        result = np.where(shown, result, reference)  # hidden colours alike: no error, no SSIM window sees them
        error = mean_squared_error(result, reference) * (visible.size / int(np.count_nonzero(visible)))
    else:
        visible = None
        error = mean_squared_error(result, reference)
    psnr = float("inf") if error == 0 else float(10.0 * np.log10(data_range**2 / error))
    small = min(np.shape(result)[:2]) < SSIM_WINDOW
    return {
        "mse": error,
        "psnr": psnr,
        "ssim": math.nan if small else structural_similarity(result, reference, data_range=data_range,
                                                             visible=visible),
    }


def _moves_pixels(affine: Any, source_shape: tuple[int, int], result_shape: tuple[int, int]) -> bool:
    """Whether ``affine`` (source to result) does more than scale the source's frame onto the result's.

    True when a corner of the source lands over half a result pixel away from
    where plain scaling (of ``source_shape`` onto ``result_shape``) puts it.
    """
    rows, cols = source_shape
    corners = np.array([[0.0, 0.0], [cols, 0.0], [0.0, rows], [cols, rows]])
    scaled = map_points(scale_affine(result_shape[1] / cols, result_shape[0] / rows), corners)
    return bool(np.abs(map_points(affine, corners) - scaled).max() > 0.5)


FIT_SIDE = 256
"""Longer side (px) of the reduced copies :func:`reference_is_moved` compares."""
MOVED_NOTE = ("the reference is already flipped, turned or straightened as the result is (it fits the result clearly "
              "better than the original): it is compared as it is, not moved with the stack")
MOVED_MARGIN = 0.9
"""A reference is taken as already moved when the moved source leaves less than this share of the mismatch (one
minus the correlation) that the source as it is leaves. On 92 pairs of real noisy, synthetic noisy and dark photos
against their clean reference, it told every flip and turn, missed 1 straighten of 1° and none of 5°; at 0.2°, where
the two differ by under a reduced pixel, it took 1 original for moved and missed 18 (plain "fits better": 48 and
0; a share of 0.5 missed 6 flips)."""


def _fit_plane(pixels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The luma of ``pixels`` (the one channel of a gray picture), reduced to ``shape`` (rows, cols) as float32:
    sampled at every few pixels first, so a 24 MP picture costs milliseconds."""
    step = max(1, min(pixels.shape[0] // (4 * shape[0]), pixels.shape[1] // (4 * shape[1])))
    sampled = np.asarray(pixels[::step, ::step], dtype=np.float32)
    plane = (compute_luma(sampled[:, :, :3]) if sampled.ndim == 3 and sampled.shape[2] >= 3
             else sampled if sampled.ndim == 2 else sampled[:, :, 0])
    return cv2.resize(np.ascontiguousarray(plane), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def _correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Pearson correlation of two equal-shape arrays (0 when either is flat)."""
    a, b = first - first.mean(), second - second.mean()
    scale = math.sqrt(float(np.sum(a * a)) * float(np.sum(b * b)))
    return float(np.sum(a * b)) / scale if scale > 0 else 0.0


def reference_is_moved(reference: np.ndarray, source: np.ndarray, affine: Any,
                       output_shape: tuple[int, int]) -> bool:
    """Whether a reference whose size is both the source's and the output's is the output's own ground truth.

    A flip, a half turn, a square's quarter turn or a straighten without
    crop keep the picture's size, so such a reference may be of the
    original (an earlier version: it follows the stack's geometry) or
    already moved as the result is. It is taken as moved when it
    correlates with the source moved by ``affine`` (source to output at
    full resolution) clearly better than with the source as it is
    (:data:`MOVED_MARGIN`), on lumas reduced to :data:`FIT_SIDE`; the
    source's tones are compared, not the edit's, so the answer does not
    change as filters do. False when the sizes or the geometry leave no doubt.
    """
    rows, cols = source.shape[:2]
    output = (int(output_shape[0]), int(output_shape[1]))
    if (affine is None or tuple(reference.shape[:2]) != (rows, cols) or output != (rows, cols)
            or not _moves_pixels(affine, (rows, cols), output)):
        return False
    factor = min(1.0, FIT_SIDE / max(rows, cols))
    small = (max(1, round(rows * factor)), max(1, round(cols * factor)))
    shrink = scale_affine(small[1] / cols, small[0] / rows)
    local = compose_affines(compose_affines(invert_affine(shrink), affine), shrink)
    ref, src = _fit_plane(reference, small), _fit_plane(source, small)
    moved = warp_image(src[:, :, None], local, small)[:, :, 0]
    return 1.0 - _correlation(ref, moved) < MOVED_MARGIN * (1.0 - _correlation(ref, src))


def reference_for_result(reference: np.ndarray, *, result_shape: tuple[int, int], source_shape: tuple[int, int],
                         output_shape: tuple[int, int] | None = None, affine: Any = None,
                         moved: bool = False) -> np.ndarray:
    """The reference to compare a result with, following the stack's geometry (crop, rotate, resize...).

    * A reference of the source's size, when the stack changes the geometry
      (``affine`` given: from the source's full-resolution continuous pixel
      coordinates to the result, :func:`enhance_core.stack_geometry.output_affine`
      at the result's scale), is warped through that affine to the result
      (Lanczos when enlarging, area averaging when shrinking). This includes
      a reference whose size is both the source's and the output's (a flip,
      a half turn, a straighten or deskew without auto-crop) when the affine
      moves pixels (a corner lands over half a result pixel away from where
      plain scaling puts it): a reference is loaded for the original, so it
      is taken as aligned with the source, unless ``moved``
      (:func:`reference_is_moved`: it is already moved as the
      output is).
    * Otherwise a reference of the final output's full-resolution size
      (``output_shape``, default ``result_shape``) is the result's own ground
      truth: returned as is, or resized to ``result_shape`` for a preview
      (area averaging).
    * Otherwise :class:`ValueError` says why the metrics cannot be computed,
      naming the sizes.

    Parameters
    ----------
    reference : ndarray
        float32 (rows, cols) or (rows, cols, C).
    result_shape, source_shape, output_shape : (rows, cols)
        The compared result, the source at full resolution, the final output at full resolution.
    affine : 2x3 affine, optional
        None when the stack keeps the source's geometry.
    moved : bool
        A reference of both the source's and the output's size is the output's own ground truth.
    """
    rows, cols = (int(v) for v in result_shape[:2])
    final = (rows, cols) if output_shape is None else (int(output_shape[0]), int(output_shape[1]))
    have = tuple(reference.shape[:2])
    planes = reference if reference.ndim == 3 else reference[:, :, None]
    source = (int(source_shape[0]), int(source_shape[1]))
    from_source = affine is not None and have == source and not (moved and have == final)
    if have == final and not (from_source and _moves_pixels(affine, source, (rows, cols))):
        if have == (rows, cols):
            return reference
        factor = affine_scale(scale_affine(cols / have[1], rows / have[0]))
        resized = cv2.resize(np.ascontiguousarray(planes, dtype=np.float32), (cols, rows),
                             interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LANCZOS4)
        return resized.reshape((rows, cols) + reference.shape[2:])
    if from_source:
        warped = warp_image(np.ascontiguousarray(planes, dtype=np.float32), affine, (rows, cols))
        return warped.reshape((rows, cols) + reference.shape[2:])
    sizes = f"the reference is {have[1]}x{have[0]}, the result {final[1]}x{final[0]}"
    if affine is not None:
        raise ValueError(f"{sizes} and the source {source_shape[1]}x{source_shape[0]}: metrics need a reference "
                         "of the result's size, or of the source's size to follow the stack's crop, rotation "
                         "and resizing")
    raise ValueError(f"{sizes}: metrics need a reference of the result's size")


def change_from_original(
    result: np.ndarray, original: np.ndarray, *, data_range: float = 1.0, threshold: float = 0.5 / 255
) -> dict[str, float]:
    """Describe how much an edit changed an image.

    Parameters
    ----------
    result, original : ndarray
        The edited and the unedited pixels, one shape and dtype.
    data_range : float
        Value range (1.0 for contract pixels).
    threshold : float
        A pixel counts as changed when any channel moved by more than this
        (default: half an 8-bit step, so a change visible in an 8-bit export).

    Returns
    -------
    dict
        ``psnr`` and ``ssim`` against the original (``inf`` and 1.0 when untouched),
        ``changed_fraction`` (share of pixels changed, 0..1), ``mean_abs_change``
        and ``max_abs_change`` (in the units of ``data_range``).
    """
    scores = compare_images(result, original, data_range=data_range)
    difference = np.abs(result.astype(np.float32) - original.astype(np.float32))
    per_pixel = difference if difference.ndim == 2 else difference.max(axis=2)
    return {
        "psnr": scores["psnr"],
        "ssim": scores["ssim"],
        "changed_fraction": float(np.count_nonzero(per_pixel > threshold) / per_pixel.size),
        "mean_abs_change": float(difference.mean(dtype=np.float64)),
        "max_abs_change": float(difference.max(initial=0.0)),
    }


def estimate_noise(pixels: np.ndarray, visible: np.ndarray | None = None) -> float:
    """Standard deviation of Gaussian noise in ``pixels`` (normalized units), Immerkær's method on luma.

    J. Immerkær, "Fast Noise Variance Estimation", CVIU 64(2), 1996: the image is
    filtered with a kernel that cancels smooth structure (the difference of two
    Laplacians) and the mean absolute response gives sigma. With ``visible``
    (a boolean mask, false where the image is transparent) only pixels whose
    3 x 3 neighbourhood is all visible count.
    """
    luma = compute_luma(pixels).astype(np.float32)
    rows, cols = luma.shape[:2]
    if rows < 3 or cols < 3:
        return 0.0
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = np.abs(cv2.filter2D(luma, cv2.CV_32F, kernel)[1:-1, 1:-1])
    counted = _inner(visible)
    if counted is not None:
        response = response[counted]
    if response.size == 0:
        return 0.0
    return float(math.sqrt(math.pi / 2.0) * response.mean(dtype=np.float64) / 6.0)


def estimate_sharpness(pixels: np.ndarray, visible: np.ndarray | None = None) -> float:
    """Variance of the Laplacian of luma (higher is sharper; compare like with like); with ``visible``, over the
    pixels whose 3 x 3 neighbourhood is all visible."""
    luma = compute_luma(pixels).astype(np.float32)
    laplacian = cv2.Laplacian(luma, cv2.CV_32F)
    if visible is not None and min(luma.shape[:2]) >= 3:
        counted = _inner(visible)
        laplacian = laplacian[1:-1, 1:-1][counted] if counted is not None else laplacian
    return float(laplacian.var(dtype=np.float64)) if laplacian.size else 0.0


def _inner(visible: np.ndarray | None) -> np.ndarray | None:
    """The visible pixels whose 3 x 3 neighbourhood is all visible, without the border row and column (the
    pixels a 3 x 3 filter's valid response covers); None when everything is visible."""
    if visible is None or bool(visible.all()):
        return None
    return cv2.erode(visible.astype(np.uint8), np.ones((3, 3), np.uint8))[1:-1, 1:-1].astype(bool)


def clipped_shares(pixels: np.ndarray, visible: np.ndarray | None = None) -> tuple[float, float]:
    """Share of pixels (0..1) with every channel at black, and with any channel at white; with ``visible``, of
    the visible pixels only (a transparent part holds colours nobody sees)."""
    low = np.all(pixels <= CLIP_TOLERANCE, axis=2)
    high = np.any(pixels >= 1.0 - CLIP_TOLERANCE, axis=2)
    if visible is not None:
        low, high = low[visible], high[visible]
    count = float(max(low.size, 1))
    return float(np.count_nonzero(low) / count), float(np.count_nonzero(high) / count)


def central_crop(pixels: np.ndarray, side: int = CROP_SIDE) -> np.ndarray:
    """The central ``side`` x ``side`` pixels (or all of a smaller image)."""
    rows, cols = pixels.shape[:2]
    top, left = max(0, (rows - side) // 2), max(0, (cols - side) // 2)
    return pixels[top:top + side, left:left + side]


def describe_without_reference(pixels: np.ndarray, alpha: np.ndarray | None = None) -> dict[str, float]:
    """No-reference indicators of one image: noise, sharpness, shadows and highlights shares.

    Noise and sharpness are local statistics, measured on the central crop (same pixels for
    result and original, so they compare); the clipped shares on a regular sample of the whole image.
    With ``alpha`` (the image's transparency, its shape) only the pixels at least half opaque count.
    """
    visible = None if alpha is None else alpha >= 0.5
    stride = max(1, int(np.ceil(np.sqrt(pixels.shape[0] * pixels.shape[1] / SAMPLE_STRIDE_PIXELS))))
    shadows, highlights = clipped_shares(pixels[::stride, ::stride],
                                         None if visible is None else visible[::stride, ::stride])
    crop, seen = central_crop(pixels), None if visible is None else central_crop(visible)
    return {"noise": estimate_noise(crop, seen), "sharpness": estimate_sharpness(crop, seen),
            "shadows": shadows, "highlights": highlights}
