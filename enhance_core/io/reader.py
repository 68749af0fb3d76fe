"""``read_image``: one entry point for every supported format.

It checks the path (exists, is a regular file, readable, not empty),
recognizes the format from the content (:mod:`enhance_core.io.detect`),
resolves the decompression-bomb limits (:mod:`enhance_core.io.limits`) and
hands over to the format's reader. Whatever a decoder raises on bad data,
a native decoder's panic included, becomes an :class:`ImageReadError` naming
the file and the reason, so callers handle one error family; only
``KeyboardInterrupt``, ``SystemExit`` and ``GeneratorExit`` pass through.
Warnings a decoder gives while reading are kept in ``meta.extra["warnings"]``.
"""

from __future__ import annotations

import os
import re
import stat
import warnings
from functools import partial
from os import PathLike
from pathlib import Path
from typing import Callable

from enhance_core.errors import ImageReadError, MissingDecoder, ParameterError, UnsupportedFormat
from enhance_core.image import Image
from enhance_core.io.detect import HEADER_BYTES, READ_FORMATS, SUFFIX_FORMATS, describe_unsupported, detect_format
from enhance_core.io.limits import Limits, resolve_limits
from enhance_core.io.raster import read_pillow_format, read_png
from enhance_core.io.raw import read_raw
from enhance_core.io.tiff import read_tiff
from enhance_core.paths import is_dir

Reader = Callable[..., Image]


def _read_dicom(path: Path, *, page: int | None, limits: Limits) -> Image:
    """Read DICOM (frame ``page``, the first by default), importing pydicom (and its codec plugins, slow to import)
    only when needed."""
    from enhance_core.io.dicom import read_dicom

    return read_dicom(path, page=page or 0, limits=limits)


def _read_heif(path: Path, *, page: int | None, limits: Limits) -> Image:
    """Read HEIC/HEIF through Pillow once ``pillow-heif`` has registered its opener (imported only when needed)."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        raise MissingDecoder(path, "reading HEIC/HEIF needs the pillow-heif package; "
                             "install it with `pip install pillow-heif`") from None
    register_heif_opener()
    return read_pillow_format(path, page=page, limits=limits, format_name="HEIF")


def _read_avif(path: Path, *, page: int | None, limits: Limits) -> Image:
    """Read AVIF through Pillow's own plugin (in PyPI's wheels; a Pillow built from source needs libavif)."""
    from PIL import features

    if not features.check("avif"):
        raise MissingDecoder(path, "this Pillow was built without AVIF (libavif); install PyPI's wheel with "
                             "`pip install --force-reinstall --only-binary=pillow pillow`")
    return read_pillow_format(path, page=page, limits=limits, format_name="AVIF")


READERS: dict[str, Reader] = {
    "PNG": read_png,
    "JPEG": partial(read_pillow_format, format_name="JPEG"),
    "BMP": partial(read_pillow_format, format_name="BMP"),
    "WEBP": partial(read_pillow_format, format_name="WEBP"),
    "TIFF": read_tiff,
    "DICOM": _read_dicom,
    "RAW": read_raw,
    "HEIF": _read_heif,
    "AVIF": _read_avif,
}
MULTI_PAGE_FORMATS = ("TIFF", "DICOM")

PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)
"""What a reader lets escape: the user or the interpreter stopping the program, never a file's content."""

_OBJECT_REPR = re.compile(r"\s*<[\w.]+ object at 0x[0-9a-fA-F]+>")
"""A Python object's repr in a decoder's message (Pillow names the buffer it read: nothing for the user)."""

_FILE_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def _open_nonblocking(name: str, flags: int) -> int:
    """``open`` opener that never waits: opening a named pipe must not block until a writer comes."""
    return os.open(name, flags | getattr(os, "O_NONBLOCK", 0))


def _read_header(path: Path) -> bytes:
    """Return the first bytes of ``path``, turning file-system problems into clear errors.

    Anything but a regular file (a named pipe, a device, a socket) is refused
    before a byte is read, so reading never blocks.
    """
    try:
        with open(path, "rb", opener=_open_nonblocking) as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(path)
            if not stat.S_ISREG(mode):
                kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
                raise ImageReadError(path, f"is {kind}, not an image file; "
                                     "save the image to a regular file and open that")
            header = handle.read(HEADER_BYTES)
    except FileNotFoundError:
        raise ImageReadError(path, _not_found(path)) from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a folder, not an image file; pick a file inside it") from None
    except PermissionError:
        if is_dir(path, lambda reason: ImageReadError(path, f"{reason} or copy the file somewhere readable")):
            raise ImageReadError(path, "is a folder, not an image file; pick a file inside it") from None
        raise ImageReadError(path, "permission denied; check the file's permissions "
                             "or copy it somewhere readable") from None
    except OSError as error:
        raise ImageReadError(path, f"cannot be opened ({error.strerror or error})") from None
    if not header:
        raise ImageReadError(path, "file is empty (0 bytes); it was probably not copied or saved completely")
    return header


def _format_of(path: Path, header: bytes) -> str:
    """Return the format to read ``path`` as, from its content (a ``.dcm`` name allows headerless DICOM)."""
    detected = detect_format(header, path.suffix.lower())
    if detected:
        return detected
    if SUFFIX_FORMATS.get(path.suffix.lower()) == "DICOM":
        return "DICOM"
    known = describe_unsupported(header)
    supported = ", ".join(READ_FORMATS)
    if known:
        raise UnsupportedFormat(path, f"{known} files are not supported; convert it to one of {supported}")
    claimed = SUFFIX_FORMATS.get(path.suffix.lower())
    prefix = (f"the name says {claimed} but the content is none of the formats read" if claimed
              else "the content is not an image in a format read")
    raise UnsupportedFormat(path, f"{prefix} ({supported}); first bytes: {header[:8].hex(' ')}")


def _decode(path: Path, format_name: str, page: int | None, limits: Limits) -> tuple[Image, list[str]]:
    """Run the format's reader; return the image and the warnings it gave, or raise :class:`ImageReadError`.

    Native decoders (libjpeg, libtiff, Rust plugins) may raise anything on
    hostile data, a ``pyo3_runtime.PanicException`` (a ``BaseException``)
    included: everything but :data:`PASS_THROUGH` becomes the typed error.
    """
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            image = READERS[format_name](path, page=page, limits=limits)
    except (ImageReadError, *PASS_THROUGH):
        raise
    except MemoryError:
        raise ImageReadError(path, "not enough memory to decode this image; "
                             "close other programs or use a smaller copy") from None
    except BaseException as error:  # noqa: BLE001 - the reader boundary: no decoder failure may escape untyped
        detail = " ".join(_OBJECT_REPR.sub("", str(error)).split())[:300]  # no "<_io.BytesIO object at 0x...>"
        raise ImageReadError(
            path, f"cannot decode this {format_name} file ({type(error).__name__}: {detail}); "
            "it may be truncated or damaged"
        ) from error
    return image, [" ".join(str(item.message).split()) for item in caught]


def _not_found(path: Path) -> str:
    """Why ``path`` is not found, pointing out a space or line break around its name (invisible when printed)."""
    if path.name != path.name.strip():
        return (f"no such file: the name given, {path.name!r}, starts or ends with a space or line break; check "
                "how it was typed or pasted")
    return "no such file; check the path and spelling"


def read_image(path: str | PathLike[str], *, page: int | None = None, max_pixels: int | None = None) -> Image:
    """Read an image file into the pixel contract of :mod:`enhance_core.image`.

    Parameters
    ----------
    path : str or PathLike
        JPEG, PNG, TIFF, BMP, WebP, DICOM, HEIC/HEIF, AVIF or camera RAW (through LibRaw,
        :mod:`enhance_core.io.raw`) file; the content decides the format.
    page : int, optional
        TIFF page or DICOM frame to read, counting from 0; by default the first
        (of a TIFF, the first that is not a reduced-resolution preview).
    max_pixels : int, optional
        Refuse images with more pixels (rows x cols) than this; ``0`` disables
        the check. Defaults to ``ENHANCE_MAX_PIXELS`` or 500 megapixels. The
        other limits come from the environment (:mod:`enhance_core.io.limits`).

    Returns
    -------
    Image
        Upright float32 pixels, alpha, and metadata (``meta.source`` is ``path``).

    Raises
    ------
    ImageReadError
        Missing, unreadable, empty, truncated or damaged file, or a page that does not exist.
    UnsupportedFormat
        Content in no supported format.
    DecompressionBomb
        More pixels, samples, compression or JPEG scans than the limits allow.
    MissingDecoder
        Compressed DICOM without the decoder package (the message names it).
    """
    path = Path(path)
    if page is not None and (not isinstance(page, int) or page < 0):
        raise ParameterError(f"page must be a page/frame number >= 0, got {page!r}")
    limits = resolve_limits(max_pixels)
    header = _read_header(path)
    format_name = _format_of(path, header)
    if page and format_name not in MULTI_PAGE_FORMATS:
        raise ImageReadError(path, f"{format_name} files have a single page; page {page} does not exist (use page 0)")
    image, messages = _decode(path, format_name, page, limits)
    if messages:
        image.meta.extra["warnings"] = list(dict.fromkeys([*image.meta.extra.get("warnings", ()), *messages]))
    image.meta.source = path
    claimed = SUFFIX_FORMATS.get(path.suffix.lower())
    if claimed and claimed != format_name:
        image.meta.extra["suffix_mismatch"] = path.suffix
    return image
