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
    assert label.text() == ("⚠ SC_rgb_jpeg.dcm: Expected explicit VR, but found implicit VR - "
                            "using implicit VR for reading")
    assert "Expected explicit VR" in label.toolTip()
    open_image(qtbot, window, photo_path)
    assert not label.isVisible() and label.text() == ""
