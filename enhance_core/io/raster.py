"""Photographic formats: JPEG, PNG, BMP and WebP.

Pillow decodes 8-bit data and reads JPEG/WebP metadata; 16-bit PNG pixels come
from imagecodecs (see :mod:`enhance_core.io.png`). Pillow's own decompression-bomb
check is switched off because :mod:`enhance_core.io.limits` applies the
project's configurable limit to every format before decoding.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from enhance_core.image import Image, ImageMeta
from enhance_core.io.exif import apply_orientation, normalize_exif, read_orientation, reset_orientation
from enhance_core.io.limits import check_pixel_count
from enhance_core.io.png import decode_png_16bit, encode_png, inspect_png
from enhance_core.io.samples import quantize, stack_alpha, to_unit_pixels

PILImage.MAX_IMAGE_PIXELS = None

_PILLOW_FORMATS = {"JPEG": "JPEG", "BMP": "BMP", "WEBP": "WEBP"}


def _pillow_array(picture: PILImage.Image, meta: ImageMeta) -> tuple[np.ndarray, bool]:
    """Return (samples, has_alpha) of a Pillow image in gray, gray+alpha, RGB or RGBA."""
    mode = picture.mode
    if mode in ("P", "PA"):
        has_transparency = mode == "PA" or "transparency" in picture.info
        picture = picture.convert("RGBA" if has_transparency else "RGB")
    elif mode == "CMYK":
        if meta.icc_profile:
            meta.extra["icc_dropped"] = "CMYK profile does not describe the converted RGB pixels"
            meta.icc_profile = None
        picture = picture.convert("RGB")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        picture = picture.convert("L" if mode in ("1", "I", "I;16", "F") else "RGBA" if "A" in mode else "RGB")
    array = np.asarray(picture)
    return array, picture.mode in ("LA", "RGBA")


def _finish(array: np.ndarray, has_alpha: bool, meta: ImageMeta) -> Image:
    """Turn decoded samples upright and into contract pixels."""
    meta.orientation = read_orientation(meta.exif)
    meta.exif = reset_orientation(meta.exif)
    upright = apply_orientation(array, meta.orientation)
    pixels, alpha = to_unit_pixels(upright, has_alpha=has_alpha)
    return Image(pixels, alpha, meta)


def read_png(path: Path, *, page: int, limit: int | None) -> Image:
    """Read an 8- or 16-bit PNG (gray, gray+alpha, palette, RGB, RGBA) with ICC, EXIF and resolution."""
    data = path.read_bytes()
    info = inspect_png(data, path)
    check_pixel_count(path, info.rows, info.cols, limit)
    meta = ImageMeta(format="PNG", bit_depth=16 if info.bit_depth == 16 else 8, exif=info.exif)
    meta.icc_profile = info.icc_profile
    if info.dpi:
        meta.extra["dpi"] = info.dpi
    if info.bit_depth == 16:
        array = decode_png_16bit(data, path)
        has_alpha = array.ndim == 3 and array.shape[2] in (2, 4)
    else:
        with PILImage.open(io.BytesIO(data)) as picture:
            picture.load()
            array, has_alpha = _pillow_array(picture, meta)
    return _finish(array, has_alpha, meta)


def read_pillow_format(path: Path, *, page: int, limit: int | None, format_name: str) -> Image:
    """Read JPEG, BMP or WebP through Pillow, keeping EXIF, ICC and resolution."""
    with PILImage.open(path, formats=[_PILLOW_FORMATS[format_name]]) as picture:
        cols, rows = picture.size
        check_pixel_count(path, rows, cols, limit)
        picture.load()
        meta = ImageMeta(format=format_name, bit_depth=8)
        meta.exif = normalize_exif(picture.info.get("exif"))
        meta.icc_profile = picture.info.get("icc_profile") or None
        dpi = picture.info.get("dpi")
        if dpi and all(value > 0 for value in dpi):
            meta.extra["dpi"] = (float(dpi[0]), float(dpi[1]))
        array, has_alpha = _pillow_array(picture, meta)
    return _finish(array, has_alpha, meta)


def encode_png_image(image: Image, *, bit_depth: int, exif: bytes | None, description: str | None = None) -> bytes:
    """Return PNG bytes for ``image`` at 8 or 16 bits with its ICC profile, EXIF, resolution and description."""
    samples = stack_alpha(quantize(image.pixels, bit_depth), None if image.alpha is None else quantize(image.alpha, bit_depth))
    return encode_png(samples, icc_profile=image.meta.icc_profile, exif=exif, dpi=image.meta.extra.get("dpi"),
                      description=description)


def _flatten_on_white(image: Image) -> np.ndarray:
    """Composite color over white using alpha (for formats without alpha)."""
    if image.alpha is None:
        return image.pixels
    alpha = image.alpha[:, :, None]
    return image.pixels * alpha + (1.0 - alpha)


def encode_pillow_image(image: Image, *, format_name: str, quality: int, exif: bytes | None,
                        description: str | None = None) -> bytes:
    """Return JPEG, BMP or WebP bytes (8 bit) for ``image`` with EXIF and ICC where the format holds them.

    ``description`` becomes the JPEG comment (COM segment); BMP and WebP hold none.

    JPEG and BMP hold no alpha: a transparent image is composited over white.
    JPEG at quality 90 and above keeps full chroma resolution (4:4:4), below that 4:2:0.
    """
    keeps_alpha = format_name == "WEBP" and image.alpha is not None
    color = image.pixels if keeps_alpha else _flatten_on_white(image)
    alpha = quantize(image.alpha, 8) if keeps_alpha else None
    samples = stack_alpha(quantize(color, 8), alpha)
    picture = PILImage.fromarray(samples)
    options: dict[str, object] = {}
    if image.meta.icc_profile and format_name != "BMP":
        options["icc_profile"] = image.meta.icc_profile
    if exif and format_name != "BMP":
        options["exif"] = exif
    dpi = image.meta.extra.get("dpi")
    if dpi and format_name != "WEBP":
        options["dpi"] = tuple(dpi)
    if format_name == "JPEG":
        options.update(quality=quality, subsampling=0 if quality >= 90 else 2, optimize=True)
        if description:
            options["comment"] = description.encode("utf-8")
    elif format_name == "WEBP":
        options.update(quality=quality, lossless=quality >= 100, method=4)
    out = io.BytesIO()
    picture.save(out, format=format_name, **options)
    return out.getvalue()
