"""Where a picture was taken (EXIF GPS, XMP GPS properties, IPTC and XMP place names) is kept by default and left
out when asked."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from PIL import Image as PILImage

from enhance_core.batch_manifest import work_hash
from enhance_core.cli import main
from enhance_core.image import Image, ImageMeta
from enhance_core.io import holds_location, read_image, write_image
from enhance_core.io.exif import has_location, without_location
from enhance_core.io.xmp_iptc import iptc_without_location, xmp_without_location

from .io_fixtures import camera_exif, gradient_pixels, iptc_records, png_with_chunks, xmp_packet

GPS_XMP = xmp_packet().replace(b'xmp:Rating="5"', b'xmp:Rating="5" exif:GPSLatitude="52,22.2083N" '
                               b'exif:GPSLongitude=\'4,53.1E\'').replace(
    b"<dc:rights>", b"<exif:GPSAltitude>12/1</exif:GPSAltitude><exif:GPSVersionID/><dc:rights>")
LATITUDE = tuple(struct.pack(order + "6I", 52, 1, 22, 1, 25, 2) for order in "><")
"""The fixture's latitude (52° 22' 12.5") as three rationals, in either byte order."""


def located(rows: int = 24, cols: int = 32) -> Image:
    return Image(gradient_pixels(rows, cols, 3), meta=ImageMeta(bit_depth=8, exif=camera_exif(), xmp=GPS_XMP))


def test_the_gps_data_is_gone_from_the_block_and_the_rest_is_kept() -> None:
    exif = camera_exif()
    assert has_location(exif) and LATITUDE[0] in exif
    bare = without_location(exif)
    assert bare is not None and not has_location(bare) and LATITUDE[0] not in bare and len(bare) == len(exif)
    parsed = PILImage.Exif()
    parsed.load(bare[6:])
    assert parsed[0x010F] == "TestCam" and parsed.get_ifd(0x8769)[0x9003] == "2024:05:06 07:08:09"
    assert 0x8825 not in parsed and not parsed.get_ifd(0x8825)
    assert without_location(bare) == bare
    damaged = exif[:40]
    assert without_location(damaged) is None, "a block too damaged to clean is left out whole"


def test_xmp_loses_its_gps_properties_only() -> None:
    bare = xmp_without_location(GPS_XMP)
    assert b"GPS" not in bare and b'xmp:Rating="5"' in bare and b"<dc:rights>(c) Jane</dc:rights>" in bare
    assert xmp_without_location(xmp_packet()) == xmp_packet()


def test_gps_properties_of_any_schema_are_found_and_left_out() -> None:
    """A DJI drone writes its position as drone-dji:GpsLatitude; only exif:GPS* was looked for."""
    drone = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description xmlns:drone-dji="http://www.dji.com/'
             b'drone-dji/1.0/" drone-dji:GpsLatitude="+48.858370" drone-dji:GpsLongitude="+2.294481" '
             b'drone-dji:FlightYawDegree="+12.3"><drone-dji:GPSStatus>ok</drone-dji:GPSStatus></rdf:Description>'
             b'</rdf:RDF></x:xmpmeta>')
    assert holds_location(ImageMeta(xmp=drone))
    bare = xmp_without_location(drone)
    assert b"48.858370" not in bare and b"GPSStatus" not in bare and b'drone-dji:FlightYawDegree="+12.3"' in bare
    assert not holds_location(ImageMeta(xmp=bare))


def test_imagemagick_s_raw_xmp_chunk_is_read_as_the_xmp_and_its_location_left_out(tmp_path) -> None:
    """ImageMagick keeps a PNG's XMP hex-coded in a 'Raw profile type xmp' chunk, which was carried as it was:
    the GPS in it went through --strip-location, and the editor offered nothing."""
    import zlib

    hexed = b"\nxmp\n" + str(len(GPS_XMP)).encode().rjust(8) + b"\n" + GPS_XMP.hex().encode() + b"\n"
    source = png_with_chunks(tmp_path / "magick.png", [(b"zTXt", b"Raw profile type xmp\x00\x00"
                                                        + zlib.compress(hexed))])
    image = read_image(source)
    assert image.meta.xmp == GPS_XMP and holds_location(image.meta)
    written = write_image(image, tmp_path / "shared.png", strip_location=True)
    assert b"52,22.2083N" not in written.read_bytes() and b"52,22.2083N".hex().encode() not in written.read_bytes()
    assert b'xmp:Rating="5"' in read_image(written).meta.xmp


@pytest.mark.parametrize("suffix", ["jpg", "png", "tif", "webp"])
def test_an_export_keeps_the_location_unless_told_to_leave_it_out(tmp_path, suffix: str) -> None:
    image = located()
    assert holds_location(image.meta)
    kept = read_image(write_image(image, tmp_path / f"kept.{suffix}"))
    assert holds_location(kept.meta)
    written = write_image(image, tmp_path / f"bare.{suffix}", strip_location=True)
    bare = read_image(written)
    assert not holds_location(bare.meta) and not any(latitude in written.read_bytes() for latitude in LATITUDE)
    assert b"GPS" not in (bare.meta.xmp or b"") and b'xmp:Rating="5"' in bare.meta.xmp
    parsed = PILImage.Exif()
    parsed.load(bare.meta.exif[6:])
    assert parsed[0x010F] == "TestCam", "the camera stays"


def test_apply_and_convert_leave_the_location_out_when_asked(tmp_path, capsys) -> None:
    source = write_image(located(), tmp_path / "holiday.jpg")
    assert main(["apply", "--filter", "negative", "--strip-location", "-o", str(tmp_path / "out"), str(source)]) == 0
    assert not holds_location(read_image(tmp_path / "out" / "holiday.jpg").meta)
    assert main(["convert", "--strip-location", str(source), str(tmp_path / "holiday.png")]) == 0
    assert not holds_location(read_image(tmp_path / "holiday.png").meta)
    assert main(["convert", str(source), str(tmp_path / "kept.png")]) == 0
    assert holds_location(read_image(tmp_path / "kept.png").meta)


def test_leaving_out_the_location_is_other_work_for_a_resumed_batch() -> None:
    plain = work_hash("steps", bit_depth=None, quality=None, mask=None)
    assert plain == work_hash("steps", bit_depth=None, quality=None, mask=None, strip_location=False)
    assert plain != work_hash("steps", bit_depth=None, quality=None, mask=None, strip_location=True)
    assert np.unique([work_hash("s", bit_depth=None, quality=None, mask=None, size=size, file_window=window,
                                strip_location=strip)
                      for size in ("", "long=10") for window in ((), ("center",)) for strip in (False, True)]).size == 8


def iptc_dataset(number: int, value: bytes) -> bytes:
    return b"\x1c\x02" + bytes((number,)) + len(value).to_bytes(2, "big") + value


PLACED_IPTC = (iptc_records() + iptc_dataset(90, b"Paris") + iptc_dataset(92, b"Rue Secret 12")
               + iptc_dataset(101, b"France"))
PLACED_XMP = xmp_packet().replace(b'xmp:Rating="5"', b'xmp:Rating="5" photoshop:City="Paris" '
                                  b'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"').replace(
    b"<dc:rights>", b"<Iptc4xmpCore:Location>Rue Secret 12</Iptc4xmpCore:Location><Iptc4xmpExt:LocationShown>"
                    b"<rdf:Bag><rdf:li><Iptc4xmpExt:City>Paris</Iptc4xmpExt:City></rdf:li></rdf:Bag>"
                    b"</Iptc4xmpExt:LocationShown><dc:rights>")


@pytest.mark.parametrize("suffix", ["jpg", "tif"])
def test_place_names_of_iptc_and_xmp_are_left_out_with_the_gps_data(tmp_path, suffix: str) -> None:
    """--strip-location and the export option left the city and street in IPTC and XMP, and a photo whose only
    location was a place name was not offered the option (a helper)."""
    image = Image(gradient_pixels(24, 32, 3), meta=ImageMeta(bit_depth=8, xmp=PLACED_XMP, iptc=PLACED_IPTC))
    assert holds_location(image.meta) and holds_location(ImageMeta(iptc=PLACED_IPTC))
    assert holds_location(ImageMeta(xmp=PLACED_XMP))
    written = write_image(image, tmp_path / f"bare.{suffix}", strip_location=True)
    bare = read_image(written)
    assert not holds_location(bare.meta) and b"Paris" not in written.read_bytes()
    assert b"Rue Secret" not in written.read_bytes() and b"France" not in written.read_bytes()
    assert bare.meta.iptc == iptc_records() and b"<dc:rights>(c) Jane</dc:rights>" in bare.meta.xmp
    assert b'xmp:Rating="5"' in bare.meta.xmp


def test_iptc_records_that_do_not_parse_are_left_out_whole_when_the_location_is() -> None:
    damaged = PLACED_IPTC[:-3]
    assert holds_location(ImageMeta(iptc=damaged)) and iptc_without_location(damaged) is None
    assert iptc_without_location(iptc_records()) == iptc_records()
    extended = b"\x1c\x02\x5a\x80\x04" + (5).to_bytes(4, "big") + b"Paris" + iptc_records()
    assert iptc_without_location(extended) == iptc_records()


def test_iptc_records_padded_with_zeros_keep_every_record_and_name_no_place() -> None:
    """Photoshop's TIFF IPTC tag counts 4-byte LONGs: its zero padding was taken for damage, and leaving the location
    out dropped the caption and copyright of a photo that named no place (a review)."""
    padded = iptc_records() + b"\x00\x00\x00"
    assert not holds_location(ImageMeta(iptc=padded))
    assert iptc_without_location(padded) == iptc_records()
    assert iptc_without_location(PLACED_IPTC + b"\x00") == iptc_records()


def test_place_names_are_found_whatever_prefix_the_writer_bound() -> None:
    for xmp in (b'<rdf:Description xmlns:ps="http://ns.adobe.com/photoshop/1.0/" ps:City="Paris"/>',
                b"<rdf:Description><iptcCore:Location>Rue Secret 12</iptcCore:Location></rdf:Description>"):
        assert holds_location(ImageMeta(xmp=xmp))
        assert b"Paris" not in xmp_without_location(xmp) and b"Secret" not in xmp_without_location(xmp)
    kept = b"<rdf:Description><Iptc4xmpExt:LocationId>x</Iptc4xmpExt:LocationId></rdf:Description>"
    assert xmp_without_location(kept) == kept
