"""Background work seen from the window: cancel a long job, detail renders when zoomed in, export."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import add_filter, open_image, save_png, synthetic_photo, wait_rendered

from app import file_actions
from app.commands import AddStepCommand
from app.error_reporter import ESCAPE
from enhance_core.errors import Cancelled
from enhance_core.filters.base import FilterDef, param
from enhance_core.filters.registry import FILTERS, register


@dataclass(frozen=True)
class _SlowParams:
    strength: float = param(0.5, label="Strength", minimum=0.0, maximum=1.0)


@pytest.fixture
def slow_filter():
    """A registered filter that runs until it is asked to stop (stands in for a long inference)."""
    started = threading.Event()

    def run_until_stopped(pixels, params, ctx):
        started.set()
        for _ in range(20000):
            if ctx.should_stop():
                raise Cancelled("slow filter stopped")
            ctx.progress(0.5, "thinking")
            threading.Event().wait(0.001)
        return pixels.copy()

    register(FilterDef("test_slow", "Slow test filter", "Blur & denoise", _SlowParams, run_until_stopped,
                       description="Runs until cancelled."))
    yield started
    FILTERS.pop("test_slow")


@pytest.fixture
def one_report_filter():
    """A filter that reports its strength as progress once, at once, then runs until it is asked to stop."""
    def report_once(pixels, params, ctx):
        ctx.progress(params.strength, "once")
        while not ctx.should_stop():
            threading.Event().wait(0.001)
        raise Cancelled("stopped")

    register(FilterDef("test_once", "Report once", "Blur & denoise", _SlowParams, report_once,
                       description="Reports once, runs until cancelled."))
    yield
    FILTERS.pop("test_once")


def test_a_new_job_s_bar_shows_its_own_progress_not_the_last_job_s(qtbot, window, photo_path, one_report_filter):
    """The bar showed the previous job's 100 % through a new long job: a report before it appears was dropped."""
    open_image(qtbot, window, photo_path)
    lane = window.renders.lane
    for strength in (0.9, 0.2):
        window.document.push(AddStepCommand(window.document.stack, "test_once", {"strength": strength}))
        qtbot.waitUntil(window.status.progress.isVisible, timeout=10000)
        assert window.status.progress.value() == int(strength * 1000)
        assert window.status.job_label.text().endswith(": once")
        with qtbot.waitSignals([lane.cancelled, lane.idle], timeout=3000):
            window.status.cancel_button.click()
        window.document.undo_stack.undo()


def test_a_job_that_has_not_reported_shows_a_busy_bar_not_one_stuck_at_zero(qtbot, window, photo_path,
                                                                            one_report_filter):
    """A learned filter's preview of one tile reported nothing until it was done: the bar sat at 0 for seconds."""
    open_image(qtbot, window, photo_path)
    lane = window.renders.lane
    window.document.push(AddStepCommand(window.document.stack, "test_once", {"strength": 0.0}))
    qtbot.waitUntil(window.status.progress.isVisible, timeout=10000)
    assert window.status.progress.maximum() == 0
    with qtbot.waitSignals([lane.cancelled, lane.idle], timeout=3000):
        window.status.cancel_button.click()
    window.document.undo_stack.undo()
    window.document.push(AddStepCommand(window.document.stack, "test_once", {"strength": 0.4}))
    qtbot.waitUntil(window.status.progress.isVisible, timeout=10000)
    assert (window.status.progress.maximum(), window.status.progress.value()) == (1000, 400)
    with qtbot.waitSignals([lane.cancelled, lane.idle], timeout=3000):
        window.status.cancel_button.click()


def test_render_again_after_a_cancel_draws_the_brush_overlay_the_cancel_stopped(qtbot, window, photo_path,
                                                                                  monkeypatch):
    """Cancel stops the overlay's lane too; F5 rendered only the preview again, and a restore's detected damage
    stayed undrawn until the step changed."""
    from app import brush
    from enhance_core.masks import Mask, Stroke

    held, real_job = threading.Event(), brush._overlay_job

    def held_job(*args):
        while held.is_set():
            if args[-1]():  # should_stop
                raise Cancelled("overlay stopped")
            threading.Event().wait(0.002)
        return real_job(*args)

    monkeypatch.setattr(brush, "_overlay_job", held_job)
    open_image(qtbot, window, photo_path)
    source = window.document.source
    held.set()
    mask = Mask(source.rows, source.cols).with_stroke(Stroke(((20.0, 20.0),), radius=8.0))
    window.document.push(AddStepCommand(window.document.stack, "gaussian_blur", mask=mask))
    qtbot.waitUntil(lambda: window.brush.lane.busy, timeout=5000)
    with qtbot.waitSignal(window.brush.lane.idle, timeout=3000):
        window.status.cancel_jobs()
    held.clear()
    assert window.brush._overlay is None or not window.brush._overlay[0][..., 3].any()
    window.actions_by_name["refresh"].trigger()
    qtbot.waitUntil(lambda: window.brush._overlay is not None and (window.brush._overlay[0][..., 3] > 0).sum() > 100,
                    timeout=5000)


def test_cancel_button_stops_a_long_job(qtbot, window, photo_path, slow_filter):
    open_image(qtbot, window, photo_path)
    lane = window.renders.lane
    window.stack_panel.add_filter("test_slow")
    qtbot.waitUntil(slow_filter.is_set, timeout=10000)
    qtbot.waitUntil(window.status.cancel_button.isVisible, timeout=10000)
    assert "Rendering preview" in window.status.job_label.text()
    with qtbot.waitSignals([lane.cancelled, lane.idle], timeout=3000):
        window.status.cancel_button.click()
    assert not window.status.cancel_button.isVisible()
    assert not lane.busy
    assert "cancelled" in window.status.problem_label.text()
    assert window.canvas.after_label == "After: render stopped (F5 renders it)", "the canvas says what it shows"
    window.renders.refresh()
    assert "cancelled" not in window.status.problem_label.text()
    assert window.canvas.after_label == "After"
    qtbot.waitUntil(lambda: lane.busy, timeout=10000)
    with qtbot.waitSignals([lane.cancelled, lane.idle], timeout=3000):
        window.status.cancel_button.click()


def test_f5_leaves_a_message_that_is_not_the_previews(qtbot, window, photo_path):
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    window.status.set_problem("gamma must be positive")
    window.renders.refresh()
    wait_rendered(qtbot, window)
    assert window.status.problem_label.text() == "gamma must be positive"


def test_zooming_in_renders_the_viewport_at_full_resolution(qtbot, window, photo_path, monkeypatch):
    monkeypatch.setattr("app.render_controller.preview_scale_for", lambda rows, cols: 0.25)
    open_image(qtbot, window, photo_path)
    assert window.canvas.layers.after.whole.array.shape[:2] == (24, 32)
    add_filter(qtbot, window, "negative")
    window.canvas.set_zoom(4.0)
    qtbot.waitUntil(lambda: window.canvas.layers.after.detail is not None, timeout=10000)
    detail, before = window.canvas.layers.after.detail, window.canvas.layers.before.detail
    assert detail.scale == 1.0
    top, left = int(detail.top), int(detail.left)
    rows, cols = detail.array.shape[:2]
    source = window.document.source.pixels[top:top + rows, left:left + cols]
    expected = np.round((1.0 - source) * 255).astype(np.uint8)
    np.testing.assert_array_equal(detail.array, expected)
    np.testing.assert_array_equal(before.array, np.round(source * 255).astype(np.uint8))
    window.canvas.set_zoom(0.25)
    qtbot.waitUntil(lambda: window.canvas.layers.after.detail is None, timeout=10000)


def test_at_one_to_one_the_status_line_reads_the_full_resolution_result(qtbot, window, photo_path, monkeypatch):
    from app.display import describe_value

    monkeypatch.setattr("app.render_controller.preview_scale_for", lambda rows, cols: 0.25)
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    window.canvas.set_zoom(4.0)
    qtbot.waitUntil(lambda: window.canvas.layers.after.detail is not None, timeout=10000)
    detail = window.canvas.layers.after.detail
    source = window.document.source
    for row, col in ((int(detail.top) + 1, int(detail.left) + 2), (int(detail.top) + 6, int(detail.left) + 3)):
        window._show_value(col + 0.5, row + 0.5)
        exact = describe_value(source.meta, 1.0 - source.pixels[row, col])
        assert f"result {exact}" in window.status.value_label.text()


def test_a_value_read_from_a_reduced_preview_is_marked_approximate(qtbot, window, tmp_path, monkeypatch):
    """At fit the status line gave a reduced preview's average as the result: 117 beside an original 60, no edit."""
    monkeypatch.setattr("app.render_controller.preview_scale_for", lambda rows, cols: 0.25)
    open_image(qtbot, window, save_png(synthetic_photo(1200, 1600), tmp_path / "large.png"))
    add_filter(qtbot, window, "negative")
    assert window.renders.latest.preview_pixels.shape[:2] == (300, 400)
    window._show_value(10.5, 10.5)
    assert "   result ≈ R " in window.status.value_label.text()


def test_a_pan_renders_only_the_new_part_and_the_canvas_keeps_both_patches(qtbot, window, photo_path, monkeypatch):
    monkeypatch.setattr("app.render_controller.preview_scale_for", lambda rows, cols: 0.25)
    open_image(qtbot, window, photo_path)
    canvas, renders = window.canvas, window.renders
    canvas.set_zoom(16.0)
    add_filter(qtbot, window, "negative")
    qtbot.waitUntil(lambda: len(canvas.layers.after.details) == 1
                    and renders.state.details[0].generation == renders.generation, timeout=10000)
    first = renders.state.details[0].rect
    assert first != (0, 0, 128, 96), "the zoomed-in view asks for a part of the image"
    canvas.viewport.pan_by(-canvas.viewport.width / 2, 0)
    canvas.view_changed.emit()
    qtbot.waitUntil(lambda: len(canvas.layers.after.details) == 2, timeout=10000)
    second = renders.state.details[1].rect
    assert second[0] == first[2] and second[2] - second[0] < first[2] - first[0]
    patch = canvas.layers.after.detail
    top, left = int(patch.top), int(patch.left)
    rows, cols = patch.array.shape[:2]
    source = window.document.source.pixels[top:top + rows, left:left + cols]
    np.testing.assert_array_equal(patch.array, np.round((1.0 - source) * 255).astype(np.uint8))
    canvas.viewport.pan_by(canvas.viewport.width / 2, 0)
    assert renders.wish() is not None and renders._plan(renders.wish()).request is None, "back: all cached"


def test_export_writes_the_full_resolution_result(qtbot, window, photo_path, tmp_path):
    from app.export_dialog import ExportDialog
    from enhance_core.io import read_image

    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    with qtbot.waitSignal(window.export_lane.finished, timeout=20000):
        window.export_image()
    dialog = window.findChild(ExportDialog)
    target = tmp_path / "out.jpg"
    dialog.path.setText(str(target))
    dialog.path.editingFinished.emit()
    assert dialog.format.currentText() == "JPEG"
    qtbot.waitUntil(lambda: dialog.estimate.text().startswith("≈"), timeout=20000)
    assert "PSNR" in dialog.estimate.text() and "SSIM" in dialog.estimate.text()
    with qtbot.waitSignal(dialog.accepted, timeout=20000):
        dialog.buttons.accepted.emit()
    written = read_image(target)
    expected = 1.0 - window.document.source.pixels
    assert written.pixels.shape == expected.shape
    assert np.abs(written.pixels - expected).mean() < 0.02


def test_an_export_that_leaves_something_out_says_what_in_the_status_bar(qtbot, window, tmp_path):
    from PIL import Image as PILImage

    from app.export_dialog import ExportDialog

    pixels = np.full((24, 32, 4), 255, np.uint8)
    pixels[:, :16, 3] = 0
    PILImage.fromarray(pixels, "RGBA").save(tmp_path / "cutout.png")
    open_image(qtbot, window, tmp_path / "cutout.png")
    with qtbot.waitSignal(window.export_lane.finished, timeout=20000):
        window.export_image()
    dialog = window.findChild(ExportDialog)
    dialog.path.setText(str(tmp_path / "flat.jpg"))
    dialog.path.editingFinished.emit()
    with qtbot.waitSignal(dialog.accepted, timeout=20000):
        dialog.buttons.accepted.emit()
    assert "left out: JPEG holds no transparency" in window.status.currentMessage()


def test_export_refuses_to_overwrite_the_source(qtbot, window, photo_path):
    from app.export_dialog import ExportDialog

    open_image(qtbot, window, photo_path)
    original = photo_path.read_bytes()
    with qtbot.waitSignal(window.export_lane.finished, timeout=20000):
        window.export_image()
    dialog = window.findChild(ExportDialog)
    dialog.path.setText(str(photo_path))
    dialog.path.editingFinished.emit()
    with qtbot.waitSignal(window.export_lane.failed, timeout=20000):
        dialog.export()
    assert "refusing to overwrite" in window.reporter.errors[-1][1]
    assert photo_path.read_bytes() == original
    dialog.reject()


def test_a_failed_export_is_not_remembered_as_the_export_folder(qtbot, window, photo_path, tmp_path):
    from app.export_dialog import ExportDialog

    open_image(qtbot, window, photo_path)
    with qtbot.waitSignal(window.export_lane.finished, timeout=20000):
        window.export_image()
    dialog = window.findChild(ExportDialog)
    remembered = dialog.settings.last_folder("export")
    missing = tmp_path / "no such folder" / "deeper"
    dialog.path.setText(str(missing / "out.png"))
    dialog.path.editingFinished.emit()
    with qtbot.waitSignal(window.export_lane.failed, timeout=20000):
        dialog.export()
    assert dialog.settings.last_folder("export") == remembered != str(missing)
    dialog.path.setText(str(tmp_path / "out.png"))
    with qtbot.waitSignal(dialog.accepted, timeout=20000):
        dialog.export()
    assert dialog.settings.last_folder("export") == str(tmp_path)


def test_an_image_whose_read_was_superseded_never_opens(qtbot, window, photo_path, tmp_path, monkeypatch):
    slow_path = save_png(synthetic_photo(seed=5), tmp_path / "slow.png")
    gate, real_read = threading.Event(), file_actions._read_job

    def read(path, progress, should_stop):
        if path == slow_path:
            gate.wait(10)  # a decoder that does not check should_stop: its result comes after all
        return real_read(path, progress, should_stop)

    monkeypatch.setattr(file_actions, "_read_job", read)
    opened = []
    window.document.image_changed.connect(lambda: opened.append(window.document.source_path))
    window.files.open_path(slow_path)
    window.files.open_path(photo_path)
    gate.set()
    qtbot.waitUntil(lambda: not window.files.lane.busy, timeout=10000)
    assert opened == [photo_path]


def test_a_pan_lets_a_slow_render_of_the_same_stack_finish_instead_of_restarting_it(qtbot, window, tmp_path):
    runs = {"started": 0, "stopped": 0}
    release = threading.Event()

    def learned_slowly(pixels, params, ctx):
        if ctx.scale < 0.5:
            return pixels.copy()  # the coarse proxy comes at once
        runs["started"] += 1
        while not release.wait(0.005):
            if ctx.should_stop():
                runs["stopped"] += 1
                raise Cancelled("stopped")
        return pixels.copy()

    register(FilterDef("test_learned_slow", "Slow learned test filter", "Blur & denoise", _SlowParams,
                       learned_slowly, learned=True, description="Waits for the test."))
    try:
        open_image(qtbot, window, save_png(np.random.default_rng(1).random((1200, 2400, 3)).astype(np.float32),
                                           tmp_path / "large.png"))
        window.canvas.set_zoom(2.0)  # sharp patches at full scale over the 83 % preview
        window.stack_panel.add_filter("test_learned_slow")
        qtbot.waitUntil(lambda: runs["started"] == 1, timeout=10000)
        submitted = window.renders._submitted
        window.canvas.viewport.pan_by(1500.0, 600.0)
        window.canvas.view_changed.emit()
        qtbot.waitUntil(lambda: window.renders._submitted is not submitted, timeout=5000)
        qtbot.wait(300)
        assert runs == {"started": 1, "stopped": 0}, "the pan did not restart the running render"
        release.set()
        wait_rendered(qtbot, window)
    finally:
        release.set()
        window.shutdown()  # no render may plan the step once its filter is gone
        FILTERS.pop("test_learned_slow")


def test_a_wide_gamut_picture_is_shown_converted_to_srgb_and_keeps_its_own_values(qtbot, window, tmp_path):
    from PIL import Image as PILImage

    from app.display import to_display_array
    from enhance_core.io.profiles import to_srgb
    from tests.core.io_fixtures import prophoto_profile, srgb_profile

    pixels = np.zeros((24, 32, 3), np.uint8)
    pixels[:, :16] = (60, 120, 60)
    pixels[:, 16:] = (128, 128, 128)
    for name, profile in (("prophoto.png", prophoto_profile()), ("srgb.png", srgb_profile())):
        PILImage.fromarray(pixels).save(tmp_path / name, icc_profile=profile)
    open_image(qtbot, window, tmp_path / "prophoto.png")
    shown = window.canvas.layers.after.whole.array
    own = to_display_array(window.renders.latest.preview_pixels)
    np.testing.assert_array_equal(own[5, 5], (60, 120, 60), err_msg="the preview keeps the file's values")
    np.testing.assert_array_equal(shown, to_srgb(prophoto_profile())(own))
    assert shown[5, 5, 1] > 140 and shown[5, 5, 0] < 20, "ProPhoto's green is a saturated sRGB green"
    assert window.canvas.layers.before.whole.array[5, 5, 1] == shown[5, 5, 1], "the original is shown alike"
    open_image(qtbot, window, tmp_path / "srgb.png")
    np.testing.assert_array_equal(window.canvas.layers.after.whole.array[5, 5], (60, 120, 60))


def test_a_gray_picture_with_a_gray_profile_is_shown_through_it(qtbot, window, tmp_path):
    """A linear gray scan's 32 was painted as 32 where colour-managed viewers show 99 (gray profiles were skipped)."""
    from PIL import Image as PILImage

    from tests.core.io_fixtures import gray_profile

    pixels = np.full((24, 32), 32, np.uint8)
    pixels[:, 16:] = 128
    PILImage.fromarray(pixels, "L").save(tmp_path / "linear.png", icc_profile=gray_profile(1.0))
    open_image(qtbot, window, tmp_path / "linear.png")
    shown = window.canvas.layers.after.whole.array
    np.testing.assert_array_equal(shown[5, 5], (99, 99, 99))
    np.testing.assert_array_equal(shown[5, 20], (188, 188, 188))
    assert window.document.source.pixels[5, 5, 0] == np.float32(32 / 255), "the picture keeps its own values"


@pytest.mark.parametrize("channels", [1, 3])
def test_a_deep_picture_with_a_linear_profile_is_shown_without_bands_in_its_shadows(channels):
    """Rounded to 8 bits before the profile's conversion, a float master's dark linear ramp showed 14 of its 64
    levels, its first 21 pixels black (a walk-through with float HDR masters)."""
    from app.display import DisplayImage, float_colours
    from enhance_core.io.profiles import to_srgb
    from tests.core.io_fixtures import _gamma_curve, _matrix_trc_profile, _xyz, gray_profile, prophoto_profile

    assert float_colours(prophoto_profile()) is None, "a gamma 1.8 profile is converted in 8 bits"
    linear = _gamma_curve(1.0)
    profile = gray_profile(1.0) if channels == 1 else _matrix_trc_profile(b"RGB ", b"Linear sRGB (test)", [
        (b"rXYZ", _xyz(0.4360747, 0.2225045, 0.0139322)), (b"gXYZ", _xyz(0.3850649, 0.7168786, 0.0971045)),
        (b"bXYZ", _xyz(0.1430804, 0.0606169, 0.7141733)), (b"rTRC", linear), (b"gTRC", linear), (b"bTRC", linear)])
    ramp = np.repeat(np.linspace(0.0, 0.05, 64, dtype=np.float32)[None, :, None], channels, axis=2)
    shown = DisplayImage.from_pixels(ramp, colours=to_srgb(profile), working=float_colours(profile)).array
    levels = shown.reshape(64, -1)[:, 0] if shown.ndim == 3 else shown[0]
    assert len(np.unique(levels)) >= 50 and levels[1] > 0
    np.testing.assert_allclose(levels[-1], 255 * (1.055 * 0.05 ** (1 / 2.4) - 0.055), atol=1)


def test_the_readout_says_how_transparent_a_pixel_is_and_no_result_colour_under_full_transparency(
        qtbot, window, tmp_path):
    """Under a fully transparent pixel of an unedited picture "result" named the nearest visible colour (which fills
    it for the filters), as if a step had changed it, and no alpha was shown (a walk-through with odd pictures)."""
    from PIL import Image as PILImage

    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, 15:, 1] = 255
    rgba[:, :10, 3], rgba[:, 10:20, 3], rgba[:, 20:, 3] = 255, 128, 0
    PILImage.fromarray(rgba).save(tmp_path / "cutout.png")
    open_image(qtbot, window, tmp_path / "cutout.png")
    wait_rendered(qtbot, window)
    window._show_value(25.5, 5.5)
    said = window.status.value_label.text()
    assert said == "x 25, y 5   original R 255  G 255  B 0  (transparent)   result transparent"
    window._show_value(12.5, 5.5)
    assert "original R 255  G 0  B 0  alpha 50.2%   result R 255  G 0  B 0" in window.status.value_label.text()
    window._show_value(2.5, 5.5)
    assert "alpha" not in window.status.value_label.text()
    import tifffile

    gray = np.zeros((20, 30, 2), np.uint16)
    gray[..., 0] = 40000
    gray[:, 15:, 0], gray[:, 15:22, 1], gray[:, :15, 1] = 1000, 30, 65535  # 30 of 65535: faint, not hidden
    tifffile.imwrite(tmp_path / "faint.tif", gray, photometric="minisblack", extrasamples=["unassalpha"])
    open_image(qtbot, window, tmp_path / "faint.tif")
    wait_rendered(qtbot, window)
    window._show_value(25.5, 5.5)
    assert window.status.value_label.text() == "x 25, y 5   original 1000  (transparent)   result transparent"
    window._show_value(18.5, 5.5)
    assert window.status.value_label.text() == "x 18, y 5   original 1000  alpha 0.0458%   result 1000"


def test_cancel_while_the_export_is_written_says_the_file_was_written(qtbot, window, photo_path, tmp_path,
                                                                       monkeypatch):
    dialog, go_on = start_a_slow_export(qtbot, window, photo_path, tmp_path, monkeypatch, stoppable=False)
    dialog.reject()  # Cancel, too late to stop a file that is written whole or not at all
    go_on.set()
    qtbot.waitUntil(lambda: not window.export_lane.busy, timeout=10000)
    assert (tmp_path / "out.png").exists()
    said = window.statusBar().currentMessage()
    assert said == f"Exported {tmp_path / 'out.png'}: Cancel came while it was being written"


def start_a_slow_export(qtbot, window, photo_path, tmp_path, monkeypatch, *, stoppable: bool = True):
    """Open ``photo_path``'s export dialog and start writing ``out.png``, which goes on once the returned event is
    set (or, ``stoppable``, stops when asked); return the dialog and the event."""
    from app import export_dialog
    from app.export_dialog import ExportDialog

    write, writing, go_on = export_dialog.write_result, threading.Event(), threading.Event()

    def slow_write(result, path, depth, quality, progress, should_stop, **options):
        writing.set()
        while not go_on.wait(0.01):
            if stoppable and should_stop():
                raise Cancelled("stopped")
        return write(result, path, depth, quality, progress, should_stop, **options)

    monkeypatch.setattr(export_dialog, "write_result", slow_write)
    open_image(qtbot, window, photo_path)
    with qtbot.waitSignal(window.export_lane.finished, timeout=20000):
        window.export_image()
    dialog = window.findChild(ExportDialog)
    dialog.path.setText(str(tmp_path / "out.png"))
    dialog.path.editingFinished.emit()
    dialog.export_button.click()
    qtbot.waitUntil(writing.is_set, timeout=10000)
    return dialog, go_on


@pytest.mark.parametrize("closing", ["dialog", "window"])
@pytest.mark.parametrize("answer", [None, ESCAPE, "Stop"])
def test_closing_the_export_while_it_is_written_asks_first(qtbot, window, photo_path, tmp_path, monkeypatch, answer,
                                                          closing):
    """Quitting the application (which closes the windows, the dialog or the main window first) while a long export
    was written let it go unfinished, without a word. Enter and Escape keep writing it (and the window open); Stop
    stops it as Cancel does."""
    dialog, go_on = start_a_slow_export(qtbot, window, photo_path, tmp_path, monkeypatch)
    window.reporter.choices = [] if answer is None else [answer]
    closed = (dialog if closing == "dialog" else window).close()  # as QApplication.closeAllWindows() does
    assert "The export to" in window.reporter.questions[-1] and "is not written yet" in window.reporter.questions[-1]
    if answer == "Stop":
        qtbot.waitUntil(lambda: not window.export_lane.busy, timeout=10000)
    go_on.set()
    qtbot.waitUntil(lambda: not window.export_lane.busy, timeout=10000)
    assert closed == (answer == "Stop")
    assert (tmp_path / "out.png").exists() == (answer != "Stop")
    assert window.isVisible() == (closing == "dialog" or answer != "Stop")


def test_an_export_that_ends_while_its_close_question_is_open_lets_the_dialog_close(qtbot, window, photo_path,
                                                                                    tmp_path, monkeypatch):
    """Written while "Export not finished" waited, the default Keep Writing still refused the close: the hidden
    dialog, holding the full-resolution render, was never freed (a review)."""
    import shiboken6
    from PySide6.QtWidgets import QApplication

    dialog, go_on = start_a_slow_export(qtbot, window, photo_path, tmp_path, monkeypatch)

    def choose(parent, title, message, choices, *, default=None):  # the write ends while the box waits (exec)
        go_on.set()
        qtbot.waitUntil(lambda: not window.export_lane.busy, timeout=10000)
        return default

    monkeypatch.setattr(window.reporter, "choose", choose)
    assert dialog.close() and (tmp_path / "out.png").exists()
    QApplication.sendPostedEvents(None, 0)  # the deferred delete
    assert not shiboken6.isValid(dialog)


def test_a_failed_export_render_no_longer_says_it_is_rendering(qtbot, window, photo_path, monkeypatch):
    from app import export_dialog
    from app.export_dialog import ExportDialog
    from enhance_core.errors import ParameterError

    def refuse(*args, **options):
        raise ParameterError("the result would be over the pixel limit")

    monkeypatch.setattr(export_dialog, "render_full", refuse)
    open_image(qtbot, window, photo_path)
    window.export_image()
    dialog = window.findChild(ExportDialog)
    qtbot.waitUntil(lambda: bool(window.reporter.errors), timeout=10000)
    assert dialog.estimate.text() == "The full-resolution render failed; Export starts it again."
    dialog.reject()
