"""DICOM series built in a temporary folder from pydicom's CT_small.dcm (nothing read from data folders)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

PATIENT_NAME = "CompressedSamples^CT1"
"""CT_small.dcm's PatientName, which no default export may contain."""


def write_series(folder: Path, locations: list[float], *, series_uid: str | None = None,
                 names: list[str] | None = None, with_position: bool = True, number: int | None = None,
                 description: str | None = None) -> list[Path]:
    """Write one CT slice per entry of ``locations`` (mm along the normal) into ``folder``.

    Slice ``i`` gets InstanceNumber ``i + 1``, ImagePositionPatient z = ``locations[i]``
    (axial orientation), a fresh SOPInstanceUID and pixels offset by ``100 * i`` HU so
    tests can tell slices apart. ``names`` gives the file names (default: shuffled numbers);
    ``number`` and ``description`` the SeriesNumber and SeriesDescription (default: CT_small's).
    """
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    names = names or [f"{(7 * i + 3) % 97:03d}.dcm" for i in range(len(locations))]
    paths = []
    for index, (location, name) in enumerate(zip(locations, names)):
        dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        dataset.SeriesInstanceUID = series_uid
        dataset.SOPInstanceUID = generate_uid()
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        dataset.InstanceNumber = index + 1
        if number is not None:
            dataset.SeriesNumber = number
        if description is not None:
            dataset.SeriesDescription = description
        if with_position:
            dataset.ImagePositionPatient = [-158.0, -179.0, float(location)]
            dataset.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        else:
            del dataset.ImagePositionPatient
        stored = dataset.pixel_array.astype(np.int16) + np.int16(100 * index)
        dataset.PixelData = stored.tobytes()
        path = folder / name
        dataset.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def slice_offset(image) -> int:
    """Recover the ``100 * i`` HU offset ``write_series`` gave a slice (from its top-left pixel)."""
    original = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    expected = float(original.pixel_array[0, 0]) * float(original.RescaleSlope) + float(original.RescaleIntercept)
    return int(round((float(image.to_physical(image.pixels[0, 0, 0])) - expected) / 100.0))


def write_mr_series(folder: Path, count: int, *, series_uid: str | None = None, number: int | None = None,
                    description: str | None = None) -> list[Path]:
    """Write ``count`` slices of pydicom's MR_small.dcm, 5 mm apart, as one MR series into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    paths = []
    for index in range(count):
        dataset = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
        dataset.SeriesInstanceUID = series_uid
        dataset.SOPInstanceUID = generate_uid()
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        dataset.InstanceNumber = index + 1
        dataset.ImagePositionPatient = [-83.9, -91.2, 5.0 * index]
        if number is not None:
            dataset.SeriesNumber = number
        if description is not None:
            dataset.SeriesDescription = description
        path = folder / f"mr{index + 1}.dcm"
        dataset.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def truncate(path: Path, size: int) -> Path:
    """Cut ``path`` to its first ``size`` bytes (a damaged copy); return it."""
    data = path.read_bytes()
    path.write_bytes(data[:size])
    return path


def with_voi_lut(dataset: pydicom.Dataset, entries: np.ndarray, first: int, bits: int,
                 explanation: str = "NORMAL") -> pydicom.Dataset:
    """``dataset`` without its windows and with one VOI LUT of ``entries`` (written as OW words)."""
    for keyword in ("WindowCenter", "WindowWidth", "VOILUTFunction"):
        if keyword in dataset:
            delattr(dataset, keyword)
    item = pydicom.Dataset()
    item.LUTDescriptor = [len(entries), first, bits]
    item.add_new("LUTData", "OW", np.asarray(entries, "<u2").tobytes())
    item.LUTExplanation = explanation
    dataset.VOILUTSequence = Sequence([item])
    return dataset


def sqrt_lut(count: int, top: int) -> np.ndarray:
    """A bent LUT, so that no window could show it: display = sqrt of the place in the input range."""
    return np.round(np.sqrt(np.arange(count) / (count - 1)) * top).astype(np.uint16)


def write_multi_frame(path: Path, frames: int, held: float, *, rows: int | None = None) -> Path:
    """Write CT_small.dcm as ``frames`` frames whose pixel data holds ``held`` frames (fewer: a damaged file).

    ``rows`` shrinks the frame to ``rows`` x 1 pixels (a 1x1 frame claimed 2 147 483 647 times).
    """
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    frame = dataset.PixelData
    if rows is not None:
        dataset.Rows, dataset.Columns = rows, 1
        frame = frame[:2 * rows]
    dataset.NumberOfFrames = frames
    dataset.PixelData = frame * int(held) + frame[:int(len(frame) * (held % 1)) // 2 * 2]
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(path, enforce_file_format=True)
    return path
