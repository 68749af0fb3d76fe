"""What the reader warns about (a non-conformant or damaged DICOM) stays visible in the status bar (issue #21)."""

from __future__ import annotations

from pathlib import Path

from conftest import open_image
from pydicom.data import get_testdata_file


def test_dicom_warnings_show_in_the_status_bar_until_another_image_opens(qtbot, window, photo_path):
    path = Path(get_testdata_file("SC_rgb_jpeg.dcm"))
    open_image(qtbot, window, path)
    label = window.status.read_warning_label
    assert label.isVisible()
    assert label.text() == ("⚠ SC_rgb_jpeg.dcm: the file is written with implicit VR, which its transfer syntax, "
                            "JPEG Baseline (Process 1), does not allow; it is read as written (other programs may "
                            "need the file re-exported)")
    assert "written with implicit VR" in label.toolTip()
    open_image(qtbot, window, photo_path)
    assert not label.isVisible() and label.text() == ""


def test_a_multi_page_tiff_and_an_animation_say_which_page_is_edited(qtbot, window, tmp_path):
    import numpy as np
    import tifffile
    from PIL import Image as PILImage

    pages = np.zeros((2, 16, 16, 3), np.uint8)
    tifffile.imwrite(tmp_path / "two.tif", pages, photometric="rgb")
    open_image(qtbot, window, tmp_path / "two.tif")
    label = window.status.read_warning_label
    assert label.text() == "⚠ two.tif: page 1 of 2 opened: only this page is edited and exported"
    with tifffile.TiffWriter(tmp_path / "scan.tif") as writer:
        writer.write(pages[0], photometric="rgb")
        writer.write(pages[0, ::4, ::4], photometric="rgb", subfiletype=1)
    open_image(qtbot, window, tmp_path / "scan.tif")
    assert not label.isVisible(), "a scanner's thumbnail page is not a page the user loses"
    frames = [PILImage.new("RGB", (16, 16), (10 * k, 0, 0)) for k in range(3)]
    frames[0].save(tmp_path / "anim.png", save_all=True, append_images=frames[1:])
    open_image(qtbot, window, tmp_path / "anim.png")
    assert label.text() == "⚠ anim.png: an animation of 3 frames: only the first is read, edited and written"
