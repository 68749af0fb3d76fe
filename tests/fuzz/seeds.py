"""Valid seed files for the fuzzer: one small file per format and layout the readers handle.

Photographic formats are written by Pillow and tifffile from a 48 x 40
gradient; DICOM seeds come from pydicom's test files (native, RLE, JPEG-LS,
JPEG 2000, JPEG baseline, multi-frame). Small seeds keep a case at a few
milliseconds, so a few hundred run in seconds.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import tifffile
from PIL import Image as PILImage
from pydicom.data import get_testdata_file

DICOM_SEEDS = ("CT_small.dcm", "MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "JPEG2000.dcm",
               "SC_rgb_jpeg_dcmtk.dcm", "rtdose_1frame.dcm", "emri_small.dcm", "SC_rgb.dcm")


def _gradient(rows: int = 40, cols: int = 48, channels: int = 3) -> np.ndarray:
    """An 8-bit gradient with a little texture."""
    r, c = np.mgrid[0:rows, 0:cols]
    planes = [(r * 5 + c * 3 + 40 * k + (r * c) % 7) % 256 for k in range(channels)]
    return np.stack(planes, axis=2).astype(np.uint8)


def _pillow(array: np.ndarray, format_name: str, **options) -> bytes:
    """Encode ``array`` with Pillow."""
    out = io.BytesIO()
    PILImage.fromarray(array.squeeze()).save(out, format=format_name, **options)
    return out.getvalue()


def _tiff(array: np.ndarray, **options) -> bytes:
    """Encode ``array`` with tifffile."""
    out = io.BytesIO()
    tifffile.imwrite(out, array, **options)
    return out.getvalue()


def _dicom(name: str) -> bytes:
    """A pydicom test file, re-saved in the DICOM file format where it lacks the preamble."""
    path = Path(get_testdata_file(name))
    data = path.read_bytes()
    if data[128:132] == b"DICM":
        return data
    out = io.BytesIO()
    pydicom.dcmread(path, force=True).save_as(out, enforce_file_format=True)
    return out.getvalue()


def seed_files() -> dict[str, bytes]:
    """Return ``{name with suffix: bytes}`` of every seed."""
    rgb, gray = _gradient(), _gradient(channels=1)
    rgba = np.concatenate([rgb, _gradient(channels=1)], axis=2)
    seeds = {
        "baseline.jpg": _pillow(rgb, "JPEG", quality=85),
        "progressive.jpg": _pillow(rgb, "JPEG", quality=85, progressive=True),
        "gray.jpg": _pillow(gray, "JPEG", quality=70),
        "rgb.png": _pillow(rgb, "PNG"),
        "rgba.png": _pillow(rgba, "PNG"),
        "palette.png": _pillow_palette(rgb),
        "deep.png": _png16(rgb),
        "strips.tif": _tiff(rgb, photometric="rgb", rowsperstrip=8),
        "tiles.tif": _tiff(np.pad(rgb, ((0, 8), (0, 16), (0, 0))), photometric="rgb", tile=(16, 16),
                           compression="zlib"),
        "deep_lzw.tif": _tiff((gray.astype(np.uint16) * 257).squeeze(), compression="lzw"),
        "float.tif": _tiff(gray.squeeze().astype(np.float32) / 255, compression="zlib", predictor=True),
        "pages.tif": _pages(rgb),
        "lossy.webp": _pillow(rgb, "WEBP", quality=80),
        "lossless.webp": _pillow(rgba, "WEBP", lossless=True),
        "rgb.bmp": _pillow(rgb, "BMP"),
        "rle8.bmp": _pillow_palette(rgb, "BMP", compression="rle8"),
    }
    for name in DICOM_SEEDS:
        seeds[name] = _dicom(name)
    return seeds


def _pillow_palette(rgb: np.ndarray, format_name: str = "PNG", **options) -> bytes:
    """A 64-color palette image."""
    out = io.BytesIO()
    PILImage.fromarray(rgb).quantize(64).save(out, format=format_name, **options)
    return out.getvalue()


def _png16(rgb: np.ndarray) -> bytes:
    """A 16-bit RGB PNG written by imagecodecs (Pillow writes no 16-bit RGB)."""
    import imagecodecs

    return bytes(imagecodecs.png_encode(rgb.astype(np.uint16) * 257))


def _pages(rgb: np.ndarray) -> bytes:
    """A two-page TIFF."""
    out = io.BytesIO()
    with tifffile.TiffWriter(out) as writer:
        writer.write(rgb, photometric="rgb")
        writer.write(rgb[::2, ::2], photometric="rgb", compression="zlib")
    return out.getvalue()
