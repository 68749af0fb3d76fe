"""Crash recovery in the window: written after edits, removed on quit, offered only for editors that are gone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import add_filter, open_image, save_png, synthetic_photo

from app.commands import change_params_command
from app.error_reporter import ESCAPE, RecordingReporter
from app.main_window import MainWindow
from app.recovery_format import MANIFEST


@pytest.fixture
def root(tmp_path) -> Path:
    return tmp_path / "recovery"


def editor(qtbot, root: Path, *choices: str) -> MainWindow:
    window = MainWindow(reporter=RecordingReporter(choices=list(choices)), recovery_root=root)
    qtbot.addWidget(window)
    window.resize(900, 620)
    window.show()
    return window


def written(qtbot, window: MainWindow) -> None:
    """Wait until the latest state is on disk."""
    qtbot.waitUntil(lambda: not window.recovery._scheduled, timeout=5000)
    assert window.recovery.wait_written(10.0)


def edited_session(qtbot, root: Path, photo_path: Path) -> MainWindow:
    """A window with two edits on ``photo_path``, written; the caller shuts it down (as a crash would)."""
    window = editor(qtbot, root)
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "gaussian_blur")
    doc = window.document
    doc.push(change_params_command(doc.stack, doc.stack.snapshot()[0], {"sigma": 4.0}))
    written(qtbot, window)
    return window


def test_edits_are_written_and_a_quit_removes_them(qtbot, root, photo_path):
    window = editor(qtbot, root)
    open_image(qtbot, window, photo_path)
    written(qtbot, window)
    assert not root.exists() or not list(root.glob(f"*/{MANIFEST}")), "nothing to recover before an edit"
    add_filter(qtbot, window, "negative")
    written(qtbot, window)
    folder = window.recovery.folder
    assert (folder / MANIFEST).is_file()
    window.document.undo_stack.undo()
    written(qtbot, window)
    assert not (folder / MANIFEST).exists(), "back where it was opened: nothing unsaved"
    window.document.undo_stack.redo()
    written(qtbot, window)
    assert (folder / MANIFEST).is_file()
    window.close()
    assert not folder.exists()


def test_saving_or_opening_another_image_leaves_nothing_to_recover(qtbot, root, photo_path, tmp_path):
    window = edited_session(qtbot, root, photo_path)
    assert window.files.save_project_to(tmp_path / "work.esproj")
    written(qtbot, window)
    assert not (window.recovery.folder / MANIFEST).exists()
    window.document.undo_stack.undo()
    written(qtbot, window)
    assert (window.recovery.folder / MANIFEST).exists()
    other = save_png(synthetic_photo(seed=4), tmp_path / "other.png")
    open_image(qtbot, window, other)
    written(qtbot, window)
    assert not (window.recovery.folder / MANIFEST).exists()
    window.shutdown()


def test_a_running_editor_is_not_offered_and_a_crashed_one_is(qtbot, root, photo_path):
    first = edited_session(qtbot, root, photo_path)
    second = editor(qtbot, root)
    assert not second.recovery.offer_restore()
    assert second.reporter.questions == []
    first.shutdown()
    third = editor(qtbot, root, "Later")
    assert not third.recovery.offer_restore()
    assert "while you were editing photo.png" in third.reporter.questions[0]
    assert "holds the unsaved changes and 2 undo steps" in third.reporter.questions[0]
    fourth = editor(qtbot, root, "Discard")
    assert not fourth.recovery.offer_restore()
    assert not first.recovery.folder.exists()
    for window in (second, third, fourth):
        window.shutdown()


def test_later_on_the_newest_crashed_session_goes_on_to_the_older_ones(qtbot, root, photo_path, tmp_path):
    older = edited_session(qtbot, root, photo_path)
    newer = editor(qtbot, root)
    open_image(qtbot, newer, save_png(synthetic_photo(seed=3), tmp_path / "beta.png"))
    add_filter(qtbot, newer, "gamma")
    written(qtbot, newer)
    older.shutdown()
    newer.shutdown()
    asked = editor(qtbot, root, "Later", "Later")
    assert not asked.recovery.offer_restore()
    assert sorted("beta.png" in question for question in asked.reporter.questions) == [False, True], "both asked"
    assert older.recovery.folder.exists() and newer.recovery.folder.exists()
    asked.shutdown()


def slow_restore(monkeypatch):
    """Make the restore's read wait for the returned event (or a stop request)."""
    import threading

    import app.recovery as recovery

    gate, job = threading.Event(), recovery._restore_job

    def held(*args):
        should_stop = args[-1]
        while not gate.wait(0.01):
            if should_stop():
                from enhance_core.errors import Cancelled
                raise Cancelled("restore stopped")
        return job(*args)

    monkeypatch.setattr(recovery, "_restore_job", held)
    return gate


def test_a_cancelled_restore_keeps_the_crashed_session_and_goes_on_protecting_the_edits(qtbot, root, photo_path,
                                                                                        tmp_path, monkeypatch):
    crashed = edited_session(qtbot, root, photo_path)
    crashed.shutdown()
    slow_restore(monkeypatch)
    window = editor(qtbot, root, "Restore")
    assert window.recovery.offer_restore()
    with qtbot.waitSignal(window.recovery.message, timeout=5000) as said:
        window.recovery.lane.cancel()
    assert "Restore cancelled" in said.args[0]
    open_image(qtbot, window, save_png(synthetic_photo(seed=4), tmp_path / "other.png"))
    add_filter(qtbot, window, "negative")
    written(qtbot, window)
    assert (window.recovery.folder / MANIFEST).is_file() and window.recovery.folder != crashed.recovery.folder
    assert (crashed.recovery.folder / MANIFEST).is_file()
    window.shutdown()


def test_a_restore_that_lands_after_another_image_was_opened_leaves_that_image(qtbot, root, photo_path, tmp_path,
                                                                              monkeypatch):
    crashed = edited_session(qtbot, root, photo_path)
    crashed.shutdown()
    gate = slow_restore(monkeypatch)
    window = editor(qtbot, root, "Restore")
    assert window.recovery.offer_restore()
    other = save_png(synthetic_photo(seed=4), tmp_path / "other.png")
    open_image(qtbot, window, other)
    add_filter(qtbot, window, "negative")
    with qtbot.waitSignal(window.recovery.message, timeout=20000) as said:
        gate.set()
    assert "was not restored, since other.png was opened" in said.args[0]
    assert window.document.source_path == other and [s.filter for s in window.document.stack.snapshot()] == [
        "negative"]
    written(qtbot, window)
    assert (window.recovery.folder / MANIFEST).is_file() and (crashed.recovery.folder / MANIFEST).is_file()
    window.shutdown()


def test_restore_brings_back_reference_project_selection_and_view(qtbot, root, photo_path, tmp_path):
    window = editor(qtbot, root)
    open_image(qtbot, window, photo_path)
    reference = save_png(synthetic_photo(seed=3), tmp_path / "ref.png")
    with qtbot.waitSignal(window.document.reference_changed, timeout=20000):
        window.files.open_reference(reference)
    add_filter(qtbot, window, "gaussian_blur")
    add_filter(qtbot, window, "negative")
    assert window.files.save_project_to(tmp_path / "work.esproj")
    doc = window.document
    doc.push(change_params_command(doc.stack, doc.stack.snapshot()[0], {"sigma": 5.0}))
    doc.select(doc.stack.snapshot()[0].uid)
    window.canvas.set_zoom(2.0)
    written(qtbot, window)
    window.shutdown()

    restored = editor(qtbot, root, "Restore")
    with qtbot.waitSignal(restored.recovery.restored, timeout=20000):
        assert restored.recovery.offer_restore()
    rdoc = restored.document
    assert rdoc.reference_path == reference and rdoc.project_path == tmp_path / "work.esproj"
    assert [item.filter for item in rdoc.stack.snapshot()] == ["gaussian_blur", "negative"]
    assert rdoc.selected_uid == rdoc.stack.snapshot()[0].uid and rdoc.modified
    assert restored.canvas.viewport.zoom == 2.0
    rdoc.undo_stack.undo()
    assert not rdoc.modified and rdoc.stack.snapshot()[0].params.sigma != 5.0
    assert "Restored 3 edits to photo.png" in restored.status.currentMessage()
    restored.close()
    assert not window.recovery.folder.exists(), "the restored session's folder went with the quit"


def test_a_project_s_reference_changed_before_a_crash_is_still_an_edit_after_the_restore(qtbot, root, photo_path,
                                                                                          tmp_path):
    """The restore bound the session's reference as the project's saved one: Quit asked nothing and it was lost."""
    window = editor(qtbot, root)
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "gaussian_blur")
    first, second = (save_png(synthetic_photo(seed=seed), tmp_path / f"ref{seed}.png") for seed in (3, 4))
    with qtbot.waitSignal(window.document.reference_changed, timeout=20000):
        window.files.open_reference(first)
    assert window.files.save_project_to(tmp_path / "work.esproj")
    with qtbot.waitSignal(window.document.reference_changed, timeout=20000):
        window.files.open_reference(second)
    assert window.document.modified
    written(qtbot, window)
    window.shutdown()

    restored = restore_the_session(qtbot, root)
    assert restored.document.reference_path == second and restored.document.modified
    restored.close()


def test_saving_a_restored_project_asks_before_replacing_what_another_window_saved_since(qtbot, root, photo_path,
                                                                                         tmp_path):
    """After a restore, Save wrote over the project another window had saved meanwhile, asking nothing."""
    import os

    window = editor(qtbot, root)
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "gaussian_blur")
    project = tmp_path / "shared.esproj"
    assert window.files.save_project_to(project)
    add_filter(qtbot, window, "negative")
    written(qtbot, window)
    window.shutdown()
    status = project.stat()
    os.utime(project, ns=(status.st_atime_ns, status.st_mtime_ns + 5_000_000_000))  # another window's save
    before = project.read_bytes()

    restored = restore_the_session(qtbot, root)
    assert restored.document.project_path == project
    restored.reporter.choices = ["Cancel"]
    assert not restored.files.save_project_to(project)
    assert "was changed on disk since this window opened or saved it" in restored.reporter.questions[-1]
    assert project.read_bytes() == before
    restored.close()


def test_snapshots_come_back_with_the_session(qtbot, root, photo_path):
    window = editor(qtbot, root)
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "gaussian_blur")
    window.snapshots.take("soft")
    add_filter(qtbot, window, "negative")
    window.snapshots.take("soft and negative")
    window.snapshots.delete(0)
    window.snapshots.take("again soft")
    written(qtbot, window)
    window.shutdown()

    restored = restore_the_session(qtbot, root)
    shots = restored.snapshots.snapshots
    assert [shot.name for shot in shots] == ["soft and negative", "again soft"]
    assert [[item.filter for item in shot.steps] for shot in shots] == [["gaussian_blur", "negative"]] * 2
    assert shots[0].created and restored.snapshots_panel.list.count() == 2
    assert restored.snapshots.restore(0) is False, "the stack is the last snapshot's"
    restored.close()


def test_a_zoom_after_the_last_edit_comes_back_once_the_view_settled(qtbot, root, photo_path):
    window = edited_session(qtbot, root, photo_path)
    window.canvas.set_zoom(3.0)
    qtbot.waitUntil(lambda: not window.recovery._view_settled.isActive(), timeout=5000)
    written(qtbot, window)
    window.shutdown()
    restored = restore_the_session(qtbot, root)
    assert restored.canvas.viewport.zoom == 3.0
    restored.close()


def test_a_moved_image_is_named_and_can_be_located(qtbot, root, photo_path, tmp_path, monkeypatch):
    edited_session(qtbot, root, photo_path).shutdown()
    moved = tmp_path / "moved" / "photo.png"
    moved.parent.mkdir()
    photo_path.rename(moved)
    later = editor(qtbot, root, "Restore", "Later")
    assert not later.recovery.offer_restore()
    assert f"no longer at {photo_path}" in later.reporter.questions[1]
    later.shutdown()

    monkeypatch.setattr("app.recovery.QFileDialog.getOpenFileName", lambda *args: (str(moved), ""))
    window = editor(qtbot, root, "Restore", "Locate…")
    with qtbot.waitSignal(window.recovery.restored, timeout=20000):
        assert window.recovery.offer_restore()
    assert window.document.source_path == moved and window.document.undo_stack.count() == 2
    assert f"The image was opened from its new place, {moved}." in window.status.currentMessage()
    assert window.reporter.errors == []
    window.shutdown()


def test_escape_on_a_moved_image_keeps_the_recovery_file(qtbot, root, photo_path, tmp_path):
    edited_session(qtbot, root, photo_path).shutdown()
    moved = tmp_path / "moved" / "photo.png"
    moved.parent.mkdir()
    photo_path.rename(moved)
    window = editor(qtbot, root, "Restore", ESCAPE)
    assert not window.recovery.offer_restore()
    window.shutdown()
    again = editor(qtbot, root, "Later")
    assert not again.recovery.offer_restore()
    assert "ended unexpectedly while you were editing photo.png" in again.reporter.questions[0]  # offered again
    again.shutdown()


def test_a_missing_reference_is_reported(qtbot, root, photo_path, tmp_path):
    window = editor(qtbot, root)
    open_image(qtbot, window, photo_path)
    reference = save_png(synthetic_photo(seed=3), tmp_path / "ref.png")
    with qtbot.waitSignal(window.document.reference_changed, timeout=20000):
        window.files.open_reference(reference)
    add_filter(qtbot, window, "negative")
    written(qtbot, window)
    window.shutdown()
    reference.unlink()
    restored = editor(qtbot, root, "Restore")
    with qtbot.waitSignal(restored.recovery.restored, timeout=20000):
        restored.recovery.offer_restore()
    assert restored.document.reference_path is None and len(restored.document.stack) == 1
    assert f"The reference {reference} is no longer there" in restored.reporter.errors[0][1]
    restored.shutdown()


def test_a_damaged_recovery_file_can_be_discarded(qtbot, root, photo_path):
    window = edited_session(qtbot, root, photo_path)
    window.shutdown()
    manifest = window.recovery.folder / MANIFEST
    manifest.write_text(manifest.read_text()[:100])
    other = editor(qtbot, root, "Discard")
    assert not other.recovery.offer_restore()
    assert f"recovery file {manifest} is damaged" in other.reporter.questions[0]
    assert not manifest.parent.exists()
    other.shutdown()


@pytest.mark.parametrize("answer", [(), (ESCAPE,)], ids=["enter", "escape"])
def test_enter_or_escape_on_a_damaged_recovery_file_keeps_it(qtbot, root, photo_path, answer):
    window = edited_session(qtbot, root, photo_path)
    window.shutdown()
    manifest = window.recovery.folder / MANIFEST
    manifest.write_text(manifest.read_text()[:100])
    other = editor(qtbot, root, *answer)
    assert not other.recovery.offer_restore()
    assert f"recovery file {manifest} is damaged" in other.reporter.questions[0]
    assert manifest.exists()
    other.shutdown()


@pytest.mark.parametrize("damage, said", [({"image": None}, "is damaged (its 'image' is not a file path)"),
                                          ({"history": 3}, "is damaged (its 'history' is not a list of states)"),
                                          ({"project": 7}, "is damaged (its 'project' is not a file path)"),
                                          ({"reference": 123}, "is damaged (its 'reference' is not a file path)")])
def test_a_recovery_file_damaged_inside_valid_json_can_be_discarded(qtbot, root, photo_path, damage, said):
    import json

    window = edited_session(qtbot, root, photo_path)
    window.shutdown()
    manifest = window.recovery.folder / MANIFEST
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), **damage}))
    other = editor(qtbot, root, "Discard")
    assert not other.recovery.offer_restore()
    assert said in other.reporter.questions[0]
    assert not manifest.parent.exists()
    other.shutdown()


def test_a_recovery_folder_that_holds_other_things_keeps_them(qtbot, root, photo_path, monkeypatch):
    """ENHANCE_RECOVERY_DIR named a folder of photos: a start took each subfolder for a session and emptied it."""
    photos = root / "MyPhotos"
    (photos / "day two").mkdir(parents=True)
    for name in ("wedding-001.jpg", "notes.txt", "session.json"):
        (photos / name).write_bytes(b"the user's own")
    window = edited_session(qtbot, root, photo_path)
    window.shutdown()
    session = window.recovery.folder
    (session / "a note of mine.txt").write_bytes(b"kept")
    other = editor(qtbot, root, "Discard")
    assert not other.recovery.offer_restore()
    assert sorted(path.name for path in photos.iterdir()) == ["day two", "notes.txt", "session.json",
                                                              "wedding-001.jpg"]
    assert not (photos / "session.lock").exists(), "no lock is taken in a folder that is not a session's"
    assert [path.name for path in session.iterdir()] == ["a note of mine.txt"], "only the session's own files go"
    other.shutdown()


def test_an_image_of_another_size_is_refused_and_kept_when_the_session_holds_masks(qtbot, root, photo_path):
    from app.commands import AddStepCommand
    from enhance_core.masks import Mask

    window = edited_session(qtbot, root, photo_path)
    window.document.push(AddStepCommand(window.document.stack, "negative",
                                        mask=Mask(96, 128, raster=np.ones((96, 128), np.float32))))
    written(qtbot, window)
    window.shutdown()
    save_png(synthetic_photo(rows=40, cols=50), photo_path)
    other = editor(qtbot, root, "Restore")
    assert other.recovery.offer_restore()
    qtbot.waitUntil(lambda: bool(other.reporter.errors), timeout=20000)
    assert "is 50×40 pixels, but the crashed session edited a 128×96 image" in other.reporter.errors[0][1]
    assert (window.recovery.folder / MANIFEST).exists() and other.document.source is None
    other.shutdown()


def test_an_image_of_another_size_gets_a_session_without_masks_with_a_note(qtbot, root, photo_path):
    window = edited_session(qtbot, root, photo_path)
    window.shutdown()
    save_png(synthetic_photo(rows=40, cols=50), photo_path)
    other = editor(qtbot, root, "Restore")
    with qtbot.waitSignal(other.recovery.restored, timeout=20000):
        other.recovery.offer_restore()
    assert [item.filter for item in other.document.stack.snapshot()] == ["gaussian_blur"]
    assert other.document.source.cols == 50
    assert "photo.png is now 50×40 pixels; the session edited it at 128×96" in other.reporter.errors[0][1]
    other.shutdown()


def test_a_shortened_history_comes_back_shortened(qtbot, root, photo_path):
    window = edited_session(qtbot, root, photo_path)
    doc = window.document
    window.history.set_limits(2, 1024)
    doc.push(change_params_command(doc.stack, doc.stack.snapshot()[0], {"sigma": 6.0}))
    written(qtbot, window)
    assert doc.undo_stack.count() == 2 and window.history.dropped == 1
    window.shutdown()
    restored = editor(qtbot, root, "Restore")
    with qtbot.waitSignal(restored.recovery.restored, timeout=20000):
        restored.recovery.offer_restore()
    assert restored.document.undo_stack.count() == 2 and restored.document.modified
    assert restored.history_view.emptyLabel() == "1 older step not kept (the undo limits, or a saved project's)"
    restored.shutdown()


def test_a_foreign_command_keeps_the_stack_without_its_history(qtbot, root, photo_path):
    from PySide6.QtGui import QUndoCommand

    window = edited_session(qtbot, root, photo_path)
    window.document.push(QUndoCommand("A command from elsewhere"))
    written(qtbot, window)
    window.shutdown()
    restored = editor(qtbot, root, "Restore")
    with qtbot.waitSignal(restored.recovery.restored, timeout=20000):
        restored.recovery.offer_restore()
    rdoc = restored.document
    assert rdoc.undo_stack.count() == 0 and rdoc.modified
    assert rdoc.stack.snapshot()[0].params.sigma == 4.0
    restored.shutdown()


def crash_after_a_negative_step(qtbot, window: MainWindow) -> None:
    """Add a Negative step, wait until it is on disk, and end the window as a crash would."""
    add_filter(qtbot, window, "negative")
    written(qtbot, window)
    window.shutdown()


def restore_the_session(qtbot, root: Path) -> MainWindow:
    """A new window that restores the crashed session under ``root``."""
    restored = editor(qtbot, root, "Restore")
    with qtbot.waitSignal(restored.recovery.restored, timeout=20000):
        assert restored.recovery.offer_restore()
    return restored


def test_a_restored_slice_of_a_series_browses_its_series_again(qtbot, root, series_folder):
    from tests.app.test_gui_medical import next_slice, open_folder

    window = editor(qtbot, root)
    open_folder(qtbot, window, series_folder)
    next_slice(qtbot, window, lambda: window.slices.next_action.trigger())
    shown = window.document.source_path
    crash_after_a_negative_step(qtbot, window)

    restored = restore_the_session(qtbot, root)
    assert restored.document.source_path == shown
    assert restored.slices.series is not None and len(restored.slices.series) == 4
    assert restored.slices.shown == 1 and restored.slices.series.slices[1].path == shown
    assert restored.canvas.corner_text["top_right"][0] == "Slice 2 / 4"
    next_slice(qtbot, restored, lambda: restored.slices.next_action.trigger())
    assert [item.filter for item in restored.document.stack.snapshot()] == ["window_level", "negative"]
    restored.shutdown()


def test_a_restored_slice_of_a_study_lists_the_study_series_again(qtbot, root, tmp_path):
    from tests.app.test_gui_medical import open_folder
    from tests.core.dicom_fixtures import write_series

    study = tmp_path / "study"
    write_series(study / "axial 1", [0.0, 10.0, 20.0], number=2, description="axial")
    write_series(study / "scout", [0.0, 5.0], number=1, description="scout")
    window = editor(qtbot, root)
    open_folder(qtbot, window, study)
    assert len(window.series_panel.found) == 2
    shown = window.document.source_path
    crash_after_a_negative_step(qtbot, window)

    restored = restore_the_session(qtbot, root)
    assert restored.document.source_path == shown and len(restored.slices.series) == 3
    assert len(restored.series_panel.found) == 2, "the study's other series is listed again"
    assert restored.series_panel.scan.folder == study
    restored.shutdown()


def test_a_restored_frame_of_a_multi_frame_file_is_the_frame_that_was_edited(qtbot, root, tmp_path):
    import shutil

    from pydicom.data import get_testdata_file

    from tests.app.test_gui_medical import next_slice

    path = Path(shutil.copy(get_testdata_file("emri_small.dcm"), tmp_path / "emri.dcm"))
    window = editor(qtbot, root)
    open_image(qtbot, window, path)
    for _ in range(3):
        next_slice(qtbot, window, lambda: window.slices.next_action.trigger())
    assert window.document.source.meta.page == 3
    crash_after_a_negative_step(qtbot, window)

    restored = restore_the_session(qtbot, root)
    assert restored.document.source.meta.page == 3 and restored.slices.shown == 3
    restored.shutdown()


def test_a_frame_the_file_no_longer_has_comes_back_as_its_first_with_a_note(qtbot, root, tmp_path):
    import json
    import shutil

    from pydicom.data import get_testdata_file

    path = Path(shutil.copy(get_testdata_file("emri_small.dcm"), tmp_path / "emri.dcm"))
    window = editor(qtbot, root)
    open_image(qtbot, window, path)
    crash_after_a_negative_step(qtbot, window)
    manifest = next(root.glob(f"*/{MANIFEST}"))
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "page": 99}))

    restored = restore_the_session(qtbot, root)
    assert restored.document.source.meta.page == 0
    assert "emri.dcm has no frame 100 any more" in restored.reporter.errors[-1][1]
    restored.shutdown()



def test_a_located_image_and_an_unreadable_reference_of_a_project_survive_a_restore(qtbot, root, photo_path,
                                                                                    tmp_path, monkeypatch):
    from enhance_core.project import load_project

    window = editor(qtbot, root)
    open_image(qtbot, window, photo_path)
    reference = save_png(synthetic_photo(seed=3), tmp_path / "ref.png")
    with qtbot.waitSignal(window.document.reference_changed, timeout=20000):
        window.files.open_reference(reference)
    project = tmp_path / "work.esproj"
    assert window.files.save_project_to(project)
    window.shutdown()
    moved = photo_path.rename(tmp_path / "moved.png")
    reference.rename(tmp_path / "away.png")  # its drive not mounted
    monkeypatch.setattr("app.file_actions.QFileDialog.getOpenFileName", lambda *args: (str(moved), ""))
    located = editor(qtbot, root, "Locate…")
    located.files.open_path(project)
    qtbot.waitUntil(lambda: located.document.project_path == project, timeout=20000)
    qtbot.waitUntil(lambda: not located.files.reference_lane.busy, timeout=20000)
    add_filter(qtbot, located, "negative")
    written(qtbot, located)
    located.shutdown()

    restored = restore_the_session(qtbot, root)
    document = restored.document
    assert document.source_path == moved and document.kept_reference == reference
    restored.document.undo_stack.undo()
    assert document.modified, "the project file still names the image's old place"
    assert restored.files.save_project_to(project)
    assert load_project(project).reference == reference and load_project(project).image == moved
    restored.shutdown()


def test_another_slice_of_a_project_s_series_is_no_edit() -> None:
    from app.document import Document
    from enhance_core.image import Image

    document, seen = Document(), []
    document.modified_changed.connect(seen.append)
    document.set_source(Image(np.zeros((4, 4, 1), np.float32)), Path("/series/IM0001.dcm"))
    document.mark_saved(Path("/work.esproj"), None)
    document.replace_source(Image(np.zeros((4, 4, 1), np.float32)), Path("/series/IM0005.dcm"))
    assert not document.modified


def test_an_image_in_a_folder_that_cannot_be_entered_counts_as_not_found_for_a_restore(tmp_path, monkeypatch):
    from app.recovery import _reachable_file
    from tests.core.locked_folders import lock_folder

    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "scan.png").write_bytes(b"a scan")
    assert _reachable_file(locked / "scan.png")
    lock_folder(monkeypatch, locked)
    assert not _reachable_file(locked / "scan.png"), "asks where the image is instead of raising at start-up"


def test_a_picture_replaced_by_another_of_its_size_is_restored_onto_with_a_warning(qtbot, root, photo_path):
    window = edited_session(qtbot, root, photo_path)
    window.shutdown()
    save_png(synthetic_photo(seed=9), photo_path)  # the file replaced meanwhile: another picture, same size
    other = editor(qtbot, root, "Restore")
    with qtbot.waitSignal(other.recovery.restored, timeout=20000):
        other.recovery.offer_restore()
    assert [item.filter for item in other.document.stack.snapshot()] == ["gaussian_blur"]
    assert "photo.png is not the picture the session edited (it was replaced or edited since): its edits were put " \
        "on this one" in other.reporter.errors[0][1], "no masks to speak of"
    other.shutdown()
    same = edited_session(qtbot, root, photo_path)  # the same picture: nothing said
    same.shutdown()
    again = editor(qtbot, root, "Restore")
    with qtbot.waitSignal(again.recovery.restored, timeout=20000):
        again.recovery.offer_restore()
    assert again.reporter.errors == []
    again.shutdown()


def test_a_restored_step_whose_filter_renders_differently_since_is_reported(qtbot, root, photo_path, monkeypatch):
    from enhance_core import recipe

    crashed = edited_session(qtbot, root, photo_path)
    crashed.shutdown()
    monkeypatch.setitem(recipe.RENDER_CHANGES, "gaussian_blur", ("its sigma is now in display pixels",))
    restored = editor(qtbot, root, "Restore")
    with qtbot.waitSignal(restored.recovery.restored, timeout=20000):
        restored.recovery.offer_restore()
    assert restored.reporter.errors[0][0] == "Session restored with changes"
    assert ("A restored step (Gaussian blur): it renders differently since it was saved: its sigma is now "
            "in display pixels.") in restored.reporter.errors[0][1]
    restored.shutdown()
