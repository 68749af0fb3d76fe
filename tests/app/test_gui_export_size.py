"""The export dialog's Size group: the file gets the chosen size, the resulting size is shown."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image as PILImage
from PySide6.QtWidgets import QWidget

from app.commands import AddStepCommand
from app.document import Document
from app.error_reporter import RecordingReporter
from app.export_dialog import ExportDialog, free_path
from app.settings import EditorSettings
from app.workers import JobRunner, running_workers
from enhance_core.io import read_image
from tests.app.conftest import save_png, synthetic_photo


@pytest.fixture
def open_dialog(qtbot):
    """Open the export dialog on an image file (in a host window, as the editor does) and wait for its render."""
    host = QWidget()
    qtbot.addWidget(host)
    lanes: list[JobRunner] = []

    def opened(path, steps: dict[str, dict] | None = None) -> ExportDialog:
        document = Document(host)
        document.set_source(read_image(path), path)
        for name, params in (steps or {}).items():
            document.push(AddStepCommand(document.stack, name, params))
        render_lane, estimate_lane = JobRunner("Exporting", host), JobRunner("Estimating", host)
        with qtbot.waitSignal(render_lane.finished, timeout=20000):
            dialog = ExportDialog(document, EditorSettings(), RecordingReporter(), render_lane, estimate_lane, host)
        lanes.extend((render_lane, estimate_lane))
        return dialog
    yield opened
    for lane in lanes:
        lane.cancel()
    for thread in running_workers():
        thread.wait(5000)


def export_to(qtbot, dialog: ExportDialog, target):
    """Type ``target`` as the file name, press Export and wait for the dialog to close; return ``target``."""
    dialog.path.setText(str(target))
    dialog.path.editingFinished.emit()
    with qtbot.waitSignal(dialog.accepted, timeout=20000):
        dialog.buttons.accepted.emit()
    return target


def test_long_edge_800_writes_a_file_800_on_its_long_edge(qtbot, open_dialog, tmp_path):
    dialog = open_dialog(save_png(synthetic_photo(600, 1000), tmp_path / "wide.png"))
    assert dialog.output_size() is None and dialog.size_box.result.text().startswith("1000 × 600 px")
    dialog.size_box.set_long_edge(800)
    dialog.size_box.sharpen.setCurrentIndex(dialog.size_box.sharpen.findData("low"))
    assert dialog.size_box.result.text().startswith("800 × 480 px")
    with PILImage.open(export_to(qtbot, dialog, tmp_path / "small.jpg")) as written:
        assert written.size == (800, 480)
    assert dialog.reporter.errors == []


def test_percentage_and_only_shrink_show_the_resulting_size(open_dialog, photo_path):
    dialog = open_dialog(photo_path)
    box = dialog.size_box
    box.mode.setCurrentIndex(2)
    box.value.setValue(200)
    assert box.result.text().startswith("256 × 192 px")
    box.mode.setCurrentIndex(1)
    box.value.setValue(1000)
    box.only_shrink.setChecked(True)
    assert box.result.text().startswith("128 × 96 px") and dialog.output_size() is not None
    dialog.reject()



def test_the_resulting_size_is_that_of_the_cropped_result(open_dialog, tmp_path):
    dialog = open_dialog(save_png(synthetic_photo(600, 1000), tmp_path / "wide.png"), {"crop": {"aspect": "1:1"}})
    dialog.size_box.set_long_edge(300)
    assert dialog.size_box.result.text().startswith("300 × 300 px")  # the 600 x 600 crop's, not 300 x 180
    dialog.reject()


def test_quality_ticks_do_not_resize_the_result_again(qtbot, open_dialog, tmp_path, monkeypatch):
    import app.export_jobs as export_jobs

    calls = []
    resize = export_jobs.apply_output_size

    def counting(image, size):
        calls.append((image.rows, image.cols, size))
        return resize(image, size)

    monkeypatch.setattr(export_jobs, "apply_output_size", counting)
    dialog = open_dialog(save_png(synthetic_photo(600, 1000), tmp_path / "wide.png"))
    dialog.path.setText(str(tmp_path / "small.jpg"))
    with qtbot.waitSignal(dialog.estimate_lane.finished, timeout=20000):
        dialog.path.editingFinished.emit()
    with qtbot.waitSignal(dialog.estimate_lane.finished, timeout=20000):
        dialog.size_box.set_long_edge(800)
    resized = len(calls)
    assert [size.long_edge for _, _, size in calls].count(800) == 1
    for quality in (70, 95):
        with qtbot.waitSignal(dialog.estimate_lane.finished, timeout=20000):
            dialog.quality.setValue(quality)
        assert dialog.estimate.text().startswith("≈")
    assert len(calls) == resized
    dialog.reject()


def test_an_unedited_jpeg_exported_as_jpeg_is_said_to_be_compressed_again(qtbot, open_dialog, tmp_path):
    """Each export of an untouched camera JPEG lost 3-5 dB more over five rounds, with nothing said."""
    from enhance_core.image import Image
    from enhance_core.io import write_image

    camera = write_image(Image(synthetic_photo(60, 80)), tmp_path / "camera.jpg", quality=85)
    for steps, said in ((None, True), ({"negative": {}}, False)):
        dialog = open_dialog(camera, steps)
        assert dialog.format.currentText() == "JPEG"
        qtbot.waitUntil(lambda: dialog.estimate.text().startswith("≈"), timeout=20000)
        assert ("the picture is unedited: a JPEG export compresses it again" in dialog.estimate.text()) is said
        dialog.reject()


@pytest.mark.parametrize("answer", ["Cancel", "Keep Both", "Replace"])
def test_an_existing_file_is_replaced_only_when_the_user_says_so(qtbot, open_dialog, tmp_path, answer):
    scan = save_png(synthetic_photo(60, 80), tmp_path / "scan.png")
    target = tmp_path / "scan_edited.png"
    target.write_text("an earlier export")
    dialog = open_dialog(scan)
    assert dialog.path.text() == str(tmp_path / "scan_edited-2.png"), "the default name is a free one"
    dialog.path.setText(str(target))
    dialog.reporter.choices = [answer]
    if answer == "Cancel":
        dialog.export()
        assert dialog.export_button.isEnabled() and sorted(p.name for p in tmp_path.iterdir()) == [
            "scan.png", "scan_edited.png"]
        dialog.reject()
    else:
        with qtbot.waitSignal(dialog.accepted, timeout=20000):
            dialog.export()
        written = tmp_path / ("scan_edited-2.png" if answer == "Keep Both" else "scan_edited.png")
        with PILImage.open(written) as image:
            assert image.size == (80, 60)
    assert "already exists" in dialog.reporter.questions[-1]
    assert "read-only" not in dialog.reporter.questions[-1]
    assert (target.read_bytes() == b"an earlier export") == (answer != "Replace")


def test_replacing_a_read_only_export_says_it_is_read_only(qtbot, open_dialog, tmp_path):
    scan = save_png(synthetic_photo(60, 80), tmp_path / "scan.png")
    target = tmp_path / "scan_edited.png"
    target.write_text("a protected export")
    target.chmod(0o444)
    dialog = open_dialog(scan)
    dialog.path.setText(str(target))
    dialog.reporter.choices = ["Cancel"]
    dialog.export()
    assert "already exists. It is read-only: protected from changes. Replace it" in dialog.reporter.questions[-1]
    assert target.read_text() == "a protected export"
    dialog.reject()


def test_a_free_path_adds_a_number_while_the_name_is_taken(tmp_path):
    assert free_path(tmp_path / "a.jpg") == tmp_path / "a.jpg"
    (tmp_path / "a.jpg").touch()
    (tmp_path / "a-2.jpg").touch()
    assert free_path(tmp_path / "a.jpg") == tmp_path / "a-3.jpg"


def test_a_name_changed_while_the_render_finishes_is_asked_about_too(qtbot, open_dialog, tmp_path):
    dialog = open_dialog(save_png(synthetic_photo(60, 80), tmp_path / "scan.png"))
    (tmp_path / "taken.jpg").write_text("keep me")
    dialog.rendered = None
    dialog.path.setText(str(tmp_path / "free.jpg"))
    dialog.export()
    assert dialog.reporter.questions == [], "nothing to replace yet"
    dialog.path.setText(str(tmp_path / "taken.jpg"))
    dialog.reporter.choices = ["Cancel"]
    dialog.export()
    assert "already exists" in dialog.reporter.questions[-1] and (tmp_path / "taken.jpg").read_text() == "keep me"
    dialog.reject()


def test_a_transparent_image_exports_as_png_by_default_and_jpeg_says_it_loses_the_transparency(
        qtbot, open_dialog, tmp_path):
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = np.linspace(0, 255, 30).astype(np.uint8)
    PILImage.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    dialog = open_dialog(tmp_path / "alpha.png")
    assert dialog.path.text().endswith("alpha_edited.png") and dialog.format.currentText() == "PNG"
    assert dialog.transparency.text() == "kept"
    dialog.format.setCurrentText("JPEG")
    assert "transparent parts are made white" in dialog.transparency.text()
    dialog.format.setCurrentText("PNG")
    with qtbot.waitSignal(dialog.accepted, timeout=20000):
        dialog.export()
    written = np.asarray(PILImage.open(dialog.written))
    assert written.shape == (20, 30, 4) and abs(int(written[5, 29, 3]) - 255) <= 1 and written[5, 0, 3] <= 1


def test_a_photo_that_says_where_it_was_taken_can_be_exported_without_it(qtbot, open_dialog, tmp_path):
    """Every export carried the GPS position, and nothing could leave it out (a photographer's check)."""
    from enhance_core.image import Image, ImageMeta
    from enhance_core.io import holds_location, write_image
    from tests.core.io_fixtures import camera_exif

    located = write_image(Image(synthetic_photo(40, 60), meta=ImageMeta(bit_depth=8, exif=camera_exif())),
                          tmp_path / "trip.jpg")
    dialog = open_dialog(located)
    assert dialog.strip_location.isVisibleTo(dialog) and not dialog.strip_location.isChecked()
    dialog.strip_location.setChecked(True)
    with qtbot.waitSignal(dialog.accepted, timeout=20000):
        dialog.export()
    assert not holds_location(read_image(dialog.written).meta)
    assert read_image(dialog.written).meta.exif is not None, "the rest of the EXIF stays"
    again = open_dialog(located)
    assert again.strip_location.isChecked(), "the choice is remembered"
    again.reject()
    plain = open_dialog(save_png(synthetic_photo(40, 60), tmp_path / "plain.png"))
    assert not plain.strip_location.isVisibleTo(plain), "offered only where there is a location"
    plain.reject()


def test_an_alpha_channel_that_is_opaque_everywhere_is_no_transparency(open_dialog, tmp_path):
    rgba = np.full((20, 30, 4), 255, np.uint8)
    rgba[..., :3] = 90
    PILImage.fromarray(rgba, "RGBA").save(tmp_path / "opaque.png")
    dialog = open_dialog(tmp_path / "opaque.png")
    assert dialog.path.text().endswith("opaque_edited.png") and not dialog.has_transparency


def test_a_folder_typed_as_the_file_gets_the_edited_name_inside_it(qtbot, open_dialog, tmp_path):
    dialog = open_dialog(save_png(synthetic_photo(60, 80), tmp_path / "beach.png"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "beach_edited.png").write_bytes(b"")
    dialog.path.setText(str(tmp_path / "out"))
    dialog.path.editingFinished.emit()
    assert dialog.path.text() == str(tmp_path / "out" / "beach_edited-2.png")
    with qtbot.waitSignal(dialog.accepted, timeout=20000):
        dialog.buttons.accepted.emit()
    assert read_image(tmp_path / "out" / "beach_edited-2.png").cols == 80 and not (tmp_path / "out.png").exists()


def test_a_cleared_or_relative_file_box_is_left_as_typed(qtbot, open_dialog, tmp_path, monkeypatch):
    dialog = open_dialog(save_png(synthetic_photo(60, 80), tmp_path / "beach.png"))
    monkeypatch.chdir(tmp_path)
    dialog.path.setText("")
    dialog.path.editingFinished.emit()
    assert dialog.path.text() == "", "no file of the working folder is put in"
    (tmp_path / "sub").mkdir()
    dialog.path.setText("sub")
    dialog.path.editingFinished.emit()
    assert dialog.path.text() == "sub.png", "a relative name is a file name, as before"


def test_export_after_the_render_was_stopped_renders_again_and_writes(qtbot, tmp_path, monkeypatch):
    import threading

    import app.export_dialog as export_dialog

    gate, render = threading.Event(), export_dialog.render_full

    def held(*args, **kwargs):
        progress, should_stop = args[-2:]
        while not gate.wait(0.01):
            if should_stop():
                from enhance_core.errors import Cancelled
                raise Cancelled("render stopped")
        return render(*args, **kwargs)

    monkeypatch.setattr(export_dialog, "render_full", held)
    host = QWidget()
    qtbot.addWidget(host)
    path = save_png(synthetic_photo(), tmp_path / "photo.png")
    document = Document(host)
    document.set_source(read_image(path), path)
    render_lane, estimate_lane = JobRunner("Exporting", host), JobRunner("Estimating", host)
    dialog = ExportDialog(document, EditorSettings(), RecordingReporter(), render_lane, estimate_lane, host)
    with qtbot.waitSignal(render_lane.cancelled, timeout=5000):
        render_lane.cancel()  # the status bar's Cancel while the dialog renders
    assert dialog.export_button.isEnabled() and "render was stopped; Export starts it again" in dialog.estimate.text()
    dialog.path.setText(str(tmp_path / "out.png"))
    gate.set()
    with qtbot.waitSignal(dialog.finished, timeout=20000):
        dialog.export()
    assert dialog.written == tmp_path / "out.png" and (tmp_path / "out.png").is_file()
    for lane in (render_lane, estimate_lane):
        assert lane.wait(10000)


def test_the_default_export_name_leaves_a_folder_the_user_cannot_write(qtbot, open_dialog, tmp_path, monkeypatch):
    import os

    card = tmp_path / "card"
    card.mkdir()
    scan = save_png(synthetic_photo(60, 80), card / "scan.png")
    pictures = tmp_path / "Pictures"
    pictures.mkdir()
    monkeypatch.setattr("app.export_dialog.QStandardPaths.writableLocation", lambda location: str(pictures))
    writable = os.access
    monkeypatch.setattr("app.export_dialog.os.access", lambda path, mode: path != str(card) and writable(path, mode))
    dialog = open_dialog(scan)
    assert dialog.path.text() == str(pictures / "scan_edited.png")
    dialog.reject()


def test_the_bundled_sample_is_not_exported_into_the_programs_folder(qtbot, open_dialog, tmp_path, monkeypatch):
    """Its folder is writable in a checkout or a root install, and Ctrl+E, Enter wrote into resources/."""
    from app.bundled import SAMPLE_IMAGE

    pictures = tmp_path / "Pictures"
    pictures.mkdir()
    monkeypatch.setattr("app.export_dialog.QStandardPaths.writableLocation", lambda location: str(pictures))
    dialog = open_dialog(SAMPLE_IMAGE)
    assert dialog.path.text() == str(pictures / "sample_astronaut_edited.png")
    dialog.reject()
    pictures.rmdir()
    monkeypatch.setenv("HOME", str(tmp_path))
    dialog = open_dialog(SAMPLE_IMAGE)
    assert dialog.path.text() == str(tmp_path / "sample_astronaut_edited.png"), "Qt names Pictures when it is missing"
    dialog.reject()


def test_a_name_too_long_for_the_file_system_is_said_and_the_dialog_stays_usable(open_dialog, tmp_path) -> None:
    dialog = open_dialog(save_png(synthetic_photo(60, 80), tmp_path / "beach.png"))
    dialog.path.setText(str(tmp_path / ("é" * 130 + ".png")))
    dialog.path.editingFinished.emit()
    dialog.export()
    title, message, _ = dialog.reporter.errors[-1]
    assert title == "Export" and "the name is too long for the file system (264 bytes in UTF-8" in message
    assert dialog.export_button.isEnabled()
    dialog.reject()


def test_exporting_over_the_open_reference_says_it_is_the_reference(open_dialog, tmp_path) -> None:
    from enhance_core.io import read_image as read

    reference = save_png(synthetic_photo(60, 80, seed=5), tmp_path / "truth.png")
    dialog = open_dialog(save_png(synthetic_photo(60, 80), tmp_path / "beach.png"))
    dialog.document.set_reference(read(reference), reference)
    dialog.path.setText(str(reference))
    dialog.reporter.choices = ["Cancel"]
    dialog.export()
    assert "It is the reference open in the editor" in dialog.reporter.questions[-1]
    dialog.reject()


@pytest.mark.parametrize("rows, cols, said", [
    (10, 300, "SSIM n/a (under 11 px)"),
    (1, 70000, "JPEG holds at most 65,500 pixels a side and this picture is 70,000 x 1: choose PNG or TIFF"),
])
def test_the_jpeg_estimate_of_a_picture_too_small_or_too_wide_says_so_without_an_error(qtbot, open_dialog, tmp_path,
                                                                                         rows, cols, said):
    pixels = np.random.default_rng(1).random((rows, cols, 3)).astype(np.float32)
    dialog = open_dialog(save_png(pixels, tmp_path / "strip.png"))
    dialog.format.setCurrentText("JPEG")
    qtbot.waitUntil(lambda: said in dialog.estimate.text(), timeout=20000)
    assert dialog.reporter.errors == []


def test_a_bare_export_name_is_written_beside_the_image_and_an_empty_one_asks_for_a_name(qtbot, open_dialog, tmp_path,
                                                                                      monkeypatch):
    folder = tmp_path / "shots"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)  # the process's folder is not where a bare name goes
    dialog = open_dialog(save_png(synthetic_photo(40, 60), folder / "photo.png"))
    dialog.path.setText("   ")
    dialog.buttons.accepted.emit()
    assert dialog.reporter.errors[-1][1] == "give the exported file a name (or choose one with Browse…)"
    dialog.path.setText("rel_out.png")
    with qtbot.waitSignal(dialog.accepted, timeout=20000):
        dialog.buttons.accepted.emit()
    assert (folder / "rel_out.png").is_file() and not (tmp_path / "rel_out.png").exists()
    assert dialog.path.text() == str(folder / "rel_out.png")


@pytest.mark.parametrize(("name", "quality", "default", "default_quality"), [
    ("master.webp", 100, "master_edited.webp", 100), ("scan.bmp", None, "scan_edited.png", None),
    ("lossy.webp", 80, "lossy_edited.jpg", 95)])
def test_a_lossless_source_is_offered_a_lossless_export(open_dialog, tmp_path, name, quality, default,
                                                         default_quality):
    """A lossless WebP or a BMP was offered as NAME_edited.jpg at quality 95 (an audit of uncommon files)."""
    from enhance_core.image import Image
    from enhance_core.io import write_image

    source = write_image(Image(synthetic_photo(60, 80)), tmp_path / name, quality=quality or 95)
    dialog = open_dialog(source)
    assert dialog.path.text() == str(tmp_path / default)
    assert dialog.format.currentData() == default[default.rindex("."):]
    if default_quality is not None:
        assert dialog.quality.value() == default_quality and dialog.quality.isEnabled()
    dialog.format.setCurrentText("JPEG")
    assert dialog.quality.value() == 95, "100 is the lossless WebP's, not a JPEG's"
    dialog.format.setCurrentText("WEBP")
    assert dialog.quality.value() == (100 if name == "master.webp" else 95)
    dialog.quality.setValue(70)
    dialog.format.setCurrentText("JPEG")
    assert dialog.quality.value() == 70, "a quality the user chose stays"
    dialog.reject()


def test_a_typed_name_keeps_what_was_typed_and_gets_the_formats_suffix(open_dialog, photo_path, tmp_path):
    """'.jpg' alone wrote a hidden '.jpg.png'; 'out.xyz' became 'out.jpg' and 'scan.v2' 'scan.png' without a word;
    spaces alone were told they lacked a suffix."""
    dialog = open_dialog(photo_path)
    dialog.format.setCurrentText("JPEG")
    for typed, shown in ((tmp_path / ".jpg", tmp_path / f"{photo_path.stem}_edited.jpg"),
                         (tmp_path / "out.xyz", tmp_path / "out.xyz.jpg"),
                         (tmp_path / "scan.v2", tmp_path / "scan.v2.jpg"), (f"{tmp_path}/out.", tmp_path / "out.jpg"),
                         (tmp_path / "b.png", tmp_path / "b.png"), ("   ", "")):
        dialog.path.setText(str(typed))
        dialog.path.editingFinished.emit()
        assert dialog.path.text() == str(shown)
    assert dialog.format.currentText() == "PNG", "a known suffix still chooses its format"
    dialog.format.setCurrentText("TIFF")
    dialog.path.setText(str(tmp_path / "b.png"))
    dialog.format.setCurrentText("JPEG")
    assert dialog.path.text() == str(tmp_path / "b.jpg"), "another format's suffix is replaced"


def test_the_print_size_at_the_scans_resolution_follows_the_size_and_format(qtbot, open_dialog, tmp_path):
    """An archivist exporting a 300 dpi scan smaller is told it will print smaller; WebP keeps no resolution."""
    source = tmp_path / "scan.png"
    PILImage.fromarray((synthetic_photo(600, 1000) * 255).astype(np.uint8)).save(source, dpi=(300, 300))
    dialog = open_dialog(source)
    box = dialog.size_box
    assert box.result.text() == "1000 × 600 px (0.6 MP)\nPrints 3.33 × 2 in (8.47 × 5.08 cm) at 300 dpi"
    box.set_long_edge(500)
    assert box.result.text().endswith("Prints 1.67 × 1 in (4.23 × 2.54 cm) at 300 dpi")
    dialog.format.setCurrentIndex(dialog.format.findText("WEBP"))
    assert "Prints" not in box.result.text()
    dialog.format.setCurrentIndex(dialog.format.findText("TIFF"))
    with PILImage.open(export_to(qtbot, dialog, tmp_path / "access.tif")) as written:
        assert written.size == (500, 300) and tuple(map(round, written.info["dpi"])) == (300, 300)


def test_the_print_size_of_a_scan_turned_a_quarter_uses_its_resolutions_swapped(qtbot, open_dialog, tmp_path):
    """A 300 x 150 dpi scan turned: the text gave the source's dpi, while the file says them swapped (a review)."""
    source = tmp_path / "fax.tif"
    PILImage.fromarray((synthetic_photo(600, 1000) * 255).astype(np.uint8)).save(source, dpi=(300, 150))
    dialog = open_dialog(source, {"rotate": {"angle": "90"}})
    dialog.format.setCurrentIndex(dialog.format.findText("TIFF"))
    assert dialog.size_box.result.text().endswith("Prints 4 × 3.33 in (10.2 × 8.47 cm) at 150 × 300 dpi")
    with PILImage.open(export_to(qtbot, dialog, tmp_path / "turned.tif")) as written:
        assert written.size == (600, 1000) and tuple(map(round, written.info["dpi"])) == (150, 300)


def test_the_estimate_says_before_the_export_what_a_float_picture_loses_in_the_chosen_format(qtbot, open_dialog,
                                                                                             tmp_path):
    """A float TIFF going to PNG read "Lossless" and lost 98 % of its values to clipping, said only once written."""
    import tifffile

    values = np.linspace(-5.0, 50.0, 40 * 60 * 3, dtype=np.float32).reshape(40, 60, 3)
    tifffile.imwrite(tmp_path / "hdr.tif", values, photometric="rgb")
    dialog = open_dialog(tmp_path / "hdr.tif")
    dialog.format.setCurrentText("PNG")
    assert dialog.estimate.text().startswith("Not lossless: ") and "are clipped in PNG" in dialog.estimate.text()
    dialog.format.setCurrentText("TIFF")
    dialog.bit_depth.setCurrentIndex(dialog.bit_depth.findData(32))
    dialog.bit_depth.activated.emit(dialog.bit_depth.currentIndex())
    assert dialog.estimate.text() == "Lossless: the file keeps every value of the chosen bit depth."
    dialog.format.setCurrentText("JPEG")
    qtbot.waitUntil(lambda: "are clipped in JPEG" in dialog.estimate.text(), timeout=20000)
