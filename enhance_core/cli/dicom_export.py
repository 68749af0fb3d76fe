"""``enhance-studio dicom-export SOURCE -o OUTDIR``: export a DICOM series slice by slice, de-identified.

::

    enhance-studio dicom-export SERIES_DIR -o OUT [--preset lung | --window C,W | --auto] [--format png|jpg|tif]
                                [--full-range] [--recipe R.json] [--series UID] [--include-patient-data]

SOURCE is a folder holding a series (slices in anatomical order, see
:mod:`enhance_core.medical.series`) or one DICOM file (its frames). Slice
``i`` goes to ``OUT/slice_0001.png`` and on (names never carry the source's
file names, which may identify the patient). The window: a preset by name
(built-in or from ``--presets-file``), ``--window CENTER,WIDTH``, ``--auto``
(percentiles 0.5-99.5 of the middle slice, used for all), or by default each
slice's own header window. ``--full-range`` writes 16-bit PNG/TIFF values
instead (``value = HU + 32768`` for CT). A recipe's steps run after the window.
No DICOM is written; existing outputs are replaced only with ``--overwrite``.
Bad input stops with one line and status 2; slices that fail are reported and
the status is 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from enhance_core.cli.progress import report_failure, report_progress
from enhance_core.errors import EnhanceError, ImageWriteError, ParameterError

if TYPE_CHECKING:
    from enhance_core.image import Window
    from enhance_core.medical.series import DicomSeries

FORMATS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "tif": ".tif", "tiff": ".tif"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``dicom-export`` subcommand."""
    parser = subparsers.add_parser(
        "dicom-export", help="export a DICOM series (or multi-frame file) with one window, de-identified",
        description="Export every slice of a DICOM series folder or multi-frame file as PNG, JPEG or TIFF with one "
        "window (preset, center/width, automatic, or each slice's header window), or as full-range 16-bit values. "
        "Exported files carry no patient-identifying DICOM fields unless --include-patient-data is given.",
    )
    parser.add_argument("source", type=Path, metavar="SOURCE", help="series folder or DICOM file")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR", help="folder for the slices")
    window = parser.add_mutually_exclusive_group()
    window.add_argument("--preset", help="window preset name (CT: brain, subdural, stroke, temporal_bone, lung, "
                                         "mediastinum, soft_tissue, liver, bone) or one of --presets-file")
    window.add_argument("--window", metavar="CENTER,WIDTH", help="window in physical units, e.g. -600,1500")
    window.add_argument("--auto", action="store_true",
                        help="window from the 0.5-99.5 %% percentiles of the middle slice")
    window.add_argument("--full-range", action="store_true", help="16-bit PNG/TIFF of the values (HU + 32768 for CT)")
    parser.add_argument("--format", choices=sorted(FORMATS), default="png", help="output format (default png)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality 1-100 (default 95)")
    parser.add_argument("--recipe", type=Path, help="recipe whose steps run after the window (CLAHE, denoise...)")
    parser.add_argument("--series", metavar="UID", help="SeriesInstanceUID to export when the folder holds several")
    parser.add_argument("--presets-file", type=Path, help="JSON file of user window presets")
    parser.add_argument("--include-patient-data", action="store_true",
                        help="also write patient, study and institution fields into the files' descriptions")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.set_defaults(run=run)


def _parse_window(text: str) -> Window:
    """Parse ``CENTER,WIDTH``."""
    from enhance_core.image import Window

    try:
        center, width = (float(part) for part in text.split(","))
    except ValueError:
        raise ParameterError(f"--window wants CENTER,WIDTH in physical units, e.g. -600,1500; got {text!r}") from None
    if width <= 0:
        raise ParameterError(f"--window width must be above 0, got {width:g}")
    return Window(center, width, "Custom")


def _series(args: argparse.Namespace) -> DicomSeries:
    """The series named on the command line (folder or file)."""
    from enhance_core.medical.series import list_series, open_series, series_from_file, series_listing

    if args.source.is_dir():
        if args.series is None and len(found := list_series(args.source)) > 1:
            raise ParameterError(f"{args.source} holds {len(found)} series; export one at a time: "
                                 f"{series_listing(found, prefix='--series ')}")
        return open_series(args.source, series_uid=args.series)
    if not args.source.exists():
        raise ImageWriteError(args.source, "does not exist; give a series folder or a DICOM file")
    return series_from_file(args.source)


def _fixed_window(args: argparse.Namespace, series: DicomSeries) -> Window | None:
    """The window used for every slice, or None for each slice's header window or full range."""
    from enhance_core.medical.presets import find_preset, load_user_presets
    from enhance_core.medical.windows import auto_window

    if args.window:
        return _parse_window(args.window)
    if args.preset:
        user = load_user_presets(args.presets_file) if args.presets_file else []
        return find_preset(args.preset, series.modality, user).window
    if args.auto:
        return auto_window(series.read_slice(len(series) // 2))
    return None


def run(args: argparse.Namespace) -> int:
    """Export every slice; return 0, or 1 when some slices failed."""
    from enhance_core.io import check_quality
    from enhance_core.medical.export import export_slice
    from enhance_core.medical.windows import header_window
    from enhance_core.recipe import load_recipe

    suffix = FORMATS[args.format]
    check_quality(args.quality)
    if args.full_range and suffix == ".jpg":
        raise ParameterError("--full-range needs 16 bits; use --format png or tif")
    if args.output.exists() and not args.output.is_dir():
        raise ImageWriteError(args.output, "is a file; give a folder for the slices")
    series = _series(args)
    steps = load_recipe(args.recipe) if args.recipe else ()
    if steps and args.full_range:
        raise ParameterError("--recipe applies to windowed pictures; drop --full-range or --recipe")
    window = _fixed_window(args, series)
    targets = [args.output / f"slice_{index + 1:04d}{suffix}" for index in range(len(series))]
    existing = [target for target in targets if target.exists()]
    if existing and not args.overwrite:
        raise ImageWriteError(existing[0], f"already exists ({len(existing)} of the outputs do); "
                                           "choose another folder or pass --overwrite")
    args.output.mkdir(parents=True, exist_ok=True)
    failed = 0
    for index, target in enumerate(targets):
        report_progress(index + 1, len(targets), target.name, verb="writing")
        try:
            image = series.read_slice(index)
            chosen = None if args.full_range else window or header_window(image)
            export_slice(image, target, window=chosen, steps=steps, quality=args.quality,
                         include_patient_data=args.include_patient_data)
        except EnhanceError as error:
            failed += 1
            report_failure(series.slices[index].path, error)
    print(f"wrote {len(targets) - failed} of {len(targets)} slices to {args.output} "
          f"({series.modality or 'DICOM'}, ordered by {series.order})", file=sys.stdout)
    return 1 if failed else 0
