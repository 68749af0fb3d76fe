"""Export work run on worker threads (no Qt): the full-resolution render, the JPEG estimate, the write.

The JPEG estimate encodes the rendered result at the chosen quality in memory
and decodes it again to measure PSNR and SSIM against the 8-bit result the
writer encodes (:func:`enhance_core.io.jpeg_cost.jpeg_cost`, as ``jpeg-table``).
Images above ``SAMPLE_PIXELS`` are estimated from a mosaic of tiles taken on
a regular grid (aligned to the 16-pixel JPEG blocks); the size is scaled by
the area ratio. The estimate and the writes resize the result first when
the export has an output size (:mod:`enhance_core.export_size`).

The render goes through the document's shared full-resolution results
(:class:`enhance_core.full_results.FullResults`) when given: a second export,
or one after the exact metrics, of the same stack takes the result they left.

Results of a DICOM source are written with the de-identified JSON
description of :mod:`enhance_core.medical.export` (patient fields only when
asked); the full-range export writes the slice's unedited values as 16 bits
(``HU + 32768`` for CT) with the mapping in that description. A series export
(:func:`write_series`) writes every slice of the series the same way.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from enhance_core.errors import Cancelled, ParameterError
from enhance_core.export_size import OutputSize, apply_output_size
from enhance_core.full_results import FullResults
from enhance_core.image import Image, Window
from enhance_core.io import write_image
from enhance_core.io.jpeg_cost import jpeg_cost
from enhance_core.io.writer import side_refusal
from enhance_core.medical.export import export_description, export_slice, with_spacing
from enhance_core.medical.series import DicomSeries
from enhance_core.medical.windows import stack_window
from enhance_core.render import render_image

SAMPLE_PIXELS = 2_000_000
TILE = 384


@dataclass(frozen=True)
class JpegEstimate:
    """Expected JPEG file size and quality loss at one quality setting."""

    quality: int
    bytes: int
    psnr: float
    ssim: float
    sampled: bool
    seconds: float


def render_full(source: Image, steps: tuple, device: str | None, progress, should_stop, *,
                results: FullResults | None = None) -> Image:
    """Render the stack on the source at full resolution, through ``results`` when given (else uncached)."""
    if results is None:
        return render_image(source, steps, progress=progress, should_stop=should_stop, device=device)
    return results.render(source, steps, progress=progress, should_stop=should_stop, device=device)


def sample_mosaic(pixels: np.ndarray, *, budget: int = SAMPLE_PIXELS, tile: int = TILE) -> np.ndarray:
    """The whole image if small, else tiles from a regular grid assembled into one image."""
    rows, cols = pixels.shape[:2]
    if rows * cols <= budget or rows < tile or cols < tile:
        return pixels
    per_side = max(1, int(math.sqrt(budget / (tile * tile))))
    tops = np.linspace(0, rows - tile, per_side).astype(int) // 16 * 16
    lefts = np.linspace(0, cols - tile, per_side).astype(int) // 16 * 16
    strips = [np.concatenate([pixels[t:t + tile, left:left + tile] for left in lefts], axis=1) for t in tops]
    return np.ascontiguousarray(np.concatenate(strips, axis=0))


def sized(result: Image, size: OutputSize | None) -> Image:
    """``result`` at the export's output size (itself without one)."""
    return result if size is None else apply_output_size(result, size)


class SizedResults:
    """The last result resized to the last output size, so quality ticks and the write do not resize again.

    One dialog holds one; its estimates and writes run on worker threads, so a
    lock guards the entry (a second thread waits for the resize in progress).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[Image, OutputSize | None, Image] | None = None

    def get(self, result: Image, size: OutputSize | None) -> Image:
        """``result`` at ``size`` (:func:`sized`), resized once per result and size."""
        with self._lock:
            entry = self._entry
            if entry is None or entry[0] is not result or entry[1] != size:
                entry = self._entry = (result, size, sized(result, size))
            return entry[2]


def estimate_jpeg(result: Image, quality: int, progress, should_stop, *,
                  size: OutputSize | None = None, cache: SizedResults | None = None) -> JpegEstimate:
    """Encode (a sample of) ``result`` as JPEG at ``quality``; measure its size, PSNR and SSIM (:func:`jpeg_cost`).

    ``cache`` keeps ``result`` at ``size`` between calls (one resize for every quality tried).
    """
    started = time.perf_counter()
    result = sized(result, size) if cache is None else cache.get(result, size)
    refusal = side_refusal("JPEG", result.rows, result.cols)
    if refusal is not None:
        raise ParameterError(refusal)
    sample = sample_mosaic(result.pixels)
    sampled = sample is not result.pixels
    alpha = None if result.alpha is None else sample_mosaic(result.alpha)
    if should_stop():
        raise Cancelled("estimate cancelled")
    cost = jpeg_cost(Image(sample, alpha, result.meta), quality)
    file_bytes = cost.bytes * (result.rows * result.cols) / float(sample.shape[0] * sample.shape[1])
    return JpegEstimate(quality, int(file_bytes), cost.psnr, cost.ssim, sampled, time.perf_counter() - started)


def write_result(result: Image, path: Path, bit_depth: int | None, quality: int, progress, should_stop, *,
                 size: OutputSize | None = None, cache: SizedResults | None = None,
                 strip_location: bool = False) -> Path:
    """Write the rendered result at the output ``size`` (atomically; never over its own source).

    ``cache``: the estimates' resized result, reused when the size is the same; ``strip_location`` leaves out
    where the picture was taken (:func:`enhance_core.io.write_image`).
    """
    progress(0.0, f"writing {path.name}")
    return write_image(sized(result, size) if cache is None else cache.get(result, size), path, bit_depth=bit_depth,
                       quality=quality, strip_location=strip_location)


def write_dicom_result(result: Image, path: Path, bit_depth: int | None, quality: int, window: Window | None,
                       include_patient_data: bool, progress, should_stop, *, size: OutputSize | None = None,
                       cache: SizedResults | None = None) -> Path:
    """Write the rendered result of a DICOM source with its de-identified description (patient data if asked).

    At an output ``size`` the description's pixel spacing is that of the resized pixels; ``cache`` as in
    :func:`write_result`.
    """
    progress(0.0, f"writing {path.name}")
    result = sized(result, size) if cache is None else cache.get(result, size)
    text = export_description(result.meta, window=window, include_patient_data=include_patient_data)
    return write_image(with_spacing(result, result.meta), path, bit_depth=bit_depth, quality=quality,
                       description=text)


def write_full_range(source: Image, path: Path, include_patient_data: bool, progress, should_stop) -> Path:
    """Write the DICOM slice's unedited values as 16-bit PNG or TIFF (HU + 32768 for CT), described."""
    progress(0.0, f"writing {path.name}")
    return export_slice(source, path, include_patient_data=include_patient_data)


def series_targets(path: Path, count: int) -> list[Path]:
    """The files of a series export named ``path``: ``<stem>_0001<suffix>`` and on, beside it (a name that
    ends in ``_0001`` already is taken as the first)."""
    stem = re.sub(r"_\d{4}$", "", path.stem)
    return [path.with_name(f"{stem}_{index + 1:04d}{path.suffix}") for index in range(count)]


def write_series(series: DicomSeries, steps: tuple, path: Path, progress, should_stop, *, full_range: bool,
                 bit_depth: int | None, quality: int, include_patient_data: bool, size: OutputSize | None,
                 device: str | None, named: Sequence[Window] = ()) -> Path:
    """Write every slice of ``series`` (:func:`series_targets` of ``path``) as the slice export writes one:
    the stack rendered and described (its window named as in ``named``), or the unedited values with
    ``full_range``; return the first file.

    A slice that cannot be read or written stops the export, naming it (the slices before it are written).
    """
    targets = series_targets(path, len(series))
    window = stack_window(steps, named)
    for index, target in enumerate(targets):
        if should_stop():
            raise Cancelled("the series export stopped")
        progress(index / len(targets), f"slice {index + 1} of {len(targets)}")
        image = series.read_slice(index)
        if full_range:
            export_slice(image, target, include_patient_data=include_patient_data)
            continue
        result = render_image(image, steps, should_stop=should_stop, device=device)
        write_dicom_result(result, target, bit_depth, quality, window, include_patient_data,
                           lambda fraction, message: None, should_stop, size=size)
    progress(1.0, f"wrote {len(targets)} slices")
    return targets[0]
