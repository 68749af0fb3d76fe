"""TIFF specifics: pages, memory mapping, layouts, compression, EXIF structure, unsupported color models."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from enhance_core.errors import ImageReadError, UnsupportedFormat
from enhance_core.io import read_image, write_image
from enhance_core.io import tiff as tiff_module

from .hostile_files import set_tiff_tag
from .io_fixtures import camera_exif, make_image


def write_pages(path, count=3):
    """Write ``count`` 16-bit gray pages whose values equal 1000 * page number."""
    with tifffile.TiffWriter(path) as writer:
        for page in range(count):
            writer.write(np.full((20, 30), 1000 * page, np.uint16), photometric="minisblack")


def test_first_page_by_default_and_chosen_page_on_request(tmp_path):
    path = tmp_path / "pages.tif"
    write_pages(path)
    first, third = read_image(path), read_image(path, page=2)
    assert first.meta.page == 0 and first.meta.page_count == 3
    assert np.all(np.rint(first.pixels * 65535) == 0)
    assert third.meta.page == 2 and np.all(np.rint(third.pixels * 65535) == 2000)


def test_missing_page_names_the_page_count(tmp_path):
    path = tmp_path / "pages.tif"
    write_pages(path)
    with pytest.raises(ImageReadError, match="page 5 does not exist; the file has 3 page"):
        read_image(path, page=5)


def test_uncompressed_page_is_memory_mapped_not_read_twice(tmp_path, monkeypatch):
    path = tmp_path / "scan.tif"
    samples = np.arange(64 * 48 * 3, dtype=np.uint16).reshape(64, 48, 3)
    tifffile.imwrite(path, samples, photometric="rgb")
    mapped = []
    real_memmap = tifffile.memmap

    def spy(*args, **kwargs):
        mapped.append(args)
        return real_memmap(*args, **kwargs)

    monkeypatch.setattr(tiff_module.tifffile, "memmap", spy)
    image = read_image(path)
    assert mapped, "uncompressed TIFF was not memory-mapped"
    np.testing.assert_array_equal(np.rint(image.pixels * 65535).astype(np.uint16), samples)


@pytest.mark.parametrize("compression", ["lzw", "zlib", "packbits", "jpeg"])
def test_compressed_tiffs_decode(tmp_path, compression):
    path = tmp_path / f"{compression}.tif"
    samples = np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (32, 1, 3))
    tifffile.imwrite(path, samples, photometric="rgb", compression=compression)
    image = read_image(path)
    tolerance = 3 if compression == "jpeg" else 0
    assert np.abs(np.rint(image.pixels * 255) - samples).max() <= tolerance


@pytest.mark.parametrize("compression, kept", [(None, "NONE"), ("lzw", "LZW"), ("packbits", "PACKBITS"),
                                               ("zstd", "ZSTD"), ("zlib", "ADOBE_DEFLATE"), ("jpeg", "ADOBE_DEFLATE")])
def test_a_tiff_written_from_a_tiff_keeps_its_compression(tmp_path, compression, kept):
    """An archive whose masters must stay uncompressed or LZW got Deflate whatever the scan was."""
    samples = np.tile(np.arange(64, dtype=np.uint16)[None, :, None] * 1000, (32, 1, 3))
    tifffile.imwrite(tmp_path / "scan.tif", samples, photometric="rgb", compression=compression)
    image = read_image(tmp_path / "scan.tif")
    write_image(image, tmp_path / "out.tif")
    with tifffile.TiffFile(tmp_path / "out.tif") as written:
        assert tifffile.COMPRESSION(written.pages[0].compression).name == kept
        assert int(written.pages[0].predictor) == (1 if kept in ("NONE", "PACKBITS") else 2)
        np.testing.assert_array_equal(written.pages[0].asarray(), np.rint(image.pixels * 65535).astype(np.uint16))
    png = make_image(bit_depth=16)
    write_image(png, tmp_path / "from_png.tif")
    with tifffile.TiffFile(tmp_path / "from_png.tif") as written:
        assert tifffile.COMPRESSION(written.pages[0].compression).name == "ADOBE_DEFLATE"


def test_planar_separate_layout(tmp_path):
    path = tmp_path / "planar.tif"
    samples = np.stack([np.full((10, 12), v, np.uint8) for v in (10, 20, 30)])
    tifffile.imwrite(path, samples, photometric="rgb", planarconfig="separate")
    image = read_image(path)
    assert image.pixels.shape == (10, 12, 3)
    np.testing.assert_array_equal(np.rint(image.pixels[0, 0] * 255), [10, 20, 30])


def test_min_is_white_is_inverted(tmp_path):
    path = tmp_path / "miniswhite.tif"
    tifffile.imwrite(path, np.array([[0, 255]], np.uint8), photometric="miniswhite")
    np.testing.assert_array_equal(read_image(path).pixels[0, :, 0], [1.0, 0.0])


@pytest.mark.parametrize(("bits", "dtype"), [(2, np.uint8), (4, np.uint8), (12, np.uint16)])
def test_min_is_white_of_fewer_bits_is_inverted_within_them(tmp_path, bits: int, dtype: type) -> None:
    """White is the largest value the stored bits hold: 4-bit 15, not the 255 of the byte they are read into."""
    path = tmp_path / "miniswhite.tif"
    top = (1 << bits) - 1
    tifffile.imwrite(path, np.array([[0, top // 3, top]], dtype), photometric="miniswhite", bitspersample=bits)
    image = read_image(path)
    np.testing.assert_allclose(image.pixels[0, :, 0], [1.0, 1.0 - (top // 3) / top, 0.0], atol=1e-6)
    assert image.meta.bit_depth == bits


def test_a_bilevel_min_is_white_page_reads_as_one_bit_and_exports_8_bit(tmp_path) -> None:
    """Inverted as floats (1.0 - samples), a 1-bit document scan read as a 32-bit float image and exported so."""
    from enhance_core.io import write_image

    page = np.zeros((4, 6), bool)
    page[:, 3:] = True  # black, as the fax convention has it
    tifffile.imwrite(tmp_path / "fax.tif", page, photometric="miniswhite")
    image = read_image(tmp_path / "fax.tif")
    assert (image.meta.bit_depth, image.meta.float_source) == (1, False)
    np.testing.assert_array_equal(image.pixels[0, :, 0], [1, 1, 1, 0, 0, 0])
    write_image(image, tmp_path / "out.tif")
    with tifffile.TiffFile(tmp_path / "out.tif") as written:
        assert written.pages[0].dtype == np.uint8


def _overwrite_tag(path, name: str, value: int) -> None:
    """Overwrite the value of page 0's SHORT or LONG tag ``name`` in place (as a flipped bit or an old writer)."""
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[0].tags[name]
        offset, dtype = tag.valueoffset, {3: "<u2", 4: "<u4"}[int(tag.dtype)]
    data = bytearray(path.read_bytes())
    data[offset:offset + np.dtype(dtype).itemsize] = np.array(value, dtype).tobytes()
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("tiled", (False, True))
def test_a_height_larger_than_the_strips_hold_is_refused(tmp_path, tiled: bool) -> None:
    """A bit flipped in ImageLength (TIFF has no checksum): the picture must not open with rows of black."""
    path = tmp_path / "scan.tif"
    layout = {"tile": (16, 16)} if tiled else {"rowsperstrip": 40}
    tifffile.imwrite(path, np.full((40, 48, 3), 30000, np.uint16), compression="zlib", **layout)
    _overwrite_tag(path, "ImageLength", 296)
    with pytest.raises(ImageReadError, match=r"scan\.tif: TIFF lists \d+ (strip|tile)\(s\) where a 48 x 296 image"):
        read_image(path)


def test_a_whole_plain_image_in_one_strip_opens_whatever_its_rows_per_strip_says(tmp_path) -> None:
    """Some old writers put an uncompressed picture in one strip and say 8 rows per strip; it opened before the
    strip count was checked, and must still open."""
    rgb = (np.random.default_rng(0).random((40, 30, 3)) * 255).astype(np.uint8)
    path = tmp_path / "old_writer.tif"
    tifffile.imwrite(path, rgb, photometric="rgb", rowsperstrip=40)
    _overwrite_tag(path, "RowsPerStrip", 8)
    np.testing.assert_array_equal(np.rint(read_image(path).pixels * 255).astype(np.uint8), rgb)


def test_palette_tiff_becomes_rgb(tmp_path):
    path = tmp_path / "palette.tif"
    colormap = np.zeros((3, 256), np.uint16)
    colormap[:, 1] = (65535, 0, 32896)
    tifffile.imwrite(path, np.array([[0, 1]], np.uint8), photometric="palette", colormap=colormap)
    image = read_image(path)
    np.testing.assert_allclose(image.pixels[0, 1], [1.0, 0.0, 32896 / 65535])


def test_associated_alpha_is_unpremultiplied(tmp_path):
    path = tmp_path / "premultiplied.tif"
    samples = np.array([[[100, 50, 0, 128]]], np.uint8)
    tifffile.imwrite(path, samples, photometric="rgb", extrasamples=[1])
    image = read_image(path)
    np.testing.assert_allclose(image.pixels[0, 0], [100 / 128, 50 / 128, 0], atol=1e-6)
    assert image.alpha[0, 0] == pytest.approx(128 / 255)


@pytest.mark.parametrize(("photometric", "samples", "extras", "kept", "warning"), [
    ("rgb", 5, [0, 0], 3, "5 channels per pixel: the 2 beyond RGB are left out (Enhance Studio reads, edits and "
                          "writes RGB only)"),
    ("rgb", 5, [2, 0], 3, "5 channels per pixel: the 1 beyond RGB and alpha is left out"),
    ("minisblack", 3, [0, 0], 1, "3 channels per pixel: the 2 beyond gray are left out"),
    ("minisblack", 2, [2], 1, None),
])
def test_extra_channels_left_out_are_a_read_warning(tmp_path, photometric, samples, extras, kept, warning):
    path = tmp_path / "extra.tif"
    data = np.arange(4 * 6 * samples, dtype=np.uint8).reshape(4, 6, samples)
    tifffile.imwrite(path, data, photometric=photometric, extrasamples=extras, planarconfig="contig")
    image = read_image(path)
    assert image.channels == kept and (image.alpha is not None) == (extras[0] == 2)
    warnings = image.meta.extra.get("warnings", [])
    assert warnings == [] if warning is None else any(w.startswith(warning) for w in warnings), warnings


def test_twelve_bit_samples_map_their_range_to_one(tmp_path):
    path = tmp_path / "twelve.tif"
    tifffile.imwrite(path, np.array([[0, 4095]], np.uint16), bitspersample=12, photometric="minisblack")
    image = read_image(path)
    assert image.meta.bit_depth == 12
    np.testing.assert_allclose(image.pixels[0, :, 0], [0.0, 1.0])


def test_cmyk_tiff_is_refused_with_advice(tmp_path):
    """The message said CMYK files need a prepress converter, while a CMYK JPEG opens (a helper)."""
    path = tmp_path / "cmyk.tif"
    tifffile.imwrite(path, np.zeros((4, 4, 4), np.uint8), photometric="separated")
    with pytest.raises(UnsupportedFormat, match=r"a CMYK TIFF is not read \(a CMYK JPEG is\); convert it to RGB"):
        read_image(path)


def test_unknown_photometric_is_refused_by_number(tmp_path):
    path = tmp_path / "photometric7.tif"
    tifffile.imwrite(path, np.zeros((4, 4), np.uint8), photometric="minisblack")
    set_tiff_tag(path, 262, 7)  # PhotometricInterpretation 7: no name in tifffile's PHOTOMETRIC
    with pytest.raises(UnsupportedFormat, match="photometric interpretation 7 is not supported; convert"):
        read_image(path)


def test_palette_tiff_without_color_map_is_called_damaged(tmp_path):
    path = tmp_path / "palette.tif"
    tifffile.imwrite(path, np.array([[0, 1]], np.uint8), photometric="minisblack")
    set_tiff_tag(path, 262, 3)  # palette, but no ColorMap tag (320)
    with pytest.raises(ImageReadError, match="palette TIFF without a color map"):
        read_image(path)


def test_pages_tifffile_reads_as_frames_are_read_in_full(tmp_path):
    # tifffile reads a ScanImage-looking file ("SI." software) as one page and then TiffFrames,
    # which lack the tags the reader checks.
    path = tmp_path / "frames.tif"
    with tifffile.TiffWriter(path) as writer:
        for page in range(6):
            writer.write(np.full((8, 8), 10 * page, np.uint8), photometric="minisblack", software="SI.test",
                         contiguous=False, metadata=None)
    with tifffile.TiffFile(path) as tif:
        assert isinstance(tif.pages[3], tifffile.TiffFrame)
    image = read_image(path, page=3)
    assert image.meta.page == 3
    np.testing.assert_array_equal(np.rint(image.pixels * 255), 30)


def test_written_exif_is_standard_tiff_structure(tmp_path):
    image = make_image(bit_depth=16)
    image.meta.exif = camera_exif(orientation=8)
    path = write_image(image, tmp_path / "exif.tif")
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        assert tags["Make"].value == "TestCam" and tags["Orientation"].value == 1
        assert tags["ExifTag"].value["DateTimeOriginal"] == "2024:05:06 07:08:09"
        assert tags["GPSTag"].value["GPSLatitudeRef"] == "N"
        assert tags["InterColorProfile"].value == image.meta.icc_profile
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE


def test_byte_strings_of_the_exif_and_gps_ifds_keep_their_exif_types(tmp_path):
    """UserComment and ComponentsConfiguration were written as BYTE, which exiftool -validate calls non-standard;
    GPSVersionID is BYTE by the standard."""
    import struct

    from PIL import Image as PILImage

    exif = PILImage.Exif()
    exif.load(camera_exif())
    exif.get_ifd(0x8769).update({0x9286: b"ASCII\x00\x00\x00note", 0x9101: b"\x01\x02\x03\x00"})
    exif.get_ifd(0x8825)[0x0000] = b"\x02\x03\x00\x00"
    image = make_image(bit_depth=8)
    image.meta.exif = exif.tobytes()
    data = write_image(image, tmp_path / "exif.tif").read_bytes()
    order = "<" if data[:2] == b"II" else ">"

    def entries(offset: int) -> dict[int, tuple[int, int]]:
        (count,) = struct.unpack_from(order + "H", data, offset)
        found = (struct.unpack_from(order + "HHII", data, offset + 2 + 12 * i) for i in range(count))
        return {tag: (kind, value) for tag, kind, _, value in found}

    ifd0 = entries(struct.unpack_from(order + "I", data, 4)[0])
    exif_types = {tag: kind for tag, (kind, _) in entries(ifd0[0x8769][1]).items()}
    gps_types = {tag: kind for tag, (kind, _) in entries(ifd0[0x8825][1]).items()}
    assert exif_types[0x9286] == 7 and exif_types[0x9101] == 7 and gps_types[0x0000] == 1


def test_float_tiff_nan_and_infinities_read_as_finite_values_with_a_warning(tmp_path):
    from enhance_core.render import render_image
    from enhance_core.stack import make_item

    data = np.linspace(0.1, 0.9, 20 * 30 * 3, dtype=np.float32).reshape(20, 30, 3)
    data[1, 2, 0], data[3, 4, 1], data[5, 6, 2] = np.nan, np.inf, -np.inf
    tifffile.imwrite(tmp_path / "nan.tif", data, photometric="rgb")
    image = read_image(tmp_path / "nan.tif")
    assert np.isfinite(image.pixels).all()
    assert image.pixels[1, 2, 0] == pytest.approx(0.1), "NaN, often 'no data', reads as the lowest value, not 0"
    assert image.pixels[3, 4, 1] == pytest.approx(0.9) and image.pixels[5, 6, 2] == pytest.approx(0.1)
    assert any("3 color sample(s) hold NaN or infinite values" in w for w in image.meta.extra["warnings"])
    curve = make_item("tone_curve", {"rgb": ((0.0, 0.0), (0.5, 0.7), (1.0, 1.0))})
    assert np.isfinite(render_image(image, [curve]).pixels).all()
    tifffile.imwrite(tmp_path / "gray_nan.tif", data[:, :, 0], photometric="minisblack")
    assert any(w.startswith("1 gray sample(s) hold NaN") for w in read_image(tmp_path / "gray_nan.tif").meta.extra[
        "warnings"]), "a gray file's samples are not called colour ones"


def test_a_float_tiff_cut_out_keeps_its_alpha_and_values_past_white(tmp_path):
    rgba = np.random.default_rng(1).random((32, 32, 4)).astype(np.float32)
    rgba[..., :3] *= 2.0
    rgba[..., 3] = 0.0
    rgba[8:24, 8:24, 3] = 1.0
    tifffile.imwrite(tmp_path / "cutout.tif", rgba, photometric="rgb", extrasamples=(2,))
    image = read_image(tmp_path / "cutout.tif")
    back = read_image(write_image(image, tmp_path / "out.tif"))
    assert back.meta.float_source and back.alpha is not None
    np.testing.assert_array_equal(back.alpha, image.alpha)
    np.testing.assert_allclose(back.pixels[8:24, 8:24], image.pixels[8:24, 8:24], rtol=1e-6)
    assert back.pixels.max() > 1.5


def test_a_tiff_without_resolution_tags_states_no_dpi(tmp_path) -> None:
    """tifffile gives 1 for missing XResolution / YResolution: a page Pillow wrote without dpi read as 1 dpi
    (an A4 scan 2480 inches wide), and every export carried it on."""
    from PIL import Image as PILImage

    PILImage.new("L", (40, 30), 200).save(tmp_path / "nodpi.tif")
    assert "dpi" not in read_image(tmp_path / "nodpi.tif").meta.extra
    PILImage.new("L", (40, 30), 200).save(tmp_path / "dpi.tif", dpi=(300, 300))
    assert read_image(tmp_path / "dpi.tif").meta.extra["dpi"] == (300.0, 300.0)


def test_float_tiff_pixels_are_the_image_read_not_a_view_of_the_file(tmp_path):
    """Float samples stayed memory-mapped: the pixels changed when another program rewrote the file in place (a
    truncation ended the process with a bus error), and Windows kept the file from being replaced."""
    path = tmp_path / "master.tif"
    values = np.linspace(0.0, 2.0, 64 * 48 * 3, dtype=np.float32).reshape(64, 48, 3)
    tifffile.imwrite(path, values, photometric="rgb")
    image = read_image(path)
    tifffile.imwrite(path.with_name("other.tif"), np.zeros_like(values), photometric="rgb")
    path.write_bytes(path.with_name("other.tif").read_bytes())  # rewritten in place, same layout
    np.testing.assert_array_equal(image.pixels, values)


def test_a_resolution_per_centimetre_is_written_per_centimetre_again(tmp_path):
    """A TIFF at 118.11 px/cm came back at 299.9994 px/inch."""
    samples = np.zeros((8, 8, 3), np.uint8)
    tifffile.imwrite(tmp_path / "cm.tif", samples, photometric="rgb", resolution=(118.11, 118.11),
                     resolutionunit="CENTIMETER")
    image = read_image(tmp_path / "cm.tif")
    assert image.meta.extra["dpi"][0] == pytest.approx(118.11 * 2.54)
    write_image(image, tmp_path / "out.tif")
    with tifffile.TiffFile(tmp_path / "out.tif") as written:
        page = written.pages[0]
        assert page.resolutionunit == tifffile.RESUNIT.CENTIMETER
        assert page.get_resolution()[0] == pytest.approx(118.11, abs=1e-3)


def test_an_uncompressed_tiff_too_large_for_a_classic_tiff_says_it_loses_the_camera_exif(tmp_path, monkeypatch):
    """A master over 4 GiB kept uncompressed is a BigTIFF, whose EXIF sub-IFDs are not written: silently."""
    from enhance_core.io import write_losses, writer

    image = make_image(bit_depth=8)
    image.meta.exif = camera_exif()
    image.meta.extra["compression"] = "NONE"
    assert not write_losses(image, tmp_path / "out.tif")
    monkeypatch.setattr(writer, "BIGTIFF_BYTES", 10)
    assert any("BigTIFF" in loss for loss in write_losses(image, tmp_path / "out.tif"))
    image.meta.extra["compression"] = "LZW"
    assert not write_losses(image, tmp_path / "out.tif")
