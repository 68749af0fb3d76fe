"""``write_image``: atomic, metadata-keeping export that never overwrites its own source by accident.

The file name's suffix picks the format. The default bit depth is the
source's, as far as the format allows: a 16-bit source becomes a 16-bit PNG
or TIFF, a float TIFF stays float32, and JPEG/BMP/WebP hold 8 bits. EXIF and
XMP (with orientation reset to 1, since pixels are stored upright) and the
ICC profile go into JPEG, PNG, TIFF and WebP; IPTC into JPEG and TIFF; a PNG
source's text and colour (gAMA, cHRM, sRGB) chunks into PNG; alpha into PNG, TIFF and WebP (JPEG and BMP
composite transparent pixels over white). :func:`write_losses` names what a
format leaves out.

DICOM sources carry their header in ``meta.dicom``; the writer never writes
it (nor anything else from it), so exported images hold no patient-identifying
fields. :mod:`enhance_core.medical.export` builds a ``description`` with the
fields the user chooses.

Writes go through :func:`enhance_core.atomic.atomic_write` (a temporary file
in the target folder, fsync'ed, that replaces the target only when complete),
so a crash or a full disk never leaves a half-written file where a good one was.
"""

from __future__ import annotations

import os
import struct
import sys
import zlib
from dataclasses import replace
from os import PathLike
from pathlib import Path

import numpy as np

from enhance_core.atomic import atomic_write
from enhance_core.errors import ImageWriteError, ParameterError
from enhance_core.image import Image, ImageMeta
from enhance_core.io.exif import has_location, has_maker_note, reset_orientation, without_location
from enhance_core.io.jpeg import MAX_IPTC_BYTES, MAX_XMP_BYTES
from enhance_core.io.png import COLOUR_CHUNKS, text_keyword
from enhance_core.io.raster import encode_pillow_image, encode_png_image, is_gray_profile, keeps_profile
from enhance_core.io.tiff import write_tiff
from enhance_core.io.xmp_iptc import (iptc_has_location, iptc_without_location, xmp_has_location, xmp_upright,
                                      xmp_without_location)
from enhance_core.paths import exists, is_dir

WRITE_FORMATS: dict[str, str] = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP", ".webp": "WEBP",
}
BIT_DEPTHS: dict[str, tuple[int, ...]] = {"PNG": (8, 16), "TIFF": (8, 16, 32), "JPEG": (8,), "BMP": (8,), "WEBP": (8,)}
CLIP_SLACK = 1.0 / 255.0
"""How far outside 0..1 a value may lie before its clipping counts as a loss (a filter's overshoot does not)."""
ENCODE_ERRORS = (ValueError, TypeError, KeyError, struct.error, zlib.error, RuntimeError)


def default_bit_depth(meta: ImageMeta, format_name: str) -> int:
    """Return the bit depth an export uses by default: the source's, capped by what ``format_name`` holds.

    Float sources (half floats too) get 32-bit float where the format holds it, so values outside 0..1 stay.
    """
    allowed = BIT_DEPTHS[format_name]
    wanted = 32 if meta.float_source else 16 if meta.bit_depth > 8 else 8
    return max(depth for depth in allowed if depth <= wanted)


BIGTIFF_BYTES = 2**32 - 2**25
"""Uncompressed samples past which tifffile writes a BigTIFF (whose EXIF sub-IFDs are not written)."""


def write_losses(image: Image, path: str | PathLike[str], bit_depth: int | None = None) -> list[str]:
    """What writing ``image`` to ``path`` (at ``bit_depth``, None: the default) leaves out, one phrase each.

    Transparency composited over white (JPEG, BMP); values outside 0..1 by
    more than :data:`CLIP_SLACK`, which an integer format clips (a float
    source written as PNG); metadata the format cannot hold
    (:func:`metadata_losses`). Empty when nothing is lost.
    """
    format_name = WRITE_FORMATS.get(Path(path).suffix.lower())
    if format_name is None:
        return []
    losses = []
    if format_name in ("JPEG", "BMP") and image.alpha is not None and float(image.alpha.min()) < 1.0:
        losses.append(f"{format_name} holds no transparency: the transparent parts are composited over white")
    clipped = clipping_loss(image, format_name, bit_depth)
    losses += [clipped] if clipped else []
    depth = bit_depth or default_bit_depth(image.meta, format_name)
    samples = image.rows * image.cols * (image.channels + (image.alpha is not None)) * max(depth // 8, 1)
    if (format_name == "TIFF" and image.meta.exif and image.meta.extra.get("compression") == "NONE"
            and samples > BIGTIFF_BYTES):
        losses.append("an uncompressed TIFF of over 4 GB is a BigTIFF, which keeps the EXIF's text tags but not its "
                      "camera and GPS data; a compressed TIFF keeps them")
    return losses + metadata_losses(image.meta, format_name)


def clipping_loss(image: Image, format_name: str, bit_depth: int | None = None) -> str:
    """What ``format_name`` (a value of :data:`WRITE_FORMATS`) at ``bit_depth`` (None: its default) clips of
    ``image``'s samples outside 0..1 by more than :data:`CLIP_SLACK`, as a phrase; "" where it keeps them all."""
    if (bit_depth or default_bit_depth(image.meta, format_name)) == 32:
        return ""
    pixels, slack = image.pixels, np.float32(CLIP_SLACK)
    if float(pixels.min()) >= -slack and float(pixels.max()) <= 1.0 + slack:
        return ""
    share = int(np.count_nonzero((pixels < -slack) | (pixels > 1.0 + slack))) / pixels.size
    return f"{share:.1%} of the samples lie outside 0..1 and are clipped in {format_name} (a float TIFF keeps them)"


def metadata_losses(meta: ImageMeta, format_name: str) -> list[str]:
    """What of ``meta``'s EXIF, XMP, IPTC, colour profile, PNG text and colour chunks and EXIF maker note a file in
    ``format_name`` (a value of :data:`WRITE_FORMATS`) leaves out, one phrase each.

    An sRGB chunk or profile alone is no loss: a file without a colour description is taken to be sRGB.
    """
    losses = []
    if format_name == "TIFF" and has_maker_note(meta.exif):
        losses.append("TIFF output leaves out the camera's maker note (its entries point to places in the "
                      "original EXIF block that a TIFF does not keep); JPEG, PNG and WebP keep it")
    if meta.exif and format_name == "BMP":
        losses.append("BMP holds no EXIF: the camera, date, exposure and location are left out (JPEG, PNG, TIFF "
                      "and WebP keep them)")
    if meta.xmp and format_name == "BMP":
        losses.append("BMP holds no XMP: the XMP metadata (rating, keywords, rights...) is left out")
    elif meta.xmp and format_name == "JPEG" and len(meta.xmp) > MAX_XMP_BYTES:
        losses.append(f"the XMP packet is {len(meta.xmp):,} bytes, more than one JPEG segment holds "
                      f"({MAX_XMP_BYTES:,}): it is left out (PNG, TIFF or WebP keep it)")
    if meta.iptc and format_name in ("PNG", "WEBP", "BMP"):
        losses.append(f"{format_name} holds no IPTC: the IPTC caption, keywords and credits are left out "
                      "(JPEG and TIFF keep them)")
    elif meta.iptc and format_name == "JPEG" and len(meta.iptc) > MAX_IPTC_BYTES:
        losses.append(f"the IPTC records are {len(meta.iptc):,} bytes, more than one JPEG segment holds "
                      f"({MAX_IPTC_BYTES:,}): they are left out (TIFF keeps them)")
    chunks = meta.extra.get("png_chunks", ())
    texts = sorted({text_keyword(name, payload) or "" for name, payload in chunks} - {""})
    if texts and format_name != "PNG":
        losses.append(f"{format_name} holds no PNG text chunks: {', '.join(texts)} are left out")
    if meta.icc_profile and not keeps_profile(format_name, meta.icc_profile):
        from enhance_core.io.profiles import differs_from_srgb  # LittleCMS and OpenCV: not at the readers' import

        if differs_from_srgb(meta.icc_profile):
            gray = "gray " if is_gray_profile(meta.icc_profile) else ""
            losses.append(f"{format_name} output leaves out the {gray}colour profile (ICC), so viewers take the "
                          "values for sRGB and show the colours otherwise (PNG, TIFF and JPEG keep it)")
    colour = [name for name, _ in chunks if name in COLOUR_CHUNKS]
    if {"gAMA", "cHRM"} & set(colour) and not meta.icc_profile and format_name != "PNG":
        losses.append(f"{format_name} holds no PNG colour chunks: the {'/'.join(colour)} description of the colours "
                      "is left out, so colour-managed viewers may show them differently (PNG keeps it)")
    return losses


def holds_location(meta: ImageMeta) -> bool:
    """Whether ``meta`` says where the picture was taken (EXIF GPS data, XMP's GPS properties or place names,
    IPTC place names), which :func:`write_image` keeps unless told ``strip_location``."""
    return has_location(meta.exif) or xmp_has_location(meta.xmp) or iptc_has_location(meta.iptc)


def same_file(first: Path, second: Path) -> bool:
    """Return whether two paths name the same file or folder (existing or not; links and case as the disk sees them)."""
    try:
        return os.path.samefile(first, second)
    except OSError:
        return first.resolve() == second.resolve()


DEFAULT_QUALITY = 95
"""JPEG/WebP quality of a picture whose own is not known (a PNG, TIFF or DICOM source)."""


def quality_for(meta: ImageMeta, quality: int | None, target: Path) -> int:
    """``quality``, or when None: 100 (lossless) for a WebP ``target`` of a lossless WebP source
    (``meta.extra["webp_lossless"]``), else the source JPEG's own (``meta.extra["jpeg_quality"]``, estimated from its
    tables on reading), else :data:`DEFAULT_QUALITY`: a camera JPEG of quality 85 is not written at 95, twice its
    size, and a lossless WebP master does not lose detail at each run."""
    if quality is not None:
        return quality
    if meta.extra.get("webp_lossless") and target.suffix.lower() == ".webp":
        return 100
    return int(meta.extra.get("jpeg_quality", DEFAULT_QUALITY))


def check_quality(quality: object) -> None:
    """Raise :class:`ParameterError` unless ``quality`` is an integer from 1 to 100 (JPEG/WebP quality)."""
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ParameterError(f"quality must be an integer from 1 to 100, got {quality!r}")


def bit_depth_refusal(format_name: str, bit_depth: int | None) -> str | None:
    """Why ``format_name`` cannot hold ``bit_depth``-bit samples, or None when it can.

    ``format_name`` is a value of :data:`WRITE_FORMATS`.
    """
    allowed = BIT_DEPTHS[format_name]
    if bit_depth is None or bit_depth in allowed:
        return None
    depths = " or ".join(map(str, allowed))
    return (f"{format_name} holds {depths}-bit samples, not {bit_depth}-bit ones; "
            f"choose {'that' if len(allowed) == 1 else 'one of those'} or write TIFF (8, 16 or 32-bit float)")


MAX_SIDE = {"JPEG": 65500, "WEBP": 16383}
"""The most pixels a side of a picture the formats that have a limit hold."""


def side_refusal(format_name: str, rows: int, cols: int) -> str | None:
    """Why ``format_name`` cannot hold a ``rows`` x ``cols`` picture and what to do, or None when it can."""
    most = MAX_SIDE.get(format_name)
    if most is None or max(rows, cols) <= most:
        return None
    return (f"{format_name} holds at most {most:,} pixels a side and this picture is {cols:,} x {rows:,}: choose "
            "PNG or TIFF, or export it smaller")


def _check_target(
    image: Image, path: Path, format_name: str | None, bit_depth: int | None, overwrite_source: bool
) -> str:
    """Validate the target path and options before anything is written; return the (known) format name."""
    if format_name is None:
        suffixes = ", ".join(sorted(WRITE_FORMATS))
        raise ImageWriteError(path, f"cannot write {path.suffix or 'files without a suffix'!r}; "
                              f"end the name with one of {suffixes}")
    refusal = bit_depth_refusal(format_name, bit_depth)
    if refusal is not None:
        raise ImageWriteError(path, refusal)
    refusal = side_refusal(format_name, image.rows, image.cols)
    if refusal is not None:
        raise ImageWriteError(path, refusal)
    source = image.meta.source
    if source is not None and not overwrite_source and same_file(Path(source), path):
        raise ImageWriteError(
            path, "is the image's own source file; refusing to overwrite it. Save under another name"
        )
    def refuse(reason: str) -> ImageWriteError:
        return ImageWriteError(path, f"{reason} or choose another folder to write in", storage=True)

    if is_dir(path, refuse):
        raise ImageWriteError(path, "is a folder; give a file name inside it")
    existing = next(folder for folder in path.parents if exists(folder, refuse))
    if not is_dir(existing, refuse):
        raise ImageWriteError(path, f"{existing} is a file, not a folder; choose a folder to write in")
    if not is_dir(path.parent, refuse):
        raise ImageWriteError(path, f"the folder {path.parent} does not exist; create it first")
    return format_name


def _encode(image: Image, temp: Path, format_name: str, bit_depth: int, quality: int, exif: bytes | None,
            xmp: bytes | None, description: str | None) -> None:
    """Write ``image`` in ``format_name`` to the temporary file ``temp``."""
    if format_name == "TIFF":
        write_tiff(image, temp, bit_depth=bit_depth, exif=exif, description=description, xmp=xmp)
        return
    if format_name == "PNG":
        data = encode_png_image(image, bit_depth=bit_depth, exif=exif, description=description, xmp=xmp)
    else:
        data = encode_pillow_image(image, format_name=format_name, quality=quality, exif=exif, description=description,
                                   xmp=xmp)
    with open(temp, "wb") as handle:
        handle.write(data)


def write_image(
    image: Image,
    path: str | PathLike[str],
    *,
    bit_depth: int | None = None,
    quality: int = 95,
    overwrite_source: bool = False,
    description: str | None = None,
    strip_location: bool = False,
) -> Path:
    """Write ``image`` to ``path`` atomically, keeping bit depth, EXIF, XMP, IPTC, ICC profile and alpha
    where the format holds them (:func:`write_losses` says what it does not).

    Parameters
    ----------
    image : Image
        Pixels under the contract of :mod:`enhance_core.image`; values are clipped to [0, 1]
        except for 32-bit float TIFF, which stores them as they are.
    path : str or PathLike
        Target; the suffix (.png, .jpg/.jpeg, .tif/.tiff, .bmp, .webp) picks the format.
    bit_depth : int, optional
        8 or 16 (PNG, TIFF), 32 for float TIFF; default: the source's, capped by the format.
    quality : int
        JPEG/WebP quality 1..100 (WebP 100 is lossless). JPEG and BMP composite alpha over white.
    overwrite_source : bool
        Must be True to replace ``image.meta.source``; otherwise that is refused.
    description : str, optional
        Text stored as the PNG ``Description`` (iTXt), TIFF ImageDescription or JPEG comment.
    strip_location : bool
        Leave out where the picture was taken: the EXIF GPS data, XMP's GPS properties and place names, and
        IPTC's place names (:func:`~enhance_core.io.exif.without_location`,
        :func:`~enhance_core.io.xmp_iptc.xmp_without_location`,
        :func:`~enhance_core.io.xmp_iptc.iptc_without_location`).

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    ImageWriteError
        Unknown suffix, unsupported bit depth, the source without ``overwrite_source``,
        a missing folder, or an OS error; the target is left untouched.
    """
    path = Path(path)
    check_quality(quality)
    format_name = _check_target(image, path, WRITE_FORMATS.get(path.suffix.lower()), bit_depth, overwrite_source)
    depth = bit_depth or default_bit_depth(image.meta, format_name)
    exif, xmp = reset_orientation(image.meta.exif), xmp_upright(image.meta.xmp)
    if strip_location:
        exif, xmp = without_location(exif), xmp_without_location(xmp)
        image = Image(image.pixels, image.alpha, replace(image.meta, iptc=iptc_without_location(image.meta.iptc)))
    try:
        with atomic_write(path) as temp:
            _encode(image, temp, format_name, depth, quality, exif, xmp, description)
    except OSError as error:
        held = (f", and that no other program has {path.name} open" if sys.platform == "win32"
                and isinstance(error, PermissionError) and path.exists() else "")
        raise ImageWriteError(path, f"could not be written ({error.strerror or error}); check that {path.parent} is "
                                    f"writable and has room{held}. The target was left unchanged",
                              storage=True) from None
    except ENCODE_ERRORS as error:
        raise ImageWriteError(path, f"the {format_name} encoder failed ({error}); "
                                    "the target was left unchanged") from error
    except MemoryError:
        raise ImageWriteError(path, f"not enough memory to encode it as {format_name}; close other programs, or "
                                    "write TIFF, which needs less. The target was left unchanged") from None
    return path
