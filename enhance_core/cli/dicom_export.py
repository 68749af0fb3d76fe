"""``enhance-studio dicom-export SOURCE -o OUTDIR``: export a DICOM series slice by slice, de-identified.

::

    enhance-studio dicom-export SERIES_DIR -o OUT [--preset lung | --window C,W | --auto] [--format png|jpg|tif]
                                [--full-range] [--recipe R.json] [--series UID | --all-series]
                                [--include-patient-data] [--overwrite | --skip-existing]

SOURCE is a folder holding a series (slices in anatomical order, see
:mod:`enhance_core.medical.series`; its subfolders are searched too, so a
study folder of series folders works; a slice found twice, as in a copy of
a series folder inside it, is written once and the copy named on stderr) or
one DICOM file (its frames; with ``--series UID`` it must belong to that
series). Slice ``i`` goes to ``OUT/slice_0001.png``
and on (names never carry the source's file names, which may identify the
patient). A folder of several series
needs ``--series UID`` or ``--all-series``, which writes each series into
its own subfolder ``OUT/series_NNN_MODALITY`` (``NNN`` the SeriesNumber;
with ``--include-patient-data`` followed by the SeriesDescription, which
may name a person; ``_2``, ``_3`` tell equal names apart, see
:func:`~enhance_core.medical.study.export_folder_names`). The window: a preset by name
(built-in or from ``--presets-file``), ``--window CENTER,WIDTH``, ``--auto``
(percentiles 0.5-99.5 of the middle slice, used for all), or by default each
slice's own header window. ``--full-range`` writes 16-bit PNG/TIFF values
instead (``value = HU + 32768`` for CT). A recipe's steps run after the window;
a recipe that opens with a window (one saved from the editor) gives its
window when no window option is given, and gives way to the option otherwise.
No DICOM is written; existing outputs are replaced only with ``--overwrite``;
``--skip-existing`` keeps them and writes the rest (finishing an export that
was stopped, which says so with what it wrote).
Bad input (a DICOM image file whose header cannot be read included, and a
multi-frame file whose pixel data cannot hold the frames it claims) and
output folders that are files or cannot be made stop with one line and
status 2 before any slice is written; slices that fail are reported and the
status is 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from enhance_core.cli.arguments import path_argument, value_argument
from enhance_core.cli.folders import make_output_folder, remove_empty_folders
from enhance_core.cli.progress import Tally, report_failure, report_progress
from enhance_core.cli.stopping import finish_advice, stop_status, stopped_word
from enhance_core.errors import EnhanceError, ImageReadError, ImageWriteError, ParameterError, PresetError

if TYPE_CHECKING:
    from enhance_core.image import Window
    from enhance_core.medical.series import DicomSeries
    from enhance_core.stack import StackItem

FORMATS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "tif": ".tif", "tiff": ".tif"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``dicom-export`` subcommand."""
    parser = subparsers.add_parser(
        "dicom-export", help="export a DICOM series (or multi-frame file) with one window, de-identified",
        description="Export every slice of a DICOM series folder or multi-frame file as PNG, JPEG or TIFF with one "
        "window (preset, center/width, automatic, or each slice's header window), or as full-range 16-bit values. "
        "Exported files carry no patient-identifying DICOM fields unless --include-patient-data is given.",
    )
    parser.add_argument("source", type=path_argument, metavar="SOURCE", help="series folder or DICOM file")
    parser.add_argument("-o", "--output", type=path_argument, required=True, metavar="OUTDIR",
                        help="folder for the slices")
    window = parser.add_mutually_exclusive_group()
    window.add_argument("--preset", type=value_argument,
                        help="window preset name (CT: brain, subdural, stroke, temporal_bone, lung, "
                             "mediastinum, soft_tissue, liver, bone) or one of --presets-file")
    window.add_argument("--window", type=value_argument, metavar="CENTER,WIDTH",
                        help="window in physical units, e.g. --window -600,1500 (lung)")
    window.add_argument("--auto", action="store_true",
                        help="window from the 0.5-99.5 %% percentiles of the middle slice")
    window.add_argument("--full-range", action="store_true",
                        help="16-bit PNG/TIFF of the values (HU + 32768 for CT, 32767 - HU for a MONOCHROME1 CT; "
                             "the map is in each file's description)")
    parser.add_argument("--format", choices=sorted(FORMATS), default="png", help="output format (default png)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality 1-100 (default 95)")
    parser.add_argument("--recipe", type=path_argument,
                        help="recipe whose steps run after the window (CLAHE, denoise...)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--series", type=value_argument, metavar="UID",
                       help="SeriesInstanceUID to export when the folder holds several "
                            "(a file given must belong to it)")
    which.add_argument("--all-series", action="store_true",
                       help="export every series of the folder and its subfolders, each into its own subfolder "
                            "of OUTDIR (series_NNN_MODALITY)")
    parser.add_argument("--presets-file", type=path_argument, help="JSON file of user window presets")
    parser.add_argument("--include-patient-data", action="store_true",
                        help="also write patient, study and institution fields into the files' descriptions")
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace existing output files")
    existing.add_argument("--skip-existing", action="store_true",
                          help="keep existing output files and write the rest (finishing a stopped export)")
    parser.set_defaults(run=run)


def _parse_window(text: str) -> Window:
    """Parse ``CENTER,WIDTH``."""
    from enhance_core.image import Window, window_out_of_reach

    try:
        center, width = (float(part) for part in text.split(","))
    except ValueError:
        raise ParameterError(f"--window wants CENTER,WIDTH in physical units, e.g. --window=-600,1500; "
                             f"got {text!r}") from None
    if not (math.isfinite(center) and math.isfinite(width)):
        raise ParameterError(f"--window wants finite numbers, got {text!r}")
    if width <= 0:
        raise ParameterError(f"--window width must be above 0, got {width:g}")
    beyond = window_out_of_reach(center, width)
    if beyond:
        raise ParameterError(f"--window {text}: the {beyond}, more than the window/level step takes; "
                             "give a window within it")
    return Window(center, width, "Custom")


def _series(args: argparse.Namespace) -> list[tuple[DicomSeries, Path]]:
    """The series named on the command line (folder or file), each with the folder its slices go to.

    A folder is searched with its subfolders; copies of a slice (same series, same ``SOPInstanceUID``) are
    exported once, each copy left out named on stderr with the file kept.
    """
    from enhance_core.medical.series import scan_series, series_from_file
    from enhance_core.medical.study import choose_series, export_folder_names, series_with_uid

    if not args.source.exists():
        raise ImageReadError(args.source, "does not exist; give a series folder or a DICOM file")
    if not args.source.is_dir():
        if args.all_series:
            raise ParameterError(f"--all-series exports the series of a folder; {args.source} is a file. "
                                 "Give its folder, or drop --all-series")
        series = series_from_file(args.source)
        if args.series is not None:
            series = series_with_uid(args.source, [series], args.series)
        return [(series, args.output)]
    scan = scan_series(args.source, recursive=True)
    chosen = choose_series(scan, series_uid=args.series, all_series=args.all_series)
    for note in scan.duplicate_notes():
        print(f"warning: {note}", file=sys.stderr, flush=True)
    if not args.all_series:
        return [(chosen[0], args.output)]
    names = export_folder_names(chosen, with_titles=args.include_patient_data)
    return [(series, args.output / name) for series, name in zip(chosen, names)]


def _fixed_window(args: argparse.Namespace, series: DicomSeries) -> Window | None:
    """The window used for every slice, or None for each slice's header window or full range."""
    from enhance_core.medical.presets import find_preset, load_user_presets
    from enhance_core.medical.windows import auto_window

    if args.window:
        return _parse_window(args.window)
    if args.preset:
        if args.presets_file and not args.presets_file.is_file():
            raise ParameterError(f"--presets-file {args.presets_file} is not a file; give the JSON file the "
                                 "editor saves its presets to")
        user = load_user_presets(args.presets_file) if args.presets_file else []
        try:
            return find_preset(args.preset, series.modality, user).window
        except PresetError as error:
            if not args.all_series:
                own = ("add one to your --presets-file" if args.presets_file
                       else "a preset of your own with --presets-file")
                raise PresetError(f"{error}; give the window as --window CENTER,WIDTH, or --auto, or {own}") from None
            raise PresetError(f"{error}; with --all-series every series needs the preset: export the others alone "
                              f"(--series UID), or give --window CENTER,WIDTH; this one is --series {series.uid} "
                              f"({series.modality or '?'}, {len(series)} slices)") from None
    if args.auto:
        return auto_window(series.read_slice(len(series) // 2))
    return None


def _recipe_window(args: argparse.Namespace, steps: tuple[StackItem, ...]
                   ) -> tuple[Window | None, tuple[StackItem, ...]]:
    """Split the window a recipe opens with (one saved from the editor does) from its other steps.

    Without a window option the recipe's first window is the export's window
    and its steps follow, as the editor showed them; with one, the recipe's
    opening windows give way to it (said on stderr), so no slice is windowed twice.
    """
    from enhance_core.medical.windows import display_steps, stack_window

    leading = display_steps(steps)
    window = stack_window(leading)
    if window is None:
        return None, steps
    if args.window or args.preset or args.auto:
        dropped = {item.uid for item in leading}
        print(f"note: the recipe's window ({window.center:g} / {window.width:g}) gives way to the one given "
              "on the command line", file=sys.stderr)
        return None, tuple(item for item in steps if item.uid not in dropped)
    return window, tuple(item for item in steps if item.uid != leading[0].uid)


def run(args: argparse.Namespace) -> int:
    """Export every slice of the chosen series; return 0, or 1 when some slices failed."""
    from enhance_core.cli.recipes import read_recipe
    from enhance_core.io import check_quality

    suffix = FORMATS[args.format]
    check_quality(args.quality)
    if args.full_range and suffix == ".jpg":
        raise ParameterError("--full-range needs 16 bits; use --format png or tif")
    if args.presets_file is not None and not args.preset:
        raise ParameterError(f"--presets-file {args.presets_file} is read for --preset NAME only; add --preset, or "
                             "leave --presets-file out")
    if args.output.exists() and not args.output.is_dir():
        raise ImageWriteError(args.output, "is a file; give a folder for the slices")
    chosen = _series(args)
    for series, folder in chosen:
        if folder.resolve() in {item.path.parent.resolve() for item in series.slices}:
            raise ParameterError(f"{folder} holds the series' own files; give -o another folder for the slices")
    steps = read_recipe(args.recipe) if args.recipe else ()
    if steps and args.full_range:
        raise ParameterError("--recipe applies to windowed pictures; drop --full-range or --recipe")
    recipe_window, steps = _recipe_window(args, steps)
    modalities = sorted({series.modality for series, _ in chosen if series.modality})
    if recipe_window is not None and len(modalities) > 1:
        raise ParameterError(f"the recipe opens with one window ({recipe_window.center:g} / {recipe_window.width:g}), "
                             f"made for one kind of image, and the series chosen are {' and '.join(modalities)}; "
                             "export each kind with --series UID, or give --window, --preset or --auto, which "
                             "takes the recipe window's place")
    plans = [(series, folder, recipe_window or _fixed_window(args, series)) for series, folder in chosen]
    blocked = [folder for _, folder, _ in plans if folder.exists() and not folder.is_dir()]
    if blocked:
        raise ImageWriteError(blocked[0], "is a file; move it or choose another -o")
    targets = [folder / f"slice_{index + 1:04d}{suffix}" for series, folder, _ in plans for index in range(len(series))]
    existing = [target for target in targets if target.exists()]
    if existing and not (args.overwrite or args.skip_existing):
        raise ImageWriteError(existing[0], f"already exists ({len(existing)} of the outputs do); pass "
                                           "--skip-existing to keep them (finishing a stopped export), --overwrite "
                                           "to replace them, or choose another folder")
    finished = args.skip_existing and len(existing) == len(targets)
    _make_folders([folder for _, folder, _ in plans], probe=not finished)  # a finished export's folder may be locked
    tally = Tally()
    try:
        for series, folder, window in plans:
            _export_series(args, series, folder, window, steps, suffix, tally)
    except KeyboardInterrupt:
        print(f"{stopped_word()}: {tally.told(len(targets), 'slices', args.output)}; "
              f"{finish_advice(args.overwrite, 'slices')}", file=sys.stderr)
        return stop_status()
    return 1 if tally.failed else 0


def _make_folders(folders: list[Path], *, probe: bool = True) -> None:
    """Make every output folder before any slice is written (and, with ``probe``, check that it can be written in);
    a refusal removes the folders made before it.

    Raises
    ------
    ParameterError
        A folder cannot be made (no permission, a file in its path) or written in; the message names it.
    """
    created: list[Path] = []
    try:
        for folder in folders:
            created = make_output_folder(folder, "slices", probe=probe) + created
    except ParameterError:
        remove_empty_folders(created)
        raise


def _export_series(args: argparse.Namespace, series: DicomSeries, folder: Path, window: Window | None,
                   steps: tuple[StackItem, ...], suffix: str, tally: Tally) -> None:
    """Write the slices of ``series`` into ``folder``, counting those written, kept and failed (each reported)."""
    from enhance_core.medical.export import export_slice
    from enhance_core.medical.windows import header_window

    before = dataclasses.replace(tally)
    for index in range(len(series)):
        target = folder / f"slice_{index + 1:04d}{suffix}"
        if args.skip_existing and target.exists():
            tally.count("kept")
            continue
        report_progress(index + 1, len(series), target.name, verb="writing")
        try:
            image = series.read_slice(index)
            shown = None if args.full_range else window or header_window(image)
            export_slice(image, target, window=shown, steps=steps, quality=args.quality,
                         include_patient_data=args.include_patient_data)
        except EnhanceError as error:
            tally.count("failed")
            report_failure(series.slices[index].path, error)
            continue
        tally.count("written")
    kept = tally.kept - before.kept
    already = f", {kept} already there, kept" if kept else ""
    print(f"wrote {tally.written - before.written} of {len(series)} slices to {folder} "
          f"({series.modality or 'DICOM'}, ordered by {series.order}{already})", file=sys.stdout)
    if series.size_note():
        print(f"note: {series.size_note()}", file=sys.stderr)
