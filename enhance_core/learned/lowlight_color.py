"""Colour handling of the low-light filter around black and at white.

A dark photograph's channels disagree near black for reasons that have
nothing to do with the scene: each channel's black level sits a level or
two apart, noise is clipped at zero more in one channel than another, and
8-bit quantization leaves one or two levels to describe the colour. At the
input this is invisible; a gain of several stops turns it into an olive or
magenta veil over what should be black.

:func:`reduce_chroma_noise_t` removes the chroma noise that the gain made
visible after the denoiser, by as much as :func:`gained_noise_t` expects
there. :func:`near_black_keep_t` measures, per pixel of the input, how far
its neighbourhood lies above the black floor, and so how much of its chroma
can be trusted; :func:`neutralize_near_black_t` scales the output's chroma
by it. Applied last, this also takes out what the other steps would put
into the black: the denoiser, trained on natural pictures whose shadows
are mostly earth and foliage, paints dark regions brown or olive, and the
chroma filter carries colour from lit neighbours into them.

At the other end, a gain that suits the dark room pushes lamps, lit walls
and their reflections past white. Clipped one channel at a time, a cream
wall turns flat saturated yellow. :func:`keep_highlights_t` bends the
gained values above :data:`HIGHLIGHT_KNEE` onto :func:`highlight_curve`,
one factor for the three channels, so the picture's brightest part keeps its
gradation and its hue. A pixel darker than its surroundings (their
geometric mean over a few pixels, :data:`DETAIL_SIGMA`) takes their factor,
not its own, so the dark detail of a bright area keeps its contrast: a
window's lead lines, bent one by one, went as white as the glass between
them. The white point is what the filter measures: the
gained brightness that all but 0.1 % of the 4x4 blocks the input did not
clip stay below. What the input clipped is brought to white, by one factor too. :func:`hold_highlights_t`
then keeps the denoiser from lifting the bent highlights back to white.

``torch`` is imported inside the functions.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

#: Rec. 709 luminance weights of linear R, G, B.
LUMA_WEIGHTS = (0.2126, 0.7152, 0.0722)
#: Black floor in linear light: 5 levels of an 8-bit sRGB file (5 / 255 / 12.92). At 5 the near-black tint of
#: held-out darkened photos matches their references' (0.40-0.46 against 0.41-0.47; 3 left 0.62-0.77).
BLACK_FLOOR = 5.0 / 255.0 / 12.92
#: Side, in pixels, of the square whose brightest channel judges how near black a pixel is.
NEIGHBOURHOOD = 6
#: Noise assumed in the input, in sRGB units (2 levels of an 8-bit file), to size the chroma smoothing.
INPUT_NOISE = 2.0 / 255.0
#: Radius, in half-resolution pixels, of the chroma filter's windows.
CHROMA_RADIUS = 4
#: Rec. 601 luma weights of sRGB-encoded R, G, B (the JPEG luma).
REC601 = (0.299, 0.587, 0.114)
#: sRGB R, G, B to (Y, R - Y, B - Y) with the Rec. 601 luma Y.
TO_LUMA_CHROMA = (REC601, (1 - REC601[0], -REC601[1], -REC601[2]), (-REC601[0], -REC601[1], 1 - REC601[2]))
#: The change of G, per change of R and of B, that leaves the Rec. 601 luma alone.
GREEN_FOR_LUMA = (-REC601[0] / REC601[1], -REC601[2] / REC601[1])
#: Linear brightness above which the highlight shoulder bends the gained values (sRGB 0.80).
HIGHLIGHT_KNEE = 0.6
#: An input channel at or above this is clipped (254.5 of 255: written as 255 in an 8-bit file).
CLIPPED_LEVEL = 254.5 / 255.0
#: The same in linear light.
CLIPPED_LINEAR = ((CLIPPED_LEVEL + 0.055) / 1.055) ** 2.4
#: sRGB 250 of 255 and its linear light, where the shoulder starts treating an input pixel as clipped
#: (:func:`recorded_white_t`).
RECORDED_WHITE_FROM_SRGB = 250.0 / 255.0
RECORDED_WHITE_FROM = ((RECORDED_WHITE_FROM_SRGB + 0.055) / 1.055) ** 2.4
#: :data:`HIGHLIGHT_KNEE` in sRGB units, where the denoiser starts being held below the bent highlights.
HIGHLIGHT_KNEE_SRGB = 1.055 * HIGHLIGHT_KNEE ** (1 / 2.4) - 0.055
#: Gaussian sigma, in full-resolution pixels, of the local brightness whose factor the highlight shoulder gives a
#: pixel (:func:`detail_kernel`): detail finer than this keeps its contrast in a bent highlight. Its kernel reaches
#: 12 px, within the tiles' 32 px overlap.
DETAIL_SIGMA = 4.0
#: Log2 gain from which the denoiser's correction is kept in full; below it, in proportion to the gain, and none
#: where the filter does not brighten. The denoiser is there for the noise the gain reveals; on the lit part of a
#: photo that is not dark (gain under 0.2 stop) it only smeared a saturated colour into the white beside it (DICM
#: ``46.jpg``: a* of the white 1-3 px from magenta flowers 2.9 -> 10.5; 3.0 now). Held-out darkened photos, whose
#: gains are a stop or more, score the same to 0.01 dB.
DENOISE_FULL_GAIN = 0.5
#: Smallest sigma worth a blur (a preview of under 1/64 of the pixels, scale 0.125, bends pixel by pixel).
MIN_DETAIL_SIGMA = 0.5


def _mix_t(x: Any, matrix: Any, half: bool = False) -> Any:
    """Apply the colour ``matrix`` (rows: output channels) to ``x`` (N, C, H, W); with ``half``, average 2x2 blocks too.

    One convolution, which on the CPU is many times faster than the same
    arithmetic on channel slices with broadcasting.
    """
    import torch.nn.functional as F

    weight = x.new_tensor(matrix)[:, :, None, None]
    if half:
        return F.conv2d(x, weight.expand(-1, -1, 2, 2).contiguous() / 4.0, stride=2)
    return F.conv2d(x, weight)


def box_mean_t(x: Any, radius: int) -> Any:
    """Mean of ``x`` (N, C, H, W) over the ``2 * radius + 1`` square around each pixel, edges replicated.

    Two running sums, so the cost does not grow with the radius (pooling
    with stride 1 is several times slower on the CPU). Computed in float32.
    """
    import torch.nn.functional as F

    side = 2 * radius + 1
    x = F.pad(x.float(), (radius + 1, radius, radius + 1, radius), mode="replicate").cumsum(dim=2)
    x = (x[:, :, side:] - x[:, :, :-side]).cumsum(dim=3)
    return (x[:, :, :, side:] - x[:, :, :, :-side]) / (side * side)


def near_black_keep_t(linear: Any, floor: float = BLACK_FLOOR) -> Any:
    """Return the share (N, 1, H, W) of chroma to trust at each pixel of ``linear`` (N, 3, H, W; H, W even).

    ``m**2 / (m**2 + floor**2)``, where ``m`` is the brightest channel's mean
    over the ``NEIGHBOURHOOD``-wide square around the pixel: half at the
    floor, 94 % at four times the floor, none at black. The brightest
    channel, not the luminance, decides, so a deep red or blue that is well
    above black in its own channel keeps its colour. Computed at half
    resolution and interpolated back.
    """
    import torch.nn.functional as F

    identity = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    level = box_mean_t(_mix_t(linear.float(), identity, half=True), NEIGHBOURHOOD // 4).amax(dim=1, keepdim=True)
    keep = level * level / (level * level + floor * floor)
    return F.interpolate(keep, size=linear.shape[2:], mode="bilinear", align_corners=False)


def neutralize_near_black_t(srgb: Any, keep: Any) -> Any:
    """Shrink the chroma of ``srgb`` (N, 3, H, W) towards grey of the same luma, keeping the share ``keep``.

    ``keep`` (N, 1, H, W) is :func:`near_black_keep_t` of the input; chroma
    is the difference from the grey of the pixel's Rec. 601 luma, which is
    unchanged.
    """
    import torch

    srgb = srgb.float()
    return torch.lerp(_mix_t(srgb, (REC601,)).expand_as(srgb), srgb, keep)


def srgb_slope_t(linear: Any) -> Any:
    """Derivative of the sRGB encoding at linear values ``linear`` (clipped to [0, 1])."""
    import torch

    linear = linear.clamp(0.0, 1.0)
    return torch.where(linear <= 0.0031308, torch.full_like(linear, 12.92),
                       1.055 / 2.4 * linear.clamp(min=0.0031308) ** (1 / 2.4 - 1))


def gained_noise_t(linear: Any, log_gain: Any, input_noise: float = INPUT_NOISE) -> Any:
    """Standard deviation, in sRGB units, that noise of ``input_noise`` sRGB units reaches after the gain.

    ``linear`` (N, 3, H, W) is the input in linear light and ``log_gain``
    (N, 1, H, W) the log2 gain each pixel gets (H, W even); the result is at
    half resolution, (N, 1, H/2, W/2), as :func:`reduce_chroma_noise_t` takes
    it. The noise is carried to linear light by the inverse slope of the sRGB
    curve at the input's luminance, multiplied by the gain and encoded by the
    slope at the output's luminance. In the dark, where both ends lie on the
    curve's linear toe, that is simply ``2 ** log_gain`` times the input noise.
    """
    import torch

    luma = _mix_t(linear.float(), (LUMA_WEIGHTS,), half=True)
    gain = torch.exp2(log_gain[:, :, ::2, ::2].float())
    return input_noise * gain * srgb_slope_t(luma * gain) / srgb_slope_t(luma)


def reduce_chroma_noise_t(srgb: Any, noise: Any, radius: int = CHROMA_RADIUS) -> Any:
    """Remove from the chroma of ``srgb`` (N, 3, H, W) what is no stronger than the expected noise.

    ``noise`` (N, 1, H/2, W/2) is the noise's standard deviation at half
    resolution (:func:`gained_noise_t`). At that resolution (where a JPEG
    keeps its chroma, and where the chroma noise that the denoiser leaves
    lives), on the chroma R - Y and B - Y (Y the Rec. 601 luma, which is left
    alone):

    1. a guided filter (He et al., 2013) with the luma as guide and the noise
       variance as its ``eps`` gives a smooth chroma that follows the luma's
       edges: where the luma varies less than the noise, the window's mean;
    2. a local Wiener (Lee) blend keeps the part of the chroma's difference
       from that smooth chroma which stands out of the noise: ``1 - noise**2 / v``
       of it, ``v`` being its local power, so coloured detail stronger than the
       noise stays and blotches at the noise's size go.

    The change is interpolated to full resolution and added, G taking what
    keeps the luma. H and W must be even.
    """
    import torch
    import torch.nn.functional as F

    srgb = srgb.float()
    small = _mix_t(srgb, TO_LUMA_CHROMA, half=True)
    guide, chroma = small[:, :1], small[:, 1:]
    variance = noise.float() ** 2
    means = box_mean_t(torch.cat([small, guide * guide, guide * chroma], dim=1), radius)
    mean_guide, mean_chroma = means[:, :1], means[:, 1:3]
    covariance = means[:, 4:6] - mean_guide * mean_chroma
    slope = covariance / (means[:, 3:4] - mean_guide * mean_guide + box_mean_t(variance, radius) + 1e-8)
    fit = box_mean_t(torch.cat([slope, mean_chroma - slope * mean_guide], dim=1), radius)
    detail = chroma - (fit[:, :2] * guide + fit[:, 2:])
    power = box_mean_t((detail * detail).mean(dim=1, keepdim=True), 1)
    drop = (variance / (power + 1e-12)).clamp(max=1.0)
    change = F.interpolate(-drop * detail, size=srgb.shape[2:], mode="bilinear", align_corners=False)
    red, blue = change[:, :1], change[:, 1:]
    return srgb + torch.cat([red, GREEN_FOR_LUMA[0] * red + GREEN_FOR_LUMA[1] * blue, blue], dim=1)


def highlight_curve(brightest: Any, white: float) -> Any:
    """Where the highlight shoulder puts a pixel whose brightest channel, gained, is ``brightest`` (linear light).

    Identity up to :data:`HIGHLIGHT_KNEE`; above it the extended Reinhard curve
    bends smoothly (slope 1 at the knee) so that ``white`` lands on 1 and
    brighter values only then clip. ``white`` <= 1 leaves every value as it
    is. Works on arrays and tensors alike.
    """
    span = 1.0 - HIGHLIGHT_KNEE
    above = brightest > HIGHLIGHT_KNEE
    over = (brightest - HIGHLIGHT_KNEE) / span * above
    white_over = (max(white, 1.0) - HIGHLIGHT_KNEE) / span
    bent = HIGHLIGHT_KNEE + span * over / (1.0 + over) * (1.0 + over / (white_over * white_over))
    return brightest + (bent - brightest) * above


def recorded_white_t(linear: Any) -> Any:
    """How much of each pixel of the linear input (N, 3, H, W) the input clipped: 0 below sRGB 250, 1 from 254.5.

    A clipped light's true brightness is unknown, so the shoulder brings it to
    white (:func:`keep_highlights_t`); the ramp from :data:`RECORDED_WHITE_FROM`
    spreads the hand-over over the last five input levels.
    """
    brightest = linear.amax(dim=1, keepdim=True)
    return ((brightest - RECORDED_WHITE_FROM) / (CLIPPED_LINEAR - RECORDED_WHITE_FROM)).clamp(0.0, 1.0)


def detail_kernel(scale: float) -> np.ndarray | None:
    """The float32 1-D Gaussian of :data:`DETAIL_SIGMA` at a render's ``scale``; None under :data:`MIN_DETAIL_SIGMA`."""
    sigma = DETAIL_SIGMA * scale
    if sigma < MIN_DETAIL_SIGMA:
        return None
    return cv2.getGaussianKernel(2 * int(np.ceil(3.0 * sigma)) + 1, sigma, cv2.CV_32F).reshape(-1)


def _local_brightness_t(brightest: Any, kernel: Any) -> Any:
    """The geometric mean of ``brightest`` (N, 1, H, W) under the separable ``kernel``, edges replicated."""
    import torch
    import torch.nn.functional as F

    weights = torch.as_tensor(kernel, dtype=brightest.dtype, device=brightest.device)
    reach = weights.numel() // 2
    logs = F.pad(torch.log(brightest), (reach, reach, reach, reach), mode="replicate")
    logs = F.conv2d(logs, weights.view(1, 1, 1, -1))
    return torch.exp(F.conv2d(logs, weights.view(1, 1, -1, 1)))


def keep_highlights_t(linear: Any, gained: Any, white: float, kernel: Any = None) -> Any:
    """Scale each pixel of ``gained`` (linear ``linear`` (N, 3, H, W) after the gain) onto :func:`highlight_curve`.

    One factor for the three channels, set by the brightest, keeps the input's
    hue where a channel would otherwise clip alone (a cream wall turning
    saturated yellow). With ``kernel`` (:func:`detail_kernel`) a pixel darker than
    its surroundings (the brightest channel's local geometric mean) takes their
    factor, so dark detail finer than the kernel keeps its contrast, and one brighter
    than them its own, so it stays below white. What the input clipped (:func:`recorded_white_t`) is
    brought to white instead, by the factor that puts its brightest channel
    at 1 (or the shoulder's, where that is larger), so its hue stays too.
    """
    import torch

    if white <= 1.0:
        return gained
    brightest = gained.amax(dim=1, keepdim=True).clamp(min=HIGHLIGHT_KNEE)
    factor = highlight_curve(brightest, white) / brightest
    if kernel is not None:
        local = _local_brightness_t(brightest, kernel).clamp(min=HIGHLIGHT_KNEE)
        factor = torch.minimum(factor, highlight_curve(local, white) / local)
    to_white = torch.maximum(factor, (1.0 / brightest).clamp(max=1.0))
    return gained * (factor + (to_white - factor) * recorded_white_t(linear))


def hold_highlights_t(before: Any, after: Any) -> Any:
    """Keep the denoiser's output ``after`` from lifting the highlights the shoulder bent in ``before`` (sRGB).

    The denoiser, trained on clipped highlights, lifts near-white pixels by
    2-3 levels, which puts a bent highlight back at 255. Above
    :data:`HIGHLIGHT_KNEE_SRGB` its brightest channel may rise less and less
    above ``before``'s, not at all at white; one factor for the three
    channels, so hues stay. Lowering is left alone.
    """
    top_before = before.amax(dim=1, keepdim=True)
    top_after = after.amax(dim=1, keepdim=True)
    weight = ((top_before - HIGHLIGHT_KNEE_SRGB) / (1.0 - HIGHLIGHT_KNEE_SRGB)).clamp(0.0, 1.0)
    allowed = top_before + (1.0 - weight) * (top_after - top_before).clamp(min=0.0)
    return after * (allowed / top_after.clamp(min=1e-6)).clamp(max=1.0)
