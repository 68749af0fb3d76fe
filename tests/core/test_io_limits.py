"""Decompression-bomb limits that count the real cost (issue #21), and files that used to hang the reader."""

from __future__ import annotations

import io
import os
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from enhance_core.cli import main
from enhance_core.errors import DecompressionBomb, ImageReadError, ParameterError, UnsupportedFormat
from enhance_core.io import read_image
from enhance_core.io.limits import Limits, resolve_limits

from .hostile_files import (flat_lossless_webp, many_samples_tiff, repeated_scan_jpeg, set_tiff_tag, volumetric_tiff,
                            wide_lut_dicom)


def peak_bytes(action) -> tuple[object, int]:
    """Run ``action`` and return (its result or error, the peak of traced allocations in bytes)."""
    tracemalloc.start()
    try:
        try:
            outcome = action()
        except Exception as error:  # noqa: BLE001 - the caller checks which error it was
            outcome = error
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_volumetric_tiff_is_refused_not_read_as_a_wrong_image(tmp_path):
    path = volumetric_tiff(tmp_path)
    with pytest.raises(UnsupportedFormat, match="volumetric TIFF .8 slices of 64 x 64.*multi-page TIFF"):
        read_image(path)


def test_large_volumetric_tiff_is_refused_before_decoding(tmp_path):
    path = volumetric_tiff(tmp_path, claim=(512, 1024, 1024))
    error, peak = peak_bytes(lambda: read_image(path))
    assert isinstance(error, UnsupportedFormat) and "512 slices of 1024 x 1024" in str(error)
    assert peak < 20 * 2**20


def test_samples_per_pixel_count_against_the_pixel_limit(tmp_path, monkeypatch):
    path = many_samples_tiff(tmp_path, samples=400)
    with pytest.raises(DecompressionBomb, match=r"64 x 64 pixels of 400 samples each = 1,638,400 samples, more than 4 "
                                                r"per pixel of the pixel limit \(400,000\).*the max_pixels argument"):
        read_image(path, max_pixels=100_000)
    monkeypatch.setenv("ENHANCE_MAX_PIXELS", "100000")
    with pytest.raises(DecompressionBomb, match="400 samples.*the environment variable ENHANCE_MAX_PIXELS"):
        read_image(path)
    rgba = tmp_path / "rgba.png"
    PILImage.new("RGBA", (64, 64), (1, 2, 3, 4)).save(rgba)
    assert read_image(rgba, max_pixels=64 * 64).alpha is not None


def test_wide_modality_lut_does_not_enumerate_every_stored_value(tmp_path):
    path = wide_lut_dicom(tmp_path, bits_stored=28)
    image, peak = peak_bytes(lambda: read_image(path))
    assert image.meta.bit_depth == 28
    assert image.meta.extra["value_range"] == (512.0, 8764.0)
    assert (image.meta.value_offset, image.meta.value_scale) == (0.0, 4095 * 4.0)
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB traced: the LUT range enumerated the stored values"


def test_tiny_lossless_webp_of_16383_squared_is_refused_before_decoding(tmp_path):
    path = flat_lossless_webp(tmp_path)
    assert path.stat().st_size == 38
    error, peak = peak_bytes(lambda: read_image(path))
    assert isinstance(error, DecompressionBomb), error
    assert "16383 x 16383 pixels" in str(error) and "ENHANCE_MAX_COMPRESSION_RATIO" in str(error)
    assert peak < 20 * 2**20


def test_webp_header_size_is_checked_against_the_pixel_limit(tmp_path):
    path = flat_lossless_webp(tmp_path, cols=300, rows=200)
    assert read_image(path).pixels.shape == (200, 300, 3)
    with pytest.raises(DecompressionBomb, match="300 x 200 = 60,000 pixels"):
        read_image(path, max_pixels=50_000)


def png_claiming(tmp_path, cols: int, rows: int) -> os.PathLike:
    """A small valid PNG whose IHDR (CRC fixed) claims ``cols`` x ``rows``."""
    out = io.BytesIO()
    PILImage.new("RGB", (8, 8)).save(out, format="PNG")
    data = bytearray(out.getvalue())
    struct.pack_into(">II", data, 16, cols, rows)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    path = tmp_path / "claims.png"
    path.write_bytes(bytes(data))
    return path


def test_png_claiming_a_huge_size_from_a_few_bytes_is_refused(tmp_path):
    path = png_claiming(tmp_path, 20_000, 20_000)
    error, peak = peak_bytes(lambda: read_image(path))
    assert isinstance(error, DecompressionBomb) and "compression ratio" in str(error)
    assert peak < 20 * 2**20


def test_png_icc_profile_that_inflates_without_end_is_refused(tmp_path):
    base = io.BytesIO()
    PILImage.new("RGB", (8, 8)).save(base, format="PNG")
    data = base.getvalue()
    payload = b"bomb\x00\x00" + zlib.compress(b"\x00" * (17 * 2**20), 9)
    chunk = struct.pack(">I", len(payload)) + b"iCCP" + payload + struct.pack(">I", zlib.crc32(b"iCCP" + payload))
    path = tmp_path / "icc_bomb.png"
    path.write_bytes(data[:33] + chunk + data[33:])
    with pytest.raises(ImageReadError, match="ICC profile .iCCP chunk. inflates to more than 16 MiB"):
        read_image(path)


def test_progressive_jpeg_with_20000_scans_is_refused_at_once(tmp_path):
    path = repeated_scan_jpeg(tmp_path)
    assert path.stat().st_size < 400_000
    start = time.perf_counter()
    with pytest.raises(DecompressionBomb,
                       match="holds 20,005 scans, more than the limit of 100.*ENHANCE_MAX_JPEG_SCANS"):
        read_image(path)
    assert time.perf_counter() - start < 5.0


def test_jpeg_scan_limit_is_a_setting(tmp_path, monkeypatch):
    path = repeated_scan_jpeg(tmp_path, repeats=120, size=64)
    with pytest.raises(DecompressionBomb, match="125 scans"):
        read_image(path)
    monkeypatch.setenv("ENHANCE_MAX_JPEG_SCANS", "200")
    assert read_image(path).pixels.shape == (64, 64, 1)
    monkeypatch.setenv("ENHANCE_MAX_JPEG_SCANS", "off")
    assert read_image(path).rows == 64


def test_limit_settings_from_the_environment(monkeypatch):
    for variable in ("ENHANCE_MAX_PIXELS", "ENHANCE_MAX_COMPRESSION_RATIO", "ENHANCE_MAX_JPEG_SCANS"):
        monkeypatch.delenv(variable, raising=False)
    assert resolve_limits() == Limits(500_000_000, 100_000, 100)
    monkeypatch.setenv("ENHANCE_MAX_COMPRESSION_RATIO", "2_000_000")
    monkeypatch.setenv("ENHANCE_MAX_JPEG_SCANS", "none")
    assert resolve_limits(1000) == Limits(1000, 2_000_000, None, "the max_pixels argument")
    monkeypatch.setenv("ENHANCE_MAX_JPEG_SCANS", "-3")
    with pytest.raises(ParameterError, match='ENHANCE_MAX_JPEG_SCANS="-3" is negative'):
        resolve_limits()


def test_ratio_is_checked_only_for_large_decodes(tmp_path):
    path = tmp_path / "small.bin"
    path.write_bytes(b"x")
    Limits().check_size(path, 4000, 4000, samples=4)
    with pytest.raises(DecompressionBomb, match="compression ratio of 67,108,864:1"):
        Limits().check_size(path, 4096, 4096, samples=4)
    Limits(compression_ratio=None).check_size(path, 4096, 4096, samples=4)


@pytest.mark.parametrize(("rows", "cols", "samples"), [(0, 10, 1), (10, 0, 3), (10, 10, 0)])
def test_a_size_of_zero_is_a_damaged_header(tmp_path, rows, cols, samples):
    with pytest.raises(ImageReadError, match="a count below 1 means the header is damaged"):
        Limits().check_size(tmp_path / "x.png", rows, cols, samples=samples)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_info_on_a_named_pipe_refuses_at_once(tmp_path, capfd):
    fifo = tmp_path / "f.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageReadError, match="is a named pipe .FIFO., not an image file"):
        read_image(fifo)
    assert main(["info", str(fifo)]) == 2
    assert capfd.readouterr().err == (f"error: {fifo}: is a named pipe (FIFO), not an image file; "
                                      "save the image to a regular file and open that\n")


def test_a_small_legitimate_image_is_not_affected_by_the_ratio(tmp_path):
    path = tmp_path / "flat.png"
    PILImage.fromarray(np.full((1200, 1200, 3), 200, np.uint8)).save(path)
    assert read_image(path).rows == 1200


def test_tiff_strip_claiming_gigabytes_past_the_end_is_refused_before_reading(tmp_path):
    """Found by the fuzzer: a StripByteCounts of 4 GB made the reader allocate 4 GB for a 1.6 kB file."""
    path = tmp_path / "strip.tif"
    tifffile.imwrite(path, np.zeros((40, 48), np.float32), compression="zlib")
    set_tiff_tag(path, 279, 0xFFFF0000)
    error, peak = peak_bytes(lambda: read_image(path))
    assert isinstance(error, ImageReadError), error
    assert "TIFF strip 0 ends at byte 4,294,90" in str(error)
    assert "the file is truncated or its header is damaged" in str(error)
    assert peak < 20 * 2**20


def test_tiff_tile_far_larger_than_the_image_is_refused(tmp_path):
    """Found by the fuzzer: a TileLength of 4294967294 made the deflate decoder allocate its output."""
    path = tmp_path / "tiles.tif"
    tifffile.imwrite(path, np.zeros((48, 64, 3), np.uint8), photometric="rgb", tile=(16, 16), compression="zlib")
    set_tiff_tag(path, 323, 0xFFFFFFFE)
    with pytest.raises(ImageReadError, match="TIFF tiles of 16 x 4294967294 pixels for a 64 x 48 image; the tile size"):
        read_image(path)
