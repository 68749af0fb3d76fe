"""A Gaussian blur whose time does not grow with its radius.

OpenCV's ``GaussianBlur`` convolves with ``8 sigma + 1`` taps, so its time grows
with sigma: a sigma of 200 px on a 24-megapixel photo took minutes, as did an
unsharp mask of radius 100 or a mask feathered by hundreds of pixels. From
:data:`FFT_SIGMA` on, :func:`gaussian` convolves with the same taps through
FFTs along each axis, padded as OpenCV pads the border; the two agree to
float32 rounding (about 1e-6), and the FFT's time depends on the picture only.
"""

from __future__ import annotations

import cv2
import numpy as np

from enhance_core.threads import thread_count

FFT_SIGMA = 24.0
"""Sigma, in pixels, from which :func:`gaussian` convolves by FFT: about 16 px the two take as long; on a 24 MP
colour picture at 24 px the FFT takes 0.6 of OpenCV's time, at 64 px a twentieth (``benchmarks/bench_gaussian.py``)."""

BLOCK_BYTES = 16 << 20
"""About how many bytes of padded lines one FFT takes at a time: the result is written straight into the output,
so a blur needs little more memory than OpenCV's (a whole padded spectrum of a 24 MP picture took 2.5 GB)."""

_PADDING = {cv2.BORDER_REFLECT_101: "reflect", cv2.BORDER_REPLICATE: "edge"}


def gaussian(planes: np.ndarray, sigma: float, *, border: int = cv2.BORDER_REFLECT_101) -> np.ndarray:
    """``cv2.GaussianBlur(planes, (0, 0), sigma, borderType=border)`` of float32 planes, in any sigma's time.

    Parameters
    ----------
    planes : ndarray
        Float32 (rows, cols) or (rows, cols, channels).
    sigma : float
        Standard deviation in pixels (positive).
    border : int
        ``cv2.BORDER_REFLECT_101`` (OpenCV's default) or ``cv2.BORDER_REPLICATE``.

    Returns
    -------
    ndarray
        Float32, the shape of ``planes``.
    """
    if border not in _PADDING:
        raise ValueError(f"border must be cv2.BORDER_REFLECT_101 or cv2.BORDER_REPLICATE, got {border}")
    if sigma < FFT_SIGMA:
        return cv2.GaussianBlur(planes, (0, 0), sigma, borderType=border).reshape(planes.shape)
    size = int(round(sigma * 8.0 + 1.0)) | 1  # OpenCV's own kernel size for a float picture
    taps = cv2.getGaussianKernel(size, sigma, cv2.CV_64F)[:, 0]
    out = np.empty(planes.shape, np.float32)
    for channel in range(1 if planes.ndim == 2 else planes.shape[2]):
        source = planes if planes.ndim == 2 else planes[:, :, channel]
        target = out if planes.ndim == 2 else out[:, :, channel]
        _along(source, target, taps, 0, border)
        _along(target, target, taps, 1, border)  # in place: each block is read whole before it is written
    return out


def _along(source: np.ndarray, target: np.ndarray, taps: np.ndarray, axis: int, border: int) -> None:
    """Write ``source`` convolved with the symmetric ``taps`` along ``axis`` (the border padded as ``border``)
    into ``target``, a few lines at a time."""
    import scipy.fft  # not at import: the command line's help starts without SciPy

    workers = thread_count()
    reach = len(taps) // 2
    length = scipy.fft.next_fast_len(source.shape[axis] + 2 * reach, real=True)
    kernel = np.zeros(length)
    kernel[:len(taps)] = taps
    response = scipy.fft.rfft(kernel).astype(np.complex64)
    response = response[:, None] if axis == 0 else response[None, :]
    kept = slice(2 * reach, 2 * reach + source.shape[axis])  # the kernel's first tap sits at its left end
    lines = source.shape[1 - axis]
    step = max(1, BLOCK_BYTES // (4 * length))
    for first in range(0, lines, step):
        block = slice(first, min(first + step, lines))
        part = source[:, block] if axis == 0 else source[block]
        widths = ((reach, reach), (0, 0)) if axis == 0 else ((0, 0), (reach, reach))
        padded = np.pad(part, widths, mode=_PADDING[border])  # type: ignore[call-overload]
        spectrum = scipy.fft.rfft(padded, n=length, axis=axis, workers=workers)
        spectrum *= response
        full = scipy.fft.irfft(spectrum, n=length, axis=axis, workers=workers)
        if axis == 0:
            target[:, block] = full[kept]
        else:
            target[block] = full[:, kept]
