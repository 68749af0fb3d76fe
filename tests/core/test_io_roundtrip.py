"""Round trips per format: exact 16-bit levels, float TIFF, alpha, ICC bytes and EXIF tags kept."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage

from enhance_core.image import Image
from enhance_core.io import read_image, write_image
from enhance_core.io.exif import read_orientation
from enhance_core.metrics import peak_signal_noise_ratio

from .io_fixtures import camera_exif, levels, make_image

LOSSLESS = [
    ("png", 16, 1, False), ("png", 16, 3, False), ("png", 16, 3, True), ("png", 16, 1, True),
    ("png", 8, 1, False), ("png", 8, 3, True), ("png", 8, 1, True),
    ("tif", 16, 1, False), ("tif", 16, 3, True), ("tif", 8, 3, False), ("tif", 8, 1, True),
    ("bmp", 8, 3, False), ("bmp", 8, 1, False),
]


@pytest.mark.parametrize(("suffix", "bits", "channels", "alpha"), LOSSLESS)
def test_lossless_round_trip_keeps_every_level(tmp_path, suffix, bits, channels, alpha):
    image = make_image(channels=channels, bit_depth=bits, alpha=alpha)
    written = write_image(image, tmp_path / f"out.{suffix}")
    back = read_image(written)
    assert back.meta.bit_depth == bits
    np.testing.assert_array_equal(levels(back.pixels, bits), levels(image.pixels, bits))
    if alpha:
        np.testing.assert_array_equal(levels(back.alpha, bits), levels(image.alpha, bits))
    else:
        assert back.alpha is None
    if suffix != "png" or not (alpha and channels == 1 and bits == 16):
        assert back.channels == channels


@pytest.mark.parametrize(("shape", "bits"), [((400, 1, 1), 8), ((300, 3, 1), 8), ((300, 2, 1), 16), ((300, 1, 3), 8),
                                             ((300, 1, 4), 16)])
def test_a_noisy_strip_a_few_pixels_wide_writes_as_png(tmp_path, shape, bits):
    pixels = np.random.default_rng(4).random(shape).astype(np.float32)
    pixels = np.round(pixels * (2 ** bits - 1)) / (2 ** bits - 1)
    colour, alpha = (pixels[:, :, :3], pixels[:, :, 3]) if shape[2] == 4 else (pixels, None)
    path = write_image(Image(colour, alpha), tmp_path / "strip.png", bit_depth=bits)
    back = read_image(path)
    np.testing.assert_allclose(back.pixels, colour, atol=1e-6)
    if alpha is not None:
        np.testing.assert_allclose(back.alpha, alpha, atol=1e-6)


def test_sixteen_bit_png_and_tiff_keep_more_than_256_levels(tmp_path):
    image = make_image(channels=3, bit_depth=16)
    for suffix in ("png", "tif"):
        back = read_image(write_image(image, tmp_path / f"deep.{suffix}"))
        distinct = np.unique(levels(back.pixels[:, :, 0], 16)).size
        assert distinct > 256, f"{suffix}: only {distinct} levels survived"


def test_default_export_depth_follows_the_source(tmp_path):
    deep = read_image(write_image(make_image(bit_depth=16), tmp_path / "a.png"))
    assert read_image(write_image(deep, tmp_path / "b.tif")).meta.bit_depth == 16
    shallow = read_image(write_image(make_image(bit_depth=8), tmp_path / "c.png"))
    assert read_image(write_image(shallow, tmp_path / "d.png")).meta.bit_depth == 8
    assert read_image(write_image(deep, tmp_path / "e.png", bit_depth=8)).meta.bit_depth == 8


def test_a_half_float_tiff_is_written_as_float_by_default(tmp_path):
    import tifffile

    values = np.linspace(-0.5, 4.0, 16 * 16 * 3).reshape(16, 16, 3).astype(np.float16)
    tifffile.imwrite(tmp_path / "half.tif", values, photometric="rgb")
    back = read_image(write_image(read_image(tmp_path / "half.tif"), tmp_path / "out.tif"))
    assert back.meta.float_source
    np.testing.assert_array_equal(back.pixels, values.astype(np.float32))


def test_float_tiff_keeps_values_outside_unit_range(tmp_path):
    image = make_image(channels=3, bit_depth=32, float_source=True)
    image.pixels[0, 0] = (-0.25, 1.75, 1e-7)
    back = read_image(write_image(image, tmp_path / "hdr.tif"))
    assert back.meta.float_source and back.meta.bit_depth == 32
    np.testing.assert_array_equal(back.pixels, image.pixels)


@pytest.mark.parametrize("suffix", ["png", "tif", "jpg", "webp"])
def test_icc_profile_bytes_identical_after_round_trip(tmp_path, suffix):
    image = make_image(channels=3, bit_depth=8)
    back = read_image(write_image(image, tmp_path / f"icc.{suffix}"))
    assert back.meta.icc_profile == image.meta.icc_profile


@pytest.mark.parametrize("suffix", ["png", "tif", "jpg", "webp"])
def test_exif_tags_survive_with_orientation_one(tmp_path, suffix):
    image = make_image(channels=3, bit_depth=8)
    image.meta.exif = camera_exif(orientation=6)
    back = read_image(write_image(image, tmp_path / f"exif.{suffix}"))
    assert read_orientation(back.meta.exif) == 1
    exif = PILImage.Exif()
    exif.load(back.meta.exif)
    assert exif[0x010F] == "TestCam" and exif[0x0110] == "Model 7" and exif[0x013B] == "A. Photographer"
    assert exif.get_ifd(0x8769)[0x9003] == "2024:05:06 07:08:09"
    assert exif.get_ifd(0x8769)[0x8827] == 400
    assert exif.get_ifd(0x8825)[1] == "N"


def test_jpeg_round_trip_is_close_and_flattens_alpha_over_white(tmp_path):
    image = make_image(channels=3, bit_depth=8)
    back = read_image(write_image(image, tmp_path / "q.jpg", quality=95))
    assert back.meta.format == "JPEG" and back.alpha is None
    assert peak_signal_noise_ratio(back.pixels, image.pixels) > 35
    transparent = Image(np.zeros((32, 32, 3), np.float32), np.zeros((32, 32), np.float32), image.meta)
    flat = read_image(write_image(transparent, tmp_path / "t.jpg"))
    assert flat.pixels.min() > 0.98


def test_webp_keeps_alpha_and_lossless_at_quality_100(tmp_path):
    image = make_image(channels=3, bit_depth=8, alpha=True)
    back = read_image(write_image(image, tmp_path / "a.webp", quality=100))
    np.testing.assert_array_equal(levels(back.pixels, 8), levels(image.pixels, 8))
    np.testing.assert_array_equal(levels(back.alpha, 8), levels(image.alpha, 8))


@pytest.mark.parametrize("alpha", [False, True])
def test_a_lossless_webp_stays_lossless_through_apply_and_convert(tmp_path, alpha):
    """``apply`` wrote a lossless WebP master as lossy WebP at quality 95 (98.6 % of its pixels changed by a step
    that changes nothing), with nothing said (an audit of uncommon files)."""
    from enhance_core.cli import main

    image = make_image(channels=3, bit_depth=8, alpha=alpha)
    master = write_image(image, tmp_path / "master.webp", quality=100)
    lossy = write_image(image, tmp_path / "lossy.webp", quality=90)
    assert read_image(master).meta.extra.get("webp_lossless") and not read_image(lossy).meta.extra.get("webp_lossless")
    assert main(["apply", str(master), "--filter", "gamma", "-o", str(tmp_path / "out")]) == 0
    assert main(["convert", str(master), str(tmp_path / "copy.webp")]) == 0
    for written in (tmp_path / "out" / "master.webp", tmp_path / "copy.webp"):
        np.testing.assert_array_equal(levels(read_image(written).pixels, 8), levels(image.pixels, 8))
        assert read_image(written).meta.extra.get("webp_lossless")
    assert main(["apply", str(lossy), "--filter", "gamma", "-o", str(tmp_path / "out2")]) == 0
    assert not read_image(tmp_path / "out2" / "lossy.webp").meta.extra.get("webp_lossless")


@pytest.mark.parametrize("lossless", [True, False])
def test_an_animated_webp_s_first_frame_tells_whether_it_is_lossless(lossless):
    """An animation's image chunks lie inside its frames (ANMF): a lossless one was taken for lossy (a review)."""
    import io

    from enhance_core.io.raster import webp_is_lossless

    rng = np.random.default_rng(0)
    frames = [PILImage.fromarray((rng.random((20, 30, 3)) * 255).astype(np.uint8)) for _ in range(2)]
    data = io.BytesIO()
    frames[0].save(data, "WEBP", save_all=True, append_images=frames[1:], lossless=lossless, quality=80)
    assert data.getvalue()[12:16] == b"VP8X" and webp_is_lossless(data.getvalue()) is lossless
    assert not webp_is_lossless(data.getvalue()[:40]), "a file cut short is not read as lossless"


def test_alpha_survives_an_edit_and_an_export(tmp_path):
    image = read_image(write_image(make_image(channels=3, bit_depth=16, alpha=True), tmp_path / "src.png"))
    edited = image.with_pixels(1.0 - image.pixels)
    back = read_image(write_image(edited, tmp_path / "edited.tif"))
    np.testing.assert_array_equal(levels(back.alpha, 16), levels(image.alpha, 16))
    np.testing.assert_array_equal(levels(back.pixels, 16), levels(edited.pixels, 16))


@pytest.mark.parametrize("dpi", [(300.0, 300.0), (300.0, 150.0)])  # unequal: each axis its own
@pytest.mark.parametrize("suffix", ["png", "tif", "jpg"])
def test_resolution_is_kept(tmp_path, suffix, dpi):
    image = make_image(channels=3, bit_depth=8)
    image.meta.extra["dpi"] = dpi
    back = read_image(write_image(image, tmp_path / f"dpi.{suffix}"))
    assert back.meta.extra["dpi"] == dpi, "PNG keeps whole pixels per metre, read back as the whole dpi they stand for"
    again = read_image(write_image(back, tmp_path / f"again.{suffix}.tif"))
    assert again.meta.extra["dpi"] == dpi, "a 300 dpi PNG written as TIFF said 299.9994"


def test_png_dots_per_inch_that_whole_pixels_per_metre_cannot_stand_for_are_kept():
    from enhance_core.io.png import _as_dpi

    assert (_as_dpi(11811), _as_dpi(2835), _as_dpi(11812)) == (300.0, 72.0, 11812 * 0.0254)


def test_written_file_gets_normal_permissions_and_no_temp_files_remain(tmp_path):
    target = write_image(make_image(), tmp_path / "perm.png")
    assert target.stat().st_mode & 0o644 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["perm.png"]


@pytest.mark.parametrize("mode, key", [("RGB", (255, 0, 255)), ("L", 7)])
def test_a_png_colour_key_becomes_alpha(tmp_path, mode, key):
    samples = np.zeros((8, 10, 3) if mode == "RGB" else (8, 10), np.uint8)
    samples[:, :5] = key
    PILImage.fromarray(samples, mode).save(tmp_path / "keyed.png", transparency=key)
    image = read_image(tmp_path / "keyed.png")
    np.testing.assert_array_equal(image.alpha[:, :5], 0.0)
    np.testing.assert_array_equal(image.alpha[:, 5:], 1.0)
    assert read_image(write_image(image, tmp_path / "out.png")).alpha.min() == 0.0


def test_a_16_bit_png_colour_key_becomes_alpha(tmp_path):
    import struct
    import zlib

    from enhance_core.io.png import encode_png

    samples = np.full((6, 6, 3), 1000, np.uint16)
    samples[2:4, 2:4] = (65535, 0, 12)
    data = encode_png(samples)
    payload = struct.pack(">3H", 65535, 0, 12)
    chunk = struct.pack(">I", 6) + b"tRNS" + payload + struct.pack(">I", zlib.crc32(b"tRNS" + payload))
    end = data.index(b"IDAT") - 4
    (tmp_path / "keyed16.png").write_bytes(data[:end] + chunk + data[end:])
    image = read_image(tmp_path / "keyed16.png")
    assert image.meta.bit_depth == 16 and image.alpha.sum() == 32


def test_a_tiff_whose_first_page_is_a_reduced_preview_opens_on_its_full_page(tmp_path):
    import tifffile

    with tifffile.TiffWriter(tmp_path / "scan.tif") as writer:
        writer.write(np.zeros((8, 8, 3), np.uint8), photometric="rgb", subfiletype=1)
        writer.write(np.full((64, 48, 3), 200, np.uint8), photometric="rgb")
    image = read_image(tmp_path / "scan.tif")
    assert (image.rows, image.cols, image.meta.page, image.meta.page_count) == (64, 48, 1, 2)
    assert image.meta.other_pages == 0, "the preview is not another page to tell the user about"
    assert read_image(tmp_path / "scan.tif", page=0).rows == 8, "page 0 asked for by number is page 0"


def test_a_trailing_reduced_preview_is_not_counted_among_the_other_pages(tmp_path):
    import tifffile

    with tifffile.TiffWriter(tmp_path / "scan.tif") as writer:
        writer.write(np.full((64, 48, 3), 200, np.uint8), photometric="rgb")
        writer.write(np.full((64, 48, 3), 100, np.uint8), photometric="rgb")
        writer.write(np.zeros((8, 6, 3), np.uint8), photometric="rgb", subfiletype=1)
    image = read_image(tmp_path / "scan.tif")
    assert (image.meta.page, image.meta.page_count, image.meta.extra["preview_pages"]) == (0, 3, 1)
    assert image.meta.other_pages == 1 and image.meta.page_words == "page 1 of 3 (1 of the others is a preview)"
    assert read_image(tmp_path / "scan.tif", page=2).meta.other_pages == 2, "read by number, the preview has two others"


@pytest.mark.parametrize("suffix", [".png", ".webp"])
def test_an_animation_counts_its_frames_as_pages_and_says_only_the_first_is_read(tmp_path, suffix):
    frames = [PILImage.new("RGB", (16, 16), (60 * k, 0, 0)) for k in range(3)]
    frames[0].save(tmp_path / f"anim{suffix}", save_all=True, append_images=frames[1:], lossless=True)
    image = read_image(tmp_path / f"anim{suffix}")
    assert image.meta.page_count == 3 and image.pixels[0, 0, 0] == 0.0
    assert image.meta.extra["warnings"] == ["an animation of 3 frames: only the first is read, edited and written"]


def test_a_gray_profile_is_left_out_of_a_webp_which_holds_rgb(tmp_path):
    from .io_fixtures import srgb_profile

    gray = srgb_profile()[:16] + b"GRAY" + srgb_profile()[20:]
    image = make_image(channels=1)
    image.meta.icc_profile = gray
    write_image(image, tmp_path / "gray.webp")
    with PILImage.open(tmp_path / "gray.webp") as written:
        assert "icc_profile" not in written.info
    assert read_image(write_image(image, tmp_path / "gray.png")).meta.icc_profile == gray


def _cmyk_jpeg(path, profile: bytes) -> None:
    PILImage.new("CMYK", (8, 8), (0, 255, 255, 0)).save(path, icc_profile=profile)


def test_a_cmyk_profile_that_cannot_be_applied_is_said(tmp_path):
    from .io_fixtures import srgb_profile

    _cmyk_jpeg(tmp_path / "cmyk.jpg", srgb_profile()[:16] + b"CMYK" + srgb_profile()[20:])
    image = read_image(tmp_path / "cmyk.jpg")
    assert image.meta.icc_profile is None and image.pixels[0, 0, 0] > 0.9
    assert "its CMYK colour profile could not be applied" in image.meta.extra["warnings"][0]


def test_a_cmyk_picture_without_a_profile_says_its_colours_are_approximate(tmp_path):
    PILImage.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    image = read_image(tmp_path / "cmyk.jpg")
    assert image.meta.icc_profile is None and image.pixels[0, 0, 0] > 0.9
    assert image.meta.extra["warnings"] == ["a CMYK picture without a colour profile: it was converted to RGB by a "
                                            "plain formula, so its colours are approximate"]


def test_a_cmyk_picture_goes_through_its_profile_into_srgb(tmp_path, monkeypatch):
    from PIL import ImageCms

    from .io_fixtures import srgb_profile

    applied = []

    def through_profile(picture, source, target, outputMode):  # noqa: N803 - Pillow's name
        applied.append((picture.mode, outputMode))
        return PILImage.new("RGB", picture.size, (10, 20, 30))

    monkeypatch.setattr(ImageCms, "profileToProfile", through_profile)
    _cmyk_jpeg(tmp_path / "cmyk.jpg", srgb_profile()[:16] + b"CMYK" + srgb_profile()[20:])
    image = read_image(tmp_path / "cmyk.jpg")
    assert applied == [("CMYK", "RGB")] and image.meta.icc_profile[16:20] == b"RGB "
    np.testing.assert_array_equal(levels(image.pixels[0, 0], 8), [10, 20, 30])
    assert "warnings" not in image.meta.extra


def test_a_tiff_caption_alone_is_kept_and_tifffile_s_own_tags_are_not(tmp_path):
    import tifffile

    from enhance_core.io.tiff_exif import exif_from_tiff

    tifffile.imwrite(tmp_path / "caption.tif", np.zeros((8, 8), np.uint8), description="Box 12, letter 1921",
                     metadata=None)
    back = read_image(write_image(read_image(tmp_path / "caption.tif"), tmp_path / "out.tif"))
    parsed = PILImage.Exif()
    parsed.load(back.meta.exif)
    assert parsed[270] == "Box 12, letter 1921"
    tifffile.imwrite(tmp_path / "plain.tif", np.zeros((8, 8), np.uint8))
    assert exif_from_tiff(tmp_path / "plain.tif") is None


def test_a_jpeg_holding_a_second_view_is_no_animation(tmp_path):
    views = [PILImage.new("RGB", (16, 16), (200, 0, 0)), PILImage.new("RGB", (16, 16), (0, 200, 0))]
    views[0].save(tmp_path / "camera.jpg", format="MPO", save_all=True, append_images=views[1:])
    with PILImage.open(tmp_path / "camera.jpg") as picture:
        assert picture.n_frames == 2
    image = read_image(tmp_path / "camera.jpg")
    assert image.meta.page_count == 1 and "warnings" not in image.meta.extra


def test_signed_and_32_bit_integer_tiffs_say_how_they_are_written(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "signed.tif", np.arange(-8, 8, dtype=np.int16).reshape(4, 4))
    tifffile.imwrite(tmp_path / "wide.tif", np.arange(16, dtype=np.uint32).reshape(4, 4) << 20)
    assert read_image(tmp_path / "signed.tif").meta.extra["warnings"] == [
        "signed 16-bit samples: exports write them unsigned, each value plus 32768 (-32768 becomes 0)"]
    assert read_image(tmp_path / "wide.tif").meta.extra["warnings"] == [
        "32-bit integer samples: exports hold 16 bits, or 32-bit float in TIFF"]
    assert "warnings" not in read_image(write_image(make_image(bit_depth=16), tmp_path / "plain.tif")).meta.extra


@pytest.mark.parametrize("suffix", ["png", "tif", "jpg", "webp"])
def test_the_written_file_itself_says_orientation_one(tmp_path, suffix):
    image = make_image(channels=3, bit_depth=8)
    image.meta.exif = camera_exif(orientation=6)
    path = write_image(image, tmp_path / f"exif.{suffix}")
    with PILImage.open(path) as written:
        assert written.getexif().get(0x0112, 1) == 1, "else it opens turned a second time"
    assert read_image(path).pixels.shape == image.pixels.shape


@pytest.mark.parametrize("bits", [1, 2, 4])
def test_a_low_bit_gray_png_colour_key_becomes_alpha(tmp_path, bits):
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    top = (1 << bits) - 1
    levels = np.full((8, 16), top, np.uint8)
    levels[2:6, 4:12] = 0
    per_byte = 8 // bits
    rows = b"".join(b"\x00" + bytes(int("".join(format(v, f"0{bits}b") for v in row[i:i + per_byte]), 2)
                                   for i in range(0, 16, per_byte)) for row in levels)
    (tmp_path / "ink.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 8, bits, 0, 0, 0, 0))
        + chunk(b"tRNS", struct.pack(">H", top)) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    image = read_image(tmp_path / "ink.png")
    assert image.alpha is not None and int((image.alpha == 0).sum()) == 8 * 16 - 32, "the white paper is the key"
    np.testing.assert_array_equal(image.alpha[2:6, 4:12], 1.0)
