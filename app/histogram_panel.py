"""The histogram panel: R, G, B and luminance of the result (and the original), linear or log.

Each new preview frame starts a histogram job
(:func:`enhance_core.histogram.compute_histogram` on the preview pixels, on
the source's level grid so 16-bit sources are binned correctly) on its own
lane; the view only draws the finished counts. The axis is labelled in the
source's units (0-255, 0-65535, or Hounsfield for CT). While the slices of a
series are stepped through (a held key, the wheel, cine), the histogram (and
the metrics, which start after it) waits until no slice came for
``SLICE_REST_MS`` and then counts the slice shown: counting every slice took
as much CPU as reading and rendering it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QSizePolicy, QVBoxLayout, QWidget

from app.render_controller import RenderController
from app.render_jobs import ViewFrame
from app.workers import JobRunner
from enhance_core.histogram import Histogram, compute_histogram
from enhance_core.image import Image, ImageMeta
from enhance_core.medical.windows import display_steps
from enhance_core.render import Renderer
from enhance_core.stack import StackItem

SAMPLE_PIXELS = 500_000
SLICE_REST_MS = 150

CHANNEL_COLORS = {"red": QColor(230, 60, 60), "green": QColor(60, 200, 80), "blue": QColor(70, 120, 240),
                  "luminance": QColor(235, 235, 235)}


@dataclass(frozen=True)
class HistogramPair:
    """Histograms of the result and of the original preview, with the source's metadata for the axis."""

    result: Histogram
    original: Histogram | None
    meta: ImageMeta
    generation: int
    windowed: bool = False


def histogram_job(result: np.ndarray, original: np.ndarray | None, meta: ImageMeta, generation: int,
                  windowed: bool, progress, should_stop, *, visible: np.ndarray | None = None) -> HistogramPair:
    """Worker job: histograms of the preview (and of the original's preview).

    Photographs are binned on their level grid (at least 8 bits: an edited 1-bit scan holds grays);
    float sources and images in physical units (CT, whose stored range is far wider than the data)
    over the range their values cover: for a DICOM image shown without a window, its value range
    (``meta.extra["value_range"]``), its padding (``meta.extra["padding"]``) not counted, nor what a reduced
    preview or a blur blends between it and the tissue. With
    ``visible`` (a boolean map of the preview's shape: where the image is not wholly transparent)
    only those pixels count, not the colours hidden under transparency.
    """
    depth = min(max(meta.bit_depth, 8), 16)  # a 1-bit scan, once blurred, holds the grays of its 8-bit export
    over_data = meta.float_source or is_physical(meta)
    span: tuple[float, float] | None = None
    padding: tuple[float, float] | None = None
    if is_physical(meta) and not windowed and meta.extra.get("value_range") and meta.value_scale:
        low, high = sorted((float(value) - meta.value_offset) / meta.value_scale
                           for value in meta.extra["value_range"])  # the values the file holds, not all it could
        span = (low, high)
        if meta.extra.get("padding"):  # the value outside a CT's scan circle, which is no tissue
            ends = sorted((float(value) - meta.value_offset) / meta.value_scale for value in meta.extra["padding"])
            slack = 1e-6 * (high - low or 1.0)
            # beyond the tissue, what lies on the padding's side goes too: a reduced preview or a blur blends the
            # circle's rim into values between them
            padding = ((-np.inf, low - slack) if ends[1] < low else (high + slack, np.inf) if ends[0] > high
                       else (ends[0] - slack, ends[1] + slack))

    def count(pixels: np.ndarray) -> Histogram:
        sample = sample_pixels(pixels)
        kept = None
        if visible is not None and visible.shape == pixels.shape[:2]:
            kept = sample_pixels(visible)
        if padding is not None:
            outside = (sample[:, :, 0] < padding[0]) | (sample[:, :, 0] > padding[1])
            kept = outside if kept is None else kept & outside
        if kept is not None:
            sample = sample[kept][:, None, :]
        return compute_histogram(sample, bit_depth=depth, bins=min(256, 1 << depth), float_source=over_data,
                                 span=span)

    return HistogramPair(count(result), count(original) if original is not None else None, meta, generation,
                         windowed)


def sample_pixels(pixels: np.ndarray, *, budget: int = SAMPLE_PIXELS) -> np.ndarray:
    """Every k-th row and column so at most about ``budget`` pixels remain (the whole image when small).

    The histogram's shape is what the panel shows; a regular sample of half a megapixel gives the
    same shape as the full preview at a fraction of the time, so it lands within ~100 ms of an edit.
    """
    rows, cols = pixels.shape[:2]
    stride = max(1, int(np.ceil(np.sqrt(rows * cols / budget))))
    return pixels if stride == 1 else np.ascontiguousarray(pixels[::stride, ::stride])


def input_histogram_job(renderer: Renderer, image: Image, steps: tuple[StackItem, ...], scale: float,
                        generation: int, device: str | None, progress, should_stop) -> HistogramPair:
    """Worker job: the histogram of what ``steps`` make of ``image`` at ``scale`` (a step's input; the renderer's
    cache holds it when the preview rendered those steps)."""
    pixels = renderer.render(image, steps, scale=scale, should_stop=should_stop, device=device)
    return histogram_job(pixels, None, image.meta, generation, bool(display_steps(steps)), progress, should_stop)


class HistogramController(QObject):
    """Computes histograms of each new preview on its own lane; ``ready`` carries a :class:`HistogramPair`.

    For the step :meth:`watch_input` names, while it is selected, ``input_ready`` carries the histogram of
    its input at the preview's scale (what the tone curve's editor draws behind its curve).
    """

    ready = Signal(object)
    input_ready = Signal(object)
    failed = Signal(object)

    def __init__(self, renders: RenderController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.renders = renders
        self.lane = JobRunner("Histogram", self)
        self.input_lane = JobRunner("Histogram of a step's input", self)
        self.with_original = False
        self.latest: HistogramPair | None = None
        self.input_latest: HistogramPair | None = None
        self._input_of = ""
        self._waiting: ViewFrame | None = None
        self._slice_rest = QTimer(self)
        self._slice_rest.setSingleShot(True)
        self._slice_rest.setInterval(SLICE_REST_MS)
        self._slice_rest.timeout.connect(self._on_slices_rest)
        renders.frame_ready.connect(self._on_frame)
        renders.document.source_replaced.connect(self._slice_rest.start)

    def set_with_original(self, on: bool) -> None:
        """Also count the original (recomputes now)."""
        self.with_original = on
        if self.renders.latest is not None:
            self.update_from(self.renders.latest)

    def _on_frame(self, frame: ViewFrame) -> None:
        """A new preview: count it now, or once the slices rest when they are being stepped through."""
        if self._slice_rest.isActive():
            self._waiting = frame
        else:
            self.update_from(frame)

    def _on_slices_rest(self) -> None:
        frame, self._waiting = self._waiting, None
        if frame is not None:
            self.update_from(frame)

    def update_from(self, frame: ViewFrame) -> None:
        """Start the histogram of ``frame``'s preview."""
        source = self.renders.document.source
        if frame.preview_pixels is None or source is None:
            return
        original = frame.before_pixels if self.with_original else None
        windowed = bool(display_steps(frame.request.steps))
        whole = frame.layers.after.whole
        visible = whole.array[:, :, 3] > 0 if whole is not None and whole.has_alpha else None
        job = partial(histogram_job, frame.preview_pixels, original, source.meta, frame.request.generation,
                      windowed, visible=visible)
        self.lane.submit(job, on_done=self._on_ready, on_failed=self.failed.emit, label="Histogram",
                         cancel_running=False)
        self._count_input(frame)

    def watch_input(self, uid: str) -> None:
        """Count the input of step ``uid`` from now on, while it is selected (at once when a preview is shown)."""
        self._input_of, self.input_latest = uid, None
        if self.renders.latest is not None:
            self._count_input(self.renders.latest)

    def _count_input(self, frame: ViewFrame) -> None:
        document, source = self.renders.document, self.renders.document.source
        if not self._input_of or document.selected_uid != self._input_of or source is None:
            return
        steps = tuple(frame.request.steps)
        index = next((i for i, item in enumerate(steps) if item.uid == self._input_of), None)
        if index is None:
            return
        job = partial(input_histogram_job, self.renders.renderer, source, steps[:index], frame.request.preview_scale,
                      frame.request.generation, self.renders.device)
        self.input_lane.submit(job, on_done=self._on_input_ready, on_failed=self.failed.emit,
                               label="Histogram of a step's input")

    def _on_ready(self, pair: HistogramPair) -> None:
        self.latest = pair
        self.ready.emit(pair)

    def _on_input_ready(self, pair: HistogramPair) -> None:
        self.input_latest = pair
        self.input_ready.emit(pair)


def is_physical(meta: ImageMeta) -> bool:
    """Whether pixel values map to physical units (DICOM)."""
    return bool(meta.unit) or meta.value_scale != 1.0 or meta.value_offset != 0.0


def in_reverse(pair: HistogramPair) -> bool:
    """Whether the bins run from the highest value to the lowest: a MONOCHROME1 image (its pixels inverted)
    shown in its own units, which the panel draws mirrored."""
    return is_physical(pair.meta) and not pair.windowed and pair.meta.value_scale < 0


def axis_labels(meta: ImageMeta, edges: np.ndarray, *, windowed: bool = False) -> tuple[str, str]:
    """Texts for the ends of the value axis: the source's units, or display levels after a window."""
    low, high = float(edges[0]), float(edges[-1])
    if windowed:
        return f"{low * 255:.0f} display", f"{high * 255:.0f}"
    if is_physical(meta):
        ends = sorted(meta.value_offset + meta.value_scale * v for v in (low, high))
        unit = f" {meta.unit}" if meta.unit else ""
        return f"{ends[0]:.0f}{unit}", f"{ends[1]:.0f}{unit}"
    if meta.float_source:
        return f"{low:.3g}", f"{high:.3g}"
    return "0", str(meta.integer_max)


class HistogramView(QWidget):
    """Draws the curves of a :class:`HistogramPair`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pair: HistogramPair | None = None
        self.channels = {"red": True, "green": True, "blue": True, "luminance": True}
        self.log_scale = False
        self.setMinimumHeight(64)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_pair(self, pair: HistogramPair | None) -> None:
        """Show new counts."""
        self.pair = pair
        self.update()

    def heights(self, counts: np.ndarray, peak: float) -> np.ndarray:
        """Curve heights 0..1 of ``counts`` on the current scale."""
        counts = counts.astype(np.float64)
        if self.log_scale:
            return np.log1p(counts) / np.log1p(max(peak, 1.0))
        return np.minimum(counts / max(peak, 1.0), 1.0)

    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(30, 30, 32))
        if self.pair is None:
            painter.setPen(QColor(150, 150, 150))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No image")
            return
        plot = QRectF(6, 6, self.width() - 12, self.height() - 26)
        channels = self.pair.result.channels
        shown = [name for name in channels if self.channels.get(name, False)] if len(channels) > 1 else list(channels)
        peak = self._peak(self.pair, shown)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Plus)
        order = slice(None, None, -1) if in_reverse(self.pair) else slice(None)  # lowest value on the left
        for name in shown:
            fill = QColor(CHANNEL_COLORS[name])
            fill.setAlpha(70 if name == "luminance" else 120)
            path = self._path(self.heights(self.pair.result.counts[name][order], peak), plot)
            painter.fillPath(path, fill)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)
        if self.pair.original is not None:
            for name in shown:
                pen = QPen(CHANNEL_COLORS[name].lighter(130), 1, Qt.PenStyle.DashLine)
                heights = self.heights(self.pair.original.counts[name][order], peak)
                painter.strokePath(self._path(heights, plot, closed=False), pen)
        left, right = axis_labels(self.pair.meta, self.pair.result.edges, windowed=self.pair.windowed)
        painter.setPen(QColor(180, 180, 180))
        text_box = QRectF(plot.left(), plot.bottom() + 3, plot.width(), 16)
        painter.drawText(text_box, Qt.AlignmentFlag.AlignLeft, left)
        painter.drawText(text_box, Qt.AlignmentFlag.AlignRight, right)
        painter.drawText(text_box, Qt.AlignmentFlag.AlignHCenter, "log" if self.log_scale else "linear")

    def _peak(self, pair: HistogramPair, shown: list[str]) -> float:
        """Scale reference: the tallest bin; in linear mode spikes (the end bins, a few bins far above
        the rest) are clipped so the body of the histogram stays readable."""
        histograms = [pair.result] + ([pair.original] if pair.original is not None else [])
        peaks = []
        for histogram in histograms:
            for name in shown:
                counts = histogram.counts[name].astype(np.float64)
                if self.log_scale or len(counts) <= 2:
                    peaks.append(float(counts.max(initial=0)))
                    continue
                inner = counts[1:-1]
                typical = float(np.percentile(inner[inner > 0], 95)) if np.any(inner > 0) else 0.0
                peaks.append(min(float(inner.max()), 2.0 * typical))
        return max(peaks, default=1.0)

    @staticmethod
    def _path(heights: np.ndarray, plot: QRectF, *, closed: bool = True) -> QPainterPath:
        path = QPainterPath()
        step = plot.width() / max(len(heights), 1)
        bottom = plot.bottom()
        path.moveTo(QPointF(plot.left(), bottom if closed else bottom - heights[0] * plot.height()))
        for index, value in enumerate(heights):
            y = bottom - float(value) * plot.height()
            path.lineTo(QPointF(plot.left() + index * step, y))
            path.lineTo(QPointF(plot.left() + (index + 1) * step, y))
        if closed:
            path.lineTo(QPointF(plot.right(), bottom))
            path.closeSubpath()
        return path


class HistogramPanel(QWidget):
    """The view plus channel toggles, the log switch and "original"."""

    def __init__(self, controller: HistogramController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.view = HistogramView()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        self.toggles: dict[str, QCheckBox] = {}
        for name, text in (("red", "R"), ("green", "G"), ("blue", "B"), ("luminance", "L")):
            box = QCheckBox(text)
            box.setAccessibleName(f"Show {name}")
            box.setToolTip(f"Draw the {name} histogram")
            box.setChecked(True)
            box.toggled.connect(lambda on, n=name: self._toggle_channel(n, on))
            self.toggles[name] = box
            row.addWidget(box)
        row.addStretch(1)
        self.log_box = QCheckBox("Log")
        self.log_box.setToolTip("Logarithmic counts: shows small populations next to large ones")
        self.log_box.toggled.connect(self._toggle_log)
        self.original_box = QCheckBox("Original")
        self.original_box.setToolTip("Also draw the original's histogram (dashed)")
        self.original_box.toggled.connect(controller.set_with_original)
        row.addWidget(self.log_box)
        row.addWidget(self.original_box)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addLayout(row)
        controller.ready.connect(self._on_pair)

    def _on_pair(self, pair: HistogramPair) -> None:
        """Show ``pair``; only the channels it has can be switched (a gray picture's one curve always shows)."""
        self.view.set_pair(pair)
        channels = pair.result.channels
        for name, box in self.toggles.items():
            box.setEnabled(len(channels) > 1 and name in channels)

    def _toggle_channel(self, name: str, on: bool) -> None:
        self.view.channels[name] = on
        self.view.update()

    def _toggle_log(self, on: bool) -> None:
        self.view.log_scale = on
        self.view.update()
