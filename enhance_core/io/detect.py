"""Recognize a file's format from its first bytes, not from its name.

The content decides: a PNG saved as ``photo.jpg`` loads as the PNG it is (the
mismatch is recorded in ``meta.extra["suffix_mismatch"]``). Content that no
reader understands is an :class:`UnsupportedFormat` error naming what it looks
like (GIF, PDF, JPEG XL...) when we can tell.

Camera RAW files are the exception where the name helps: most (DNG, NEF, ARW,
PEF...) are TIFF structures, so a TIFF header under a RAW suffix goes to the
RAW reader, and so does any header only a RAW carries (CR2, CR3, RAF, ORF, RW2).
"""

from __future__ import annotations

from pathlib import Path

from enhance_core.io.raw import RAW_SUFFIXES

HEADER_BYTES = 132

READ_FORMATS = ("JPEG", "PNG", "TIFF", "BMP", "WEBP", "DICOM", "RAW", "HEIF", "AVIF")

SUFFIX_FORMATS: dict[str, str] = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG",
    ".png": "PNG",
    ".tif": "TIFF", ".tiff": "TIFF",
    ".bmp": "BMP", ".dib": "BMP",
    ".webp": "WEBP",
    ".dcm": "DICOM", ".dicom": "DICOM", ".dic": "DICOM",
    ".heic": "HEIF", ".heif": "HEIF", ".hif": "HEIF",
    ".avif": "AVIF",
    **dict.fromkeys(RAW_SUFFIXES, "RAW"),
}

_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (128, b"DICM", "DICOM"),
    (0, b"II*\x00\x10\x00\x00\x00CR", "RAW"),  # Canon CR2, before the plain TIFF signature
    (0, b"FUJIFILMCCD-RAW", "RAW"),
    (0, b"IIRO", "RAW"),  # Olympus ORF
    (0, b"IIRS", "RAW"),
    (0, b"MMOR", "RAW"),
    (0, b"IIU\x00", "RAW"),  # Panasonic RW2  # first: a DICOM preamble may itself hold a TIFF header
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

_ISO_BRANDS = {b"heic": "HEIF", b"heix": "HEIF", b"heim": "HEIF", b"heis": "HEIF", b"hevc": "HEIF",
               b"mif1": "HEIF", b"msf1": "HEIF", b"avif": "AVIF", b"avis": "AVIF", b"crx ": "RAW"}
"""ISO media (``ftyp``) major brands we read; an ``mif1`` file that lists ``avif`` among its brands is AVIF."""
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*")


def _iso_format(header: bytes) -> str | None:
    """Return the format of an ISO media file from its ``ftyp`` box (HEIF, AVIF, CR3), else None."""
    brand = _ISO_BRANDS.get(header[8:12])
    if brand == "HEIF" and b"avif" in header[16:int.from_bytes(header[:4], "big")]:
        return "AVIF"
    return brand


def detect_format(header: bytes, suffix: str = "") -> str | None:
    """Return the supported format (``PNG``, ``JPEG``, ...) whose signature ``header`` carries, else None.

    ``suffix`` (the file name's, lower case) only tells a TIFF-based camera RAW from a TIFF.
    """
    if header[:4] == b"RIFF" and header[8:12] == b"WEBP":
        return "WEBP"
    if header[4:8] == b"ftyp":
        return _iso_format(header)
    if header[:4] in _TIFF_MAGIC and suffix in RAW_SUFFIXES:
        return "RAW"
    for offset, signature, name in _SIGNATURES:
        if header[offset:offset + len(signature)] == signature:
            return name
    return None


def describe_unsupported(header: bytes) -> str | None:
    """Return the name of a known but unsupported format ``header`` looks like, else None."""
    if header[4:8] == b"ftyp":
        return "ISO media file (video, or an image brand we do not read)"
    for offset, signature, name in _UNSUPPORTED:
        if header[offset:offset + len(signature)] == signature:
            return name
    return None


def dicom_marked(path: Path) -> bool:
    """Whether the file at ``path`` starts like a DICOM file (``DICM`` after its 128-byte preamble), whatever its
    name: PACS and CD exports name slices ``IM0001`` or by their UID; False when it cannot be read."""
    try:
        with open(path, "rb") as stream:
            return stream.read(132)[128:] == b"DICM"
    except OSError:
        return False
