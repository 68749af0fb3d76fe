"""GUI: a study folder with series in nested subfolders opens with the Series panel, which opens the others."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from tests.app.conftest import open_image, wait_rendered
from tests.app.test_gui_medical import next_slice, open_folder
from tests.core.dicom_fixtures import slice_offset, truncate, write_mr_series, write_series
from tests.core.test_medical_study import CT_UID, MR_UID, SPLIT_UID, copy_into_backup, make_study


def wait_thumbnails(qtbot, window) -> None:
    panel = window.series_panel
    qtbot.waitUntil(lambda: len(panel.thumbnails) == len(panel.found) and not panel.lane.busy, timeout=20000)


def pick(qtbot, window, row: int) -> None:
    """Double-click the panel's ``row`` and wait until its series shows."""
    panel = window.series_panel
    rect = panel.list.visualItemRect(panel.list.item(row))
    with qtbot.waitSignal(window.files.series_opened, timeout=20000):
        qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # as a user's
        qtbot.mouseDClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # double-click
    wait_rendered(qtbot, window)


def test_a_nested_study_lists_its_series_with_thumbnails_and_opens_the_one_picked(qtbot, window, tmp_path):
    study = make_study(tmp_path)
    open_folder(qtbot, window, study)
    panel = window.series_panel
    assert window.docks["series"].isVisible()
    assert [s.uid for s in panel.found] == [CT_UID, SPLIT_UID, MR_UID]
    assert [panel.list.item(row).text() for row in range(3)] == [
        "AX LUNG 1.25\n#2 · CT · 3 slices", "(no description)\n#3 · CT · 3 slices", "T1 SE\n#5 · MR · 2 slices"]
    assert window.slices.series.uid == CT_UID and panel.list.currentRow() == 0
    wait_thumbnails(qtbot, window)
    icons = [panel.list.item(row).icon().pixmap(96, 96).toImage() for row in range(3)]
    assert all(not icon.isNull() for icon in icons) and icons[2] != icons[0]
    pick(qtbot, window, 2)
    assert window.slices.series.uid == MR_UID and window.document.source.meta.unit != "HU"
    assert window.document.source_path == study / "visit" / "mr" / "t1" / "mr1.dcm"
    next_slice(qtbot, window, lambda: window.slices.next_action.trigger())
    assert window.document.source_path.name == "mr2.dcm" and panel.list.currentRow() == 2
    pick(qtbot, window, 1)
    assert window.slices.series.uid == SPLIT_UID and len(window.slices.series) == 3
    shown = [window.document.source_path.relative_to(study).as_posix()]
    for _ in range(2):
        next_slice(qtbot, window, lambda: window.slices.next_action.trigger())
        shown.append(window.document.source_path.relative_to(study).as_posix())
    assert shown == ["split_b/x.dcm", "split_a/x.dcm", "split_b/y.dcm"]
    assert slice_offset(window.document.source) == 1
    assert [s.uid for s in panel.found] == [CT_UID, SPLIT_UID, MR_UID] and not window.reporter.errors


def test_the_headers_are_read_in_the_background_and_damaged_files_are_named(qtbot, window, tmp_path):
    study = make_study(tmp_path)
    from tests.core.dicom_fixtures import truncate

    truncate(write_series(study / "zz", [0.0], names=["cut.dcm"])[0], 600)
    with qtbot.waitSignal(window.files.series_opened, timeout=20000):
        window.files.open_path(study)
        assert window.files.lane.busy and window.document.source is None
    wait_rendered(qtbot, window)
    note = window.series_panel.note
    assert note.isVisible() and "1 DICOM file(s) could not be read" in note.text() and "cut.dcm" in note.toolTip()
    assert "cut.dcm skipped" in window.status.read_warning_label.toolTip()
    assert window.status.read_warning_label.text().startswith(
        "⚠ study: 1 file(s) of study cannot be read and are not in the series: cut.dcm; re-copy or repair them")


def test_one_series_opens_directly_and_an_image_takes_the_panel_away(qtbot, window, tmp_path, photo_path):
    qtbot.waitUntil(lambda: "History" in visible_tabs(window))
    assert "Series" not in visible_tabs(window), "no tab of the hidden panel is left on screen"
    write_mr_series(tmp_path / "only" / "deeper", 2)
    open_folder(qtbot, window, tmp_path / "only")
    assert len(window.slices.series) == 2 and not window.docks["series"].isVisible()
    assert not window.docks["series"].toggleViewAction().isVisible()
    open_folder(qtbot, window, make_study(tmp_path))
    assert window.docks["series"].isVisible()
    assert "Series" in visible_tabs(window)
    open_image(qtbot, window, photo_path)
    assert not window.docks["series"].isVisible() and window.series_panel.found == []
    assert "Series" not in visible_tabs(window) and "History" in visible_tabs(window)


def visible_tabs(window) -> list[str]:
    """The titles of the dock tabs on screen (Qt parks the tab bars it no longer uses outside the window)."""
    from PySide6.QtWidgets import QTabBar

    return [bar.tabText(i) for bar in window.findChildren(QTabBar)
            if bar.isVisible() and window.rect().intersects(bar.geometry()) for i in range(bar.count())]


def test_picking_a_series_asks_about_unsaved_edits_first(qtbot, window, tmp_path):
    from app.error_reporter import RecordingReporter

    open_folder(qtbot, window, make_study(tmp_path))
    window.reporter = window.files.reporter = RecordingReporter(saves=["cancel"])
    window.stack_panel.add_filter("unsharp_mask")
    wait_rendered(qtbot, window)
    window.series_panel.choose(2)
    assert window.reporter.questions and window.slices.series.uid == CT_UID
    assert Path(window.document.source_path).parent.name == "ct_lung"


def test_a_damaged_first_slice_of_the_largest_series_opens_the_next_series_and_names_the_file(qtbot, window,
                                                                                                tmp_path):
    study = make_study(tmp_path)
    damaged = study / "ct_lung" / "010.dcm"
    truncate(damaged, damaged.stat().st_size - 1000)
    open_folder(qtbot, window, study)
    panel = window.series_panel
    assert window.docks["series"].isVisible() and [s.uid for s in panel.found] == [CT_UID, SPLIT_UID, MR_UID]
    assert window.slices.series.uid == SPLIT_UID and panel.list.currentRow() == 1
    assert window.document.source_path == study / "split_b" / "x.dcm" and not window.reporter.errors
    warning = window.status.read_warning_label
    assert warning.isVisible() and "AX LUNG 1.25" in warning.text()
    assert str(damaged) in warning.toolTip() and "pixel data" in warning.toolTip()
    panel.choose(0)
    qtbot.waitUntil(lambda: bool(window.reporter.errors), timeout=20000)
    title, message, _ = window.reporter.errors[0]
    assert str(damaged) in message and "pick another series in the Series panel" in message
    assert window.slices.series.uid == SPLIT_UID and panel.list.currentRow() == 1


def test_a_study_whose_every_series_fails_to_open_reports_the_largest_ones_file(qtbot, window, tmp_path):
    write_series(tmp_path / "study" / "a", [0.0, 1.0], names=["a1.dcm", "a2.dcm"])
    write_series(tmp_path / "study" / "b", [0.0], names=["b1.dcm"])
    for path in (tmp_path / "study" / "a" / "a1.dcm", tmp_path / "study" / "b" / "b1.dcm"):
        truncate(path, path.stat().st_size - 1000)
    window.files.open_path(tmp_path / "study")
    qtbot.waitUntil(lambda: bool(window.reporter.errors), timeout=20000)
    assert len(window.reporter.errors) == 1 and window.document.source is None
    assert str(tmp_path / "study" / "a" / "a1.dcm") in window.reporter.errors[0][1]


def test_a_series_folder_holding_a_copy_of_itself_shows_each_slice_once_and_names_the_copies(qtbot, window,
                                                                                               tmp_path):
    study = make_study(tmp_path)
    copy_into_backup(study / "ct_lung")
    open_folder(qtbot, window, study)
    assert window.slices.series.uid == CT_UID and len(window.slices.series) == 3
    assert "ct_lung/backup/010.dcm skipped: the same slice (SOPInstanceUID) as ct_lung/010.dcm" in \
        window.status.read_warning_label.toolTip()
    note = window.series_panel.note
    assert note.isVisible() and "3 copied slice(s) skipped" in note.text(), "the panel counts the copies too"
    assert "ct_lung/backup/010.dcm skipped" in note.toolTip()


def test_once_a_study_is_closed_metrics_comes_to_the_front_of_its_tabs(qtbot, tmp_path, monkeypatch, photo_path):
    """In the layout of a short screen, where the Series panel shares the Metrics tabs, Qt fronted Snapshots."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QScreen

    from app.error_reporter import RecordingReporter
    from app.main_window import MainWindow
    from tests.app.conftest import open_image

    monkeypatch.setattr(QScreen, "availableGeometry", lambda screen: QRect(0, 0, 960, 540))
    window = MainWindow(reporter=RecordingReporter())
    qtbot.addWidget(window)
    window.resize(960, 540)
    window.show()
    open_folder(qtbot, window, make_study(tmp_path))
    assert window.docks["series"].isVisible()
    open_image(qtbot, window, photo_path)
    qtbot.waitUntil(lambda: not window.docks["metrics"].visibleRegion().isEmpty())
    assert window.docks["snapshots"].visibleRegion().isEmpty()
