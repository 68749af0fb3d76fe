"""``enhance-studio roi-stats FILE... --roi SHAPE:LEFT,TOP,RIGHT,BOTTOM``: ROI statistics as CSV, for QA.

For each DICOM file (or each slice of a series folder) and each ``--roi``,
one CSV row: the pixel count, mean, standard deviation, minimum and maximum of
the source values inside (HU for CT; :mod:`enhance_core.medical.roi`) and the
area in mm² from ``PixelSpacing``; with ``--recipe``, the same statistics
after the recipe's steps (:func:`~enhance_core.medical.roi.stack_values`: steps
after a window step measured on the picture shown, mapped back through the
window, ``clipped_after`` counting the pixels those steps took to black or white), so a batch shows
what a denoise or contrast recipe did to tissue values. The ROI is given in
source pixels, the box of a rectangle or of the ellipse inscribed in it.

A folder is searched with its subfolders, as ``dicom-export`` does (see
:func:`~enhance_core.medical.study.choose_series`): a slice found twice is
measured once and the copy named on stderr, a DICOM image file whose header
cannot be read stops with its name (so does a multi-frame file, given or found,
whose pixel data cannot hold the frames its header claims), one whose pixels
are damaged is named and left out of the table (the command then ends with
status 1), and a study folder of several series
needs ``--series UID`` or ``--all-series``. With ``--all-series`` a first
column, ``series``, names each row's series as ``dicom-export --all-series``
names its folders: ``series_NNN_MODALITY``, the SeriesDescription (which may
name a person) added only with ``--include-patient-data``. Files given
directly are measured whatever the series options say.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, NamedTuple

from enhance_core.cli.arguments import path_argument, value_argument
from enhance_core.errors import DecompressionBomb, ImageReadError, MissingDecoder, ParameterError, UnsupportedFormat

if TYPE_CHECKING:
    from enhance_core.image import Image
    from enhance_core.medical.roi import Roi, RoiShape
    from enhance_core.medical.series import DicomSeries


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``roi-stats`` subcommand."""
    parser = subparsers.add_parser(
        "roi-stats", help="CSV of ROI mean, SD, min, max and area on DICOM files (before and after a recipe)",
        description="Measure rectangle or ellipse ROIs on DICOM files, series or study folders and print CSV: count, "
                    "area in mm², mean, SD, min and max of the source values (HU for CT), and with --recipe the "
                    "same after the recipe.",
    )
    parser.add_argument("inputs", nargs="+", type=path_argument, metavar="FILE",
                        help="DICOM files or series folders (subfolders searched, so a study folder works)")
    parser.add_argument("--roi", action="append", required=True, metavar="SHAPE:LEFT,TOP,RIGHT,BOTTOM",
                        help="rect or ellipse and its box in source pixels, e.g. ellipse:40,50,80,90 (repeatable)")
    parser.add_argument("--recipe", type=path_argument,
                        help="also measure after this recipe's steps (steps after its window measured on the picture "
                             "shown, in HU)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--series", type=value_argument, metavar="UID",
                       help="SeriesInstanceUID to measure when a folder holds several")
    which.add_argument("--all-series", action="store_true",
                       help="measure every series of each folder, named in a first column, series "
                            "(series_NNN_MODALITY)")
    parser.add_argument("--include-patient-data", action="store_true",
                        help="with --all-series, add the SeriesDescription (which may name a person) to the "
                             "series column")
    parser.add_argument("-o", "--output", type=path_argument, help="write the CSV here instead of printing it")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing -o file")
    parser.set_defaults(run=run)


def parse_roi(text: str) -> Roi:
    """An ROI from ``rect:L,T,R,B`` or ``ellipse:L,T,R,B``; :class:`ParameterError` says what is wrong."""
    from enhance_core.medical.roi import Roi

    shape, _, box = text.partition(":")
    shapes: dict[str, RoiShape] = {"rect": "rectangle", "rectangle": "rectangle", "ellipse": "ellipse"}
    if shape.lower() not in shapes:
        raise ParameterError(f"--roi {text!r}: the shape must be rect or ellipse, e.g. ellipse:40,50,80,90")
    try:
        left, top, right, bottom = (float(value) for value in box.split(","))
    except ValueError:
        raise ParameterError(f"--roi {text!r}: give the box as four numbers LEFT,TOP,RIGHT,BOTTOM in source "
                             "pixels, e.g. rect:40,50,80,90") from None
    if not all(math.isfinite(value) for value in (left, top, right, bottom)):
        raise ParameterError(f"--roi {text!r}: the box needs finite numbers LEFT,TOP,RIGHT,BOTTOM")
    roi = Roi(shapes[shape.lower()], left, top, right, bottom).normalized()
    if roi.right - roi.left <= 0 or roi.bottom - roi.top <= 0:
        raise ParameterError(f"--roi {text!r}: the box is empty; RIGHT must differ from LEFT and BOTTOM from TOP")
    return roi


class _Slice(NamedTuple):
    """One image to measure: the name its rows carry (``#frame`` past the first), its series' name, the image."""

    name: str
    series: str
    image: Image


def _series(path: Path, args: argparse.Namespace) -> list[DicomSeries]:
    """The series of one input: a file's frames, or the series of a folder and its subfolders that the options pick.

    Copies of a slice are measured once, each copy left out named on stderr with the file kept.
    """
    from enhance_core.medical.series import scan_series, series_from_file
    from enhance_core.medical.study import choose_series

    if not path.exists():
        raise ImageReadError(path, "does not exist; give a DICOM file or a folder of them")
    if not path.is_dir():
        return [series_from_file(path)]
    scan = scan_series(path, recursive=True)
    chosen = choose_series(scan, series_uid=args.series, all_series=args.all_series, verb="measure",
                           past="measured")
    for note in scan.duplicate_notes():
        print(f"warning: {note}", file=sys.stderr, flush=True)
    return chosen


def _images(args: argparse.Namespace, damaged: list[str]) -> Iterator[_Slice]:
    """Each slice of each input, every input's series chosen (and its unreadable headers refused) before any is
    read; a slice whose pixels turn out damaged is named on stderr, added to ``damaged`` and left out."""
    from enhance_core.medical.study import export_folder_names

    inputs = [_series(path, args) for path in args.inputs]
    if args.output is not None and args.output.exists():
        from enhance_core.io import same_file

        for found in inputs:
            for series in found:
                if any(same_file(item.path, args.output) for item in series.slices):
                    raise ParameterError(f"-o {args.output} is one of the DICOM files measured; roi-stats never "
                                         "writes over its input: give the CSV another name")
    measured: set[tuple[Path, int]] = set()
    for path, found in zip(args.inputs, inputs):
        names = export_folder_names(found, with_titles=args.include_patient_data)
        again = 0
        for series, series_name in zip(found, names):
            for index, item in enumerate(series.slices):
                key = (item.path.resolve(), item.frame)
                if key in measured:
                    again += 1
                    continue
                measured.add(key)
                name = str(item.path) + (f"#{item.frame}" if item.frame else "")
                try:
                    image = series.read_slice(index)
                except (UnsupportedFormat, DecompressionBomb, MissingDecoder):
                    raise  # not damage: every slice would fail alike, and the message says what to do
                except ImageReadError as error:
                    damaged.append(name)
                    print(f"warning: {error}; left out of the table", file=sys.stderr, flush=True)
                    continue
                yield _Slice(name, series_name, image)
        if again:
            print(f"warning: {again} image(s) of {path} were measured already (given twice); measured once",
                  file=sys.stderr, flush=True)


def _check_output(args: argparse.Namespace) -> None:
    """Refuse an ``-o`` that is a folder, or an existing file without ``--overwrite``."""
    if args.output.is_dir():
        raise ParameterError(f"-o {args.output} is a folder; give the CSV file's name")
    if args.output.exists() and not args.overwrite:
        raise ParameterError(f"{args.output} already exists; pass --overwrite to replace it or choose another -o")


def run(args: argparse.Namespace) -> int:
    """Measure every ROI on every image and write the CSV."""
    from enhance_core.atomic import write_text_atomic
    from enhance_core.cli.recipes import read_recipe
    from enhance_core.medical.roi import (RoiRecord, pixel_spacing, roi_stats, roi_stats_csv, roi_unit, source_values,
                                          stack_values)

    rois = [(text, parse_roi(text)) for text in args.roi]
    if args.output is not None:
        _check_output(args)
    steps = read_recipe(args.recipe) if args.recipe is not None else None
    rows: list[RoiRecord] = []
    clipped: set[tuple[str, int, int]] = set()
    damaged: list[str] = []
    for name, series, image in _images(args, damaged):
        spacing = pixel_spacing(image.meta.dicom)
        values = source_values(image)
        after_values = stack_values(image, steps) if steps is not None else None
        for text, roi in rois:
            stats = roi_stats(values, roi, spacing=spacing, unit=roi_unit(image))
            if stats is None:
                raise ParameterError(f"--roi {text!r} holds no pixel of {name} ({image.cols}x{image.rows}); "
                                     "give a box inside the image")
            box = roi.normalized()
            outside = (box.left <= -0.5 or box.top <= -0.5 or box.right >= image.cols + 0.5
                       or box.bottom >= image.rows + 0.5)
            if outside and (text, image.cols, image.rows) not in clipped:
                clipped.add((text, image.cols, image.rows))
                print(f"note: --roi {text!r} reaches outside the {image.cols}x{image.rows} image {name}: only the "
                      f"{stats.count} pixel(s) inside are measured", file=sys.stderr)
            after = None if after_values is None else roi_stats(after_values, roi, spacing=spacing,
                                                                unit=roi_unit(image))
            rows.append(RoiRecord(name, text, stats, after, series))
    table = roi_stats_csv(rows, with_after=steps is not None, with_series=args.all_series)
    left_out = (f"; {len(damaged)} damaged image(s) left out ({damaged[0]}"
                f"{' and more' if len(damaged) > 1 else ''}): re-copy them and run again") if damaged else ""
    if args.output is None:
        sys.stdout.write(table)
        if left_out:
            print(f"measured {len(rows)} row(s){left_out}", file=sys.stderr)
        return 1 if damaged else 0
    _check_output(args)
    try:
        write_text_atomic(args.output, table)
    except OSError as error:
        raise ParameterError(f"cannot write {args.output} ({error.strerror or error}); choose another -o") from None
    print(f"wrote {len(rows)} row(s) to {args.output}{left_out}", file=sys.stderr)
    return 1 if damaged else 0
