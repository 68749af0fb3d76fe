"""The export dialog: file, format, bit depth, quality, output size, and for JPEG a live size/PSNR/SSIM estimate.

Opening the dialog starts the full-resolution render (progress in the status
bar; a result the document's shared full-resolution results already hold,
from the exact metrics or an earlier export of the same stack, is taken from
there); the estimate runs on that render whenever the quality changes, latest
request wins; Export writes the same render, so what was estimated is what
gets written.

For a DICOM source two more options show: *Include patient data* (off by
default: the file's description then carries no patient, study or
institution fields) and, for PNG and TIFF, *Full-range 16-bit values*, which
writes the slice's unedited values (``HU + 32768`` for CT) instead of the
rendered stack. A DICOM source exports to 16-bit PNG by default (lossless,
where a JPEG would lose detail of a diagnostic image).

The *Size* group (:mod:`app.export_size_box`) resizes the result after the
stack (long edge, percentage or megapixels) and sharpens it for output; the
estimate and the write both use the resized result. The full-range export
writes the slice's own values at their own size.
"""

from __future__ import annotations

import os
import time
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import shiboken6

from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QSlider, QVBoxLayout, QWidget)

from app.bundled import RESOURCES
from app.document import Document
from app.error_reporter import ErrorReporter
from app.export_jobs import (JpegEstimate, SizedResults, estimate_jpeg, render_full, series_targets,
                             write_dicom_result, write_full_range, write_result, write_series)
from app.export_size_box import OutputSizeBox
from app.metrics_panel import format_score
from app.number_entries import WholeSpinBox
from app.settings import EditorSettings
from app.workers import JobFailure, JobRunner
from enhance_core.errors import EnhanceError, ImageWriteError, ParameterError
from enhance_core.export_size import OutputSize
from enhance_core.image import Image, Window
from enhance_core.io import BIT_DEPTHS, default_bit_depth, holds_location, same_file, write_losses
from enhance_core.io.writer import DEFAULT_QUALITY, clipping_loss
from enhance_core.medical.series import DicomSeries
from enhance_core.medical.windows import stack_window
from enhance_core.paths import exists, is_dir, is_file, read_only

FULL_RANGE_FORMATS = ("PNG", "TIFF")
FORMATS = (("JPEG", ".jpg"), ("PNG", ".png"), ("TIFF", ".tif"), ("WEBP", ".webp"), ("BMP", ".bmp"))
_SUFFIX_FORMATS = {suffix: name for name, suffix in FORMATS} | {".jpeg": "JPEG", ".tiff": "TIFF"}
"""The format each suffix an export may end in asks for."""
LOSSY = ("JPEG", "WEBP")
WITH_ALPHA = ("PNG", "TIFF", "WEBP")
"""Formats that keep transparency (JPEG and BMP composite it over white)."""
NO_RESOLUTION = ("WEBP",)
"""Formats whose files the export writes without the source's dots per inch."""


def free_path(path: Path) -> Path:
    """``path``, or the first of ``<stem>-2<suffix>``, ``<stem>-3<suffix>``... that no file has."""
    candidate, count = path, 1
    while candidate.exists():
        count += 1
        candidate = path.with_name(f"{path.stem}-{count}{path.suffix}")
    return candidate


def format_bytes(count: float) -> str:
    """A file size in B, kB or MB."""
    if count < 1000:
        return f"{count:.0f} B"
    if count < 1_000_000:
        return f"{count / 1000:.0f} kB"
    return f"{count / 1_000_000:.1f} MB"


class ExportDialog(QDialog):
    """Exports the document's result; the lanes belong to the window so status and shutdown see them."""

    def __init__(self, document: Document, settings: EditorSettings, reporter: ErrorReporter,
                 render_lane: JobRunner, estimate_lane: JobRunner, parent: QWidget | None = None, *,
                 device: str | None = None, series: DicomSeries | None = None,
                 named_windows: Sequence[Window] = ()) -> None:
        super().__init__(parent)
        self.named_windows = tuple(named_windows)
        """Windows a DICOM export's window step is named after when it repeats one (:func:`known_windows`)."""
        if document.source is None:
            raise ValueError("there is no image to export")
        self.source: Image = document.source
        self.setWindowTitle("Export")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.document, self.settings, self.reporter = document, settings, reporter
        self.render_lane, self.estimate_lane = render_lane, estimate_lane
        self.rendered: Image | None = None
        self._clipping: dict[tuple[str, int | None], str] = {}
        """What each format and depth clip of the render (:meth:`_clipped`)."""
        self.sized_results = SizedResults()
        self.written: Path | None = None
        self._write_when_ready = False
        self._rendering = False
        self._writing = False
        self._series_job: tuple[list[Path], float] | None = None
        """The files of a series export running, and when it started."""
        self._confirmed: Path | None = None
        self._series_confirmed: Path | None = None
        """The name whose series files the user agreed to replace."""
        """The existing file the user agreed to replace (asked once, also while the render finishes)."""
        self.is_dicom = self.source.meta.dicom is not None
        alpha = self.source.alpha
        self.has_transparency = alpha is not None and float(alpha.min()) < 1.0
        self.path = QLineEdit(str(self._default_path()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.format = QComboBox()
        for name, suffix in FORMATS:
            self.format.addItem(name, suffix)
        self.bit_depth = QComboBox()
        self.quality = QSlider(Qt.Orientation.Horizontal)
        self.quality.setRange(1, 100)
        self.quality_entry = WholeSpinBox()
        self.quality_entry.setRange(1, 100)
        self.path.setAccessibleName("File")
        for part in (self.quality, self.quality_entry):  # their label names a row, not them: a screen reader said none
            part.setAccessibleName("Quality")
        self.offered_quality = self._quality_for("WEBP" if self.source.meta.extra.get("webp_lossless") else "JPEG")
        self.quality.setValue(self.offered_quality)
        self.quality_entry.setValue(self.quality.value())
        self.steps = document.stack.snapshot()
        self.patient_data = QCheckBox("Include patient data")
        self.patient_data.setToolTip("Add the patient, study, institution and UID fields of the DICOM header to "
                                     "the file's description; off, the exported file is de-identified")
        hu = self.source.meta.unit == "HU"
        codes = "" if not hu else " (HU + 32768)" if self.source.meta.value_scale >= 0 else " (32767 - HU)"
        self.full_range = QCheckBox(f"Full-range 16-bit values{codes}")  # a MONOCHROME1 CT's codes run the other way
        self.full_range.setToolTip("Write the slice's unedited values in 16 bits instead of the edited picture "
                                   "(PNG and TIFF); the mapping to physical units is in the file's description")
        self.series = series if series is not None and len(series) > 1 else None
        self.device = device
        self.all_slices = QCheckBox(f"All {len(self.series)} slices of the series" if self.series else "")
        self.all_slices.setToolTip("Write every slice of the series through the same filter stack (or its unedited "
                                   "values), into files named like the one given with _0001, _0002... added")
        self.offers_location = not self.is_dicom and holds_location(self.source.meta)
        self.strip_location = QCheckBox("Leave out where it was taken (GPS, place names)")
        self.strip_location.setToolTip("The picture's metadata says where it was taken: leave it out of the exported "
                                       "file (EXIF GPS data, XMP GPS properties, and the city, street and country "
                                       "of IPTC and XMP) before sharing it")
        self.strip_location.setChecked(self.settings.value("export/strip_location", False, bool))
        self.size_box = OutputSizeBox(self.source.rows, self.source.cols)
        self.estimate = QLabel("Rendering the full-resolution result…")
        self.estimate.setWordWrap(True)
        self.transparency = QLabel()
        self.transparency.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self._layout(browse)
        self.format.currentIndexChanged.connect(self._on_format)
        self.bit_depth.activated.connect(self._request_estimate)  # a float TIFF at 16 bits clips, at 32 not
        self.path.editingFinished.connect(self._sync_format_to_path)
        self.quality.valueChanged.connect(self.quality_entry.setValue)
        self.quality_entry.valueChanged.connect(self.quality.setValue)
        self.quality.valueChanged.connect(self._request_estimate)
        self.full_range.toggled.connect(self._on_format)
        self.size_box.changed.connect(self._request_estimate)
        self.buttons.accepted.connect(self.export)
        self.buttons.rejected.connect(self.reject)
        self._sync_format_to_path()
        render_lane.cancelled.connect(self._on_stopped)
        self._start_render()

    def _start_render(self) -> None:
        """Render the stack at full resolution for the export (again after a stop)."""
        self._rendering = True
        self.estimate.setText("Rendering the full-resolution result…")
        self.render_lane.submit(partial(render_full, self.source, self.steps, self.device,
                                        results=self.document.full_results),
                                on_done=self._on_rendered, on_failed=self._on_failed, label="Rendering for export")

    def _layout(self, browse: QPushButton) -> None:
        file_row = QHBoxLayout()
        file_row.addWidget(self.path, 1)
        file_row.addWidget(browse)
        quality_row = QHBoxLayout()
        quality_row.addWidget(self.quality, 1)
        quality_row.addWidget(self.quality_entry)
        form = QFormLayout()
        form.addRow("File", file_row)
        form.addRow("Format", self.format)
        form.addRow("Bit depth", self.bit_depth)
        form.addRow("Quality", quality_row)
        dicom_box = QWidget()
        dicom_row = QVBoxLayout(dicom_box)
        dicom_row.setContentsMargins(0, 0, 0, 0)
        dicom_row.addWidget(self.patient_data)
        dicom_row.addWidget(self.full_range)
        dicom_row.addWidget(self.all_slices)
        self.all_slices.setVisible(self.series is not None)
        dicom_box.setVisible(self.is_dicom)
        form.addRow("DICOM" if self.is_dicom else "", dicom_box)
        form.addRow("Location", self.strip_location)
        form.setRowVisible(self.strip_location, self.offers_location)
        form.addRow(self.size_box)
        form.addRow("Transparency", self.transparency)
        form.setRowVisible(self.transparency, self.has_transparency)
        form.addRow("Estimate", self.estimate)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.resize(560, 360)

    def _default_path(self) -> Path:
        """``<name>_edited.<ext>`` beside the source (or in the last export folder), in a name no file has yet.

        ``.png`` for DICOM (lossless); a TIFF or PNG source keeps its lossless
        format (and its depth: an archive's master is not turned into a JPEG
        by default), a lossless WebP too (at quality 100, lossless); a BMP, or any
        other source with transparency, gets PNG (lossless, and it keeps
        transparency); any other source gets JPEG.
        ``-2``, ``-3``... are added while the name is taken. A folder this user
        cannot write (a card, a shared folder), or the program's own folder of
        the bundled sample, gives way to the Pictures folder, or the home folder
        when there is none.
        """
        source = self.document.source_path or Path.home() / "image.png"
        folder = self.settings.last_folder("export") or str(source.parent)
        if not os.access(folder, os.W_OK) or Path(folder).resolve() == RESOURCES:
            pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
            folder = pictures if pictures and os.path.isdir(pictures) else str(Path.home())  # Qt names it if missing
        meta = self.source.meta
        if self.is_dicom:
            suffix = ".png"
        elif meta.format in ("TIFF", "PNG") or meta.extra.get("webp_lossless"):
            suffix = {"TIFF": ".tif", "PNG": ".png"}.get(meta.format, ".webp")
        else:
            suffix = ".png" if self.has_transparency or meta.format == "BMP" else ".jpg"
        return free_path(Path(folder) / f"{source.stem}_edited{suffix}")

    def _browse(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export as", self.path.text(),
                                              "Images (*.jpg *.jpeg *.png *.tif *.tiff *.webp *.bmp)",
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if name:
            self.path.setText(name)
            self._sync_format_to_path()

    def _sync_format_to_path(self) -> None:
        typed_text = self.path.text().strip()  # spaces alone are no name: Export asks for one
        name = Path(typed_text).name
        if name.rstrip(".") and name.endswith("."):  # "out." is "out", not "out..png"
            typed_text = typed_text.rstrip(".")
        if self.path.text() != typed_text:
            self.path.setText(typed_text)
        typed = Path(self.path.text()).expanduser()
        try:
            folder = typed.is_absolute() and is_dir(typed, partial(ImageWriteError, typed))
        except ImageWriteError:
            folder = False  # a name too long or a folder not entered: Export says why
        stem = (self.document.source_path or Path("image")).stem
        if folder:
            self.path.setText(str(free_path(typed / f"{stem}_edited{self.format.currentData()}")))
        elif typed.name.lower() in _SUFFIX_FORMATS:  # ".jpg" alone, a hidden file to the system: a format asked for
            self.path.setText(str(typed.with_name(f"{stem}_edited{typed.name.lower()}")))
        suffix = Path(self.path.text()).suffix.lower()
        if suffix in _SUFFIX_FORMATS:
            self.format.setCurrentText(_SUFFIX_FORMATS[suffix])
        self._on_format()

    def _default_depth(self, name: str) -> int:
        """The source's bit depth capped by format ``name``; at least 16 bits for DICOM where the format holds them."""
        depth = default_bit_depth(self.source.meta, name)
        return max(depth, 16) if self.is_dicom and 16 in BIT_DEPTHS[name] else depth

    def _quality_for(self, name: str) -> int:
        """The quality offered for format ``name``, as ``apply`` writes: 100 (lossless) for a lossless WebP source
        written as WebP, a JPEG source's own (as GIMP offers it), else the last one chosen."""
        if name == "WEBP" and self.source.meta.extra.get("webp_lossless"):
            return 100
        own = self.source.meta.extra.get("jpeg_quality")
        return int(own) if own is not None else self.settings.value("export/quality", DEFAULT_QUALITY, int)

    def _on_format(self) -> None:
        name, suffix = self.format.currentText(), self.format.currentData()
        offered = self._quality_for(name)
        if self.quality.value() == self.offered_quality:  # not moved by the user: follows the format
            self.quality.setValue(offered)
        self.offered_quality = offered
        path = Path(self.path.text())
        spellings = {"JPEG": (".jpeg",), "TIFF": (".tiff",)}.get(name, ())
        if path.name and path.suffix.lower() not in (suffix, *spellings):
            # another format's suffix is replaced; anything else stays in the name ("scan.v2", "out.xyz"), which the
            # format's is added to, so nothing typed is dropped unseen
            other = path.suffix.lower() in _SUFFIX_FORMATS
            self.path.setText(str(path.with_suffix(suffix) if other else path.with_name(path.name + suffix)))
        self.bit_depth.clear()
        for depth in BIT_DEPTHS[name]:
            self.bit_depth.addItem("32-bit float" if depth == 32 else f"{depth}-bit", depth)
        self.bit_depth.setCurrentIndex(BIT_DEPTHS[name].index(self._default_depth(name)))
        self.transparency.setText("kept" if name in WITH_ALPHA
                                  else f"{name} has none: transparent parts are made white")
        lossy = name in LOSSY
        self.quality.setEnabled(lossy)
        self.quality_entry.setEnabled(lossy)
        self.full_range.setEnabled(self.is_dicom and self.source.channels == 1 and name in FULL_RANGE_FORMATS)
        if self.writes_full_range():
            self.bit_depth.setCurrentIndex(BIT_DEPTHS[name].index(16))
        self.bit_depth.setEnabled(not self.writes_full_range())
        self.size_box.setEnabled(not self.writes_full_range())
        self.size_box.fix_size((self.source.rows, self.source.cols) if self.writes_full_range() else None,
                               "the slice's own: its values are written unedited")
        self._show_resolution()
        self._request_estimate()

    def writes_full_range(self) -> bool:
        """Whether Export writes the DICOM slice's unedited 16-bit values rather than the rendered result."""
        return self.full_range.isEnabled() and self.full_range.isChecked()

    def _request_estimate(self) -> None:
        if self.writes_full_range():
            self.estimate_lane.cancel()
            self.estimate.setText("Full range: the slice's unedited values in 16 bits, without the filter stack; "
                                  "the file's description gives physical = offset + scale × value.")
            return
        if self.format.currentText() != "JPEG":
            self.estimate_lane.cancel()
            clipped = self._clipped()
            if clipped:
                self.estimate.setText(f"Not lossless: {clipped}.")
            elif self.rendered is None and self.source.meta.float_source:  # values past 0..1 are yet to be seen
                self.estimate.setText("Checking which of the picture's values the format keeps…")
            else:
                self.estimate.setText("Lossless: the file keeps every value of the chosen bit depth."
                                      if self.format.currentText() != "WEBP" else "")
            return
        if self.rendered is None:
            return
        quality = self.quality.value()
        self.estimate.setText(f"Estimating JPEG at quality {quality}…")
        self.estimate_lane.submit(partial(estimate_jpeg, self.rendered, quality, size=self.output_size(),
                                          cache=self.sized_results),
                                  on_done=self._on_estimate,
                                  on_failed=self._on_estimate_failed, label="Estimating JPEG")

    def _clipped(self) -> str:
        """What the chosen format and depth clip of a float picture's values outside 0..1 ("" for other pictures,
        or where none are clipped; once per format and depth): said after the export only, the estimate had said
        "Lossless"."""
        if not self.source.meta.float_source or self.rendered is None:
            return ""
        key = (self.format.currentText(), self.bit_depth.currentData())
        if key not in self._clipping:
            self._clipping[key] = clipping_loss(self.rendered, *key)
        return self._clipping[key]

    def output_size(self) -> OutputSize | None:
        """The Size group's settings, or None when they leave the result as it is."""
        size = self.size_box.output_size()
        return None if size.is_identity else size

    def _show_resolution(self) -> None:
        """Give the Size group the dots per inch the file will say: the rendered result's (a quarter turn swaps
        a scan's two), else the source's; none for a format that keeps none."""
        meta = (self.rendered or self.source).meta
        self.size_box.set_resolution(None if self.format.currentText() in NO_RESOLUTION else meta.extra.get("dpi"))

    def _on_rendered(self, image: Image) -> None:
        self.rendered, self._rendering = image, False
        self._clipping.clear()
        self.size_box.set_input_size(image.rows, image.cols)
        self._show_resolution()
        self._request_estimate()
        if self._write_when_ready:
            self.export()

    def _on_estimate(self, estimate: JpegEstimate) -> None:
        if estimate.quality != self.quality.value():
            return
        sample = " (estimated from a sample of the image)" if estimate.sampled else ""
        again = ("; the picture is unedited: a JPEG export compresses it again, losing a little more each time "
                 "(copy the file to keep it as it is)"
                 if self.source.meta.format == "JPEG" and not any(item.enabled for item in self.steps)
                 and self.output_size() is None else "")
        clipped = self._clipped()
        self.estimate.setText(f"≈ {format_bytes(estimate.bytes)} · PSNR {estimate.psnr:.2f} dB · "
                              f"SSIM {format_score('ssim', estimate.ssim)} against the unencoded result{sample}{again}"
                              + (f"; {clipped}" if clipped else ""))

    def _on_estimate_failed(self, failure: JobFailure) -> None:
        """The JPEG estimate failed: a typed reason (a picture JPEG cannot hold) in its place, anything else said in
        a dialog, while any export goes on."""
        if isinstance(failure.error, EnhanceError):
            self.estimate.setText(str(failure.error))
            return
        self.reporter.report(self, "JPEG estimate failed", failure.error, failure.details)

    def _on_failed(self, failure: JobFailure) -> None:
        self._write_when_ready = self._rendering = self._writing = False
        self.export_button.setEnabled(True)
        self._say_series_left("Export failed")
        if self.rendered is None:
            self.estimate.setText("The full-resolution render failed; Export starts it again.")
        self.reporter.report(self, "Export failed", failure.error, failure.details)

    def _on_stopped(self) -> None:
        """The render or the write was stopped (the status bar's Cancel, Esc): Export starts it again."""
        self._write_when_ready = self._rendering = self._writing = False
        self.export_button.setEnabled(True)
        self._say_series_left("Export stopped")
        if self.rendered is None:
            self.estimate.setText("The full-resolution render was stopped; Export starts it again.")

    def _say_series_left(self, what: str) -> None:
        """In the status bar: which slices a series export that did not finish wrote (none of the rest)."""
        if self._series_job is None:
            return
        targets, started = self._series_job
        self._series_job = None
        written = [target for target in targets if target.exists() and target.stat().st_mtime >= started - 1]
        done = (f"{len(written)} of the {len(targets)} slices written ({written[0].name} to {written[-1].name})"
                if written else f"none of the {len(targets)} slices written")
        parent = self.parent()
        if parent is not None and hasattr(parent, "statusBar"):
            parent.statusBar().showMessage(f"{what}: {done}", 15000)

    def writes_series(self) -> bool:
        """Whether Export writes every slice of the series open in the editor."""
        return self.series is not None and self.all_slices.isChecked()

    def _typed_path(self) -> Path | None:
        """The path typed, a bare name or relative path taken in the image's folder (shown so); None when empty."""
        text = self.path.text().strip()
        if not text:
            return None
        path = Path(text).expanduser()
        if not path.is_absolute():
            source = self.document.source_path
            path = (source.parent if source is not None else Path.home()) / path
            self.path.setText(str(path))
        return path

    def export(self) -> None:
        """Write the rendered result (waiting for the render if it is still running)."""
        self.export_button.setEnabled(False)
        path = self._typed_path()
        if path is None:
            self.reporter.report(self, "Export", ParameterError("give the exported file a name (or choose one with "
                                                                "Browse…)"))
            self.export_button.setEnabled(True)
            return
        if self.writes_series():
            self._export_series(path)
            return
        source = self.document.source_path  # the source itself is refused by the write, not offered
        try:
            taken = path != self._confirmed and is_file(path, partial(ImageWriteError, path))
        except ImageWriteError as error:
            self.reporter.report(self, "Export", error)
            self.export_button.setEnabled(True)
            return
        if taken and (source is None or not same_file(path, source)):
            reference = self.document.reference_path
            what = (" It is the reference open in the editor (the ground truth the metrics compare with)."
                    if reference is not None and same_file(path, reference) else "")
            what += " It is read-only: protected from changes." if read_only(path) else ""
            answer = self.reporter.choose(self, "Export", f"{path} already exists.{what} Replace it, or write the "
                                          f"export beside it as {free_path(path).name}?",
                                          ("Keep Both", "Replace", "Cancel"))
            if answer == "Cancel":
                self._write_when_ready = False
                self.export_button.setEnabled(True)
                return
            if answer == "Keep Both":
                path = free_path(path)
                self.path.setText(str(path))
            self._confirmed = path
        if self.rendered is None and not self.writes_full_range():
            self._write_when_ready = True
            if not self._rendering:
                self._start_render()
            self.estimate.setText("The export starts as soon as the full-resolution render is done…")
            return
        self._write_when_ready, self._writing = False, True
        self.render_lane.submit(self._write_job(path), on_done=self._on_written, on_failed=self._on_failed,
                                on_cancelled=self._said_if_written(path), label=f"Writing {path.name}")

    def _said_if_written(self, path: Path) -> Callable[[], None]:
        """What a write stopped by Cancel says once it has ended: that the file was written when it was too far
        along to stop (a file is written whole or not at all). Bound to the status bar, not to this dialog, which
        Cancel closes."""
        parent, started = self.parent(), time.time()
        status = parent.statusBar() if parent is not None and hasattr(parent, "statusBar") else None

        def say() -> None:
            try:
                written = path.stat().st_mtime >= started - 1
            except OSError:
                written = False
            if written and status is not None and shiboken6.isValid(status):
                status.showMessage(f"Exported {path}: Cancel came while it was being written", 10000)

        return say

    def _export_series(self, path: Path) -> None:
        """Write every slice of the series, after asking before replacing any file of that name."""
        assert self.series is not None  # writes_series() checked it
        try:
            there = is_dir(path.parent, partial(ImageWriteError, path.parent))
            existing = [target for target in series_targets(path, len(self.series))
                        if there and exists(target, partial(ImageWriteError, target))]
        except ImageWriteError as error:
            self.reporter.report(self, "Export", error)
            self.export_button.setEnabled(True)
            return
        if not there:
            self.reporter.show_error(self, "Export", f"The folder {path.parent} does not exist; create it or "
                                     "choose another folder for the slices.")
            self.export_button.setEnabled(True)
            return
        if existing and self._series_confirmed != path:
            answer = self.reporter.choose(self, "Export", f"{len(existing)} of the {len(self.series)} files exist "
                                          f"already ({existing[0].name}...). Replace them?", ("Replace", "Cancel"),
                                          default="Cancel")
            if answer != "Replace":
                self.export_button.setEnabled(True)
                return
            self._series_confirmed = path
        self._series_job = (series_targets(path, len(self.series)), time.time())
        job = partial(write_series, self.series, self.steps, path, named=self.named_windows,
                      full_range=self.writes_full_range(),
                      bit_depth=self.bit_depth.currentData(), quality=self.quality.value(),
                      include_patient_data=self.patient_data.isChecked(), size=self.output_size(), device=self.device)
        self._writing = True
        self.render_lane.submit(job, on_done=self._on_written, on_failed=self._on_failed,
                                label=f"Writing the {len(self.series)} slices", cancel_running=False)

    def _write_job(self, path: Path) -> partial:
        """The write for the chosen options: plain result, described DICOM result, or full-range values."""
        include = self.patient_data.isChecked()
        if self.writes_full_range():
            return partial(write_full_range, self.source, path, include)
        assert self.rendered is not None  # export() waits for the render
        if self.is_dicom:
            return partial(write_dicom_result, self.rendered, path, self.bit_depth.currentData(),
                           self.quality.value(), stack_window(self.steps, self.named_windows), include,
                           size=self.output_size(),
                           cache=self.sized_results)
        return partial(write_result, self.rendered, path, self.bit_depth.currentData(), self.quality.value(),
                       size=self.output_size(), cache=self.sized_results,
                       strip_location=self.offers_location and self.strip_location.isChecked())

    def _on_written(self, path: Path) -> None:
        self._series_job, self._writing = None, False
        self.written = Path(path)
        self.settings.set_last_folder("export", self.written)
        if self.offers_location:
            self.settings.set_value("export/strip_location", self.strip_location.isChecked())
        if self.quality.isEnabled() and self.quality.value() != self.offered_quality:
            self.settings.set_value("export/quality", self.quality.value())  # the user's choice, not the source's
        parent = self.parent()
        if parent is not None and hasattr(parent, "statusBar"):
            what = (f"the {len(self.series)} slices to {self.written.parent} ({self.written.name}...)"
                    if self.writes_series() and self.series is not None else str(self.written))
            losses = ([] if self.rendered is None or self.is_dicom or self.writes_series()
                      else write_losses(self.rendered, self.written, self.bit_depth.currentData()))
            said = f"; left out: {'; '.join(losses)}" if losses else ""
            parent.statusBar().showMessage(f"Exported {what}{said}", 20000 if losses else 6000)
        self.accept()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closed otherwise than by Cancel or Esc (the application quitting, the window's close button) while an
        export the user asked for is under way: asked first. *Keep Writing* refuses the close (a quit then stops
        there), *Stop* stops the export as Cancel does. It went unfinished without a word (a helper lost a 56 MP
        export), and with it the window."""
        if self._exporting:
            stopped = ("the slices written so far stay" if self.writes_series() else "nothing of it is written")
            answer = self.reporter.choose(
                self, "Export not finished", f"The export to {self.path.text()} is not written yet. Keep writing "
                f"it, or stop it ({stopped})?", ("Stop", "Keep Writing"), default="Keep Writing")
            if answer == "Keep Writing" and self._exporting:  # not ended meanwhile
                event.ignore()
                return
        super().closeEvent(event)

    @property
    def _exporting(self) -> bool:
        """Whether an export the user asked for is under way: waiting for the render, or being written."""
        return self._write_when_ready or self._writing

    def reject(self) -> None:
        """Close without exporting; stops the render and the estimate (and a series export, saying what it
        wrote)."""
        running = self.render_lane.busy
        self.render_lane.cancel()
        self.estimate_lane.cancel()
        if running:
            self._say_series_left("Export stopped")
        super().reject()
