"""JPEG export with EXIF, ICC profile and comment at any size and content (issue #21, item 10)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image as PILImage

from enhance_core.cli import main
from enhance_core.image import Image, ImageMeta
from enhance_core.io import read_image, write_image
from enhance_core.io.jpeg import count_scans, encode_jpeg

from .io_fixtures import camera_exif, gradient_pixels, srgb_profile


PROFILE = srgb_profile()
"""One sRGB profile for the module (LittleCMS stamps each new one with the time)."""


def noise_image(rows: int, cols: int, *, exif: bool, icc: bool) -> Image:
    """Uniform noise (the hardest content for the encoder: 20+ bits per pixel at quality 95)."""
    pixels = np.random.default_rng(rows * cols).random((rows, cols, 3), dtype=np.float32)
    meta = ImageMeta(format="PNG", bit_depth=8, exif=camera_exif() if exif else None,
                     icc_profile=PROFILE if icc else None)
    return Image(pixels, None, meta)


@pytest.mark.parametrize(("rows", "cols"), [(2, 3), (200, 300), (900, 1200)])
@pytest.mark.parametrize(("exif", "icc", "comment"), [(False, False, False), (True, True, True), (False, True, False),
                                                      (True, False, True)])
def test_noisy_jpeg_exports_keep_their_metadata(tmp_path, rows, cols, exif, icc, comment):
    image = noise_image(rows, cols, exif=exif, icc=icc)
    path = write_image(image, tmp_path / "out.jpg", quality=95, description="scan 7" if comment else None)
    with PILImage.open(path) as written:
        assert written.size == (cols, rows) and written.format == "JPEG"
        assert (written.info.get("icc_profile") == PROFILE) if icc else "icc_profile" not in written.info
        assert (written.info.get("comment") == b"scan 7") if comment else "comment" not in written.info
        assert ("exif" in written.info) is exif
    again = read_image(path)
    if exif:
        assert b"TestCam" in again.meta.exif


def test_convert_of_a_noisy_srgb_png_to_jpeg(tmp_path, capfd):
    source = tmp_path / "icc.png"
    pixels = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    PILImage.fromarray(pixels).save(source, icc_profile=PROFILE)
    target = tmp_path / "out.jpg"
    assert main(["convert", str(source), str(target)]) == 0
    captured = capfd.readouterr()
    assert captured.out == f"wrote {target} (JPEG, 8-bit)\n" and captured.err == ""
    assert read_image(target).meta.icc_profile == PROFILE


@pytest.mark.parametrize("quality", [40, 92])
def test_encoder_output_equals_pillows_for_what_pillow_can_write(quality):
    samples = np.rint(gradient_pixels(48, 64, 3) * 255).astype(np.uint8)
    options = dict(exif=camera_exif(), icc_profile=PROFILE, comment=b"note", dpi=(300.0, 300.0))
    ours = encode_jpeg(samples, quality=quality, **options)
    out = io.BytesIO()
    PILImage.fromarray(samples).save(out, format="JPEG", quality=quality, subsampling=0 if quality >= 90 else 2,
                                     optimize=True, **options)
    assert ours == out.getvalue()
    assert count_scans(ours) == 1


def test_large_icc_profile_is_split_into_chunks():
    profile = PROFILE + bytes(150_000)
    data = encode_jpeg(np.zeros((8, 8), np.uint8), quality=90, icc_profile=profile)
    with PILImage.open(io.BytesIO(data)) as written:
        assert written.info["icc_profile"] == profile


def test_exif_longer_than_a_segment_is_a_clear_write_error(tmp_path):
    from enhance_core.errors import ImageWriteError

    image = noise_image(8, 8, exif=False, icc=False)
    image.meta.exif = b"Exif\x00\x00II*\x00" + bytes(70_000)
    with pytest.raises(ImageWriteError, match="the EXIF block is 70,010 bytes; a JPEG holds at most 65,533"):
        write_image(image, tmp_path / "big_exif.jpg")
    assert not (tmp_path / "big_exif.jpg").exists()


def test_a_jpeg_s_quality_is_read_from_its_tables_and_is_the_default_of_apply_and_convert(tmp_path, capsys) -> None:
    import io

    from PIL import Image as PILImage

    from enhance_core.cli import main
    from enhance_core.io import read_image

    pixels = (np.random.default_rng(2).random((48, 64, 3)) * 255).astype(np.uint8)
    for quality in (1, 10, 19, 50, 75, 85, 95, 100):
        data = io.BytesIO()
        PILImage.fromarray(pixels).save(data, "JPEG", quality=quality)
        (tmp_path / "q.jpg").write_bytes(data.getvalue())
        assert read_image(tmp_path / "q.jpg").meta.extra["jpeg_quality"] == quality
    PILImage.fromarray(pixels).save(tmp_path / "camera.jpg", quality=85)
    assert main(["apply", "--filter", "negative", "-o", str(tmp_path / "out"), str(tmp_path / "camera.jpg")]) == 0
    assert main(["convert", str(tmp_path / "camera.jpg"), str(tmp_path / "copy.jpg")]) == 0
    assert main(["convert", str(tmp_path / "camera.jpg"), str(tmp_path / "fine.jpg"), "--quality", "95"]) == 0
    for name, quality in (("out/camera.jpg", 85), ("copy.jpg", 85), ("fine.jpg", 95)):
        assert read_image(tmp_path / name).meta.extra["jpeg_quality"] == quality, name
    capsys.readouterr()
    assert main(["info", str(tmp_path / "camera.jpg")]) == 0
    assert '"jpeg_quality": 85' in capsys.readouterr().out


@pytest.mark.parametrize(("sampling", "name"), [(0, "444"), (1, "422"), (2, "420")])
def test_a_jpeg_source_s_chroma_subsampling_is_kept(tmp_path, sampling, name) -> None:
    from PIL import Image as PILImage

    from enhance_core.io import read_image

    pixels = (np.random.default_rng(3).random((48, 64, 3)) * 255).astype(np.uint8)
    PILImage.fromarray(pixels).save(tmp_path / "camera.jpg", quality=92, subsampling=sampling)
    image = read_image(tmp_path / "camera.jpg")
    assert image.meta.extra["jpeg_subsampling"] == name
    written = read_image(write_image(image, tmp_path / "out.jpg", quality=97))
    assert written.meta.extra["jpeg_subsampling"] == name
