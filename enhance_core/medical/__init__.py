"""Medical imaging: DICOM series, window presets, automatic and header windows, de-identified export.

Modules: :mod:`~enhance_core.medical.series` (the series of a folder and its
subfolders, slices in anatomical order), :mod:`~enhance_core.medical.study`
(series thumbnails and export folder names), :mod:`~enhance_core.medical.presets` (built-in and user window
presets), :mod:`~enhance_core.medical.windows` (header, automatic and
value-range windows as ``window_level`` parameters, and the rules of that step) and
:mod:`~enhance_core.medical.export` (windowed 8-bit and full-range 16-bit
export without patient-identifying fields).

The names below are imported from their modules on first use, so that importing
:mod:`~enhance_core.medical.windows` (the editor does at start-up) does not import
pydicom with :mod:`~enhance_core.medical.series` (a third of a second).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from enhance_core.medical.presets import (WindowPreset, builtin_presets, find_preset, load_user_presets,
                                              presets_for)
    from enhance_core.medical.series import (DicomSeries, SeriesScan, SeriesSlice, list_series, open_series,
                                             scan_series, series_from_file, study_order)
    from enhance_core.medical.windows import auto_window, header_window, window_params

_HOMES = {
    "presets": ("WindowPreset", "builtin_presets", "find_preset", "load_user_presets", "presets_for"),
    "series": ("DicomSeries", "SeriesScan", "SeriesSlice", "list_series", "open_series", "scan_series",
               "series_from_file", "study_order"),
    "windows": ("auto_window", "header_window", "window_params"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}

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


def __getattr__(name: str) -> Any:
    """Import ``name`` from its module on first use (PEP 562)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
