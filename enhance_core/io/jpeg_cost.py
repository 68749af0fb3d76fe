"""What a JPEG costs: its size and the PSNR and SSIM it loses, measured with the export's own encoder.

The editor's export estimate (:func:`app.export_jobs.estimate_jpeg`) and
``enhance-studio jpeg-table`` both call :func:`jpeg_cost`, so both report what
``write_image(..., "x.jpg", quality=q)`` writes: the image is composited over
white when it has alpha and rounded to 8 bits, exactly as the JPEG writer
does; those 8-bit pixels are the reference the decoded JPEG is scored against,
so the figures measure the compression alone. The size counts the ICC profile
and resolution the writer stores, not EXIF.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image as PILImage

from enhance_core.image import Image
from enhance_core.io.raster import encode_pillow_image, flatten_on_white
from enhance_core.io.samples import quantize
from enhance_core.metrics import compare_images


@dataclass(frozen=True)
class JpegCost:
    """Encoded size in bytes and the loss (PSNR in dB, SSIM) of one image at one JPEG quality."""

    quality: int
    bytes: int
    psnr: float
    ssim: float


def jpeg_reference(image: Image) -> np.ndarray:
    """The float32 pixels the JPEG writer encodes for ``image``: composited over white, rounded to 8 bits."""
    return quantize(flatten_on_white(image), 8).astype(np.float32) / np.float32(255.0)


def jpeg_cost(image: Image, quality: int) -> JpegCost:
    """Encode ``image`` as JPEG at ``quality`` in memory, decode it, and measure its size and loss.

    Parameters
    ----------
    image : Image
        The picture to encode (at least 11x11 pixels for SSIM).
    quality : int
        JPEG quality 1..100 (at 90 and above the writer keeps full chroma resolution, below it 4:2:0).

    Returns
    -------
    JpegCost
        ``psnr`` is ``inf`` when the decoded pixels equal the reference.
    """
    reference = jpeg_reference(image)
    data = encode_pillow_image(Image(reference, None, image.meta), format_name="JPEG", quality=quality, exif=None)
    with PILImage.open(io.BytesIO(data)) as decoded:
        samples = np.asarray(decoded, dtype=np.float32) / np.float32(255.0)
    scores = compare_images(samples.reshape(reference.shape), reference)
    return JpegCost(quality, len(data), scores["psnr"], scores["ssim"])
