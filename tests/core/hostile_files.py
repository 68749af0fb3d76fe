"""Hostile and damaged files from issue #21, built at run time from small valid ones.

Each builder writes one file into ``folder`` and returns its path. DICOM files
start from pydicom's test files; nothing is read from a data folder of ours.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pydicom
import tifffile
from PIL import Image as PILImage
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from .io_fixtures import gradient_pixels, levels


def patched_copy(name: str, folder: Path, patches: dict[int, int], *, out: str | None = None) -> Path:
    """Copy pydicom's test file ``name`` into ``folder`` with the byte at each offset replaced."""
    data = bytearray(Path(get_testdata_file(name)).read_bytes())
    for offset, value in patches.items():
        data[offset] = value
    path = folder / (out or name)
    path.write_bytes(bytes(data))
    return path


def rle_panic_dicom(folder: Path) -> Path:
    """MR_small_RLE.dcm with byte 2978 = 0xac: pylibjpeg-rle panics (a Rust index out of bounds)."""
    return patched_copy("MR_small_RLE.dcm", folder, {2978: 0xAC}, out="panic.dcm")


def truncated_jpeg_ls_dicom(folder: Path) -> Path:
    """The first 1608 bytes of MR_small_jpeg_ls_lossless.dcm: the codestream is cut short."""
    path = folder / "cut.dcm"
    path.write_bytes(Path(get_testdata_file("MR_small_jpeg_ls_lossless.dcm")).read_bytes()[:1608])
    return path


def bytes_length_dicom(folder: Path) -> Path:
    """rtdose_1frame.dcm with byte 992 = 0x7d: pydicom raises BytesLengthException on an element's length."""
    return patched_copy("rtdose_1frame.dcm", folder, {992: 0x7D}, out="dose.dcm")


def rescaled_dicom(folder: Path, slope: str, intercept: str = "0", *, name: str = "rescale.dcm") -> Path:
    """CT_small.dcm with the given RescaleSlope and RescaleIntercept strings (DS values, NaN and inf allowed)."""
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    with pydicom.config.disable_value_validation():
        dataset.RescaleSlope = slope
        dataset.RescaleIntercept = intercept
    path = folder / name
    dataset.save_as(path, enforce_file_format=True)
    return path


def wide_lut_dicom(folder: Path, bits_stored: int = 28) -> Path:
    """A 128 x 128 slice with 32-bit words, ``bits_stored`` bits used and a Modality LUT Sequence."""
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    stored = np.clip(dataset.pixel_array.astype(np.int64), 0, None).astype(np.uint32)
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 32, bits_stored, bits_stored - 1
    dataset.PixelRepresentation = 0
    dataset.PixelData = stored.tobytes()
    del dataset.RescaleSlope, dataset.RescaleIntercept
    lut = Dataset()
    lut.LUTDescriptor = [4096, 0, 16]
    lut.ModalityLUTType = "HU"
    lut.add_new(0x00283006, "US", (np.arange(4096) * 4).tolist())
    dataset.ModalityLUTSequence = Sequence([lut])
    path = folder / "wide_lut.dcm"
    dataset.save_as(path, enforce_file_format=True)
    return path


def volumetric_tiff(
    folder: Path, depth: int = 8, rows: int = 64, cols: int = 64, *, claim: tuple[int, int, int] | None = None
) -> Path:
    """A tiled volumetric TIFF (SGI ImageDepth) of ``depth`` slices; ``claim`` rewrites depth, rows, cols in the IFD."""
    path = folder / "volume.tif"
    volume = (np.arange(depth * rows * cols) % 251).astype(np.uint8).reshape(depth, rows, cols)
    tifffile.imwrite(path, volume, tile=(depth, 16, 16), volumetric=True, compression="zlib")
    if claim is not None:
        for tag, value in zip((32997, 257, 256), claim):
            set_tiff_tag(path, tag, value)
    return path


def many_samples_tiff(folder: Path, samples: int = 400, rows: int = 64, cols: int = 64) -> Path:
    """A chunky MINISBLACK TIFF with ``samples`` samples per pixel."""
    path = folder / "samples.tif"
    tifffile.imwrite(path, np.zeros((rows, cols, samples), np.uint8), photometric="minisblack",
                     planarconfig="contig", compression="zlib")
    return path


def set_tiff_tag(path: Path, tag: int, value: int) -> None:
    """Overwrite the value of a SHORT or LONG tag held in the first IFD of a little-endian classic TIFF."""
    data = bytearray(path.read_bytes())
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for index in range(count):
        entry = ifd + 2 + 12 * index
        code, kind = struct.unpack_from("<HH", data, entry)
        if code == tag:
            if kind == 3:
                struct.pack_into("<HH", data, entry + 8, value, 0)
            else:
                struct.pack_into("<I", data, entry + 8, value)
            path.write_bytes(bytes(data))
            return
    raise KeyError(f"tag {tag} not in the first IFD of {path}")


def zero_tile_tiff(folder: Path) -> Path:
    """A tiled TIFF whose TileLength is 0 (tifffile divides by it)."""
    path = folder / "zero_tile.tif"
    tifffile.imwrite(path, gradient_pixels_u8(64, 64), tile=(16, 16))
    set_tiff_tag(path, 323, 0)
    return path


def zero_width_tiff(folder: Path) -> Path:
    """A striped RGB TIFF whose ImageWidth tag says 0."""
    path = folder / "zero_width.tif"
    tifffile.imwrite(path, gradient_pixels_u8(48, 64), photometric="rgb")
    set_tiff_tag(path, 256, 0)
    return path


def gradient_pixels_u8(rows: int, cols: int) -> np.ndarray:
    """An 8-bit RGB gradient of ``rows`` x ``cols``."""
    return levels(gradient_pixels(rows, cols, 3), 8).astype(np.uint8)


def flat_lossless_webp(folder: Path, cols: int = 16383, rows: int = 16383) -> Path:
    """A lossless WebP of one colour whose VP8L header claims ``cols`` x ``rows`` (it decodes at that size)."""
    out = io.BytesIO()
    PILImage.new("RGB", (16, 16), (90, 120, 200)).save(out, format="WEBP", lossless=True)
    data = bytearray(out.getvalue())
    start = data.index(b"VP8L") + 8
    assert data[start] == 0x2F
    (bits,) = struct.unpack_from("<I", data, start + 1)
    bits = (bits & ~0x0FFFFFFF) | (cols - 1) | ((rows - 1) << 14)
    struct.pack_into("<I", data, start + 1, bits)
    path = folder / "flat.webp"
    path.write_bytes(bytes(data))
    return path


def jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """Return (start, end) of each top-level piece of a JPEG: marker segments, and each scan with its entropy data."""
    pieces, position = [], 2
    while position < len(data):
        marker = data[position + 1]
        if marker == 0xD9:
            pieces.append((position, position + 2))
            break
        (length,) = struct.unpack_from(">H", data, position + 2)
        end = position + 2 + length
        if marker == 0xDA:
            while not (data[end] == 0xFF and data[end + 1] not in (0x00, *range(0xD0, 0xD8))):
                end += 1
        pieces.append((position, end))
        position = end
    return pieces


def repeated_scan_jpeg(folder: Path, repeats: int = 20_000, size: int = 2048) -> Path:
    """A flat progressive JPEG whose last scan (a few bytes) appears ``repeats`` times.

    Each repeat costs the decoder a pass over every block.
    """
    out = io.BytesIO()
    PILImage.new("L", (size, size), 128).save(out, format="JPEG", progressive=True, quality=90)
    data = out.getvalue()
    pieces = jpeg_segments(data)
    last_scan = [piece for piece in pieces if data[piece[0] + 1] == 0xDA][-1]
    scan = data[last_scan[0]:last_scan[1]]
    path = folder / "scans.jpg"
    path.write_bytes(data[:last_scan[1]] + scan * (repeats - 1) + data[last_scan[1]:])
    return path
