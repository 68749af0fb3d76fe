"""The bad-input corpus: every broken file gets a typed error naming the file and the reason."""

from __future__ import annotations

import builtins
import io
import struct
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from enhance_core.errors import DecompressionBomb, ImageReadError, ParameterError, UnsupportedFormat
from enhance_core.io import read_image, write_image
from enhance_core.io import reader as reader_module
from enhance_core.io.limits import DEFAULT_MAX_PIXELS, resolve_max_pixels

from .io_fixtures import make_image
from .locked_folders import lock_folder


def encoded(format_name: str, size=(40, 30), mode="RGB") -> bytes:
    """Return a small image encoded by Pillow."""
    out = io.BytesIO()
    PILImage.new(mode, size, (200, 100, 50)).save(out, format=format_name)
    return out.getvalue()


def png16_bytes(tmp_path) -> bytes:
    """Return a 16-bit RGB PNG written by our writer."""
    return write_image(make_image(bit_depth=16), tmp_path / "deep.png").read_bytes()


def tiff_bytes(tmp_path) -> bytes:
    """Return a small uncompressed TIFF."""
    tifffile.imwrite(tmp_path / "t.tif", np.zeros((64, 64, 3), np.uint8), photometric="rgb")
    return (tmp_path / "t.tif").read_bytes()


def expect_error(path, error_type, *words):
    """Read ``path`` and check the error type, that it names the file, and the words of the reason."""
    with pytest.raises(error_type) as caught:
        read_image(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    for word in words:
        assert word in message, message
    return message


def test_empty_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    expect_error(tmp_path / "empty.png", ImageReadError, "empty (0 bytes)")


@pytest.mark.parametrize("kind", ["jpeg", "png8", "png16", "tiff", "webp"])
def test_truncated_files(tmp_path, kind):
    data = {
        "jpeg": lambda: encoded("JPEG"),
        "png8": lambda: encoded("PNG"),
        "png16": lambda: png16_bytes(tmp_path),
        "tiff": lambda: tiff_bytes(tmp_path),
        "webp": lambda: encoded("WEBP"),
    }[kind]()
    path = tmp_path / f"cut.{kind}"
    path.write_bytes(data[: len(data) * 2 // 3])
    expect_error(path, ImageReadError, "truncated")


def test_damaged_png_chunk_is_reported(tmp_path):
    data = bytearray(encoded("PNG"))
    data[60] ^= 0xFF
    (tmp_path / "bitflip.png").write_bytes(bytes(data))
    expect_error(tmp_path / "bitflip.png", ImageReadError, "damaged (CRC mismatch)", "re-copy or re-export")


@pytest.mark.parametrize("bits", [8, 16])
def test_a_png_whose_only_damage_is_in_a_text_chunk_opens_with_a_warning(tmp_path, bits):
    pixels = np.random.default_rng(6).random((20, 30, 3)).astype(np.float32)
    from enhance_core.image import Image

    path = write_image(Image(pixels), tmp_path / "whole.png", bit_depth=bits, description="scanned 1952")
    data = bytearray(path.read_bytes())
    text = data.index(b"iTXt")
    data[text + 8] ^= 0xFF  # a letter of its keyword: the chunk's CRC no longer matches
    (tmp_path / "text.png").write_bytes(bytes(data))
    image = read_image(tmp_path / "text.png")
    np.testing.assert_array_equal(image.pixels, read_image(path).pixels)
    assert image.meta.extra["warnings"] == ["damaged metadata: PNG chunk 'iTXt' fails its CRC; it is left out; "
                                            "the picture's own data is whole"]
    assert "png_chunks" not in image.meta.extra


def test_a_damaged_colour_chunk_is_named_as_lost_colours_and_a_damaged_transparency_refuses(tmp_path):
    from enhance_core.image import Image

    pixels = np.random.default_rng(6).random((20, 30, 3)).astype(np.float32)
    path = write_image(Image(pixels, np.full((20, 30), 0.5, np.float32)), tmp_path / "whole.png", bit_depth=8)
    data = path.read_bytes()
    gamma = b"gAMA" + struct.pack(">I", 45455)
    damaged = data[:33] + struct.pack(">I", 4) + gamma + struct.pack(">I", zlib.crc32(gamma) ^ 1) + data[33:]
    (tmp_path / "gamma.png").write_bytes(damaged)
    assert read_image(tmp_path / "gamma.png").meta.extra["warnings"] == [
        "damaged metadata: PNG chunk 'gAMA' fails its CRC; its colour description (gAMA) is left out, so its "
        "colours are read as sRGB; the picture's own data is whole"]
    palette = PILImage.new("P", (8, 8))
    palette.putpalette([0, 0, 0, 255, 255, 255])
    palette.info["transparency"] = 0
    palette.save(tmp_path / "keyed.png", transparency=0)
    keyed = bytearray((tmp_path / "keyed.png").read_bytes())
    keyed[keyed.index(b"tRNS") + 4] ^= 0xFF
    (tmp_path / "keyed_damaged.png").write_bytes(bytes(keyed))
    expect_error(tmp_path / "keyed_damaged.png", ImageReadError, "'tRNS' is damaged",
                 "picture's transparency cannot be read without it")


def png_file(path, pixels: np.ndarray, *, height: int | None = None, keep: int | None = None,
             interlaced: bool = False) -> None:
    """Write an 8-bit RGB PNG of ``pixels`` by hand: its header may claim ``height`` rows, and its image data may
    keep only its first ``keep`` bytes (a whole zlib stream either way), Adam7-interlaced if asked."""
    def chunk(name: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + name + payload + struct.pack(">I", zlib.crc32(name + payload))

    passes = (((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
              if interlaced else ((0, 0, 1, 1),))
    raw = b"".join(b"\x00" + row.tobytes() for col, row0, dx, dy in passes
                   for row in pixels[row0::dy, col::dx] if row.size)
    header = struct.pack(">IIBBBBB", pixels.shape[1], height or pixels.shape[0], 8, 2, 0, 0, int(interlaced))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw[:keep]))
                     + chunk(b"IEND", b""))


def test_png_whose_data_holds_fewer_rows_than_its_header_is_refused(tmp_path):
    """A height damaged upwards decoded as black rows, and a batch wrote them as a good result."""
    pixels = np.random.default_rng(3).integers(0, 256, (30, 41, 3), dtype=np.uint8)
    png_file(tmp_path / "tall.png", pixels, height=48)
    expect_error(tmp_path / "tall.png", ImageReadError, "image data ends early", "holds 30 of the 48 rows")


def test_interlaced_png_missing_its_last_pass_is_refused(tmp_path):
    """Its last pixel comes from an earlier pass (odd height), so only the byte count shows every odd row black."""
    pixels = np.random.default_rng(3).integers(0, 256, (31, 41, 3), dtype=np.uint8)
    last_pass = 15 * (1 + 41 * 3)
    png_file(tmp_path / "six_passes.png", pixels, interlaced=True, keep=-last_pass)
    expect_error(tmp_path / "six_passes.png", ImageReadError, "image data ends early",
                 "bytes its 41x31 header needs")


@pytest.mark.parametrize("interlaced", [False, True])
def test_png_that_ends_in_black_opens_unchanged(tmp_path, interlaced):
    """Black last rows are a picture's own when the data holds them."""
    pixels = np.random.default_rng(4).integers(0, 256, (30, 41, 3), dtype=np.uint8)
    pixels[-5:] = 0
    png_file(tmp_path / "black_end.png", pixels, interlaced=interlaced)
    image = read_image(tmp_path / "black_end.png")
    assert np.array_equal(np.round(image.pixels * 255).astype(np.uint8), pixels)


def test_garbage_after_a_png_signature_is_not_called_a_chunk(tmp_path):
    path = tmp_path / "corrupt.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + np.random.default_rng(5).integers(0, 256, 200, dtype=np.uint8).tobytes())
    expect_error(path, ImageReadError, "damaged after its signature")


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif", ".dat"])
def test_random_bytes(tmp_path, suffix):
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    expect_error(path, UnsupportedFormat, "first bytes")


def test_misleading_extension_loads_by_content(tmp_path):
    path = tmp_path / "actually_png.jpg"
    path.write_bytes(encoded("PNG"))
    image = read_image(path)
    assert image.meta.format == "PNG" and image.meta.extra["suffix_mismatch"] == ".jpg"


@pytest.mark.parametrize(("format_name", "named"), [("GIF", "GIF"), ("PDF", "PDF")])
def test_unsupported_formats_are_named(tmp_path, format_name, named):
    path = tmp_path / "file.png"
    path.write_bytes(encoded(format_name, mode="RGB"))
    expect_error(path, UnsupportedFormat, f"{named} files are not supported")


def test_text_file_with_image_name(tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("shopping list\n")
    expect_error(path, UnsupportedFormat, "the name says TIFF but the content is none of the formats read")


def test_decompression_bomb_header_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    path.write_bytes(encoded("PNG", size=(400, 300)))
    expect_error_limit = pytest.raises(DecompressionBomb,
                                       match="400 x 300 = 120,000 pixels, more than the limit of 100,000 .* "
                                             "raise the limit with the max_pixels argument")
    with expect_error_limit:
        read_image(path, max_pixels=100_000)
    monkeypatch.setenv("ENHANCE_MAX_PIXELS", "100000")
    with pytest.raises(DecompressionBomb, match="ENHANCE_MAX_PIXELS"):
        read_image(path)
    assert read_image(path, max_pixels=0).cols == 400
    monkeypatch.setenv("ENHANCE_MAX_PIXELS", "0")
    assert read_image(path).rows == 300


@pytest.mark.parametrize("make", ["tiff", "jpeg"])
def test_bomb_limit_applies_to_every_format(tmp_path, make):
    path = tmp_path / f"big.{make}"
    if make == "tiff":
        path.write_bytes(tiff_bytes(tmp_path))
    else:
        path.write_bytes(encoded("JPEG", size=(64, 64)))
    with pytest.raises(DecompressionBomb):
        read_image(path, max_pixels=1000)


def test_pixel_limit_settings(monkeypatch):
    monkeypatch.delenv("ENHANCE_MAX_PIXELS", raising=False)
    assert resolve_max_pixels(None) == DEFAULT_MAX_PIXELS == 500_000_000
    monkeypatch.setenv("ENHANCE_MAX_PIXELS", "lots")
    with pytest.raises(ParameterError, match='ENHANCE_MAX_PIXELS="lots" is not an integer'):
        resolve_max_pixels(None)
    with pytest.raises(ParameterError, match="max_pixels must be >= 0"):
        resolve_max_pixels(-5)


def test_missing_file_and_directory(tmp_path):
    expect_error(tmp_path / "nowhere.png", ImageReadError, "no such file")
    expect_error(tmp_path, ImageReadError, "is a folder")
    write_image(make_image(), tmp_path / "photo.png")
    for typed in ("photo.png ", "photo.png\n", " photo.png"):
        with pytest.raises(ImageReadError) as caught:
            read_image(tmp_path / typed)
        assert f"the name given, {typed!r}, starts or ends with a space" in str(caught.value)


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "locked.png"
    path.write_bytes(encoded("PNG"))

    def deny(file, mode="r", *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr(reader_module, "open", deny, raising=False)
    expect_error(path, ImageReadError, "permission denied")
    monkeypatch.setattr(reader_module, "open", builtins.open, raising=False)


@pytest.mark.parametrize("listable", [True, False])
def test_a_file_in_a_folder_that_cannot_be_entered_names_that_folder(tmp_path, monkeypatch, listable):
    path = tmp_path / "locked" / "inner" / "b.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(encoded("PNG"))
    lock_folder(monkeypatch, tmp_path / "locked", listable=listable)
    expect_error(path, ImageReadError, f"permission denied: the folder {tmp_path / 'locked'} cannot be entered",
                 "check the folder's permissions")


def test_single_page_format_rejects_other_pages(tmp_path):
    path = tmp_path / "one.png"
    path.write_bytes(encoded("PNG"))
    with pytest.raises(ImageReadError, match="single page; page 2 does not exist"):
        read_image(path, page=2)
    with pytest.raises(ParameterError, match="page must be"):
        read_image(path, page=-1)


def textured_jpeg(mode: str = "RGB", size: tuple[int, int] = (96, 128)) -> bytes:
    """A JPEG of noise (so that its compressed data is spread over the whole picture)."""
    shape = size if mode == "L" else (*size, 3)
    pixels = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, format="JPEG", quality=90)
    return out.getvalue()


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_jpeg_cut_in_half_and_closed_with_its_end_marker_is_refused_not_grey(tmp_path, mode):
    """What a half-copied card file looks like: libjpeg would fill the missing half with flat grey blocks."""
    data = textured_jpeg(mode)
    path = tmp_path / "half.jpg"
    path.write_bytes(data[: len(data) // 2] + b"\xff\xd9")
    expect_error(path, ImageReadError, "its compressed data ends before the whole picture",
                 "premature end of data segment", "truncated or damaged")


def test_a_jpeg_header_claiming_a_larger_picture_than_its_data_is_refused(tmp_path):
    data = bytearray(textured_jpeg())
    frame = data.index(b"\xff\xc0")
    data[frame + 5:frame + 9] = (3000).to_bytes(2, "big") + (4000).to_bytes(2, "big")
    path = tmp_path / "claims.jpg"
    path.write_bytes(bytes(data))
    expect_error(path, ImageReadError, "ends before the whole picture")


def test_damage_inside_a_jpeg_opens_with_a_warning(tmp_path):
    data = bytearray(textured_jpeg())
    data[data.index(b"\xff\xda") + 40] ^= 0x55
    path = tmp_path / "flipped.jpg"
    path.write_bytes(bytes(data))
    (warning,) = read_image(path).meta.extra["warnings"]
    assert warning.startswith("the JPEG data is damaged (Corrupt JPEG data: ") and "parts of the picture" in warning


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_a_sound_jpeg_decodes_as_pillow_decodes_it_without_warnings(tmp_path, mode):
    path = tmp_path / "sound.jpg"
    path.write_bytes(textured_jpeg(mode))
    image = read_image(path)
    expected = np.asarray(PILImage.open(path)).astype(np.float32) / 255.0
    np.testing.assert_array_equal(image.pixels, expected.reshape(image.pixels.shape))
    assert "warnings" not in image.meta.extra


def test_damage_that_restart_markers_or_progressive_scans_contain_opens_with_a_warning(tmp_path):
    """The rest of such a picture survives: restart markers start the data afresh, a later scan refines."""
    pixels = np.random.default_rng(1).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, format="JPEG", quality=90, restart_marker_rows=1)
    data = out.getvalue()
    interval = data.index(b"\xff\xd0")
    (tmp_path / "restarts.jpg").write_bytes(data[:interval + 100] + data[interval + 150:])
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, format="JPEG", quality=90, progressive=True)
    data = out.getvalue()
    last = data.rindex(b"\xff\xda")
    (tmp_path / "progressive.jpg").write_bytes(data[:last + (len(data) - last) // 2] + b"\xff\xd9")
    for name in ("restarts.jpg", "progressive.jpg"):
        (warning,) = read_image(tmp_path / name).meta.extra["warnings"]
        assert warning.startswith("the JPEG data is damaged (Corrupt JPEG data: "), name


def test_a_cut_jpeg_is_refused_even_with_restart_markers_or_in_a_progressive_first_scan(tmp_path):
    """Restart markers keep the rest of a picture only when the rest is there; a first scan cut is grey."""
    pixels = np.random.default_rng(1).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    for name, options in (("restarts.jpg", {"restart_marker_rows": 1}), ("progressive.jpg", {"progressive": True})):
        out = io.BytesIO()
        PILImage.fromarray(pixels).save(out, format="JPEG", quality=90, **options)
        data = out.getvalue()
        start = data.index(b"\xff\xda")
        end = data.index(b"\xff\xda", start + 2) if name == "progressive.jpg" else len(data)
        (tmp_path / name).write_bytes(data[:(start + end) // 2] + b"\xff\xd9")
        expect_error(tmp_path / name, ImageReadError, "its compressed data ends before the whole picture")


def test_a_progressive_jpeg_whose_height_says_more_than_its_scans_hold_is_refused(tmp_path):
    """Every scan then ends early: the rows below the real picture would open flat grey."""
    pixels = np.random.default_rng(1).integers(0, 256, (64, 48, 3), dtype=np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, format="JPEG", quality=90, progressive=True)
    data = bytearray(out.getvalue())
    frame = data.index(b"\xff\xc2")
    assert data[frame + 5:frame + 7] == (64).to_bytes(2, "big")
    data[frame + 5:frame + 7] = (128).to_bytes(2, "big")
    (tmp_path / "taller.jpg").write_bytes(bytes(data))
    expect_error(tmp_path / "taller.jpg", ImageReadError, "its compressed data ends before the whole picture")


@pytest.mark.parametrize(("size", "options", "cut"), [
    ((333, 517), {"restart_marker_rows": 8}, 0.10),
    ((480, 640), {"restart_marker_rows": 4}, 0.68),
    ((480, 640), {"restart_marker_blocks": 1, "subsampling": 0}, 0.15),
])
def test_a_cut_jpeg_with_few_restart_markers_or_cut_where_one_is_due_is_refused(tmp_path, size, options, cut):
    pixels = np.random.default_rng(1).integers(0, 256, (*size, 3), dtype=np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, format="JPEG", quality=90, **options)
    data = out.getvalue()
    (tmp_path / "cut.jpg").write_bytes(data[:int(len(data) * cut)] + b"\xff\xd9")
    expect_error(tmp_path / "cut.jpg", ImageReadError, "its compressed data ends before the whole picture")



def test_a_tiff_of_complex_numbers_is_named_as_such_not_as_damaged(tmp_path):
    tifffile.imwrite(tmp_path / "spectrum.tif", np.ones((8, 8), np.complex64))
    expect_error(tmp_path / "spectrum.tif", ImageReadError, "holds complex numbers", "save its magnitude")
