"""GUI: DICOM sources export to 16-bit PNG and 16-bit masters to their own format by default; the noise
indicator says its unit (HU for CT)."""

from __future__ import annotations

from pydicom.data import get_testdata_file

from app.metrics_panel import format_score, noise_unit
from enhance_core.image import Window
from enhance_core.io import read_image
from tests.app.conftest import open_image, wait_rendered
from tests.app.test_gui_medical_export import open_dialog


def test_a_dicom_slice_exports_to_16_bit_png_by_default(qtbot, window, ct_path):
    open_image(qtbot, window, ct_path)
    dialog = open_dialog(qtbot, window)
    assert dialog.path.text().endswith("ct_edited.png") and dialog.format.currentText() == "PNG"
    assert dialog.bit_depth.currentData() == 16
    dialog.format.setCurrentText("TIFF")
    assert dialog.bit_depth.currentData() == 16
    dialog.format.setCurrentText("JPEG")
    assert dialog.bit_depth.currentData() == 8
    dialog.path.setText(str(dialog.path.text()).replace(".jpg", ".tiff"))
    dialog.format.setCurrentText("TIFF")
    assert dialog.path.text().endswith("ct_edited.tiff"), "TIFF's other spelling is kept"
    dialog.format.setCurrentText("PNG")
    assert dialog.path.text().endswith("ct_edited.png"), "a .tiff name becomes .png when PNG is chosen"
    dialog.reject()


def test_a_jpeg_photo_still_exports_to_jpeg_and_an_8_bit_png_scan_keeps_png(qtbot, window, photo_path, tmp_path):
    from PIL import Image as PILImage

    jpeg = tmp_path / "camera.jpg"
    with PILImage.open(photo_path) as image:
        image.convert("RGB").save(jpeg, quality=90)
    open_image(qtbot, window, jpeg)
    dialog = open_dialog(qtbot, window)
    assert dialog.path.text().endswith("camera_edited.jpg") and dialog.bit_depth.currentData() == 8
    assert dialog.quality.value() == 90, "the camera JPEG's own quality"
    dialog.path.setText(str(tmp_path / "lossless.png"))
    dialog.path.editingFinished.emit()
    with qtbot.waitSignal(dialog.accepted, timeout=20000):
        dialog.buttons.accepted.emit()
    assert window.settings.value("export/quality", 0, int) == 0, "a source's quality is not remembered as the user's"
    open_image(qtbot, window, photo_path)
    dialog = open_dialog(qtbot, window)
    assert dialog.quality.value() == 95, "apply's default for a picture that is not a JPEG, so both write alike"
    assert dialog.path.text().endswith("photo_edited.png") and dialog.format.currentText() == "PNG", \
        "a lossless master is not made a JPEG by default"
    dialog.reject()


def test_a_16_bit_tiff_master_exports_to_16_bit_tiff_by_default(qtbot, window, tmp_path):
    import numpy as np

    from enhance_core.image import Image, ImageMeta
    from enhance_core.io import write_image

    master = write_image(Image(np.full((40, 60, 3), 0.3, np.float32), meta=ImageMeta(bit_depth=16)),
                         tmp_path / "master.tif")
    open_image(qtbot, window, master)
    dialog = open_dialog(qtbot, window)
    assert dialog.path.text().endswith("master_edited.tif") and dialog.format.currentText() == "TIFF"
    assert dialog.bit_depth.currentData() == 16
    dialog.reject()


def test_noise_of_a_ct_slice_is_in_hounsfield_units_through_the_window(qtbot, window, ct_path):
    open_image(qtbot, window, ct_path)
    window.window_level.choose("Lung")
    wait_rendered(qtbot, window)
    qtbot.waitUntil(lambda: window.metrics.latest is not None
                    and window.metrics.latest.generation == window.renders.generation, timeout=20000)
    panel, sigma = window.metrics_panel, window.metrics.latest.scores["original"]["noise"]
    assert (panel.levels, panel.unit) == (1499.0, "HU"), "the ramp of the window: DICOM LINEAR spans width - 1"
    assert panel.value("noise", 1) == f"{sigma * 1499:.2f} HU"
    window.window_level.apply_window(Window(40, 400), "Soft tissue")
    assert panel.levels == 399.0 and panel.value("noise", 1) == f"{sigma * 399:.2f} HU"


def test_noise_unit_for_photos_ct_and_mr():
    ct = read_image(get_testdata_file("CT_small.dcm"))
    assert noise_unit(ct.meta, Window(-600, 1500)) == (1499.0, "HU"), "the ramp of DICOM's LINEAR spans width - 1"
    assert noise_unit(ct.meta, Window(-600, 1500, function="sigmoid")) == (1500.0, "HU")
    assert noise_unit(ct.meta, None) == (abs(ct.meta.value_scale), "HU")
    mr = read_image(get_testdata_file("MR_small.dcm"))
    assert noise_unit(mr.meta, Window(600, 1200)) == (1199.0, "MR values")
    photo = read_image(get_testdata_file("CT_small.dcm"))
    photo.meta.unit, photo.meta.value_scale, photo.meta.value_offset, photo.meta.bit_depth = "", 1.0, 0.0, 8
    assert noise_unit(photo.meta, None) == (255.0, "")
    photo.meta.bit_depth = 16
    assert noise_unit(photo.meta, None) == (255.0, ""), "the scale Denoise (CNN) states its level in"
    assert format_score("noise", 0.01, levels=1500.0, unit="HU") == "15.00 HU"
    assert format_score("noise", 0.01) == "2.55"
