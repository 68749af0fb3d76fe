"""What one file of a batch is and what became of it, shared by the batch and its engines.

:class:`FileTask` and :class:`FileResult` travel between the main process and
the workers (a process pool, :mod:`enhance_core.batch_workers`, or Dask,
:mod:`enhance_core.batch_cluster`); :func:`storage_refusal` is run on each
worker to check that it can use the batch's files. Kept apart from
:mod:`enhance_core.batch` so the engines need not import it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from enhance_core.export_size import OutputSize
from enhance_core.paths import write_refusal
from enhance_core.stack import StackItem


@dataclass(frozen=True)
class FileTask:
    """One file to process: where it comes from and goes, with its mask, reference and output size."""

    source: Path
    output: Path
    steps: tuple[StackItem, ...]
    mask: Path | None = None
    reference: Path | None = None
    bit_depth: int | None = None
    quality: int | None = None
    """JPEG/WebP quality; None: a JPEG input's own (:func:`enhance_core.io.quality_for`)."""
    overwrite: bool = False
    device: str | None = None
    size: OutputSize | None = None
    file_window: tuple[str, ...] = ()
    """What of the window/level steps each file's own window sets (``--filter window_level`` without a centre and
    width: ``center`` and ``width`` of a DICOM's first header window, and ``function``, its curve, unless given),
    as the editor opens the file."""
    strip_location: bool = False
    """Leave out where the picture was taken (EXIF GPS data, XMP GPS properties, IPTC and XMP place names)."""
    time_limit: float | None = None
    """Seconds after which the file's steps stop (checked between and inside them) and it fails; None: no limit."""


@dataclass
class FileResult:
    """What happened to one file; ``error`` is None on success.

    ``skipped``: its output already existed; ``earlier``: the result is the
    manifest's, from an earlier run; ``megapixels``: the size of the image read;
    ``pages_left_out``: the file's other pages or frames, which the output lacks;
    ``retry``: the failure was the storage's (no space, no permission), so the
    manifest keeps the file as still to do and the same command tries it again;
    ``not_run``: a check refused the file before it ran (its output exists, its
    mask is missing), so ``--retry-failed`` does not concern it.
    """

    source: Path
    output: Path | None
    error: str | None = None
    seconds: float = 0.0
    reference: Path | None = None
    metrics: dict[str, float] | None = None
    note: str = ""
    thumbnails: tuple[np.ndarray, ...] = ()
    skipped: bool = False
    step_notes: tuple[str, ...] = ()
    earlier: bool = False
    megapixels: float = 0.0
    pages_left_out: int = 0
    retry: bool = False
    not_run: bool = False


def storage_refusal(output: str, sample: str | None) -> str | None:
    """Why this process (or a Dask worker) cannot write in the folder ``output`` or read ``sample``; None if it can."""
    if not os.path.isdir(output):
        return f"the output folder {output} does not exist or is not a folder"
    if refusal := write_refusal(output):
        return f"cannot write in the output folder {output} ({refusal})"
    if sample is not None and not os.access(sample, os.R_OK):
        return f"cannot read the input {sample}"
    return None
