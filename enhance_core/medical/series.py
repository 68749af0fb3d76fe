"""DICOM series: the image files of a folder, grouped by series and put in anatomical order.

:func:`scan_series` reads only the headers (no pixel data) of every file in a
folder (with ``recursive``, of its subfolders too: a study folder holding one
folder per series), skips files that are not DICOM images (DICOMDIR, reports,
text files), notes DICOM image files whose header cannot be read (and
multi-frame files whose pixel data cannot hold the frames they claim), groups
the rest by ``SeriesInstanceUID`` wherever they lie (files without one, by
folder), and keeps each slice once: of the files of a series with the same
``SOPInstanceUID`` (a series folder holding a copy of itself in a backup
subfolder) the first found stays and the others are listed as duplicates.
:func:`list_series` returns the series alone. :func:`open_series` returns one
series as an ordered list of slices; each slice is a file and a frame, so a
multi-frame file is a series of its frames (:func:`series_from_file`).

Slice order, the first rule every slice satisfies:

1. ``position``: ``ImagePositionPatient`` projected on the slice normal
   (the cross product of the two ``ImageOrientationPatient`` direction
   cosines), ascending; the projection is the slice location in mm.
2. ``instance``: ``InstanceNumber``, ascending.
3. ``file name``: natural order of the file paths (``2.dcm`` before ``10.dcm``).

Ties keep the next rule's order, so the result never depends on the order
the file system lists the folder in.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from functools import partial
from os import PathLike
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from enhance_core.errors import Cancelled, DicomSeriesError, EnhanceError, ImageReadError
from enhance_core.filters.base import ProgressFn, StopFn
from enhance_core.image import Image
from enhance_core.io import read_image
from enhance_core.io.detect import SUFFIX_FORMATS, detect_format
from enhance_core.io.dicom_checks import holds_pixels, not_dicom
from enhance_core.paths import exists, hidden

_PARALLEL = 0.9999
"""Smallest cosine between two slices' normals for their planes to count as parallel (under about 0.8 degrees)."""

_HEADER_TAGS = (
    "SeriesInstanceUID", "SOPInstanceUID", "SeriesDescription", "SeriesNumber", "Modality", "InstanceNumber",
    "ImagePositionPatient", "ImageOrientationPatient", "NumberOfFrames", "Rows", "Columns", "SOPClassUID",
)


@dataclass(frozen=True)
class SeriesSlice:
    """One slice of a series: ``frame`` of the DICOM file ``path``; ``location`` in mm along the normal, or None."""

    path: Path
    frame: int = 0
    location: float | None = None


@dataclass(frozen=True)
class DicomSeries:
    """An ordered series of slices.

    Attributes
    ----------
    uid : str
        ``SeriesInstanceUID`` ("" when the files lack it).
    description : str
        ``SeriesDescription`` with the series number, for menus and messages.
    modality : str
        ``CT``, ``MR``...
    slices : tuple of SeriesSlice
        In display order.
    order : str
        The rule that ordered them: ``"position"``, ``"instance"``, ``"file name"`` or ``"frame"``.
    number : int or None
        ``SeriesNumber``.
    title : str
        ``SeriesDescription`` alone ("" when the files lack it).
    sizes : tuple of (int, int)
        The (columns, rows) its slices come in, smallest first: more than one
        when the series mixes sizes.
    """

    uid: str
    description: str
    modality: str
    slices: tuple[SeriesSlice, ...]
    order: str
    number: int | None = None
    title: str = ""
    sizes: tuple[tuple[int, int], ...] = ()

    def size_note(self) -> str:
        """What to know when the slices come in several sizes ("" when they share one)."""
        if len(self.sizes) < 2:
            return ""
        shown = ", ".join(f"{cols}x{rows}" for cols, rows in self.sizes)
        return (f"the slices of this series come in {len(self.sizes)} sizes ({shown}): each is shown at its own "
                "size, and a region of interest keeps its pixel coordinates from slice to slice")

    def __len__(self) -> int:
        return len(self.slices)

    def read_slice(self, index: int) -> Image:
        """Read slice ``index`` (0 is the first in display order) with its physical units and windows."""
        if not 0 <= index < len(self.slices):
            raise ImageReadError(self.slices[0].path.parent,
                                 f"slice {index} does not exist; the series has {len(self.slices)} slices, "
                                 f"numbered 0 to {len(self.slices) - 1}")
        item = self.slices[index]
        return read_image(item.path, page=item.frame)


def _natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value (``IM2`` before ``IM10``)."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name))


def is_dicom_image(path: Path) -> bool:
    """Whether ``path`` is a DICOM file of an image (or one whose image cannot be read, which says why when it
    is opened): not a DICOMDIR, report, plan or presentation state, which hold no pixels."""
    header, why = _try_header(path)
    return header is not None or bool(why)


def _try_header(path: Path) -> tuple[Dataset | None, str]:
    """The header of a DICOM image file and "", or None and why a DICOM image file is unreadable ("": not one).

    A file counts as a DICOM file when it starts like one or is named like one
    (``.dcm``, ``.dicom``, ``.dic``: those without the 128-byte preamble, as old
    files are written, are read all the same). Anything but a regular file (a
    named pipe would block the read for ever) is not one. A file that cannot be
    opened is unreadable when its name could be a slice's (a DICOM suffix, or a
    PACS export's name: :func:`_slice_name`), so a series is never shown with a
    slice left out unsaid.
    """
    if not path.is_file():
        return None, ""
    named = SUFFIX_FORMATS.get(path.suffix.lower()) == "DICOM"
    try:
        with open(path, "rb") as stream:
            marker = detect_format(stream.read(132)) == "DICOM"
    except OSError as error:
        if named or _slice_name(path.name):
            return None, (f"it cannot be opened ({error.strerror or error}); check that you may read it, or copy "
                          "the series where you may")
        return None, ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(_HEADER_TAGS),
                                     force=named and not marker)
            for keyword in _HEADER_TAGS:
                header.get(keyword)  # converted (and checked) here, where the warnings of a damaged value are quiet
            file_meta = getattr(header, "file_meta", None)
            storage = getattr(file_meta.get("MediaStorageSOPClassUID"), "name", "") if file_meta is not None else ""
    except Exception as error:  # noqa: BLE001 - pydicom raises many kinds on a damaged header; the file is named
        detail = " ".join(str(error).split()) or type(error).__name__
        if marker:
            return None, f"its header cannot be read ({detail})"
        return None, _named_but_not_dicom(path) if named else ""
    if "Rows" in header and "Columns" in header:
        return header, ""
    if holds_pixels(str(storage)):
        return None, f"it is a {storage} file but its header ends before the image size (Rows, Columns); " \
                     "the file is truncated or damaged"
    if named and not marker and "SOPClassUID" not in header:
        return None, _named_but_not_dicom(path)
    return None, ""


_NOT_SLICES = frozenset({"DICOMDIR", "LOCKFILE", "VERSION", "README", "INDEX", "CHECKSUM", "MANIFEST", "LICENSE",
                         "LICENCE", "COPYING", "ABOUT", "NOTICE", "MAKEFILE", "CORE"})
"""Names without a suffix that DICOM media and shares hold beside the slices."""


def _slice_name(name: str) -> bool:
    """Whether a file name without a DICOM suffix is one DICOM receivers and CD exports give slices: none
    (``IM0001``, ``DEADBEEF``; not ``DICOMDIR`` or ``LOCKFILE``) or digits after the last dot (a UID,
    ``CT.1.2.826.0.1.3``, ``i1234567.MRDC.13``, ``I.001``; not a rotated ``syslog.1`` or a ``core.123``). A CD's
    version suffix (``DICOMDIR;1``) is left out first."""
    name = re.sub(r";\d+$", "", name)
    stem, dot, last = name.rpartition(".")
    if not dot:
        return name.upper() not in _NOT_SLICES
    return last.isdigit() and not re.search(r"(log|txt|bak|old|tmp|out|messages|core)$", stem, re.IGNORECASE)


def _frames(header: Dataset) -> int:
    """The number of frames the header claims (1 without NumberOfFrames)."""
    return int(header.get("NumberOfFrames", 1) or 1)


def _damaged_frames(path: Path, header: Dataset) -> str:
    """Why the pixel data of a multi-frame file cannot hold the frames its header claims ("" when it can).

    Checked once per file, as reading a frame checks it
    (:func:`~enhance_core.io.dicom.check_frames`), so a damaged file is named
    once and no slice is made for each frame it claims (2 147 483 647 of them
    over a single frame's data). A single-frame file is left to reading its slice.
    """
    if _frames(header) == 1:
        return ""
    from enhance_core.io.dicom import check_frames

    try:
        check_frames(path)
    except ImageReadError as error:
        return error.reason
    except Exception as error:  # noqa: BLE001 - pydicom raises many kinds on a damaged header; the file is named
        detail = " ".join(str(error).split()) or type(error).__name__
        return f"its header cannot be read ({detail})"
    return ""


def _whole(value: object) -> int:
    """A header's Rows or Columns as a whole number (0 when it is not one)."""
    return value if isinstance(value, int) else 0


def _named_but_not_dicom(path: Path) -> str:
    """Why a file named like a DICOM file that holds no DICOM header is left out of the series."""
    return f"{not_dicom(path)}, though it is named {path.suffix}; the file is damaged or not a DICOM file"


def _normal(header: Dataset) -> np.ndarray | None:
    """Unit normal of the slice's plane, or None when its orientation is missing or degenerate."""
    try:
        orientation = np.asarray([float(v) for v in header.ImageOrientationPatient], dtype=np.float64)
    except (AttributeError, TypeError, ValueError):
        return None
    if orientation.shape != (6,):
        return None
    normal = np.cross(orientation[:3], orientation[3:])
    length = float(np.linalg.norm(normal))
    return normal / length if length > 1e-6 else None


def _location(header: Dataset) -> float | None:
    """Position of the slice along its normal in mm, or None when position or orientation is missing."""
    normal = _normal(header)
    try:
        position = np.asarray([float(v) for v in header.ImagePositionPatient], dtype=np.float64)
    except (AttributeError, TypeError, ValueError):
        return None
    if normal is None or position.shape != (3,):
        return None
    return float(position @ normal)


def _parallel(headers: list[Dataset]) -> bool:
    """Whether every slice lies in a plane parallel to the first's (positions along one normal compare)."""
    normals = [_normal(header) for header in headers]
    first = normals[0]
    return first is not None and all(n is not None and abs(float(n @ first)) > _PARALLEL for n in normals[1:])


def _instance(header: Dataset) -> int | None:
    """``InstanceNumber`` as an int, or None."""
    try:
        return int(header.InstanceNumber)
    except (AttributeError, TypeError, ValueError):
        return None


def _order(entries: list[tuple[Path, Dataset]]) -> tuple[tuple[SeriesSlice, ...], str]:
    """Return the slices of one series in display order and the rule used.

    Slices in parallel planes go by their position along the normal; slices at
    other angles (a rotating projection, a three-plane localizer) by instance
    number, and have no location.
    """
    entries = sorted(entries, key=lambda entry: _natural_key(entry[0].as_posix()))
    headers = [header for _, header in entries]
    parallel = _parallel(headers)
    locations = [_location(header) if parallel else None for header in headers]
    instances = [_instance(header) for header in headers]
    known_locations = [value for value in locations if value is not None]
    known_instances = [value for value in instances if value is not None]
    if len(entries) > 1 and len(known_locations) == len(entries):
        keyed = sorted(range(len(entries)), key=lambda i: (known_locations[i], instances[i] or 0))
        order = "position"
    elif len(known_instances) == len(entries):
        keyed = sorted(range(len(entries)), key=lambda i: known_instances[i])
        order = "instance"
    else:
        keyed, order = list(range(len(entries))), "file name"
    slices: list[SeriesSlice] = []
    for i in keyed:
        path, header = entries[i]
        slices.extend(SeriesSlice(path, frame, locations[i]) for frame in range(_frames(header)))
    return tuple(slices), order


def _describe(header: Dataset) -> str:
    """Series number and description, for messages."""
    number = header.get("SeriesNumber")
    text = str(header.get("SeriesDescription", "") or "").strip()
    return " ".join(part for part in (f"#{number}" if number not in (None, "") else "", text) if part)


def _number(header: Dataset) -> int | None:
    """``SeriesNumber`` as an int, or None."""
    try:
        return int(header.SeriesNumber)
    except (AttributeError, TypeError, ValueError):
        return None


def _files(folder: Path, recursive: bool) -> list[Path]:
    """The regular files of ``folder`` (and of its subfolders, hidden ones left out, links to folders not
    followed), sorted."""
    if not recursive:
        return sorted(path for path in folder.iterdir() if path.is_file())
    found: list[Path] = []
    for root, folders, names in os.walk(folder):
        folders[:] = sorted(name for name in folders if not hidden(Path(root) / name))
        found.extend(Path(root) / name for name in sorted(names)
                     if not hidden(Path(root) / name) and (Path(root) / name).is_file())
    return found


@dataclass(frozen=True)
class SeriesScan:
    """What :func:`scan_series` found: the series, largest first, the DICOM image files it could not read and copies.

    ``unreadable`` holds ``(path, reason)`` pairs; files that are not DICOM
    images are not listed. ``duplicates`` holds ``(copy, kept)`` pairs: the
    file left out and the file of the same series with the same
    ``SOPInstanceUID`` that is in the series instead.
    """

    folder: Path
    series: tuple[DicomSeries, ...]
    unreadable: tuple[tuple[Path, str], ...] = ()
    duplicates: tuple[tuple[Path, Path], ...] = ()

    def duplicate_notes(self) -> list[str]:
        """One line per copy left out, naming it and the file kept (relative to :attr:`folder`)."""
        def name(path: Path) -> str:
            return path.relative_to(self.folder).as_posix() if path.is_relative_to(self.folder) else str(path)

        return [f"{name(copy)} skipped: the same slice (SOPInstanceUID) as {name(kept)}"
                for copy, kept in self.duplicates]


def scan_series(folder: str | PathLike[str], *, recursive: bool = False, progress: ProgressFn | None = None,
                should_stop: StopFn | None = None) -> SeriesScan:
    """Read the headers of every file in ``folder`` and group the DICOM images into series.

    Files are read in name order, a folder's own before its subfolders'; of
    the files of one series with the same ``SOPInstanceUID`` the first read
    is kept (``duplicates`` lists the others). A multi-frame file whose pixel
    data cannot hold the frames its header claims is listed in ``unreadable``
    with the reader's reason, once.

    Parameters
    ----------
    folder : str or PathLike
        A series folder, or with ``recursive`` a study folder of series folders at any depth.
    recursive : bool
        Also scan the subfolders; a series is its ``SeriesInstanceUID``, wherever its files lie.
    progress : callable, optional
        ``progress(fraction, message)`` after each file.
    should_stop : callable, optional
        Checked before each file; once true :class:`~enhance_core.errors.Cancelled` is raised.

    Raises
    ------
    DicomSeriesError
        The folder does not exist, is empty, or holds no readable DICOM image.
    """
    folder = Path(folder)
    where = " (subfolders included)" if recursive else ""
    if not folder.is_dir():
        raise DicomSeriesError(folder, "is not a folder; choose the folder that holds the series' .dcm files")
    files = _files(folder, recursive)
    if not files:
        raise DicomSeriesError(folder, f"the folder is empty{where}; choose the folder that holds the series' "
                                       ".dcm files")
    groups: dict[str, list[tuple[Path, Dataset]]] = {}
    unreadable: list[tuple[Path, str]] = []
    kept: dict[tuple[str, str], Path] = {}
    duplicates: list[tuple[Path, Path]] = []
    for number, path in enumerate(files):
        if should_stop is not None and should_stop():
            raise Cancelled("reading the DICOM headers stopped")
        header, reason = _try_header(path)
        if header is not None:
            reason = _damaged_frames(path, header)
        if header is not None and not reason:
            uid = str(header.get("SeriesInstanceUID", "") or "")
            key, instance = uid or f"folder:{path.parent}", str(header.get("SOPInstanceUID", "") or "")
            original = kept.setdefault((key, instance), path) if instance else path
            if original == path:
                groups.setdefault(key, []).append((path, header))
            else:
                duplicates.append((path, original))
        elif reason:
            unreadable.append((path, reason))
        if progress is not None:
            progress((number + 1) / len(files), f"read {number + 1} of {len(files)} headers")
    if not groups:
        pictures = [path for path in files if SUFFIX_FORMATS.get(path.suffix.lower(), "DICOM") != "DICOM"]
        picture_set = set(pictures)
        damaged = [(path, reason) for path, reason in unreadable if path not in picture_set]
        if pictures and not damaged:
            raise DicomSeriesError(folder, f"holds no DICOM series but {len(pictures)} picture file(s) such as "
                                           f"{pictures[0].name}: a folder opens as a DICOM series; open one picture "
                                           "at a time (File ▸ Open, or drop the file), or process the folder with "
                                           "'enhance-studio apply'")
        broken = f"; {damaged[0][0]}: {damaged[0][1]}" if damaged else ""
        raise DicomSeriesError(folder, f"none of its {len(files)} file(s){where} is a readable DICOM image"
                                       f"{broken}; choose the folder that holds the series' .dcm files")
    result = []
    for entries in groups.values():
        slices, order = _order(entries)
        first = entries[0][1]
        sizes = tuple(sorted({(_whole(header.get("Columns")), _whole(header.get("Rows"))) for _, header in entries}))
        result.append(DicomSeries(str(first.get("SeriesInstanceUID", "") or ""), _describe(first),
                                  str(first.get("Modality", "") or ""), slices, order, _number(first),
                                  str(first.get("SeriesDescription", "") or "").strip(), sizes))
    ordered = sorted(result, key=lambda series: (-len(series), series.uid, str(series.slices[0].path)))
    return SeriesScan(folder, tuple(ordered), tuple(unreadable), tuple(duplicates))


def list_series(folder: str | PathLike[str], *, recursive: bool = False) -> list[DicomSeries]:
    """Return every DICOM image series in ``folder`` (with ``recursive``, its subfolders' too), largest first.

    Raises
    ------
    DicomSeriesError
        The folder does not exist, is empty, or holds no DICOM image.
    """
    return list(scan_series(folder, recursive=recursive).series)


def series_holding(image: Path, frame: int, folder: Path, *, recursive: bool = False,
                   should_stop: StopFn | None = None) -> tuple[SeriesScan, DicomSeries, int] | None:
    """``(scan, series, index)`` of the series of several slices in ``folder`` (its subfolders too with
    ``recursive``) whose slice ``index`` is ``image``'s frame ``frame``; None when none is, or the folder cannot be
    listed. A slice edited alone (a project, a crashed session) is browsed in its series again."""
    try:
        scan = scan_series(folder, recursive=recursive, should_stop=should_stop)
    except Cancelled:
        raise
    except (EnhanceError, OSError):  # a folder that cannot be listed: the slice stays alone
        return None
    for series in scan.series:
        for index, item in enumerate(series.slices):
            if item.frame == frame and item.path.resolve() == image.resolve() and len(series) > 1:
                return scan, series, index
    return None


def study_order(found: list[DicomSeries] | tuple[DicomSeries, ...]) -> list[DicomSeries]:
    """``found`` in the order viewers list a study: by ``SeriesNumber`` (series without one last), then title."""
    return sorted(found, key=lambda s: (s.number is None, s.number or 0, s.title.lower(), s.uid))


def open_series(folder: str | PathLike[str], *, series_uid: str | None = None, recursive: bool = False) -> DicomSeries:
    """Return the ordered series in ``folder``; ``series_uid`` picks one when the folder holds several.

    ``recursive`` looks in the subfolders too (see :func:`scan_series`).

    Raises
    ------
    DicomSeriesError
        No DICOM image in the folder, several series and no ``series_uid``
        (the message lists them), or no series with ``series_uid``.
    """
    found = list_series(folder, recursive=recursive)
    if series_uid is not None:
        for series in found:
            if series.uid == series_uid:
                return series
        raise DicomSeriesError(Path(folder), f"holds no series with SeriesInstanceUID {series_uid}; "
                                             f"it holds: {series_listing(found)}")
    if len(found) > 1:
        raise DicomSeriesError(Path(folder), f"holds {len(found)} series; pick one by its SeriesInstanceUID: "
                                             f"{series_listing(found)}")
    return found[0]


def series_listing(found: list[DicomSeries], *, prefix: str = "") -> str:
    """One line naming each series: ``prefix`` and UID, modality, slice count, description."""
    return "; ".join(f"{prefix}{s.uid or '(no UID)'} ({s.modality or '?'}, {len(s)} slices"
                     f"{', ' + s.description if s.description else ''})"
                     for s in found)


def series_from_file(path: str | PathLike[str]) -> DicomSeries:
    """Return a single DICOM file as a series of its frames (one slice for a single-frame file).

    Raises
    ------
    DicomSeriesError
        The file is no DICOM image, or its pixel data cannot hold the frames its header claims.
    """
    path = Path(path)
    if exists(path, partial(DicomSeriesError, path)) and not path.is_file():
        raise DicomSeriesError(path, "is not a regular file (a folder, a named pipe or a device); give a DICOM file")
    header, why = _try_header(path)
    if header is None:  # the reader says why, as the editor does (a DICOMDIR, a structure set, a cut header)
        from enhance_core.io import read_image
        from enhance_core.io.detect import detect_format

        try:
            with open(path, "rb") as handle:
                known = detect_format(handle.read(512), path.suffix.lower())
        except OSError as error:
            raise DicomSeriesError(path, why or f"cannot be opened ({error.strerror or error}); check that you may "
                                                "read it") from None
        if known not in (None, "DICOM"):  # a picture: never decoded just to be refused
            raise DicomSeriesError(path, f"is not a DICOM image: it is a {known} file; give a DICOM file or folder")
        try:
            read_image(path)
        except ImageReadError as error:
            raise DicomSeriesError(path, error.reason) from None
        raise DicomSeriesError(path, "is not a DICOM image file")
    damaged = _damaged_frames(path, header)
    if damaged:
        raise DicomSeriesError(path, damaged)
    slices = tuple(SeriesSlice(path, frame) for frame in range(_frames(header)))
    return DicomSeries(str(header.get("SeriesInstanceUID", "") or ""), _describe(header),
                       str(header.get("Modality", "") or ""), slices, "frame", _number(header),
                       str(header.get("SeriesDescription", "") or "").strip())
