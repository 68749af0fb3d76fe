"""Synthetic images, ICC profiles and EXIF blocks for the I/O tests (nothing read from data folders)."""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage
from PIL import ImageCms

from enhance_core.image import Image, ImageMeta


@cache
def srgb_profile() -> bytes:
    """Return a real sRGB ICC profile built by LittleCMS, the same bytes on every call (LittleCMS stamps the
    profile with the second it was made, so two built a second apart differ)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def camera_exif(orientation: int = 1) -> bytes:
    """Return an EXIF block with IFD0 text tags, an EXIF sub-IFD, GPS and the given orientation."""
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"
    exif[0x0110] = "Model 7"
    exif[0x013B] = "A. Photographer"
    exif_ifd = exif.get_ifd(0x8769)
    exif_ifd[0x9003] = "2024:05:06 07:08:09"
    exif_ifd[0x8827] = 400
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 22.0, 12.5)
    return exif.tobytes()


def gradient_pixels(rows: int, cols: int, channels: int, *, seed: int = 0) -> np.ndarray:
    """Return float32 pixels with thousands of distinct 16-bit levels plus a little noise."""
    r, c = np.mgrid[0:rows, 0:cols]
    base = (r * cols + c) / float(rows * cols - 1)
    noise = np.random.default_rng(seed).random((rows, cols, channels)) * 0.01
    planes = np.stack([(base + 0.3 * k) % 1.0 for k in range(channels)], axis=2)
    return np.clip(planes * 0.99 + noise, 0.0, 1.0).astype(np.float32)


def levels(values: np.ndarray, bits: int) -> np.ndarray:
    """Return the integer levels a writer at ``bits`` bits stores for ``values``."""
    return np.rint(np.clip(values, 0, 1) * ((1 << bits) - 1)).astype(np.int64)


def make_image(
    rows: int = 48, cols: int = 64, channels: int = 3, *, bit_depth: int = 16, alpha: bool = False,
    float_source: bool = False,
) -> Image:
    """Return a synthetic image with an sRGB profile and camera EXIF (orientation 1)."""
    pixels = gradient_pixels(rows, cols, channels)
    alpha_plane = gradient_pixels(rows, cols, 1, seed=1)[:, :, 0] if alpha else None
    meta = ImageMeta(format="TEST", bit_depth=bit_depth, float_source=float_source,
                     exif=camera_exif(), icc_profile=srgb_profile())
    return Image(pixels, alpha_plane, meta)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)


def _matrix_trc_profile(space: bytes, name: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    """A minimal ICC v2 display profile of colour ``space`` (``b"RGB "``, ``b"GRAY"``) named ``name``."""
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(name) + 1) + name + b"\0" + b"\0" * 78
    tags = [(b"desc", desc), (b"cprt", b"text\0\0\0\0none\0"), (b"wtpt", _xyz(0.9642, 1.0, 0.8249)), *tags]
    offset = 128 + 4 + 12 * len(tags)
    table, data = struct.pack(">I", len(tags)), b""
    for signature, body in tags:
        data += b"\0" * (-(offset + len(data)) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    data += b"\0" * (-len(data) % 4)
    header = (struct.pack(">I", offset + len(data)) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntr" + space
              + b"XYZ " + b"\0" * 12 + b"acspAPPL" + b"\0" * 24 + _s15(0.9642) + _s15(1.0) + _s15(0.8249) + b"lcms"
              + b"\0" * 44)
    return header + table + data


def _gamma_curve(gamma: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256)) + b"\0\0"


def prophoto_profile() -> bytes:
    """Return a minimal ICC v2 matrix/TRC profile with ProPhoto RGB's primaries and a 1.8 gamma."""
    curve = _gamma_curve(1.8)
    return _matrix_trc_profile(b"RGB ", b"ProPhoto RGB (test)", [
        (b"rXYZ", _xyz(0.7977, 0.2880, 0.0)), (b"gXYZ", _xyz(0.1352, 0.7119, 0.0)),
        (b"bXYZ", _xyz(0.0313, 0.0001, 0.8249)), (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)])


def gray_profile(gamma: float, name: bytes = b"Gray (test)") -> bytes:
    """Return a minimal ICC v2 gray profile with a ``gamma`` tone curve."""
    return _matrix_trc_profile(b"GRAY", name, [(b"kTRC", _gamma_curve(gamma))])


def xmp_packet(orientation: int = 1) -> bytes:
    """Return an XMP packet with a rating, a rights statement and ``tiff:Orientation``."""
    return (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
            b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
            b'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
            b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmp:Rating="5" tiff:Orientation="'
            + str(orientation).encode() + b'"><dc:rights>(c) Jane</dc:rights></rdf:Description></rdf:RDF>'
            b'</x:xmpmeta><?xpacket end="w"?>')


def iptc_records() -> bytes:
    """Return IPTC-IIM records: a caption (2:120) and a copyright notice (2:116)."""
    caption, notice = b"a red door", b"(c) Jane"
    return (b"\x1c\x02\x78" + len(caption).to_bytes(2, "big") + caption
            + b"\x1c\x02\x74" + len(notice).to_bytes(2, "big") + notice)


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    """Return one JPEG marker segment."""
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def with_segments(jpeg: bytes, segments: bytes) -> bytes:
    """Return ``jpeg`` with ``segments`` inserted after its start of image (and JFIF APP0, when there is one)."""
    position = 4 + int.from_bytes(jpeg[4:6], "big") if jpeg[2:4] == b"\xff\xe0" else 2
    return jpeg[:position] + segments + jpeg[position:]


def png_with_chunks(path: Path, chunks: list[tuple[str | bytes, bytes]], **options: Any) -> Path:
    """Write an 8-bit RGB PNG with ``chunks`` (name, payload) inserted after its IHDR; return ``path``."""
    buffer = io.BytesIO()
    PILImage.fromarray((gradient_pixels(16, 16, 3) * 255).astype(np.uint8)).save(buffer, "PNG", **options)
    data = buffer.getvalue()
    inserted = b""
    for name, payload in chunks:
        tag = name.encode() if isinstance(name, str) else name
        inserted += struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload))
    path.write_bytes(data[:33] + inserted + data[33:])
    return path
