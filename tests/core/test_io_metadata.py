"""Metadata beyond EXIF and ICC: XMP, IPTC and PNG text from every source into every format that holds them,
and a note naming what a format cannot hold."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage
from PIL import PngImagePlugin

from enhance_core.image import Image, ImageMeta
from enhance_core.io import read_image, write_image, write_losses

from .io_fixtures import (camera_exif, gradient_pixels, iptc_records, jpeg_segment, png_with_chunks, with_segments,
                          xmp_packet)

XMP_APP1 = b"http://ns.adobe.com/xap/1.0/\x00"


def _tagged_jpeg(path, *, orientation: int = 1) -> None:
    """A JPEG holding an XMP packet (APP1) and IPTC records in a Photoshop resource block (APP13)."""
    buffer = io.BytesIO()
    PILImage.fromarray((gradient_pixels(24, 32, 3) * 255).astype(np.uint8)).save(buffer, "JPEG")
    records = iptc_records()
    resources = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(records)) + records + b"\x00" * (len(records) % 2)
    path.write_bytes(with_segments(buffer.getvalue(), jpeg_segment(0xE1, XMP_APP1 + xmp_packet(orientation))
                                   + jpeg_segment(0xED, b"Photoshop 3.0\x00" + resources)))


def test_a_jpeg_s_xmp_and_iptc_are_read(tmp_path):
    _tagged_jpeg(tmp_path / "tagged.jpg")
    image = read_image(tmp_path / "tagged.jpg")
    assert image.meta.xmp == xmp_packet() and image.meta.iptc == iptc_records()


@pytest.mark.parametrize("suffix", ["jpg", "tif"])
def test_xmp_and_iptc_go_from_a_jpeg_into_jpeg_and_tiff(tmp_path, suffix):
    _tagged_jpeg(tmp_path / "tagged.jpg")
    written = write_image(read_image(tmp_path / "tagged.jpg"), tmp_path / f"out.{suffix}")
    back = read_image(written)
    assert back.meta.xmp == xmp_packet() and back.meta.iptc == iptc_records()
    if suffix == "tif":
        with tifffile.TiffFile(written) as tif:
            assert tif.pages[0].tags.valueof(700) == xmp_packet()
            assert tif.pages[0].tags.valueof(33723) == iptc_records()
    else:
        with PILImage.open(written) as picture:
            assert picture.info["xmp"] == xmp_packet() and picture.info["photoshop"][0x0404] == iptc_records()
    assert write_losses(back, tmp_path / f"again.{suffix}") == []


@pytest.mark.parametrize("suffix", ["png", "webp"])
def test_xmp_goes_into_png_and_webp_and_their_missing_iptc_is_said(tmp_path, suffix):
    _tagged_jpeg(tmp_path / "tagged.jpg")
    source = read_image(tmp_path / "tagged.jpg")
    written = write_image(source, tmp_path / f"out.{suffix}")
    assert read_image(written).meta.xmp == xmp_packet()
    with PILImage.open(written) as picture:
        picture.load()
        assert picture.info["xmp"] in (xmp_packet(), xmp_packet().decode())
    assert any(f"{suffix.upper()} holds no IPTC" in loss for loss in write_losses(source, written))


@pytest.mark.parametrize(("suffix", "channels", "profile", "left_out"), [
    ("bmp", 3, "prophoto", True), ("bmp", 3, "srgb", False), ("webp", 1, "gray", True), ("webp", 3, "prophoto", False),
    ("png", 1, "gray", False), ("tif", 3, "prophoto", False),
])
def test_a_format_that_leaves_out_a_colour_profile_other_than_srgb_says_so(tmp_path, suffix, channels, profile,
                                                                           left_out):
    """Viewers take such a file for sRGB: a wide-gamut photo looks duller, a linear scan much darker."""
    from .io_fixtures import gray_profile, prophoto_profile, srgb_profile

    icc = {"prophoto": prophoto_profile, "srgb": srgb_profile, "gray": lambda: gray_profile(1.0)}[profile]()
    image = Image(gradient_pixels(24, 32, channels), meta=ImageMeta(bit_depth=8, icc_profile=icc))
    written = write_image(image, tmp_path / f"out.{suffix}")
    with PILImage.open(written) as picture:
        assert (picture.info.get("icc_profile") is None) is (left_out or profile == "srgb" and suffix == "bmp")
    said = [loss for loss in write_losses(image, written) if "colour profile (ICC)" in loss]
    assert bool(said) is left_out, said


def test_bmp_says_it_holds_neither_exif_nor_xmp_nor_iptc(tmp_path):
    _tagged_jpeg(tmp_path / "tagged.jpg")
    image = read_image(tmp_path / "tagged.jpg")
    losses = " ".join(write_losses(image, tmp_path / "out.bmp"))
    assert "BMP holds no XMP" in losses and "BMP holds no IPTC" in losses and "EXIF" not in losses
    image.meta.exif = camera_exif()
    assert "BMP holds no EXIF: the camera, date" in " ".join(write_losses(image, tmp_path / "out.bmp"))


def test_the_xmp_orientation_is_reset_with_the_exif_one(tmp_path):
    _tagged_jpeg(tmp_path / "tagged.jpg", orientation=6)
    back = read_image(write_image(read_image(tmp_path / "tagged.jpg"), tmp_path / "out.jpg"))
    assert back.meta.xmp == xmp_packet(orientation=1)


def test_a_too_long_xmp_packet_is_left_out_of_a_jpeg_and_said(tmp_path):
    image = Image(gradient_pixels(8, 8, 3), meta=ImageMeta(xmp=xmp_packet() + b" " * 70000))
    assert "XMP packet is" in " ".join(write_losses(image, tmp_path / "out.jpg"))
    assert read_image(write_image(image, tmp_path / "out.jpg")).meta.xmp is None


def test_png_text_chunks_go_from_png_to_png(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("Copyright", "(c) Jane")
    info.add_itxt("Author", "Jane Ünal")
    info.add_text("Comment", "a long comment " * 20, zip=True)
    info.add_text("Raw profile type exif", "stale")
    info.add_itxt("XML:com.adobe.xmp", xmp_packet().decode())
    PILImage.fromarray((gradient_pixels(16, 16, 3) * 255).astype(np.uint8)).save(tmp_path / "texts.png", pnginfo=info)
    source = read_image(tmp_path / "texts.png")
    assert source.meta.xmp == xmp_packet()
    with PILImage.open(write_image(source, tmp_path / "out.png")) as picture:
        picture.load()
        assert picture.text["Copyright"] == "(c) Jane" and picture.text["Author"] == "Jane Ünal"
        assert picture.text["Comment"] == "a long comment " * 20
        assert "Raw profile type exif" not in picture.text
        assert picture.text["XML:com.adobe.xmp"] == xmp_packet().decode()
    assert "Author, Comment, Copyright are left out" in " ".join(write_losses(source, tmp_path / "out.jpg"))


def test_a_description_replaces_the_png_source_s_own(tmp_path):
    info = PngImagePlugin.PngInfo()
    info.add_text("Description", "old")
    PILImage.fromarray((gradient_pixels(16, 16, 3) * 255).astype(np.uint8)).save(tmp_path / "old.png", pnginfo=info)
    with PILImage.open(write_image(read_image(tmp_path / "old.png"), tmp_path / "new.png",
                                   description="new")) as picture:
        picture.load()
        assert picture.text["Description"] == "new"
        assert [name for name, _ in _png_chunks(tmp_path / "new.png")].count("iTXt") == 1


def _png_chunks(path) -> list[tuple[str, bytes]]:
    """(name, payload) of each chunk of a PNG file."""
    data, position, chunks = path.read_bytes(), 8, []
    while position < len(data):
        length, name = struct.unpack_from(">I4s", data, position)
        chunks.append((name.decode("latin-1"), data[position + 8:position + 8 + length]))
        position += 12 + length
    return chunks


def _camera_exif_with_extras(maker_note: bytes | None = None) -> bytes:
    """EXIF with IFD0 tags beyond the camera and authorship ones: Rating, XPKeywords, HostComputer, and a maker note."""
    exif = PILImage.Exif()
    exif[0x010F], exif[0x0110] = "Nikon", "Z 8"
    exif[0x4746] = 5
    exif[0x9C9E] = "sunset".encode("utf-16-le") + b"\x00\x00"
    exif[0x013C] = "darkroom"
    exif[0x0128], exif[0x011A], exif[0x011B] = 2, 300.0, 300.0
    exif_ifd = exif.get_ifd(0x8769)
    exif_ifd[0xA434] = "NIKKOR Z 24-70mm f/2.8 S"
    if maker_note is not None:
        exif_ifd[0x927C] = maker_note
    return exif.tobytes()


def test_ifd0_tags_beyond_the_camera_ones_go_through_a_tiff(tmp_path):
    image = Image(gradient_pixels(16, 16, 3), meta=ImageMeta(exif=_camera_exif_with_extras()))
    tiff = write_image(image, tmp_path / "out.tif")
    with tifffile.TiffFile(tiff) as tif:
        tags = tif.pages[0].tags
        assert (tags[18246].dtype, tags[18246].value) == (3, 5)
        assert (tags[40094].dtype, tags[40094].value) == (1, "sunset".encode("utf-16-le") + b"\x00\x00")
        assert tags.valueof(316) == "darkroom"
    back = write_image(read_image(tiff), tmp_path / "back.jpg")
    with PILImage.open(back) as picture:
        exif = picture.getexif()
    assert exif[0x4746] == 5 and exif[0x013C] == "darkroom" and exif[0x9C9E].startswith("sunset".encode("utf-16-le"))
    assert exif.get_ifd(0x8769)[0xA434] == "NIKKOR Z 24-70mm f/2.8 S"
    assert not {0x0100, 0x0103, 0x0111, 0x0115, 0x0117, 0x8768, 0x8824} & set(exif), "the TIFF's layout is no EXIF"


def test_a_scanner_tiff_with_many_private_tags_still_goes_to_jpeg(tmp_path):
    tags = [(271, "s", 0, "ScanCo", False)] + [(65000 + i, "s", 0, "x" * 4000, False) for i in range(17)]
    tifffile.imwrite(tmp_path / "scan.tif", (gradient_pixels(16, 16, 3) * 255).astype(np.uint8), extratags=tags)
    scan = read_image(tmp_path / "scan.tif")
    out = write_image(scan, tmp_path / "scan.jpg")
    with PILImage.open(out) as picture:
        exif = picture.getexif()
    assert exif[271] == "ScanCo" and 0 < sum(1 for tag in exif if tag >= 65000) < 17, "some left out to fit"


def test_a_private_tiff_tag_of_non_ascii_text_is_left_out_rather_than_mangled(tmp_path):
    tags = [(271, "s", 0, "ScanCo", False), (269, "s", 0, "Łódź scan".encode("utf-8"), False),
            (65001, "s", 0, "plain", False)]
    tifffile.imwrite(tmp_path / "scan.tif", (gradient_pixels(16, 16, 3) * 255).astype(np.uint8), extratags=tags)
    out = write_image(read_image(tmp_path / "scan.tif"), tmp_path / "out.tif")
    with tifffile.TiffFile(out) as tif:
        written = tif.pages[0].tags
        assert 269 not in written and written.valueof(65001) == "plain"


def test_a_maker_note_is_left_out_of_a_tiff_and_said_but_kept_elsewhere(tmp_path):
    note = b"Nikon\x00\x02\x10\x00\x00II*\x00\x08\x00\x00\x00" + bytes(range(64))
    image = Image(gradient_pixels(16, 16, 3), meta=ImageMeta(exif=_camera_exif_with_extras(note)))
    tiff = write_image(image, tmp_path / "out.tif")
    assert "maker note" in " ".join(write_losses(image, tiff))
    back = read_image(tiff)
    exif = PILImage.Exif()
    exif.load(back.meta.exif)
    assert 0x927C not in exif.get_ifd(0x8769) and exif.get_ifd(0x8769)[0xA434] == "NIKKOR Z 24-70mm f/2.8 S"
    jpeg = write_image(image, tmp_path / "out.jpg")
    assert write_losses(image, jpeg) == []
    with PILImage.open(jpeg) as picture:
        assert picture.getexif().get_ifd(0x8769)[0x927C] == note


GAMA = ("gAMA", struct.pack(">I", 55556))
CHRM = ("cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 21000, 71000, 15000, 6000))


@pytest.mark.parametrize("chunks", [[GAMA, CHRM], [("sRGB", b"\x00")]])
def test_png_colour_chunks_go_from_png_to_png(tmp_path, chunks):
    png_with_chunks(tmp_path / "legacy.png", chunks)
    source = read_image(tmp_path / "legacy.png")
    written = write_image(source, tmp_path / "out.png", bit_depth=16)
    assert [chunk for chunk in _png_chunks(written) if chunk[0] in ("gAMA", "cHRM", "sRGB")] == chunks
    assert write_losses(source, written) == []


def test_an_icc_profile_wins_over_the_colour_chunks(tmp_path):
    from .io_fixtures import srgb_profile

    png_with_chunks(tmp_path / "tagged.png", [GAMA], icc_profile=srgb_profile())
    written = write_image(read_image(tmp_path / "tagged.png"), tmp_path / "out.png")
    names = [name for name, _ in _png_chunks(written)]
    assert "iCCP" in names and "gAMA" not in names


def test_a_jpeg_says_it_leaves_out_the_png_gamma(tmp_path):
    png_with_chunks(tmp_path / "legacy.png", [GAMA, CHRM])
    assert "gAMA/cHRM" in " ".join(write_losses(read_image(tmp_path / "legacy.png"), tmp_path / "out.jpg"))
