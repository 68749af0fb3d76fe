"""Study folders: a thumbnail of each series and safe, distinct folder names for exporting them all.

A study folder holds one folder per series, sometimes deeper;
:func:`~enhance_core.medical.series.scan_series` with ``recursive=True`` finds
its series by ``SeriesInstanceUID``. :func:`series_thumbnail` reads one slice
(the middle one) of a series and shows it through its header window, small,
for a series picker. :func:`export_folder_names` names one output folder per
series for ``dicom-export --all-series``. :func:`choose_series` picks the
series a command line works on (``--series UID``, ``--all-series``), for
``dicom-export`` and ``roi-stats`` alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from enhance_core.errors import ImageReadError, ParameterError

if TYPE_CHECKING:  # the editor imports this module at start-up; pydicom comes with the first series
    from enhance_core.medical.series import DicomSeries, SeriesScan

THUMBNAIL_SIZE = 96
"""Longest side of a thumbnail in pixels."""
MAX_NAME_CHARS = 60
"""Longest folder name :func:`export_folder_names` makes (before a ``_2`` that tells equal names apart)."""


def middle_index(series: DicomSeries) -> int:
    """The slice a thumbnail shows: the middle one (the lower middle of an even count)."""
    return (len(series) - 1) // 2


def shrink(pixels: np.ndarray, size: int) -> np.ndarray:
    """``pixels`` (rows, cols) averaged over square blocks so that the longest side is at most ``size``."""
    factor = max(1, -(-max(pixels.shape[:2]) // size))
    rows, cols = (pixels.shape[0] // factor) * factor, (pixels.shape[1] // factor) * factor
    if factor == 1 or rows == 0 or cols == 0:
        return pixels[::factor, ::factor]
    blocks = pixels[:rows, :cols].reshape(rows // factor, factor, cols // factor, factor)
    return blocks.mean(axis=(1, 3))


def series_thumbnail(series: DicomSeries, *, size: int = THUMBNAIL_SIZE) -> np.ndarray:
    """An 8-bit gray thumbnail of the middle slice of ``series`` through that slice's header window.

    Only that one file is read. Returns a ``(rows, cols)`` uint8 array whose longest side is at most
    ``size``. Raises what reading the slice raises (:class:`~enhance_core.errors.ImageReadError`).
    """
    from enhance_core.medical.export import windowed_image
    from enhance_core.medical.windows import header_window

    if size < 1:
        raise ValueError(f"size must be at least 1 pixel, got {size}")
    image = series.read_slice(middle_index(series))
    shown = windowed_image(image, header_window(image)).pixels
    gray = shown.mean(axis=2) if shown.shape[2] > 1 else shown[:, :, 0]
    return np.clip(np.rint(shrink(gray, size) * 255.0), 0, 255).astype(np.uint8)


def _safe(text: str) -> str:
    """``text`` with only letters, digits, ``.``, ``-`` and ``_`` (runs of anything else become one ``_``)."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("._-")


def export_folder_names(found: Sequence[DicomSeries], *, with_titles: bool = False) -> list[str]:
    """One output folder name per series of ``found``, in its order, that no two series share.

    A name is ``series_NNN_MODALITY`` (``NNN`` the ``SeriesNumber``), with
    ``with_titles`` followed by the ``SeriesDescription``; only ASCII letters,
    digits, ``.``, ``-`` and ``_`` are kept, so the names are valid on every file
    system. Names equal apart from case get ``_2``, ``_3``... in the order of ``found``.
    """
    names: list[str] = []
    taken: set[str] = set()
    for series in found:
        parts = ["series", f"{series.number:03d}" if series.number is not None else "", series.modality]
        if with_titles:
            parts.append(series.title)
        base = "_".join(part for part in (_safe(part) for part in parts) if part)[:MAX_NAME_CHARS].rstrip("._-")
        name, count = base, 1
        while name.lower() in taken:
            count += 1
            name = f"{base}_{count}"
        taken.add(name.lower())
        names.append(name)
    return names


def series_with_uid(where: Path, found: Sequence[DicomSeries], series_uid: str) -> DicomSeries:
    """The series of ``found`` (what the folder or file ``where`` holds) whose SeriesInstanceUID is ``series_uid``.

    Raises
    ------
    ParameterError
        None has it; the message lists the series ``where`` holds as ``--series`` options.
    """
    from enhance_core.medical.series import series_listing

    for series in found:
        if series.uid == series_uid:
            return series
    raise ParameterError(f"{where} holds no series with SeriesInstanceUID {series_uid}; it holds: "
                         f"{series_listing(list(found), prefix='--series ')}")


def choose_series(scan: SeriesScan, *, series_uid: str | None = None, all_series: bool = False,
                  verb: str = "export", past: str = "exported") -> list[DicomSeries]:
    """The series of ``scan`` a command works on: all in study order, the one ``series_uid`` names, or the only one.

    Parameters
    ----------
    scan : SeriesScan
        What :func:`~enhance_core.medical.series.scan_series` found in the folder given.
    series_uid : str, optional
        ``--series``: the SeriesInstanceUID of the series wanted.
    all_series : bool
        ``--all-series``: every series, ordered by :func:`~enhance_core.medical.series.study_order`.
    verb, past : str
        What the command does to a series, for its messages ("export" and "exported").

    Raises
    ------
    ImageReadError
        A DICOM image file of the folder cannot be read: the first is named, with how many more.
    ParameterError
        No series has ``series_uid``, or the folder holds several and neither option was given; the
        message names ``--all-series`` and ``--series`` and lists the series.
    """
    from enhance_core.medical.series import series_listing, study_order

    if scan.unreadable:
        path, reason = scan.unreadable[0]
        others = [other.name for other, _ in scan.unreadable[1:6]]
        more = len(scan.unreadable) - 1 - len(others)
        listed = (f" (and {', '.join(others)}" + (f" and {more} more" if more else "") + " too)") if others else ""
        raise ImageReadError(path, f"{reason}{listed}; nothing was {past}. Repair the file or move it out of "
                                   f"{scan.folder}, then {verb} again")
    found = list(scan.series)
    if all_series:
        return study_order(found)
    if series_uid is not None:
        return [series_with_uid(scan.folder, found, series_uid)]
    if len(found) > 1:
        raise ParameterError(f"{scan.folder} holds {len(found)} series; {verb} them all with --all-series or one "
                             f"at a time: {series_listing(found, prefix='--series ')}")
    return found
