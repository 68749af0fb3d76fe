"""The batch report against references: CSV, metric histograms, best/worst sheets, flags.

Written into one folder by :func:`write_report`:

* ``report.csv``: per input file the output, the reference, PSNR (dB), SSIM,
  MSE, whether it is flagged, and any note or error;
* ``metric_histograms.png``: one histogram panel per metric (drawn with
  OpenCV, no plotting library needed);
* ``best.png`` and ``worst.png``: rows of input | result | reference
  thumbnails of the images with the highest and lowest SSIM;
* ``flagged.txt``: the images under the PSNR or SSIM threshold, one per line;
* ``failures.txt``: the failed files grouped by cause (:func:`failure_causes`).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from enhance_core.atomic import write_bytes_atomic
from enhance_core.batch import THUMBNAIL_SIZE, FileResult, FileTask, make_thumbnail, read_files
from enhance_core.errors import EnhanceError, ImageWriteError, ParameterError
from enhance_core.io import read_image

METRICS = (("psnr", "PSNR (dB)"), ("ssim", "SSIM"), ("mse", "MSE"))
MIN_PSNR = 30.0
"""PSNR (dB) under which the report flags a result, unless told otherwise (``apply --min-psnr``)."""
MIN_SSIM = 0.9
"""SSIM under which the report flags a result, unless told otherwise (``apply --min-ssim``)."""
NO_REFERENCE = "no reference of this name in the reference folder: not scored"
"""The report's note for a file the reference folder has no same-stem file for."""
CSV_HEADER = ("file", "output", "reference", "psnr_db", "ssim", "mse", "flagged", "note", "error")
"""The columns of ``report.csv``."""
REPORT_FILES = ("report.csv", "metric_histograms.png", "best.png", "worst.png", "flagged.txt", "failures.txt")
"""The files :func:`write_report` writes into its folder."""
_PANEL = (300, 420)
_BINS = 20
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_INK = (40, 40, 40)
_BAR = (180, 110, 40)
_PATH = re.compile(r"""(?:[A-Za-z]:)?[^\s'"]*[/\\](?:[^\s'"]*[^\s'":])?""")
"""A path in an error message (anything with a slash, but the colon after it), replaced by ``<file>`` to group
messages by cause."""
_NUMBER = re.compile(r"\d[\d,]*\d")
"""A number of two digits or more (a byte count, an offset, a size), written ``N`` to group messages by cause."""
_BYTES = re.compile(r"(?<=first bytes: )[0-9a-f]{2}(?: [0-9a-f]{2})*")
"""The first bytes an unrecognised file shows, written ``B`` to group messages by cause (damaged files differ)."""


@dataclass
class ReportSummary:
    """What the report holds: scored and flagged files and the files written."""

    scored: int
    flagged: list[Path]
    files: list[Path]


def is_flagged(result: FileResult, *, min_psnr: float, min_ssim: float) -> bool:
    """Whether a scored result is under either threshold."""
    metrics = result.metrics
    return metrics is not None and (metrics["psnr"] < min_psnr or metrics["ssim"] < min_ssim)


def _scores(result: FileResult) -> dict[str, float]:
    """The metrics of a scored result (ranking, histograms and sheets take only scored results)."""
    if result.metrics is None:
        raise ValueError(f"{result.source} has no metrics; only scored results are ranked and drawn")
    return result.metrics


def check_report_folder(folder: Path, tasks: Sequence[FileTask]) -> None:
    """Refuse a report ``folder`` where a report file would replace a file the batch reads or writes.

    Raises
    ------
    ParameterError
        The folder cannot be made (a file stands in its way); a report file's path is an input, mask,
        reference or output of ``tasks``; or the folder holds a file of a report's name that no earlier
        report wrote.
    """
    blocking = next((place for place in (folder, *folder.parents) if place.exists()), None)
    if blocking is not None and not blocking.is_dir():
        raise ParameterError(f"the report folder {folder} cannot be made: {blocking} is a file; choose another "
                             "--report-dir")
    kept = read_files(tasks) | {task.output.resolve(): ("output", task.output) for task in tasks}
    for name in REPORT_FILES:
        if (folder / name).resolve() in kept:
            what, path = kept[(folder / name).resolve()]
            raise ParameterError(f"the report's {name} in {folder} would overwrite the {what} {path}; choose another "
                                 "--report-dir")
    others = [name for name in REPORT_FILES if (folder / name).exists()]
    if others and not _holds_a_report(folder):
        raise ParameterError(f"{folder} holds {others[0]}, which no earlier report wrote (no report.csv of one "
                             "beside it), and the report would replace it; choose another --report-dir")


def _holds_a_report(folder: Path) -> bool:
    """Whether ``folder`` holds a report an earlier batch wrote (its ``report.csv`` starts with the report's header)."""
    try:
        with open(folder / REPORT_FILES[0], encoding="utf-8", errors="surrogateescape") as handle:  # names' bytes
            return handle.readline().strip() == ",".join(CSV_HEADER)
    except (OSError, UnicodeDecodeError):
        return False


def write_report(results: Sequence[FileResult], folder: Path, *, min_psnr: float = MIN_PSNR,
                 min_ssim: float = MIN_SSIM, count: int = 6) -> ReportSummary:
    """Write the report files into ``folder`` (created if needed) and return a summary."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ImageWriteError(folder, f"cannot create the report folder ({error.strerror or error})") from None
    scored = [r for r in results if r.metrics is not None]
    flagged = [r.source for r in scored if is_flagged(r, min_psnr=min_psnr, min_ssim=min_ssim)]
    csv_name, histograms_name, best_name, worst_name, flagged_name, failures_name = REPORT_FILES
    files = [_write_csv(results, folder / csv_name, min_psnr=min_psnr, min_ssim=min_ssim),
             _write_png(draw_histograms(scored), folder / histograms_name)]
    ranked = sorted(scored, key=lambda r: (_scores(r)["ssim"], _scores(r)["psnr"]))
    if ranked:
        best, worst = [_with_thumbnails(r) for r in ranked[::-1][:count]], [_with_thumbnails(r) for r in ranked[:count]]
        files.append(_write_png(draw_sheet(best, "best (highest SSIM)"), folder / best_name))
        files.append(_write_png(draw_sheet(worst, "worst (lowest SSIM)"), folder / worst_name))
    files.append(_write(folder / flagged_name, _text_bytes("".join(f"{path}\n" for path in flagged))))
    files.append(_write(folder / failures_name, _text_bytes(format_failures(results))))
    return ReportSummary(len(scored), flagged, files)


def _with_thumbnails(result: FileResult) -> FileResult:
    """``result`` with thumbnails of its input, output and reference, read from disk when it has none (a file an
    earlier run did, scored then); a file that cannot be read leaves its cells blank."""
    if result.thumbnails or result.output is None or result.reference is None:
        return result
    try:
        thumbnails = tuple(make_thumbnail(read_image(path).pixels)
                           for path in (result.source, result.output, result.reference))
    except EnhanceError:
        return result
    return dataclasses.replace(result, thumbnails=thumbnails)


def failure_causes(results: Sequence[FileResult]) -> list[tuple[str, list[Path]]]:
    """The failed files grouped by cause, the most frequent first.

    The cause is the error without the file's name and with any other path
    written ``<file>``, so "a.png: not a PNG" and "b.png: not a PNG" group;
    so do messages about "out/Summer 2019/a b.png", a path made from a
    source's folder and name with spaces. Messages that differ only in
    numbers of two digits or more, or in the first bytes of files of no
    known format, group too (truncated or damaged files): the cause is the
    first file's message, which says when those differ from file to file.
    """
    groups: dict[str, tuple[str, set[str], list[Path]]] = {}
    for result in results:
        if result.error is None:
            continue
        message = result.error.replace(str(result.source), "<file>")
        for part in sorted({*result.source.parent.parts, result.source.stem}, key=len, reverse=True):
            if any(character.isspace() for character in part):
                message = re.sub(rf"(?<=[/\\]){re.escape(part)}(?=[/\\.\s-]|$)", "name", message)
        message = _PATH.sub("<file>", message).removeprefix("<file>: ")
        first, variants, sources = groups.setdefault(_NUMBER.sub("N", _BYTES.sub("B", message)),
                                                     (message, set(), []))
        variants.add(message)
        sources.append(result.source)
    causes = [(first + _differing(variants), sources) for first, variants, sources in groups.values()]
    return sorted(causes, key=lambda item: (-len(item[1]), item[0]))


def _differing(variants: set[str]) -> str:
    """What differs from file to file among the messages ``variants`` of one cause ('' when they are one)."""
    numbers = len({_BYTES.sub("B", variant) for variant in variants}) > 1
    first_bytes = len({match[0] if (match := _BYTES.search(variant)) else "" for variant in variants}) > 1
    differ = " and ".join(what for what, differs in (("numbers", numbers), ("first bytes", first_bytes)) if differs)
    return f" (the {differ} differ from file to file)" if differ else ""


def format_failures(results: Sequence[FileResult], *, examples: int = 3) -> str:
    """Lines ``count  cause`` with a few of the files, one block per cause ('' when nothing failed)."""
    lines = []
    for cause, sources in failure_causes(results):
        lines.append(f"{len(sources):6d}  {cause}")
        lines.extend(f"        {source}" for source in sources[:examples])
        if len(sources) > examples:
            lines.append(f"        ... and {len(sources) - examples} more")
    return "".join(f"{line}\n" for line in lines)


def _write_csv(results: Sequence[FileResult], path: Path, *, min_psnr: float, min_ssim: float) -> Path:
    """One row per input file."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(CSV_HEADER)
    for r in results:
        m = r.metrics or {}
        note = r.note or (NO_REFERENCE if r.reference is None and r.error is None else "")
        writer.writerow([r.source, r.output or "", r.reference or "",
                         _number(m.get("psnr")), _number(m.get("ssim")), _number(m.get("mse")),
                         "yes" if is_flagged(r, min_psnr=min_psnr, min_ssim=min_ssim) else "",
                         note, r.error or ""])
    return _write(path, _text_bytes(text.getvalue()))


def _number(value: float | None) -> str:
    """CSV text of a metric ('' when missing, 'inf' for identical images)."""
    if value is None:
        return ""
    return "inf" if math.isinf(value) else f"{value:.6g}"


def _write_png(canvas: np.ndarray, path: Path) -> Path:
    """Write an RGB uint8 canvas as PNG."""
    ok, data = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ImageWriteError(path, "could not encode the report image")
    return _write(path, data.tobytes())


def _text_bytes(text: str) -> bytes:
    """``text`` as UTF-8; a file name in it that is not UTF-8 (its bytes held as surrogate escapes) as those bytes."""
    return text.encode("utf-8", "surrogateescape")


def _write(path: Path, data: bytes) -> Path:
    """Write one report file atomically; an OS error becomes an :class:`ImageWriteError` naming it."""
    try:
        return write_bytes_atomic(path, data)
    except OSError as error:
        raise ImageWriteError(path, f"could not write the report file ({error.strerror or error})") from None


def draw_histograms(scored: Sequence[FileResult]) -> np.ndarray:
    """One histogram panel per metric, side by side (RGB uint8)."""
    panels = []
    for key, label in METRICS:
        values = np.array([_scores(r)[key] for r in scored], dtype=np.float64) if scored else np.zeros(0)
        finite = values[np.isfinite(values)]
        extra = f", {values.size - finite.size} identical" if values.size > finite.size else ""
        panels.append(draw_histogram(finite, f"{label}  (n={finite.size}{extra})"))
    return np.concatenate(panels, axis=1)


def draw_histogram(values: np.ndarray, title: str) -> np.ndarray:
    """A histogram panel with a title, bars, and min/max ticks (RGB uint8)."""
    height, width = _PANEL
    canvas = np.full((height, width, 3), 255, np.uint8)
    cv2.putText(canvas, title, (12, 24), _FONT, 0.5, _INK, 1, cv2.LINE_AA)
    left, right, top, bottom = 40, width - 15, 40, height - 40
    cv2.line(canvas, (left, bottom), (right, bottom), _INK, 1)
    cv2.line(canvas, (left, top), (left, bottom), _INK, 1)
    if values.size == 0:
        cv2.putText(canvas, "no scored images", (left + 20, (top + bottom) // 2), _FONT, 0.5, _INK, 1, cv2.LINE_AA)
        return canvas
    low, high = float(values.min()), float(values.max())
    if high <= low:
        low, high = low - 0.5 * max(abs(low), 1e-3), high + 0.5 * max(abs(high), 1e-3)
    counts, _ = np.histogram(values, bins=_BINS, range=(low, high))
    bar = (right - left) / _BINS
    for i, n in enumerate(counts):
        x0, x1 = int(left + i * bar) + 1, int(left + (i + 1) * bar) - 1
        y = int(bottom - (bottom - top) * n / counts.max())
        if n:
            cv2.rectangle(canvas, (x0, y), (x1, bottom - 1), _BAR, -1)
    cv2.putText(canvas, str(int(counts.max())), (6, top + 10), _FONT, 0.4, _INK, 1, cv2.LINE_AA)
    cv2.putText(canvas, f"{low:.4g}", (left - 10, bottom + 18), _FONT, 0.4, _INK, 1, cv2.LINE_AA)
    cv2.putText(canvas, f"{high:.4g}", (right - 50, bottom + 18), _FONT, 0.4, _INK, 1, cv2.LINE_AA)
    return canvas


def draw_sheet(results: Sequence[FileResult], title: str) -> np.ndarray:
    """Rows of input | result | reference thumbnails, each labelled with file and scores (RGB uint8)."""
    cell, label_height, pad = THUMBNAIL_SIZE, 22, 8
    width = 3 * cell + 4 * pad
    header = np.full((48, width, 3), 255, np.uint8)
    cv2.putText(header, title, (pad, 20), _FONT, 0.55, _INK, 1, cv2.LINE_AA)
    for column, name in enumerate(("input", "result", "reference")):
        cv2.putText(header, name, (pad + column * (cell + pad), 42), _FONT, 0.45, _INK, 1, cv2.LINE_AA)
    rows = [header]
    for r in results:
        row = np.full((label_height + cell + pad, width, 3), 255, np.uint8)
        m = _scores(r)
        # OpenCV's font draws ASCII only, and a name that is not UTF-8 (surrogate escapes) crashed it
        name = r.source.name.encode("ascii", "replace").decode("ascii")
        text = f"{name[:40]}  PSNR {m['psnr']:.2f} dB  SSIM {m['ssim']:.4f}"
        cv2.putText(row, text, (pad, 16), _FONT, 0.42, _INK, 1, cv2.LINE_AA)
        for column, thumb in enumerate(r.thumbnails[:3]):
            x = pad + column * (cell + pad)
            row[label_height:label_height + thumb.shape[0], x:x + thumb.shape[1]] = thumb
        rows.append(row)
    return np.concatenate(rows, axis=0)
