"""Photographic formats: JPEG, PNG, BMP, WebP, and reading HEIF (``pillow-heif``) and AVIF (Pillow).

Pillow decodes 8-bit data and reads JPEG and WebP metadata (a JPEG's XMP and
IPTC come from our own marker walk); 16-bit PNG pixels come
from imagecodecs (see :mod:`enhance_core.io.png`). Pillow's own decompression-bomb
check is switched off because :mod:`enhance_core.io.limits` applies the
project's configurable limits to every format before decoding: the size from
the PNG chunk walk, from our own parse of the WebP header (Pillow's WebP
decoder allocates its canvas on opening) and from Pillow's header parse for
JPEG and BMP, whose scans are counted first (:mod:`enhance_core.io.jpeg`).
JPEG is written through :func:`enhance_core.io.jpeg.encode_jpeg`.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from enhance_core.errors import ImageReadError
from enhance_core.image import Image, ImageMeta
from enhance_core.io.exif import (apply_orientation, exif_for_new_picture, exif_upright, has_orientation,
                                  normalize_exif, read_orientation)
from enhance_core.io.jpeg import (count_scans, decode_checked, encode_jpeg, estimated_quality, source_subsampling,
                                  xmp_and_iptc)
from enhance_core.io.limits import Limits
from enhance_core.io.png import (check_image_data, decode_png_16bit, encode_png, inspect_png, text_keyword,
                                 without_damaged)
from enhance_core.io.samples import quantize, stack_alpha, to_unit_pixels
from enhance_core.io.value_map import png_description, read_value_map
from enhance_core.io.xmp_iptc import xmp_for_new_picture, xmp_orientation

PILImage.MAX_IMAGE_PIXELS = None

_PILLOW_FORMATS = {"JPEG": "JPEG", "BMP": "BMP", "WEBP": "WEBP", "HEIF": "HEIF", "AVIF": "AVIF"}
_PNG_SAMPLES = {0: 1, 2: 3, 3: 4, 4: 2, 6: 4}
"""Samples per pixel the decoder produces for each PNG color type (palette images become RGB or RGBA)."""
_VP8_START_CODE = b"\x9d\x01\x2a"


def webp_size(data: bytes, path: Path) -> tuple[int, int, bool]:
    """Return (cols, rows, has alpha) from a WebP's first chunk (VP8X canvas, VP8L or VP8 frame header).

    Raises :class:`ImageReadError` when the header is cut short or is none of the three.
    """
    chunk, body = data[12:16], data[20:]
    if chunk == b"VP8X" and len(body) >= 10:
        cols = int.from_bytes(body[4:7], "little") + 1
        rows = int.from_bytes(body[7:10], "little") + 1
        return cols, rows, bool(body[0] & 0x10)
    if chunk == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        (bits,) = struct.unpack_from("<I", body, 1)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)
    if chunk == b"VP8 " and len(body) >= 10 and body[3:6] == _VP8_START_CODE:
        cols, rows = struct.unpack_from("<HH", body, 6)
        return cols & 0x3FFF, rows & 0x3FFF, False
    raise ImageReadError(path, "WebP header is damaged or cut short (no VP8X, VP8L or VP8 image header); "
                         "re-copy or re-export it")


def webp_is_lossless(data: bytes) -> bool:
    """Whether a WebP's image is lossless: its first image chunk (an animation's first frame's) is ``VP8L``, not
    the lossy ``VP8 ``."""
    return _webp_image_chunk(data, 12, len(data)) == b"VP8L"


def _webp_image_chunk(data: bytes, offset: int, end: int) -> bytes | None:
    """The first ``VP8L`` or ``VP8 `` chunk name among the RIFF chunks of ``data[offset:end]``, looking into an
    animation frame (``ANMF``: its chunks follow a 16-byte header); None when there is none."""
    while offset + 8 <= end:
        chunk = data[offset:offset + 4]
        size = int.from_bytes(data[offset + 4:offset + 8], "little")
        if chunk in (b"VP8L", b"VP8 "):
            return chunk
        if chunk == b"ANMF":
            return _webp_image_chunk(data, offset + 24, min(end, offset + 8 + size))
        offset += 8 + size + (size & 1)
    return None


def _decoded_samples(picture: PILImage.Image) -> int:
    """Samples per pixel after decoding and conversion to gray/RGB(A) (palettes expand to four)."""
    return 4 if picture.mode in ("P", "PA") else len(picture.getbands())


def _pillow_array(picture: PILImage.Image, meta: ImageMeta) -> tuple[np.ndarray, bool]:
    """Return (samples, has_alpha) of a Pillow image in gray, gray+alpha, RGB or RGBA."""
    mode = picture.mode
    if mode in ("P", "PA"):
        has_transparency = mode == "PA" or "transparency" in picture.info
        picture = picture.convert("RGBA" if has_transparency else "RGB")
    elif mode == "CMYK":
        picture = _cmyk_to_rgb(picture, meta)
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        picture = picture.convert("L" if mode in ("1", "I", "I;16", "F") else "RGBA" if "A" in mode else "RGB")
    array = np.asarray(picture)
    return array, picture.mode in ("LA", "RGBA")


def _cmyk_to_rgb(picture: PILImage.Image, meta: ImageMeta) -> PILImage.Image:
    """RGB of a CMYK picture: through its embedded CMYK profile into sRGB (which becomes its profile), else by
    Pillow's plain formula, with a warning that the colours are approximate (no profile, or one that could not
    be applied)."""
    profile = meta.icc_profile
    meta.icc_profile = None
    if not profile:
        meta.extra.setdefault("warnings", []).append(
            "a CMYK picture without a colour profile: it was converted to RGB by a plain formula, so its colours "
            "are approximate")
    else:
        from PIL import ImageCms

        try:
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            converted = ImageCms.profileToProfile(picture, ImageCms.ImageCmsProfile(io.BytesIO(profile)), srgb,
                                                  outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError) as error:
            meta.extra.setdefault("warnings", []).append(
                f"its CMYK colour profile could not be applied ({error}); the colours were converted to RGB by a "
                "plain formula and may be off")
        else:
            if converted is not None:
                meta.icc_profile = srgb.tobytes()
                return converted
    return picture.convert("RGB")


def _finish(array: np.ndarray, has_alpha: bool, meta: ImageMeta, *, turned_by_decoder: int = 1) -> Image:
    """Turn decoded samples upright and into contract pixels.

    The EXIF orientation rules; a file without one is turned by its XMP
    ``tiff:Orientation`` (digiKam writes PNG's there). ``turned_by_decoder``:
    the orientation the decoder already applied (pillow-heif turns a HEIF's
    pixels and resets its tags), whose metadata still describes the stored picture.
    """
    meta.orientation = read_orientation(meta.exif) if has_orientation(meta.exif) else xmp_orientation(meta.xmp)
    upright = apply_orientation(array, meta.orientation)
    rows, cols = upright.shape[:2]
    meta.exif = exif_upright(meta.exif, meta.orientation, rows, cols)
    if 2 <= turned_by_decoder <= 8:
        meta.orientation = turned_by_decoder
        meta.exif = exif_for_new_picture(meta.exif, rows, cols, same_picture=False)
    if 2 <= meta.orientation <= 8:
        meta.xmp = xmp_for_new_picture(meta.xmp, rows, cols, same_picture=False)
    if meta.orientation >= 5 and meta.extra.get("dpi"):  # turned a quarter: the stored columns are rows
        meta.extra["dpi"] = tuple(reversed(meta.extra["dpi"]))
    pixels, alpha = to_unit_pixels(upright, has_alpha=has_alpha)
    return Image(pixels, alpha, meta)


def read_png(path: Path, *, page: int | None, limits: Limits) -> Image:
    """Read an 8- or 16-bit PNG (gray, gray+alpha, palette, RGB, RGBA) with ICC, EXIF, XMP, text and resolution.

    The text chunks (but XMP) and the colour chunks gAMA, cHRM and sRGB are kept as they came in
    ``meta.extra["png_chunks"]`` for a PNG written from it. A 16-bit gray PNG of a medical image's values
    written by Enhance Studio gets its unit and value map back (:mod:`enhance_core.io.value_map`).
    """
    data = path.read_bytes()
    info = inspect_png(data, path)
    if info.damaged:
        names = {name for name, _, _ in info.damaged}
        colour = sorted(names & {"iCCP", "gAMA", "cHRM", "sRGB"})
        lost = (f"its colour description ({', '.join(colour)}) is left out, so its colours are read as sRGB"
                if colour else "it is left out")
        warnings.warn(f"damaged metadata: PNG chunk {', '.join(repr(name) for name in sorted(names))} fails its "
                      f"CRC; {lost}; the picture's own data is whole", stacklevel=2)
        data = without_damaged(data, info)
    limits.check_size(path, info.rows, info.cols, samples=_PNG_SAMPLES.get(info.color_type, 4),
                      bytes_per_sample=2 if info.bit_depth == 16 else 1)
    meta = ImageMeta(format="PNG", bit_depth=16 if info.bit_depth == 16 else 8, exif=info.exif)
    meta.icc_profile, meta.xmp = info.icc_profile, info.xmp
    if info.carried:
        meta.extra["png_chunks"] = info.carried
    if info.dpi:
        meta.extra["dpi"] = info.dpi
    if info.bit_depth == 16:
        array = decode_png_16bit(data, path)
        has_alpha = array.ndim == 3 and array.shape[2] in (2, 4)
    else:
        with PILImage.open(io.BytesIO(data)) as picture:
            picture.load()
            if info.interlaced or _last_pixel_blank(picture):
                check_image_data(data, info, path)
            _count_frames(picture, meta)
            array, has_alpha = _pillow_array(picture, meta)
    if info.transparent is not None and not has_alpha:
        array, has_alpha = _keyed_alpha(array, info.transparent, info.bit_depth), True
    image = _finish(array, has_alpha, meta)
    if read_value_map(image.meta, png_description(info.carried), image.pixels):
        image.meta.extra["png_chunks"] = [(name, payload) for name, payload in info.carried
                                          if text_keyword(name, payload) != "Description"]
    return image


def _last_pixel_blank(picture: PILImage.Image) -> bool:
    """Whether a decoded picture's last pixel is all zeros, as a decoder leaves the rows its data did not reach
    (then :func:`~enhance_core.io.png.check_image_data` tells whether it did; checking every file costs a
    third of the decode)."""
    value = picture.getpixel((picture.width - 1, picture.height - 1))
    return not any(value) if isinstance(value, tuple) else not value


def _keyed_alpha(array: np.ndarray, key: tuple[int, ...], bit_depth: int) -> np.ndarray:
    """Gray or RGB samples with an alpha channel: transparent where they equal the tRNS colour ``key``.

    The key is given at the PNG's bit depth (1, 2, 4 bits gray are scaled to
    the 8-bit samples they decode to).
    """
    samples = array if array.ndim == 3 else array[:, :, None]
    if bit_depth < 8:
        key = tuple(value * (255 // ((1 << bit_depth) - 1)) for value in key)
    opaque = np.iinfo(samples.dtype).max
    alpha = np.any(samples != np.asarray(key, dtype=samples.dtype), axis=2).astype(samples.dtype) * samples.dtype.type(
        opaque)
    return np.concatenate([samples, alpha[:, :, None]], axis=2)


def read_pillow_format(path: Path, *, page: int | None, limits: Limits, format_name: str) -> Image:
    """Read JPEG, BMP, WebP, HEIF or AVIF (8 bit) through Pillow, keeping EXIF, ICC, XMP, IPTC and resolution."""
    data = path.read_bytes()
    if format_name == "WEBP":
        cols, rows, has_alpha = webp_size(data, path)
        limits.check_size(path, rows, cols, samples=4 if has_alpha else 3)
    elif format_name == "JPEG":
        limits.check_jpeg_scans(path, count_scans(data))
    with PILImage.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[format_name]]) as picture:
        cols, rows = picture.size
        limits.check_size(path, rows, cols, samples=_decoded_samples(picture))
        samples, damage = decode_checked(path, data, picture.mode) if format_name == "JPEG" else (None, "")
        if samples is None:
            picture.load()
        meta = ImageMeta(format=format_name, bit_depth=8)
        if damage:
            meta.extra["warnings"] = [damage]
        meta.exif = normalize_exif(picture.info.get("exif"))
        meta.icc_profile = picture.info.get("icc_profile") or None
        if format_name == "JPEG":
            meta.xmp, meta.iptc = xmp_and_iptc(data)
            quality = estimated_quality(getattr(picture, "quantization", None))
            if quality is not None:
                meta.extra["jpeg_quality"] = quality
            sampling = source_subsampling(picture) if picture.mode != "L" else None
            if sampling is not None:
                meta.extra["jpeg_subsampling"] = sampling
        else:
            meta.xmp = _as_bytes(picture.info.get("xmp"))
        if format_name == "WEBP" and webp_is_lossless(data):
            meta.extra["webp_lossless"] = True
        dpi = picture.info.get("dpi")
        if dpi and all(value > 0 for value in dpi):
            meta.extra["dpi"] = (float(dpi[0]), float(dpi[1]))
        _count_frames(picture, meta)
        turned = int(picture.info.get("original_orientation") or 1) if format_name == "HEIF" else 1
        array, has_alpha = _pillow_array(picture, meta) if samples is None else (samples, False)
    return _finish(array, has_alpha, meta, turned_by_decoder=turned)


def _as_bytes(value: object) -> bytes | None:
    """A metadata value Pillow gives as bytes or text, as bytes (text as UTF-8); None when empty or neither."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    return bytes(value) if isinstance(value, (bytes, bytearray)) and value else None


def _count_frames(picture: PILImage.Image, meta: ImageMeta) -> None:
    """Record the frames of an animation (APNG, animated WebP) as pages, and say only the first is read.

    A JPEG's further images (an MPO's second view or depth map) are no animation and are not counted.
    """
    frames = int(getattr(picture, "n_frames", 1) or 1)
    if picture.format in ("PNG", "WEBP") and getattr(picture, "is_animated", False) and frames > 1:
        meta.page_count = frames
        meta.extra.setdefault("warnings", []).append(
            f"an animation of {frames} frames: only the first is read, edited and written")


def encode_png_image(image: Image, *, bit_depth: int, exif: bytes | None, description: str | None = None,
                     xmp: bytes | None = None) -> bytes:
    """Return PNG bytes for ``image`` at 8 or 16 bits with its ICC profile, EXIF, XMP, resolution, description
    and the text and colour chunks of a PNG source (``meta.extra["png_chunks"]``)."""
    samples = stack_alpha(quantize(image.pixels, bit_depth),
                          None if image.alpha is None else quantize(image.alpha, bit_depth))
    return encode_png(samples, icc_profile=image.meta.icc_profile, exif=exif, dpi=image.meta.extra.get("dpi"),
                      description=description, xmp=xmp, carried=image.meta.extra.get("png_chunks"))


def flatten_on_white(image: Image) -> np.ndarray:
    """Composite color over white using alpha (for formats without alpha)."""
    if image.alpha is None:
        return image.pixels
    alpha = image.alpha[:, :, None]
    return image.pixels * alpha + (1.0 - alpha)


def is_gray_profile(icc_profile: bytes) -> bool:
    """Whether an ICC profile describes gray values (its header's colour space)."""
    return icc_profile[16:20] == b"GRAY"


def keeps_profile(format_name: str, icc_profile: bytes) -> bool:
    """Whether a file in ``format_name`` written by :func:`encode_pillow_image` (or the PNG, JPEG and TIFF
    writers) holds ``icc_profile``: BMP holds none, WebP holds RGB only, which a gray profile does not describe."""
    return format_name != "BMP" and not (format_name == "WEBP" and is_gray_profile(icc_profile))


def encode_pillow_image(image: Image, *, format_name: str, quality: int, exif: bytes | None,
                        description: str | None = None, xmp: bytes | None = None) -> bytes:
    """Return JPEG, BMP or WebP bytes (8 bit) for ``image`` with EXIF, ICC and XMP where the format holds them,
    and IPTC (``meta.iptc``) in JPEG.

    ``description`` becomes the JPEG comment (COM segment); BMP and WebP hold none.

    JPEG and BMP hold no alpha: a transparent image is composited over white. WebP holds RGB only, so a gray
    image's gray ICC profile is left out there (it would not describe the pixels).
    JPEG keeps a JPEG source's chroma subsampling (``meta.extra["jpeg_subsampling"]``), else full chroma
    resolution (4:4:4) at quality 90 and above and 4:2:0 below.
    """
    kept_alpha = image.alpha if format_name == "WEBP" else None
    color = image.pixels if kept_alpha is not None else flatten_on_white(image)
    alpha = quantize(kept_alpha, 8) if kept_alpha is not None else None
    samples = stack_alpha(quantize(color, 8), alpha)
    if format_name == "JPEG":
        comment = description.encode("utf-8") if description else None
        return encode_jpeg(samples, quality=quality, exif=exif, icc_profile=image.meta.icc_profile, comment=comment,
                           dpi=image.meta.extra.get("dpi"), xmp=xmp, iptc=image.meta.iptc,
                           subsampling=image.meta.extra.get("jpeg_subsampling"))
    picture = PILImage.fromarray(samples)
    options: dict[str, object] = {}
    if image.meta.icc_profile and keeps_profile(format_name, image.meta.icc_profile):
        options["icc_profile"] = image.meta.icc_profile
    if exif and format_name != "BMP":
        options["exif"] = exif
    if xmp and format_name == "WEBP":
        options["xmp"] = xmp
    dpi = image.meta.extra.get("dpi")
    if dpi and format_name != "WEBP":
        options["dpi"] = tuple(dpi)
    if format_name == "WEBP":
        options.update(quality=quality, lossless=quality >= 100, method=4)
    out = io.BytesIO()
    picture.save(out, format=format_name, **options)
    return out.getvalue()
