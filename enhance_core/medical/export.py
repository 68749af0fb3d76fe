"""Export of medical images: windowed 8-bit pictures and full-range 16-bit values, de-identified.

Exported files hold new pixels and a JSON description only; the DICOM header
is never copied. The description (PNG ``Description`` iTXt chunk, TIFF
ImageDescription, JPEG comment) lists the fields of :data:`SAFE_KEYWORDS`
(modality, pixel spacing, slice geometry, acquisition settings) and how the
values map to physical units. The fields of :data:`PATIENT_KEYWORDS`
(patient, study, institution, staff, UIDs) are added only when asked
(``include_patient_data=True``).

Full-range mapping (16-bit PNG/TIFF), written into the description as
``offset`` and ``scale`` with ``physical = offset + scale * value`` (read back
with the file: :mod:`enhance_core.io.value_map`):

* Hounsfield units: ``value = HU + 32768`` (offset -32768, scale 1), rounded
  to whole HU, so every CT value from -32768 to 32767 HU is kept exactly.
* Other units: the range the stored bits can reach, spread over 0..65535
  (offset = the lowest physical value, scale = range / 65535), which is exact
  for stored values of up to 16 bits. Wider ones (a 32-bit dose grid, float
  data) spread the frame's own value range instead, so the map can differ
  from slice to slice (each file says its own).

A colour image has no full-range export: its values are a picture, not a
measurement, and the windowed export keeps it whole.

Codes grow with the physical value, but for MONOCHROME1 (many CR films),
whose high values show dark: there they fall (a negative scale in the map),
so an ordinary viewer shows the picture as the file does. The
source DICOM file is never written: the writer refuses its path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from enhance_core.errors import ImageWriteError, ParameterError
from enhance_core.geometry import dicom_frame_plane
from enhance_core.image import Image, ImageMeta, Window
from enhance_core.io import write_image
from enhance_core.io.tiff import METRIC
from enhance_core.io.value_map import MAPPING
from enhance_core.io.writer import WRITE_FORMATS
from enhance_core.medical.roi import pixel_spacing
from enhance_core.medical.windows import window_item
from enhance_core.render import render_image
from enhance_core.stack import StackItem

SAFE_KEYWORDS = (
    "Modality", "BodyPartExamined", "PixelSpacing", "SliceThickness", "SpacingBetweenSlices", "SliceLocation",
    "ImagePositionPatient", "ImageOrientationPatient", "KVP", "ConvolutionKernel",
)
"""Header fields an export describes by default: geometry and acquisition, nothing about the person; nothing about
how the file stored its values (BitsStored, the Rescale fields, PhotometricInterpretation; ``unit`` names the
unit), which map neither a picture of the window nor the full-range codes (whose own map the description gives)
and, read as the file's, gave wrong HU or a second inversion of a MONOCHROME1 picture."""

PATIENT_KEYWORDS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientAge", "PatientWeight", "PatientSize",
    "OtherPatientIDs", "OtherPatientNames", "PatientAddress", "PatientComments", "StudyDate", "StudyTime",
    "SeriesDate", "AcquisitionDate", "ContentDate", "StudyDescription", "SeriesDescription", "AccessionNumber",
    "StudyID", "InstitutionName", "InstitutionAddress", "ReferringPhysicianName", "PerformingPhysicianName",
    "OperatorsName", "StationName", "DeviceSerialNumber", "StudyInstanceUID", "SeriesInstanceUID",
    "SOPInstanceUID", "FrameOfReferenceUID",
)
"""Identifying fields (after DICOM PS3.15's basic profile) added only with ``include_patient_data=True``."""

HU_OFFSET = -32768.0
MM_PER_INCH = 25.4
DPI_RANGE = (1.0, 65535.0)
"""Resolutions every written format holds (JPEG's density is 16 bits); a pixel spacing outside (a microscope's
0.25 µm is 101 600 dpi) gives the file none."""


@dataclass(frozen=True)
class ValueMap:
    """Linear map of stored 16-bit values to physical units: ``physical = offset + scale * value``."""

    offset: float
    scale: float
    unit: str


def _plain(value: Any) -> Any:
    """A JSON-ready form of a pydicom element value."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [_plain(item) for item in value]
    if isinstance(value, (int, float, str)):
        return value
    return str(value)


def header_fields(meta: ImageMeta, *, include_patient_data: bool = False) -> dict[str, Any]:
    """Return the header fields an export may describe: :data:`SAFE_KEYWORDS`, plus the patient's when asked."""
    header = meta.dicom
    if header is None:
        return {}
    keywords = SAFE_KEYWORDS + (PATIENT_KEYWORDS if include_patient_data else ())
    fields = {keyword: _plain(header.get(keyword)) for keyword in keywords
              if keyword in header and header.get(keyword) not in (None, "")}
    if "geometry" in meta.extra or meta.page_count < 2:
        return fields  # moved by the stack's geometry, the header's plane is the result's (dicom_after_geometry)
    return fields | dicom_frame_plane(header, meta.page)


def export_description(meta: ImageMeta, *, window: Window | None = None, value_map: ValueMap | None = None,
                       include_patient_data: bool = False) -> str:
    """Return the JSON description an exported slice carries (see the module docstring)."""
    data: dict[str, Any] = {"software": "Enhance Studio", "source": "DICOM", "unit": meta.unit,
                            "deidentified": not include_patient_data}
    if window is not None:
        data["window"] = {"center": window.center, "width": window.width, "name": window.name}
        if window.function != "linear":
            data["window"]["function"] = window.function
    if value_map is not None:
        data["mapping"] = MAPPING
        data["offset"], data["scale"] = value_map.offset, value_map.scale
    data["dicom"] = header_fields(meta, include_patient_data=include_patient_data)
    return json.dumps(data, ensure_ascii=False)


def full_range_map(image: Image) -> ValueMap:
    """Return the 16-bit value map of ``image`` (HU + 32768 for CT, else its stored range, or for values wider
    than 16 bits its frame's value range). A MONOCHROME1 image (many CR films), whose high values show dark,
    gets a negative scale, so the codes show as the file does and an ordinary viewer does not show a negative."""
    if image.meta.unit == "HU":
        return ValueMap(-HU_OFFSET - 1.0, -1.0, "HU") if image.meta.value_scale < 0 else ValueMap(HU_OFFSET, 1.0, "HU")
    low, high = image.physical_range()
    held = image.meta.extra.get("value_range")
    if (image.meta.float_source or image.meta.bit_depth > 16) and held is not None:
        low, high = held
    scale = (high - low) / 65535.0 or 1.0
    if image.meta.value_scale < 0:
        return ValueMap(high, -scale, image.meta.unit)
    return ValueMap(low, scale, image.meta.unit)


def full_range_image(image: Image) -> tuple[Image, ValueMap]:
    """Return gray pixels whose 16-bit codes hold the physical values by :func:`full_range_map`, and the map.

    Raises
    ------
    ParameterError
        ``image`` is colour.
    """
    if image.channels != 1:
        raise ParameterError(f"{image.meta.source or 'this image'} is a colour image: a full-range export keeps the "
                             "values of gray images (CT, MR, dose); export the windowed picture instead")
    value_map = full_range_map(image)
    physical = image.to_physical(np.asarray(image.pixels[:, :, 0], dtype=np.float64))
    codes = np.clip(np.rint((physical - value_map.offset) / value_map.scale), 0, 65535)
    pixels = (codes / 65535.0).astype(np.float32)[:, :, None]
    meta = ImageMeta(format="DICOM", bit_depth=16, source=image.meta.source, unit=value_map.unit)
    return Image(np.ascontiguousarray(pixels), None, meta), value_map


def windowed_image(image: Image, window: Window, steps: Sequence[StackItem] = ()) -> Image:
    """Return ``image`` through a window/level step with ``window`` and then ``steps``, as 8-bit display pixels.

    ``meta.dicom`` is set only when ``steps`` change the geometry: the header with
    its pixel spacing rescaled (:func:`enhance_core.geometry.meta_after_geometry`).
    """
    result = render_image(image, (window_item(window), *steps))
    moved = "geometry" in result.meta.extra and result.meta.dicom is not image.meta.dicom
    meta = ImageMeta(format="DICOM", bit_depth=8, source=image.meta.source,
                     dicom=result.meta.dicom if moved else None)
    return Image(result.pixels, None, meta)


def write_values(image: Image, path: str | PathLike[str], *, include_patient_data: bool = False,
                 hint: str = "give a window for an 8-bit picture") -> Path:
    """Write the physical values of a gray DICOM image (as read or as filtered) in 16 bits, de-identified.

    The codes follow :func:`full_range_map` and the description says the map.
    ``hint`` ends the error for a format of 8 bits (JPEG, WebP, BMP).

    Raises
    ------
    ImageWriteError
        ``path`` names a format without 16 bits.
    ParameterError
        ``image`` is colour.
    """
    path = Path(path)
    if WRITE_FORMATS.get(path.suffix.lower()) not in ("PNG", "TIFF"):
        raise ImageWriteError(path, f"full-range values need 16 bits; write .png or .tif, or {hint}")
    pixels, value_map = full_range_image(image)
    text = export_description(image.meta, value_map=value_map, include_patient_data=include_patient_data)
    return write_image(with_spacing(pixels, image.meta), path, bit_depth=16, description=text)


def with_spacing(exported: Image, described: ImageMeta) -> Image:
    """``exported`` with the resolution (dpi) of ``described``'s pixel spacing (``PixelSpacing``, else
    ``ImagerPixelSpacing``, in mm), so ImageJ, Fiji and other tools that read a file's resolution measure in its
    units (per centimetre in a TIFF, as ImageJ then measures in metric units; JPEG to a whole dpi); as it was when
    the header gives none, or one outside :data:`DPI_RANGE`."""
    spacing = pixel_spacing(described.dicom)
    if spacing is None:
        return exported
    dpi = (MM_PER_INCH / spacing[1], MM_PER_INCH / spacing[0])
    if not all(DPI_RANGE[0] <= value <= DPI_RANGE[1] for value in dpi):
        return exported
    extra = {**exported.meta.extra, "dpi": dpi, "resolution_unit": METRIC}
    return Image(exported.pixels, exported.alpha, replace(exported.meta, extra=extra))


def export_slice(image: Image, path: str | PathLike[str], *, window: Window | None = None,
                 steps: Sequence[StackItem] = (), include_patient_data: bool = False, quality: int = 95) -> Path:
    """Write one slice de-identified: windowed 8-bit with ``window``, or full-range 16-bit without.

    Parameters
    ----------
    image : Image
        A slice read from DICOM (physical map and header in ``meta``).
    path : str or PathLike
        Target; ``.png``/``.jpg``/``.tif``. Full range (``window=None``) needs PNG or TIFF.
    window : Window, optional
        Display window; None writes the full-range 16-bit values.
    steps : sequence of StackItem
        Further steps applied after the window (CLAHE, denoise...); windowed export only.
    include_patient_data : bool
        Add the :data:`PATIENT_KEYWORDS` fields to the description.
    quality : int
        JPEG quality.
    """
    path = Path(path)
    if window is None:
        if steps:
            raise ImageWriteError(path, "full-range export writes the unedited values; drop the extra steps "
                                        "or export a windowed picture")
        return write_values(image, path, include_patient_data=include_patient_data)
    shown = windowed_image(image, window, steps)
    described = image.meta if shown.meta.dicom is None else replace(image.meta, dicom=shown.meta.dicom)
    text = export_description(described, window=window, include_patient_data=include_patient_data)
    return write_image(with_spacing(shown, described), path, bit_depth=8, quality=quality, description=text)
