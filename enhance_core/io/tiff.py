"""TIFF through tifffile: 8/16-bit integer and 32-bit float, multi-page, large scans.

Reading picks one page (the first unless asked), checks its layout (size,
samples, tiles, no volumetric ImageDepth) against the limits before decoding,
memory-maps uncompressed pages so a large scan is converted to float32
without an intermediate copy, and handles gray, RGB, palette and min-is-white
data with associated or unassociated alpha; further samples per pixel (extra
channels) are left out. What tifffile logs about damaged structures while
reading goes to ``meta.extra["warnings"]``, as do the number of channels left
out and a count of float samples that were NaN or infinite (replaced by finite
values). Writing keeps a TIFF source's uncompressed, LZW, PackBits, Deflate or
Zstandard storage (:data:`KEPT_COMPRESSION`: an archive's masters are often
required uncompressed or LZW), else uses lossless Deflate, and keeps the ICC
profile (tag 34675), XMP (tag 700), IPTC (tag 33723), resolution and EXIF (see
:mod:`enhance_core.io.tiff_exif`).
"""

from __future__ import annotations

import enum
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import tifffile

from enhance_core.errors import ImageReadError, UnsupportedFormat
from enhance_core.image import Image, ImageMeta
from enhance_core.io.exif import apply_orientation, exif_upright
from enhance_core.io.limits import Limits
from enhance_core.io.samples import dtype_bit_depth, quantize, stack_alpha, to_unit_pixels
from enhance_core.io.tiff_exif import append_sub_ifds, exif_from_tiff, tiff_tags_from_exif
from enhance_core.io.value_map import read_value_map
from enhance_core.io.xmp_iptc import xmp_for_new_picture

# tifffile reports damaged structures through logging; without a handler Python
# would print them to stderr next to our one-line error. Applications that
# configure logging still receive them.
_LOG = logging.getLogger("tifffile")
_LOG.addHandler(logging.NullHandler())

_ASSOCIATED_ALPHA = 1
_UNASSOCIATED_ALPHA = 2
_CM_PER_INCH = 2.54
XMP_TAG, IPTC_TAG = 700, 33723
_UNDEFINED = 7
_MAX_TILE_FACTOR = 4
_SMALL_TILE_PIXELS = 256 * 256
_PREVIEW_SCAN_PAGES = 64
"""Files of up to this many pages are searched for reduced-resolution copies (see ``meta.extra["preview_pages"]``)."""


class _Collector(logging.Handler):
    """Keeps the messages tifffile logs while one file is read."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(" ".join(record.getMessage().split()))


@contextmanager
def _logged_warnings() -> Iterator[list[str]]:
    """Collect tifffile's warnings (damaged tags, odd offsets) during the block."""
    collector = _Collector()
    _LOG.addHandler(collector)
    try:
        yield collector.messages
    finally:
        _LOG.removeHandler(collector)


def _check_layout(path: Path, page: tifffile.TiffPage, index: int, limits: Limits, file_size: int) -> None:
    """Refuse a page that is volumetric, has a damaged tile or strip layout, or would decode beyond the limits.

    The header must list as many strips or tiles as the image size needs (a
    bit flipped in the height would otherwise open the picture with rows of
    black), every one must lie inside the file (a byte count of 4 GB would
    make the reader allocate 4 GB before finding the file shorter), and a
    tile may cover at most four times the image (at least 256 x 256 pixels).
    """
    depth = int(page.imagedepth)
    if depth > 1:
        raise UnsupportedFormat(
            path, f"page {index} is a volumetric TIFF ({depth} slices of {page.imagewidth} x {page.imagelength}, "
            "SGI ImageDepth); only 2-D images are supported; save the slices as the pages of a multi-page TIFF",
        )
    limits.check_size(path, page.imagelength, page.imagewidth, samples=page.samplesperpixel,
                      bytes_per_sample=max(1, (int(page.bitspersample) + 7) // 8))
    if page.is_tiled:
        tile_pixels = int(page.tilewidth) * int(page.tilelength)
        if min(page.tilewidth, page.tilelength) < 1 or tile_pixels > _MAX_TILE_FACTOR * max(
                int(page.imagewidth) * int(page.imagelength), _SMALL_TILE_PIXELS):
            raise ImageReadError(path, f"TIFF tiles of {page.tilewidth} x {page.tilelength} pixels for a "
                                 f"{page.imagewidth} x {page.imagelength} image; "
                                 "the tile size in the header is damaged")
    kind = "tile" if page.is_tiled else "strip"
    needed = int(np.prod(page.chunked))
    whole = int(page.imagelength) * ((int(page.imagewidth) * int(page.bitspersample) * int(page.samplesperpixel)
                                      + 7) // 8)
    one_block = page.compression == 1 and sum(int(count) for count in page.databytecounts) >= whole
    if len(page.dataoffsets) < needed and not one_block:  # old writers put a whole plain image in one strip
        raise ImageReadError(path, f"TIFF lists {len(page.dataoffsets)} {kind}(s) where a {page.imagewidth} x "
                             f"{page.imagelength} image needs {needed}; its header is damaged (the image size or the "
                             f"{kind} table)")
    ends = np.asarray(page.dataoffsets, dtype=np.float64) + np.asarray(page.databytecounts, dtype=np.float64)
    if ends.size and int(ends.max()) > file_size:
        raise ImageReadError(path, f"TIFF {kind} {int(ends.argmax())} ends at byte {int(ends.max()):,}, "
                             f"past the end of the file ({file_size:,} bytes); "
                             "the file is truncated or its header is damaged")


def _page_samples(path: Path, page: tifffile.TiffPage, index: int) -> np.ndarray:
    """Return the page's samples as (rows, cols[, samples]), memory-mapped when the layout allows."""
    if page.is_memmappable:
        array = np.asarray(tifffile.memmap(path, page=index, mode="r"))
    else:
        array = page.asarray()
    if page.planarconfig == tifffile.PLANARCONFIG.SEPARATE and array.ndim == 3:
        array = np.moveaxis(array, 0, -1)
    if array.ndim not in (2, 3):
        raise UnsupportedFormat(path, f"page {index} has {array.ndim} dimensions {array.shape}; "
                                "only 2-D images are supported")
    return array


def _color_and_alpha(path: Path, page: tifffile.TiffPage, array: np.ndarray) -> tuple[np.ndarray, bool, bool]:
    """Return (samples in gray/RGB[+alpha] layout, has alpha, alpha is premultiplied)."""
    photometric = page.photometric
    if photometric == tifffile.PHOTOMETRIC.PALETTE:
        colormap = page.colormap
        if colormap is None:
            raise ImageReadError(path, "palette TIFF without a color map (tag 320); the file is damaged")
        return np.moveaxis(colormap[:, array], 0, -1), False, False
    if photometric == tifffile.PHOTOMETRIC.MINISWHITE:
        if array.dtype == np.bool_:  # a bilevel page (fax, document scans): 1 is black
            array = ~array
        elif array.dtype.kind == "u":  # white is the largest value of the stored bits (15 of 4-bit samples)
            array = np.array(min((1 << int(page.bitspersample)) - 1, np.iinfo(array.dtype).max), array.dtype) - array
        else:
            array = np.iinfo(array.dtype).max - array if array.dtype.kind == "i" else 1.0 - array
    elif photometric == tifffile.PHOTOMETRIC.SEPARATED:
        raise UnsupportedFormat(path, "a CMYK TIFF is not read (a CMYK JPEG is); convert it to RGB with its colour "
                                      "profile first, e.g. in GIMP, Krita or `magick in.tif -colorspace sRGB out.tif`")
    elif photometric not in (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.RGB, tifffile.PHOTOMETRIC.YCBCR):
        raise UnsupportedFormat(
            path,
            f"TIFF photometric interpretation {_code_name(photometric)} is not supported; "
            "convert the file to RGB or grayscale (a camera's raw TIFF needs a raw converter)",
        )
    gray = photometric in (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.MINISWHITE)
    color_samples = 1 if gray else 3
    extras = tuple(page.extrasamples or ())
    alpha_kind = extras[0] if extras else None
    has_alpha = alpha_kind in (_ASSOCIATED_ALPHA, _UNASSOCIATED_ALPHA)
    if array.ndim == 3:
        array = array[:, :, : color_samples + (1 if has_alpha else 0)]
    return array, has_alpha, alpha_kind == _ASSOCIATED_ALPHA


def _left_out_channels(stored: int, kept: int, has_alpha: bool) -> str:
    """The read warning for a page of ``stored`` samples per pixel of which the first ``kept`` are read."""
    kept_words = ("gray" if kept - has_alpha == 1 else "RGB") + (" and alpha" if has_alpha else "")
    left_out = stored - kept
    return (f"{stored} channels per pixel: the {left_out} beyond {kept_words} {'is' if left_out == 1 else 'are'} "
            f"left out (Enhance Studio reads, edits and writes {kept_words} only)")


def _code_name(code: int) -> str:
    """The name of a TIFF enumerated value (``RGB``, ``LZW``), or its number when tifffile does not know it."""
    return code.name if isinstance(code, enum.Enum) else str(int(code))


def _is_preview(page: tifffile.TiffPage | tifffile.TiffFrame) -> bool:
    """Whether ``page`` is marked a reduced-resolution copy of another (a preview or thumbnail)."""
    return bool(int(getattr(page, "subfiletype", 0) or 0) & tifffile.FILETYPE.REDUCEDIMAGE)


def _first_full_page(tif: tifffile.TiffFile) -> int:
    """The first page not marked a reduced-resolution copy; 0 when every page is."""
    for index, page in enumerate(tif.pages):
        if not _is_preview(page):
            return index
    return 0


def _other_previews(tif: tifffile.TiffFile, page: int) -> int:
    """How many pages besides ``page`` are reduced-resolution copies (looked for in files of up to
    :data:`_PREVIEW_SCAN_PAGES` pages: stacks of hundreds of slices hold none)."""
    if len(tif.pages) > _PREVIEW_SCAN_PAGES:
        return 0
    return sum(1 for index, other in enumerate(tif.pages) if index != page and _is_preview(other))


def _dpi(page: tifffile.TiffPage) -> tuple[float, float] | None:
    """Return (x, y) resolution in dots per inch, or None when the file states none."""
    unit = page.resolutionunit
    if unit not in (tifffile.RESUNIT.INCH, tifffile.RESUNIT.CENTIMETER) or not {282, 283} <= set(page.tags.keys()):
        return None  # no XResolution / YResolution: tifffile's 1 for them is no resolution the file states
    x_res, y_res = page.get_resolution()
    if x_res <= 0 or y_res <= 0:
        return None
    factor = _CM_PER_INCH if unit == tifffile.RESUNIT.CENTIMETER else 1.0
    return (float(x_res) * factor, float(y_res) * factor)


def read_tiff(path: Path, *, page: int | None, limits: Limits) -> Image:
    """Read one page of a TIFF into contract pixels, with ICC, EXIF, XMP, IPTC and resolution.

    By default (``page`` None) the first page that is not marked a
    reduced-resolution copy (a preview some scanners and cameras write first),
    else page 0.
    """
    with _logged_warnings() as messages, tifffile.TiffFile(path) as tif:
        page_count = len(tif.pages)
        if page_count == 0:
            raise ImageReadError(path, "TIFF file has no readable page; its header is damaged or the file is truncated")
        if page is None:
            page = _first_full_page(tif)
        if page >= page_count:
            raise ImageReadError(path, f"page {page} does not exist; the file has {page_count} page(s), "
                                 f"numbered 0 to {page_count - 1}")
        tiff_page = tif.pages[page]
        if isinstance(tiff_page, tifffile.TiffFrame):
            # Files tifffile reads as a series of frames (ScanImage, LSM, NDPI) give the pages after
            # the first two as TiffFrames, which lack the tags read below; read the full page.
            tiff_page = tiff_page.aspage()
        _check_layout(path, tiff_page, page, limits, tif.filehandle.size)
        if tiff_page.dtype is not None and tiff_page.dtype.kind == "c":
            raise ImageReadError(path, "holds complex numbers (a Fourier transform or a radar image), not a "
                                 "picture; save its magnitude or real part as an image and open that")
        stored = _page_samples(path, tiff_page, page)
        samples, has_alpha, premultiplied = _color_and_alpha(path, tiff_page, stored)
        if stored.ndim == 3 and samples.ndim == 3 and stored.shape[2] > samples.shape[2]:
            messages.append(_left_out_channels(stored.shape[2], samples.shape[2], has_alpha))
        bits, is_float = dtype_bit_depth(samples.dtype)
        stored_bits = tiff_page.bitspersample
        meta = ImageMeta(format="TIFF", bit_depth=32 if is_float and bits == 64 else bits, float_source=is_float)
        meta.page, meta.page_count = page, page_count
        previews = _other_previews(tif, page)
        if previews:
            meta.extra["preview_pages"] = previews
        if samples.dtype.kind == "i":
            lowest = -int(np.iinfo(samples.dtype).min)
            messages.append(f"signed {bits}-bit samples: exports write them unsigned, each value plus {lowest} "
                            f"(-{lowest} becomes 0)")
        elif samples.dtype.kind == "u" and bits > 16:
            messages.append(f"{bits}-bit integer samples: exports hold 16 bits, or 32-bit float in TIFF")
        meta.icc_profile = tiff_page.iccprofile or None
        meta.xmp = _tag_bytes(tiff_page, XMP_TAG)
        meta.iptc = _tag_bytes(tiff_page, IPTC_TAG)
        meta.orientation = int(tiff_page.tags.valueof(274, 1))
        meta.extra["compression"] = _code_name(tiff_page.compression)
        description = tiff_page.description
        dpi = _dpi(tiff_page)
        if dpi:
            meta.extra["dpi"] = dpi
            if tiff_page.resolutionunit == tifffile.RESUNIT.CENTIMETER:
                meta.extra["resolution_unit"] = METRIC
    if messages:
        meta.extra["warnings"] = list(dict.fromkeys(messages))
    maximum = None
    if (not is_float and samples.dtype != np.bool_ and stored_bits not in (8, 16, 32)
            and tiff_page.photometric != tifffile.PHOTOMETRIC.PALETTE):
        maximum = float((1 << stored_bits) - 1)
        meta.bit_depth = stored_bits
    upright = apply_orientation(samples, meta.orientation if 1 <= meta.orientation <= 8 else 1)
    meta.exif = exif_upright(exif_from_tiff(path), meta.orientation, *upright.shape[:2])
    if 2 <= meta.orientation <= 8:
        meta.xmp = xmp_for_new_picture(meta.xmp, *upright.shape[:2], same_picture=False)
    if 5 <= meta.orientation <= 8 and meta.extra.get("dpi"):  # turned a quarter: the stored columns are rows
        meta.extra["dpi"] = tuple(reversed(meta.extra["dpi"]))
    pixels, alpha = to_unit_pixels(upright, has_alpha=has_alpha, maximum=maximum, premultiplied=premultiplied)
    if is_float:
        pixels, alpha = _finite_samples(pixels, alpha, meta)
    read_value_map(meta, description, pixels)
    return Image(pixels, alpha, meta)


def _tag_bytes(page: tifffile.TiffPage, code: int) -> bytes | None:
    """The value of tag ``code`` as bytes (tifffile gives XMP and IPTC as bytes); None when absent or not bytes."""
    value = page.tags.valueof(code)
    return bytes(value) if isinstance(value, (bytes, bytearray)) and value else None


def _finite_samples(pixels: np.ndarray, alpha: np.ndarray | None,
                    meta: ImageMeta) -> tuple[np.ndarray, np.ndarray | None]:
    """Float samples with NaN and infinities replaced (a warning in ``meta.extra`` counts them).

    In color, NaN ("no data" in many float files) and -inf become the lowest
    finite value, +inf the highest (0 and 1 when there is none), so a stretch
    over the data's range is not widened to 0 by a NaN; in alpha, NaN and +inf become opaque, -inf
    transparent. Filters and writers then never meet a non-finite value.
    """
    bad = int(np.count_nonzero(~np.isfinite(pixels)))
    if bad:
        finite = pixels[np.isfinite(pixels)]
        high, low = (float(finite.max()), float(finite.min())) if finite.size else (1.0, 0.0)
        pixels = np.nan_to_num(pixels, nan=low, posinf=high, neginf=low)
        meta.extra.setdefault("warnings", []).append(
            f"{bad:,} {'gray' if pixels.ndim == 2 or pixels.shape[2] == 1 else 'color'} sample(s) hold NaN or "
            "infinite values; NaN and -inf read as the lowest finite value "
            f"({low:g}), +inf as the highest ({high:g})")
    if alpha is not None and not np.isfinite(alpha).all():
        meta.extra.setdefault("warnings", []).append(
            f"{int(np.count_nonzero(~np.isfinite(alpha))):,} alpha sample(s) hold NaN or infinite values; "
            "NaN and +inf read as opaque, -inf as transparent")
        alpha = np.nan_to_num(alpha, nan=1.0, posinf=1.0, neginf=0.0)
    return pixels, alpha


METRIC = "cm"
"""``meta.extra["resolution_unit"]`` of a resolution stated per centimetre (a TIFF that said so, a DICOM
export), which a TIFF is written with again (``meta.extra["dpi"]`` is per inch whatever the unit)."""

KEPT_COMPRESSION: dict[str, str | None] = {"NONE": None, "LZW": "lzw", "PACKBITS": "packbits", "ADOBE_DEFLATE": "zlib",
                                           "DEFLATE": "zlib", "ZSTD": "zstd"}
"""A TIFF source's compression (``meta.extra["compression"]``) that its TIFF output keeps, as tifffile names it;
any other (JPEG, CCITT) and a source that is not a TIFF give lossless Deflate."""


def write_tiff(image: Image, path: Path, *, bit_depth: int, exif: bytes | None, description: str | None = None,
               xmp: bytes | None = None) -> None:
    """Write ``image`` as a TIFF at 8, 16 or 32 (float) bits per sample, compressed as its source was
    (:data:`KEPT_COMPRESSION`) or with Deflate, with a predictor where the compression uses one.

    Keeps the ICC profile, resolution, EXIF (IFD0 text tags, the EXIF and
    GPS sub-IFDs), ``xmp`` (tag 700) and ``meta.iptc`` (tag 33723); the
    orientation tag is written as 1 because pixels are upright.
    ``description`` replaces the EXIF image description in the ImageDescription tag.
    """
    if bit_depth == 32:
        color = np.ascontiguousarray(image.pixels, dtype=np.float32)
        alpha = image.alpha
    else:
        color = quantize(image.pixels, bit_depth)
        alpha = None if image.alpha is None else quantize(image.alpha, bit_depth)
    samples = stack_alpha(color, alpha)
    tags = tiff_tags_from_exif(exif)
    dpi = image.meta.extra.get("dpi")
    metric = image.meta.extra.get("resolution_unit") == METRIC
    extratags = list(tags.extratags)
    if xmp:
        extratags.append((XMP_TAG, "B", len(xmp), xmp, True))
    if image.meta.iptc:
        extratags.append((IPTC_TAG, _UNDEFINED, len(image.meta.iptc), image.meta.iptc, True))
    compression = KEPT_COMPRESSION.get(str(image.meta.extra.get("compression")), "zlib")
    tifffile.imwrite(
        path,
        samples,
        photometric="rgb" if image.channels == 3 else "minisblack",
        planarconfig="contig",
        extrasamples=(_UNASSOCIATED_ALPHA,) if alpha is not None else None,
        compression=compression,
        compressionargs={"level": 6} if compression == "zlib" else None,
        predictor=compression in ("lzw", "zlib", "zstd"),
        iccprofile=image.meta.icc_profile,
        resolution=(tuple(value / _CM_PER_INCH for value in dpi) if metric else tuple(dpi)) if dpi else None,
        resolutionunit=("CENTIMETER" if metric else "INCH") if dpi else None,
        metadata=None,
        description=description or tags.description,
        software=tags.software or "Enhance Studio",
        datetime=tags.datetime,
        extratags=extratags,
    )
    if tags.sub_ifds:
        append_sub_ifds(path, tags.sub_ifds)
