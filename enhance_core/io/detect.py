"""Recognize a file's format from its first bytes, not from its name.

The content decides: a PNG saved as ``photo.jpg`` loads as the PNG it is (the
mismatch is recorded in ``meta.extra["suffix_mismatch"]``). Content that no
reader understands is an :class:`UnsupportedFormat` error naming what it looks
like (GIF, PDF, HEIC...) when we can tell.
"""

from __future__ import annotations

HEADER_BYTES = 132

READ_FORMATS = ("JPEG", "PNG", "TIFF", "BMP", "WEBP", "DICOM")

SUFFIX_FORMATS: dict[str, str] = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG",
    ".png": "PNG",
    ".tif": "TIFF", ".tiff": "TIFF",
    ".bmp": "BMP", ".dib": "BMP",
    ".webp": "WEBP",
    ".dcm": "DICOM", ".dicom": "DICOM", ".dic": "DICOM",
}

_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (128, b"DICM", "DICOM"),  # first: a DICOM preamble may itself hold a TIFF header
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (0, b"II+\x00", "TIFF"),
    (0, b"MM\x00+", "TIFF"),
    (0, b"BM", "BMP"),
)

_UNSUPPORTED: tuple[tuple[int, bytes, str], ...] = (
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"%PDF", "PDF"),
    (0, b"8BPS", "Photoshop PSD"),
    (0, b"PK\x03\x04", "ZIP archive"),
    (0, b"\x1f\x8b", "gzip archive"),
    (0, b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (0, b"\xff\x4f\xff\x51", "JPEG 2000 codestream"),
    (0, b"\xff\x0a", "JPEG XL"),
    (0, b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (0, b"<svg", "SVG"),
    (0, b"<?xml", "XML/SVG"),
    (0, b"\x00\x00\x01\x00", "Windows icon"),
)

_ISO_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF", b"avif": "AVIF", b"crx ": "Canon CR3 raw"}


def detect_format(header: bytes) -> str | None:
    """Return the supported format (``PNG``, ``JPEG``, ...) whose signature ``header`` carries, else None."""
    if header[:4] == b"RIFF" and header[8:12] == b"WEBP":
        return "WEBP"
    for offset, signature, name in _SIGNATURES:
        if header[offset:offset + len(signature)] == signature:
            return name
    return None


def describe_unsupported(header: bytes) -> str | None:
    """Return the name of a known but unsupported format ``header`` looks like, else None."""
    if header[4:8] == b"ftyp":
        return _ISO_BRANDS.get(header[8:12], "ISO media file (video or HEIF)")
    for offset, signature, name in _UNSUPPORTED:
        if header[offset:offset + len(signature)] == signature:
            return name
    return None
