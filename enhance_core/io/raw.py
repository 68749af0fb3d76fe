"""Camera RAW files through LibRaw (``rawpy``): CR2, CR3, NEF, ARW, DNG, RAF, ORF, RW2 and the rest.

The sensor's mosaic is demosaiced (AHD) to 16-bit RGB with the white balance
the camera recorded (``use_camera_wb``; the daylight balance when the file has
none) and converted to sRGB primaries. Two renderings:

``srgb`` (default)
    The sRGB tone curve (power 2.4, toe slope 12.92), no automatic brightening
    and highlights clipped at the sensor's white level: what the camera
    measured, encoded like any other photograph, so the filters and writers
    treat it as one. It looks flatter than the camera's own JPEG, which adds a
    contrast curve; use the tone tools for that.
``linear``
    The same pixels without the tone curve (gamma 1), proportional to light,
    for measurement or an external colour pipeline.

The size in the header is checked against :mod:`enhance_core.io.limits`
before the mosaic is unpacked. EXIF comes from the file's own TIFF structure
(DNG, NEF, CR2, ARW, PEF, ORF, RW2...) through :func:`exif_from_tiff`, or from
the embedded preview JPEG (CR3, RAF); its orientation is reset because LibRaw
turns the pixels upright. LibRaw's errors become the project's read errors,
and what it prints on stderr while decoding goes into the message or the
warnings instead.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from PIL import Image as PILImage

from enhance_core.errors import ImageReadError, ParameterError, UnsupportedFormat
from enhance_core.image import Image, ImageMeta
from enhance_core.io.exif import normalize_exif, read_orientation, reset_orientation
from enhance_core.io.limits import Limits
from enhance_core.io.samples import to_unit_pixels
from enhance_core.io.tiff_exif import exif_from_tiff

RAW_SUFFIXES = (
    ".3fr", ".ari", ".arw", ".bay", ".cap", ".cr2", ".cr3", ".crw", ".dcr", ".dcs", ".dng", ".drf", ".eip",
    ".erf", ".fff", ".iiq", ".k25", ".kdc", ".mdc", ".mef", ".mos", ".mrw", ".nef", ".nrw", ".orf", ".pef",
    ".ptx", ".pxn", ".r3d", ".raf", ".raw", ".rw2", ".rwl", ".rwz", ".sr2", ".srf", ".srw", ".x3f",
)
"""File name suffixes of the raw formats LibRaw reads (lower case, with the dot)."""

RENDERINGS = ("srgb", "linear")
_GAMMA = {"srgb": (2.4, 12.92), "linear": (1.0, 1.0)}
_TIFF_LIKE_MAGIC = (b"IIRO", b"IIRS", b"MMOR", b"IIU\x00")
"""Olympus ORF and Panasonic RW2 headers: TIFF structures under their own magic number."""
_STDERR_LOCK = threading.Lock()


@contextmanager
def _captured_stderr(prefix: str) -> Iterator[list[str]]:
    """Collect the lines native code writes to file descriptor 2 during the block that start with ``prefix``.

    LibRaw prints damage as ``<file>: <problem>``. The descriptor is
    process-wide: other lines written meanwhile (another thread's) go back
    to stderr after the block.
    """
    lines: list[str] = []
    with _STDERR_LOCK, tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            others = []
            for line in sink.read().decode("utf-8", "replace").splitlines(keepends=True):
                if line.startswith(prefix):
                    lines.append(" ".join(line.removeprefix(prefix).split()))
                elif line.strip():
                    others.append(line)
            if others:
                os.write(2, "".join(others).encode("utf-8", "replace"))


def _exif_of(path: Path, raw: Any) -> bytes | None:
    """Return the RAW's EXIF as an ``Exif\\0\\0`` block, or None."""
    with open(path, "rb") as handle:
        magic = handle.read(4)
    exif = None
    if magic in (b"II*\x00", b"MM\x00*"):
        exif = exif_from_tiff(path, other_tags=False)
    elif magic in _TIFF_LIKE_MAGIC:
        data = bytearray(path.read_bytes())
        data[:4] = b"II*\x00" if magic.startswith(b"II") else b"MM\x00*"
        exif = normalize_exif(_pillow_exif(bytes(data)))
    return exif if exif is not None else _preview_exif(raw)


def _pillow_exif(tiff: bytes) -> bytes | None:
    """Return the camera tags of a TIFF structure held in memory, through Pillow's EXIF parser."""
    parsed = PILImage.Exif()
    try:
        parsed.load(tiff)
        return parsed.tobytes() if len(parsed) else None
    except (SyntaxError, ValueError, KeyError, TypeError, OSError):
        return None


def _preview_exif(raw: Any) -> bytes | None:
    """Return the EXIF of the embedded preview JPEG (where CR3 and RAF keep theirs), or None."""
    import rawpy

    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawError, rawpy.NotSupportedError):
        return None
    if thumb.format != rawpy.ThumbFormat.JPEG:
        return None
    try:
        with PILImage.open(io.BytesIO(thumb.data)) as preview:
            return normalize_exif(preview.info.get("exif"))
    except (OSError, SyntaxError, ValueError):
        return None


def _postprocess_options(rendering: str) -> dict[str, Any]:
    """Return LibRaw's ``postprocess`` arguments for ``rendering``."""
    import rawpy

    return {
        "demosaic_algorithm": rawpy.DemosaicAlgorithm.AHD,
        "use_camera_wb": True,
        "output_color": rawpy.ColorSpace.sRGB,
        "output_bps": 16,
        "gamma": _GAMMA[rendering],
        "no_auto_bright": True,
        "highlight_mode": rawpy.HighlightMode.Clip,
    }


def _libraw_failure(path: Path, error: BaseException, printed: list[str]) -> ImageReadError:
    """Turn a LibRaw exception (and what LibRaw printed) into the project's read error."""
    import rawpy

    said = "; ".join(dict.fromkeys(printed))
    detail = f" (LibRaw: {said})" if said else ""
    if isinstance(error, rawpy.LibRawFileUnsupportedError):
        return UnsupportedFormat(
            path, f"LibRaw {'.'.join(map(str, rawpy.libraw_version))} does not read this file as a camera RAW"
            f"{detail}; it is damaged, not a raw file, or from a camera newer than LibRaw: convert it to DNG "
            "(Adobe DNG Converter) or export a TIFF from the camera software")
    if isinstance(error, (rawpy.LibRawIOError, rawpy.LibRawDataError)):
        return ImageReadError(path, f"the raw data is truncated or damaged{detail}; copy the file from the "
                              "camera card again")
    if isinstance(error, (rawpy.LibRawTooBigError, rawpy.LibRawUnsufficientMemoryError)):
        return ImageReadError(path, "not enough memory to decode this RAW; close other programs")
    message = " ".join(str(error).strip("b'\"").split())
    return ImageReadError(path, f"LibRaw cannot decode this RAW ({type(error).__name__}: {message}){detail}; "
                          "it may be truncated or damaged")


def read_raw(path: Path, *, page: int | None = None, limits: Limits | None = None, rendering: str = "srgb") -> Image:
    """Read a camera RAW file into the pixel contract.

    Parameters
    ----------
    path : Path
        The RAW file (any format LibRaw reads).
    page : int or None
        Unused: a RAW holds one image (:func:`enhance_core.io.read_image` refuses another page).
    limits : Limits, optional
        Decompression-bomb guards; the defaults when omitted.
    rendering : {"srgb", "linear"}
        ``"srgb"`` applies the sRGB tone curve, ``"linear"`` keeps values proportional to light.

    Returns
    -------
    Image
        Upright RGB pixels in [0, 1] from 16-bit samples; ``meta.format`` is ``"RAW"``,
        ``meta.bit_depth`` 16, and ``meta.extra`` names the camera and the rendering.

    Raises
    ------
    UnsupportedFormat
        A file LibRaw does not recognize as a camera RAW.
    ImageReadError
        Truncated or damaged raw data.
    DecompressionBomb
        A sensor larger than the pixel limit.
    """
    import rawpy

    if rendering not in RENDERINGS:
        raise ParameterError(f"rendering must be one of {', '.join(RENDERINGS)}, got {rendering!r}")
    limits = limits or Limits()
    raw = rawpy.RawPy()
    failure: Exception | None = None
    rgb: Any = None
    try:
        with _captured_stderr(f"{path}:") as printed:
            try:
                raw.open_file(str(path))
                sizes = raw.sizes
                limits.check_size(path, sizes.raw_height, sizes.raw_width, samples=3, bytes_per_sample=2)
                rgb = raw.postprocess(**_postprocess_options(rendering))
            except rawpy.LibRawError as error:
                failure = error
        if failure is not None:
            raise _libraw_failure(path, failure, printed) from failure
        exif = _exif_of(path, raw)
        meta = ImageMeta(format="RAW", bit_depth=16, exif=reset_orientation(exif), orientation=read_orientation(exif))
        meta.extra["raw"] = {"rendering": rendering, "demosaic": "AHD", "white_balance": "camera",
                             "pattern": raw.color_desc.decode("ascii", "replace")}
        if printed:
            meta.extra["warnings"] = printed
    finally:
        raw.close()
    pixels, _ = to_unit_pixels(rgb, has_alpha=False)
    return Image(pixels, None, meta)
