"""Medical imaging: DICOM series, window presets, automatic and header windows, de-identified export.

Modules: :mod:`~enhance_core.medical.series` (the series of a folder and its
subfolders, slices in anatomical order), :mod:`~enhance_core.medical.study`
(series thumbnails and export folder names), :mod:`~enhance_core.medical.presets` (built-in and user window
presets), :mod:`~enhance_core.medical.windows` (header, automatic and
value-range windows as ``window_level`` parameters, and the rules of that step) and
:mod:`~enhance_core.medical.export` (windowed 8-bit and full-range 16-bit
export without patient-identifying fields).
"""

from enhance_core.medical.presets import WindowPreset, builtin_presets, find_preset, load_user_presets, presets_for
from enhance_core.medical.series import (DicomSeries, SeriesScan, SeriesSlice, list_series, open_series, scan_series,
                                         series_from_file, study_order)
from enhance_core.medical.windows import auto_window, header_window, window_params

__all__ = [
    "DicomSeries",
    "SeriesScan",
    "SeriesSlice",
    "WindowPreset",
    "auto_window",
    "builtin_presets",
    "find_preset",
    "header_window",
    "list_series",
    "load_user_presets",
    "open_series",
    "presets_for",
    "scan_series",
    "series_from_file",
    "study_order",
    "window_params",
]
