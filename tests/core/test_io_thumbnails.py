"""A picture's embedded thumbnails and sizes follow an edit: a cropped or retouched photo carries no picture of
the original, in its EXIF or XMP, and says its new size."""

from __future__ import annotations

import struct

from enhance_core.io.exif import EXIF_PREFIX, drop_thumbnail, ifd0_entries, set_pixel_dimensions

THUMBNAIL = b"\xff\xd8" + b"ORIGINAL PICTURE " * 8 + b"\xff\xd9"


def thumbnail_first_exif(order: str = "<", orientation: int | None = None) -> bytes:
    """An EXIF block whose thumbnail (IFD1 and its JPEG) lies before the EXIF sub-IFD, a valid layout: IFD0 with
    ImageWidth 600, ImageLength 400 (and ``orientation``), IFD1, the thumbnail, the sub-IFD with PixelX/YDimension
    600 x 400."""
    first = [(0x0100, 4, 600), (0x0101, 4, 400)] + ([] if orientation is None else [(0x0112, 3, orientation)])
    ifd1 = 8 + 2 + (len(first) + 1) * 12 + 4
    picture = ifd1 + 2 + 2 * 12 + 4
    sub_ifd = picture + len(THUMBNAIL)

    def table(entries: list[tuple[int, int, int]], link: int) -> bytes:
        packed = (struct.pack(order + "HHIH", tag, kind, 1, value) + b"\0\0" if kind == 3
                  else struct.pack(order + "HHII", tag, kind, 1, value) for tag, kind, value in entries)
        return struct.pack(order + "H", len(entries)) + b"".join(packed) + struct.pack(order + "I", link)

    body = (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "I", 8)
    body += table([*first, (0x8769, 4, sub_ifd)], ifd1)
    body += table([(0x0201, 4, picture), (0x0202, 4, len(THUMBNAIL))], 0)
    body += THUMBNAIL + table([(0xA002, 4, 600), (0xA003, 4, 400)], 0)
    return EXIF_PREFIX + body


def test_a_thumbnail_before_the_rest_of_the_block_is_overwritten_not_only_unlinked() -> None:
    """Only unlinked, a thumbnail-first block kept the original's thumbnail in every cropped copy (a helper)."""
    for order in "<>":
        exif = thumbnail_first_exif(order)
        dropped = drop_thumbnail(exif)
        assert b"ORIGINAL PICTURE" not in dropped and len(dropped) == len(exif)
        assert drop_thumbnail(dropped) == dropped, "no thumbnail is linked any more"
        resized = set_pixel_dimensions(dropped, 200, 300)
        assert {tag: value for tag, _, _, value in ifd0_entries(resized)[1] if tag in (0x0100, 0x0101)} == {
            0x0100: struct.pack(order + "H", 300), 0x0101: struct.pack(order + "H", 200)}
        assert struct.pack(order + "HHIH", 0xA002, 3, 1, 300) in resized, "the sub-IFD is still read"


XMP_THUMBNAIL = (b'<xmp:Thumbnails><rdf:Alt><rdf:li rdf:parseType="Resource"><xmpGImg:format>JPEG</xmpGImg:format>'
                 b'<xmpGImg:image>T1JJR0lOQUwgUElDVFVSRQ==</xmpGImg:image></rdf:li></rdf:Alt></xmp:Thumbnails>')


def described(rows: int, cols: int, orientation: int = 1) -> bytes:
    """An XMP packet giving the picture's size, its orientation and a thumbnail of it."""
    return (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
            b'xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:xmpGImg="http://ns.adobe.com/xap/1.0/g/img/" '
            + f'tiff:Orientation="{orientation}" tiff:ImageWidth="{cols}" exif:PixelYDimension="{rows}">'.encode()
            + f"<tiff:ImageLength>{rows}</tiff:ImageLength>".encode() + XMP_THUMBNAIL
            + b"</rdf:Description></rdf:RDF></x:xmpmeta>")


def test_a_crop_or_an_edit_leaves_the_xmp_thumbnail_out_and_a_resize_keeps_it_with_the_new_size() -> None:
    """A crop kept the XMP thumbnail, which shows the whole uncropped original (a helper)."""
    import numpy as np

    from enhance_core.image import Image, ImageMeta
    from enhance_core.render import render_image
    from enhance_core.stack import make_item

    photo = Image(np.full((40, 60, 3), 0.5, np.float32), meta=ImageMeta(bit_depth=8, xmp=described(40, 60)))
    cropped = render_image(photo, [make_item("crop", {"left": 0.5})]).meta.xmp
    assert b"Thumbnails" not in cropped and b'tiff:ImageWidth="30"' in cropped and b'"40"' in cropped
    edited = render_image(photo, [make_item("negative")]).meta.xmp
    assert edited == described(40, 60).replace(XMP_THUMBNAIL, b"")
    resized = render_image(photo, [make_item("resize", {"percent": 50.0})]).meta.xmp
    assert XMP_THUMBNAIL in resized and b"<tiff:ImageLength>20</tiff:ImageLength>" in resized


def test_an_orientation_given_only_in_xmp_turns_the_picture_upright(tmp_path) -> None:
    """digiKam writes a PNG's orientation in XMP: it was reset to 1 with the pixels left lying on their side."""
    import numpy as np
    from PIL import Image as PILImage
    from PIL import PngImagePlugin

    from enhance_core.io import read_image, write_image

    stored = np.zeros((40, 60, 3), np.uint8)
    stored[:, :30] = 255
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", described(40, 60, orientation=6).decode())
    PILImage.fromarray(stored).save(tmp_path / "lying.png", pnginfo=info)
    image = read_image(tmp_path / "lying.png")
    assert (image.rows, image.cols, image.meta.orientation) == (60, 40, 6)
    assert image.pixels[5, 20].min() == 1.0 and image.pixels[55, 20].max() == 0.0, "turned clockwise: left on top"
    assert b'tiff:ImageWidth="40"' in image.meta.xmp and b"Thumbnails" not in image.meta.xmp
    back = read_image(write_image(image, tmp_path / "upright.png"))
    assert (back.rows, back.cols, back.meta.orientation) == (60, 40, 1)


def test_a_heif_its_decoder_turned_says_its_upright_size_and_loses_its_thumbnail(tmp_path) -> None:
    """pillow-heif turns the pixels and resets the tag itself: the size and thumbnail of the stored picture stayed."""
    import numpy as np
    import pytest
    from PIL import Image as PILImage

    from enhance_core.io import read_image

    pytest.importorskip("pillow_heif").register_heif_opener()
    exif = thumbnail_first_exif(orientation=6)
    PILImage.fromarray(np.zeros((40, 60, 3), np.uint8)).save(tmp_path / "phone.heic", exif=exif, quality=90)
    image = read_image(tmp_path / "phone.heic")
    assert (image.rows, image.cols, image.meta.orientation) == (60, 40, 6)
    assert b"ORIGINAL PICTURE" not in image.meta.exif
    assert struct.pack("<HHIH", 0xA002, 3, 1, 40) in image.meta.exif


def test_a_placed_document_s_orientation_and_size_in_the_pantry_are_not_the_picture_s() -> None:
    """A tiff:Orientation of 6 in xmpMM:Pantry turned the picture on reading, for good once exported (a review)."""
    from enhance_core.io.xmp_iptc import xmp_for_new_picture, xmp_orientation, xmp_upright

    pantry = (b"<xmpMM:Pantry><rdf:Bag><rdf:li><rdf:Description><tiff:Orientation>6</tiff:Orientation>"
              b"<tiff:ImageWidth>900</tiff:ImageWidth></rdf:Description></rdf:li></rdf:Bag></xmpMM:Pantry>")
    packet = described(20, 60).replace(b"<tiff:ImageLength>", pantry + b"<tiff:ImageLength>")
    assert xmp_orientation(packet) == 1 and xmp_orientation(described(20, 60, orientation=6)) == 6
    resized = xmp_for_new_picture(packet, 10, 30, same_picture=True)
    assert pantry in resized and b'tiff:ImageWidth="30"' in resized
    assert pantry in xmp_upright(packet.replace(b'tiff:Orientation="1"', b'tiff:Orientation="3"'))


def thumbnail_last_exif() -> bytes:
    """IFD0 (with a 600 dpi XResolution value after it), the EXIF sub-IFD, the thumbnail, then IFD1 last, whose
    XResolution shares IFD0's value and whose thumbnail length is overstated by 200 bytes (into nothing)."""
    resolution = 8 + 2 + 2 * 12 + 4
    sub_ifd = resolution + 8
    picture = sub_ifd + 2 + 12 + 4
    ifd1 = picture + len(THUMBNAIL)
    body = b"II*\x00" + struct.pack("<I", 8)
    body += struct.pack("<H", 2) + struct.pack("<HHII", 0x011A, 5, 1, resolution)
    body += struct.pack("<HHII", 0x8769, 4, 1, sub_ifd) + struct.pack("<I", ifd1) + struct.pack("<II", 600, 1)
    body += struct.pack("<H", 1) + struct.pack("<HHII", 0xA002, 4, 1, 600) + struct.pack("<I", 0)
    body += THUMBNAIL
    body += struct.pack("<H", 3) + struct.pack("<HHII", 0x011A, 5, 1, resolution)
    body += struct.pack("<HHII", 0x0201, 4, 1, picture) + struct.pack("<HHII", 0x0202, 4, 1, len(THUMBNAIL) + 200)
    body += struct.pack("<I", 0)
    return EXIF_PREFIX + body


def test_a_thumbnail_is_overwritten_only_where_the_rest_of_the_block_uses_no_byte() -> None:
    """Trusting IFD1's pointers wiped IFD0's resolution, and a thumbnail before a last IFD1 was left whole (a
    review)."""
    exif = thumbnail_last_exif()
    dropped = drop_thumbnail(exif)
    assert b"ORIGINAL PICTURE" not in dropped
    assert struct.pack("<II", 600, 1) in dropped, "IFD0's XResolution value is kept"
    assert struct.pack("<HHII", 0xA002, 4, 1, 600) in dropped, "the EXIF sub-IFD is kept"
    assert len(dropped) == len(EXIF_PREFIX) + 8 + 2 + 2 * 12 + 4 + 8 + 2 + 12 + 4, "the zeros after it are cut off"
