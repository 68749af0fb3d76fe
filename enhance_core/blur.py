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

FFT_SIGMA = 16.0
"""Sigma, in pixels, from which :func:`gaussian` convolves by FFT (there it is faster than OpenCV's taps)."""

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
    if sigma < FFT_SIGMA:
        return cv2.GaussianBlur(planes, (0, 0), sigma, borderType=border)
    size = int(round(sigma * 8.0 + 1.0)) | 1  # OpenCV's own kernel size for a float picture
    taps = cv2.getGaussianKernel(size, sigma, cv2.CV_64F)[:, 0]
    if planes.ndim == 2:
        return _along(_along(planes, taps, 0, border), taps, 1, border)
    out = np.empty(planes.shape, np.float32)
    for channel in range(planes.shape[2]):  # one at a time: the padded spectra of a 24 MP picture are large
        plane = np.ascontiguousarray(planes[:, :, channel])
        out[:, :, channel] = _along(_along(plane, taps, 0, border), taps, 1, border)
    return out


def _along(plane: np.ndarray, taps: np.ndarray, axis: int, border: int) -> np.ndarray:
    """Convolve ``plane`` with the symmetric ``taps`` along ``axis``, the border padded as ``border``."""
    import scipy.fft  # not at import: the command line's help starts without SciPy

    reach = len(taps) // 2
    widths = [(0, 0), (0, 0)]
    widths[axis] = (reach, reach)
    padded = np.pad(plane, widths, mode=_PADDING[border])  # type: ignore[call-overload]
    length = scipy.fft.next_fast_len(padded.shape[axis], real=True)
    kernel = np.zeros(length)
    kernel[:len(taps)] = taps
    response = scipy.fft.rfft(kernel).astype(np.complex64)
    spectrum = scipy.fft.rfft(padded, n=length, axis=axis, workers=-1)
    spectrum *= response[:, None] if axis == 0 else response[None, :]
    full = scipy.fft.irfft(spectrum, n=length, axis=axis, workers=-1)
    kept = slice(2 * reach, 2 * reach + plane.shape[axis])  # the kernel's first tap sits at its left end
    return np.ascontiguousarray(full[kept] if axis == 0 else full[:, kept], dtype=np.float32)
