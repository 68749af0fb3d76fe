"""Canvas geometry: zoom about the cursor, pan, fit, split divider drag, side-by-side panes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage

from app.canvas import CompareCanvas, CompareMode
from app.display import CanvasLayers, DetailPatch, DisplayImage, SideLayers, describe_value
from app.viewport import Viewport
from enhance_core.image import ImageMeta
from enhance_core.view_plan import Detail


def test_zoom_keeps_the_point_under_the_cursor():
    view = Viewport()
    view.resize(400, 300)
    view.set_image(1000, 800)
    anchor = (310.0, 40.0)
    before = view.to_source(*anchor)
    view.zoom_by(3.0, anchor=anchor)
    assert view.to_source(*anchor) == pytest.approx(before)
    assert not view.fitting


def test_fit_and_visible_rect():
    view = Viewport()
    view.resize(400, 300)
    view.set_image(800, 300)
    assert view.zoom == pytest.approx(0.5)
    assert view.visible_source_rect() == (0, 0, 800, 300)
    view.set_zoom(1.0)
    left, top, right, bottom = view.visible_source_rect()
    assert (right - left, bottom - top) == (400, 300)
    view.pan_by(-10000, 0)
    assert view.center_x == 800


def test_a_strip_longer_than_64_panes_fits_and_zooming_out_stops_at_its_fit():
    view = Viewport()
    view.resize(800, 600)
    view.set_image(70000, 3)
    assert view.visible_source_rect() == (0, 0, 70000, 3)
    view.zoom_by(0.5)
    assert view.zoom == pytest.approx(800 / 70000)
    view.set_image(400, 300)
    view.zoom_by(1e-6)
    assert view.zoom == pytest.approx(1 / 64), "a picture that fits keeps the least zoom of 1/64"


@pytest.fixture
def canvas(qtbot):
    widget = CompareCanvas()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    widget.set_image_size(200, 150)
    pixels = np.zeros((150, 200, 3), np.float32)
    widget.set_layers(CanvasLayers(SideLayers(whole=DisplayImage.from_pixels(pixels)),
                                   SideLayers(whole=DisplayImage.from_pixels(pixels + 1.0))))
    return widget


def test_divider_drags_and_splits_the_view(qtbot, canvas):
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(200, 150))
    qtbot.mouseMove(canvas, QPoint(100, 150))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(100, 150))
    assert canvas.divider == pytest.approx(0.25)
    image = canvas.grab().toImage()
    assert image.pixelColor(60, 200).red() < 20 and image.pixelColor(300, 200).red() > 235


@pytest.mark.parametrize("divider, shown", [(0.5, ["Before", "After"]), (0.03, ["After"]), (0.97, ["Before"])])
def test_the_split_labels_show_only_where_their_side_has_room_and_never_overlap(canvas, monkeypatch, divider: float,
                                                                                shown: list[str]):
    painted: list[tuple[str, float, float]] = []
    paint = CompareCanvas._paint_label.__func__

    def record(cls, painter, at, text):
        painted.append((text, at.x(), at.x() + cls._label_width(painter, text)))
        paint(cls, painter, at, text)

    monkeypatch.setattr(CompareCanvas, "_paint_label", classmethod(record))
    canvas.divider = divider
    canvas.grab()
    assert [text for text, _, _ in painted] == shown
    assert all(0 <= left and right <= canvas.width() for _, left, right in painted)
    assert len(painted) < 2 or painted[0][2] < painted[1][1]


def test_wheel_zooms_and_drag_pans(qtbot, canvas):
    zoom = canvas.viewport.zoom
    with qtbot.waitSignal(canvas.view_changed):
        canvas.zoom_by(2.0, QPointF(300, 100))
    assert canvas.viewport.zoom == pytest.approx(zoom * 2)
    center = canvas.viewport.center_x
    qtbot.mousePress(canvas, Qt.MouseButton.MiddleButton, pos=QPoint(300, 100))
    qtbot.mouseMove(canvas, QPoint(340, 100))
    qtbot.mouseRelease(canvas, Qt.MouseButton.MiddleButton, pos=QPoint(340, 100))
    assert canvas.viewport.center_x == pytest.approx(center - 40 / canvas.viewport.zoom)


def patch(generation: int, rect: tuple[int, int, int, int], color: tuple[float, float, float]) -> DetailPatch:
    """A flat sharp patch of ``rect`` at scale 1."""
    left, top, right, bottom = rect
    pixels = np.empty((bottom - top, right - left, 3), np.float32)
    pixels[:] = color
    image = DisplayImage.from_pixels(pixels, left=left, top=top)
    return DetailPatch(Detail(generation, rect, 1.0), image)


def test_the_canvas_paints_the_mosaic_of_patches_newest_on_top(qtbot, canvas):
    canvas.set_mode(CompareMode.AFTER)
    red, green = patch(1, (0, 0, 120, 150), (1.0, 0.0, 0.0)), patch(1, (80, 0, 200, 100), (0.0, 1.0, 0.0))
    after = canvas.layers.after.with_patch(red).with_patch(green)
    assert after.details == (red, green) and after.detail is green.image
    canvas.set_layers(CanvasLayers(canvas.layers.before, after))
    image = canvas.grab().toImage()
    assert image.pixelColor(2 * 40, 2 * 50).getRgb()[:3] == (255, 0, 0)
    assert image.pixelColor(2 * 100, 2 * 50).getRgb()[:3] == (0, 255, 0), "the newest patch is on top"
    assert image.pixelColor(2 * 150, 2 * 50).getRgb()[:3] == (0, 255, 0)
    assert image.pixelColor(2 * 150, 2 * 125).getRgb()[:3] == (255, 255, 255), "the preview shows where none is"
    blue = patch(1, (0, 0, 200, 150), (0.0, 0.0, 1.0))
    assert after.with_patch(blue).details == (blue,), "a patch containing older ones replaces them"
    assert after.with_patch(patch(2, (0, 0, 10, 10), (0.0, 0.0, 1.0))).details[0].detail.generation == 2
    canvas.set_layers(canvas.layers.without_detail())
    assert canvas.grab().toImage().pixelColor(2 * 40, 2 * 50).getRgb()[:3] == (255, 255, 255)


def test_side_by_side_shows_both_with_one_view(qtbot, canvas):
    canvas.set_mode(CompareMode.SIDE_BY_SIDE)
    assert canvas.viewport.width == pytest.approx((400 - 4) / 2)
    image = canvas.grab().toImage()
    assert image.pixelColor(100, 150).red() < 20 and image.pixelColor(300, 150).red() > 235
    left = canvas.source_point(QPointF(100, 150))
    right = canvas.source_point(QPointF(100 + 202, 150))
    assert left == pytest.approx(right)


def test_values_in_source_units():
    assert describe_value(ImageMeta(bit_depth=8), np.array([1.0, 0.5, 0.0])) == "R 255  G 128  B 0"
    assert describe_value(ImageMeta(bit_depth=16), np.array([0.5])) == "32768"
    ct = ImageMeta(bit_depth=12, unit="HU", value_offset=-1024.0, value_scale=4095.0)
    assert describe_value(ct, np.array([1000 / 4095])) == "-24 HU"
    assert describe_value(ImageMeta(bit_depth=32, float_source=True), np.array([1.5])) == "1.5"


def test_the_start_up_probe_loads_torch_in_the_background_and_names_the_device(qtbot, monkeypatch):
    from app.device_probe import DeviceProbe
    from app.document import Document

    imported: list[str] = []
    monkeypatch.setattr("enhance_core.learned.engine.import_torch", lambda: imported.append("torch"))
    monkeypatch.setattr("enhance_core.learned.engine.describe_device", lambda: "CPU (4 threads)")
    probe = DeviceProbe(Document())
    with qtbot.waitSignal(probe.described, timeout=20000) as blocker:
        probe.probe_in_background(delay_ms=0)
    assert blocker.args == ["Device: CPU (4 threads)"] and imported == ["torch"]
    probe.stop()
    qtbot.wait(50)  # the lane's last signals land while the probe lives


@pytest.mark.parametrize("channels", [1, 3])
def test_layers_become_qimages_the_painter_draws_without_converting(channels):
    pixels = np.linspace(0.0, 1.0, 4 * 6 * channels, dtype=np.float32).reshape(4, 6, channels)
    layer = DisplayImage.from_pixels(pixels)
    qimage = layer.to_qimage()
    assert qimage.format() == QImage.Format.Format_ARGB32_Premultiplied and (qimage.width(), qimage.height()) == (6, 4)
    expected = layer.array if layer.array.ndim == 3 else np.repeat(layer.array[:, :, None], 3, axis=2)
    shown = [[qimage.pixelColor(x, y).getRgb()[:3] for x in range(6)] for y in range(4)]
    np.testing.assert_array_equal(np.array(shown), expected.reshape(4, 6, 3))


def test_actual_pixels_on_a_200_percent_screen_is_one_image_pixel_per_device_pixel(qtbot, window, photo_path,
                                                                                 monkeypatch):
    from conftest import open_image

    open_image(qtbot, window, photo_path)
    monkeypatch.setattr(type(window.canvas), "devicePixelRatioF", lambda canvas: 2.0)
    window.actions_by_name["actual"].trigger()
    assert window.canvas.viewport.zoom == 0.5 and window.canvas.device_zoom() == 1.0
    assert window.status.zoom_label.text() == "Zoom 100%"


def test_the_dicom_corner_text_says_the_zoom_the_status_bar_says_on_a_200_percent_screen(qtbot, window, ct_path,
                                                                                       monkeypatch):
    from conftest import open_image

    open_image(qtbot, window, ct_path)
    monkeypatch.setattr(type(window.canvas), "devicePixelRatioF", lambda canvas: 2.0)
    window.actions_by_name["actual"].trigger()
    qtbot.waitUntil(lambda: "Zoom 100%" in window.canvas.corner_text.get("bottom_right", []), timeout=5000)


def test_arrow_keys_on_the_canvas_look_around_a_zoomed_picture(qtbot, window, photo_path):
    from conftest import open_image
    from PySide6.QtTest import QTest

    open_image(qtbot, window, photo_path)
    canvas = window.canvas
    canvas.set_zoom(8.0)
    start = (canvas.viewport.center_x, canvas.viewport.center_y)
    QTest.keyClick(canvas, Qt.Key.Key_Right)
    QTest.keyClick(canvas, Qt.Key.Key_Down)
    assert canvas.viewport.center_x > start[0] and canvas.viewport.center_y > start[1], "the view looks right and down"
    QTest.keyClick(canvas, Qt.Key.Key_Left)
    QTest.keyClick(canvas, Qt.Key.Key_Up)
    assert (canvas.viewport.center_x, canvas.viewport.center_y) == pytest.approx(start)
    canvas._drag = "tool"  # a brush stroke under way: the view holds still under it
    QTest.keyClick(canvas, Qt.Key.Key_Right)
    canvas._drag = None
    assert (canvas.viewport.center_x, canvas.viewport.center_y) == pytest.approx(start)


def test_the_canvas_reached_with_tab_shows_a_focus_frame_and_a_click_does_not(qtbot, window, photo_path):
    from conftest import open_image

    open_image(qtbot, window, photo_path)
    canvas = window.canvas
    highlight = canvas.palette().color(canvas.palette().ColorRole.Highlight)

    def edge():
        return canvas.grab().toImage().pixelColor(1, canvas.height() // 2)

    canvas.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(canvas.hasFocus, timeout=5000)
    assert edge() != highlight
    canvas.clearFocus()
    canvas.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(canvas.hasFocus, timeout=5000)
    assert edge() == highlight, "where the keys go is shown"


def coded_picture(rows: int, cols: int) -> np.ndarray:
    """Each pixel's colour says its place: red the column, green the row (both below 256)."""
    y, x = np.mgrid[0:rows, 0:cols]
    return np.stack([x, y, np.full_like(x, 128)], axis=-1).astype(np.float32) / 255


def coded_canvas(qtbot, width: int, mode: CompareMode) -> CompareCanvas:
    """A canvas ``width`` x 200 showing a 151 x 101 :func:`coded_picture` on both sides in ``mode``."""
    widget = CompareCanvas()
    qtbot.addWidget(widget)
    widget.resize(width, 200)
    widget.show()
    widget.set_image_size(151, 101)
    pixels = coded_picture(101, 151)
    widget.set_layers(CanvasLayers(SideLayers(whole=DisplayImage.from_pixels(pixels)),
                                   SideLayers(whole=DisplayImage.from_pixels(pixels))))
    widget.set_mode(mode)
    return widget


@pytest.mark.parametrize("zoom, pan", [(1.0, 0.5), (1.0, 0.0), (2.0, 0.5), (2.0, 0.25), (2 * 2 ** 0.5, 0.3),
                                       (4.0, 0.5), (4 * 2 ** 0.5, 0.1)])
def test_the_pixel_read_out_under_the_pointer_is_the_pixel_painted_there(qtbot, zoom: float, pan: float) -> None:
    """At 1:1 and crisp zooms the status bar named the neighbour of the pixel shown on whole columns (a helper)."""
    widget = coded_canvas(qtbot, 301, CompareMode.AFTER)
    widget.viewport.set_zoom(zoom)
    widget.viewport.pan_by(pan, pan)
    shown = widget.grab().toImage()
    checked = 0
    for sy in range(0, 200, 7):
        for sx in range(0, 301, 3):
            colour = shown.pixelColor(sx, sy)
            if colour.blue() != 128:
                continue  # the background around the picture
            x, y = widget.pixel_under(QPointF(sx, sy))
            assert (int(np.floor(x)), int(np.floor(y))) == (colour.red(), colour.green()), (sx, sy)
            checked += 1
    assert checked > 200


def test_the_right_pane_of_an_odd_width_canvas_draws_every_pixel_alike_at_400_percent(qtbot) -> None:
    """The right pane started on a half pixel: one image pixel was drawn 3 px wide, its neighbour 2."""
    widget = coded_canvas(qtbot, 401, CompareMode.SIDE_BY_SIDE)
    widget.viewport.set_zoom(4.0)
    shown = widget.grab().toImage()
    (_, _), (right_start, width) = widget._panes()
    columns = [shown.pixelColor(sx, 100).red() for sx in range(int(right_start), int(right_start + width))]
    runs = [len(list(group)) for _, group in itertools.groupby(columns)]
    assert set(runs[1:-1]) == {4}


def test_a_picture_one_pixel_wide_shows_at_actual_pixels(qtbot) -> None:
    """Its screen copy (923 x 1 of 4000 x 1) was taken to be at scale 1 and painted at 1:1: nothing showed."""
    screen_copy = DisplayImage.from_pixels(np.ones((923, 1, 3), np.float32), width=1, height=4000)
    assert screen_copy.scale == pytest.approx(923 / 4000)


def test_at_1_to_1_on_a_150_percent_screen_the_painter_and_the_readout_break_ties_alike(qtbot, monkeypatch) -> None:
    """A device pixel's middle on a pixel edge: float error put it in the next pixel for the painter and in the one
    before for the readout, on almost every row (a review, at Actual Pixels on a 150 % screen)."""
    from app.canvas import first_device_pixel

    widget = coded_canvas(qtbot, 1011, CompareMode.AFTER)
    widget.resize(1011, 894)
    monkeypatch.setattr(CompareCanvas, "devicePixelRatioF", lambda canvas: 1.5)
    widget.set_image_size(2400, 1600)
    widget.viewport.set_zoom(1 / 1.5)
    widget.viewport.center_x, widget.viewport.center_y = 1200.0, 800.0
    for device in range(0, int(894 * 1.5)):
        _, y = widget.pixel_under(QPointF(0.0, (device + 0.5) / 1.5))
        row = int(np.floor(y))
        top = first_device_pixel(widget.viewport.to_screen(0.0, row)[1] * 1.5)
        bottom = first_device_pixel(widget.viewport.to_screen(0.0, row + 1)[1] * 1.5)
        assert top <= device < bottom, (device, y)


def test_the_gap_between_side_by_side_panes_reads_out_no_pixel(qtbot) -> None:
    """The pointer on the gap named a left-pane pixel that the gap does not show (a review)."""
    widget = coded_canvas(qtbot, 401, CompareMode.SIDE_BY_SIDE)
    moved, left = [], []
    widget.cursor_moved.connect(lambda x, y: moved.append((x, y)))
    widget.cursor_left.connect(lambda: left.append(True))
    (_, width), (right_start, _) = widget._panes()
    qtbot.mouseMove(widget, QPoint(int(width) + 1, 100))
    assert left and not moved
    qtbot.mouseMove(widget, QPoint(int(right_start) + 5, 100))
    assert len(moved) == 1


def test_a_zoom_under_a_still_mouse_reads_out_the_pixel_now_under_it(qtbot, canvas) -> None:
    """After Ctrl+1 or Fit with the mouse still, the status bar kept the old pixel's values, though 1:1 had taken
    it off the picture (a walk-through with odd pictures)."""
    moved, left = [], []
    canvas.cursor_moved.connect(lambda x, y: moved.append((x, y)))
    canvas.cursor_left.connect(lambda: left.append(True))
    canvas.fit()
    qtbot.mouseMove(canvas, QPoint(30, 40))
    at_fit = moved[-1]
    canvas.zoom_by(4.0)
    assert moved[-1] != at_fit and moved[-1] == canvas.pixel_under(QPointF(30, 40))
    assert canvas._cursor == canvas.source_point(QPointF(30, 40)), "the brush's ring follows the pixel too"
    canvas.leaveEvent(None)
    count = len(moved)
    canvas.fit()
    assert len(moved) == count, "a mouse gone from the canvas reads out nothing"
