"""jpeg_cost: the size and loss of what write_image writes as JPEG (alpha composited over white, 8 bits)."""

from __future__ import annotations

import numpy as np
import pytest

from enhance_core.image import Image
from enhance_core.io import read_image, write_image
from enhance_core.io.jpeg_cost import jpeg_cost, jpeg_reference
from enhance_core.metrics import compare_images

from .io_fixtures import make_image


@pytest.mark.parametrize("channels", [3, 1])
def test_cost_is_the_written_files_size_and_loss(tmp_path, channels):
    image = make_image(rows=40, cols=56, channels=channels, alpha=True)
    image.meta.exif = None
    written = write_image(image, tmp_path / "out.jpg", quality=70)
    cost = jpeg_cost(image, 70)
    assert cost.quality == 70
    assert cost.bytes == written.stat().st_size
    scores = compare_images(read_image(written).pixels, jpeg_reference(image))
    assert (cost.psnr, cost.ssim) == (scores["psnr"], scores["ssim"])
    assert 20.0 < cost.psnr < 60.0


def test_transparent_pixels_are_scored_over_white():
    pixels = np.zeros((32, 32, 3), np.float32)
    alpha = np.zeros((32, 32), np.float32)
    reference = jpeg_reference(Image(pixels, alpha))
    assert np.all(reference == 1.0)
    opaque_white = jpeg_cost(Image(np.ones((32, 32, 3), np.float32)), 50)
    assert jpeg_cost(Image(pixels, alpha), 50) == opaque_white
