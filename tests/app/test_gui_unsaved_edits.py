"""Unsaved edits: opening another file or closing the window asks Save, Discard or Cancel."""

from __future__ import annotations

import pytest
from conftest import add_filter, open_image, save_png, synthetic_photo
from PySide6.QtWidgets import QMessageBox

from app.error_reporter import ErrorReporter
from enhance_core.project import load_project


@pytest.fixture
def edited(qtbot, window, photo_path):
    """The window with photo.png open and an unsaved Negative step."""
    open_image(qtbot, window, photo_path)
    add_filter(qtbot, window, "negative")
    assert window.document.modified
    return window


@pytest.fixture
def second(tmp_path):
    return save_png(synthetic_photo(seed=1), tmp_path / "second.png")


def save_dialog_answers(monkeypatch, name: str) -> list[str]:
    """Make the Save Project dialog answer ``name`` ("" cancels it); return the titles of the dialogs shown."""
    asked = []
    monkeypatch.setattr("app.file_actions.QFileDialog.getSaveFileName",
                        lambda parent, title, *args: asked.append(title) or (name, ""))
    return asked


def test_save_saves_the_project_then_opens_the_file(qtbot, edited, second, tmp_path, monkeypatch):
    project = tmp_path / "work.esproj"
    asked = save_dialog_answers(monkeypatch, str(project))
    edited.reporter.saves = ["save"]
    open_image(qtbot, edited, second)
    assert "not saved in a project" in edited.reporter.questions[-1]
    assert asked == ["Save project"]
    assert [step.filter for step in load_project(project).steps] == ["negative"]
    assert edited.document.source_path == second and len(edited.document.stack) == 0


def test_a_save_that_does_not_happen_keeps_the_image_and_its_edits(edited, photo_path, second, monkeypatch):
    save_dialog_answers(monkeypatch, "")
    edited.reporter.saves = ["save"]
    edited.files.open_path(second)
    assert not edited.files.lane.busy, "nothing is read"
    assert edited.document.source_path == photo_path and edited.document.modified
    assert [step.filter for step in edited.document.stack.snapshot()] == ["negative"]


def test_discard_opens_the_file_without_saving(qtbot, edited, second, monkeypatch):
    asked = save_dialog_answers(monkeypatch, "unused")
    edited.reporter.saves = ["discard"]
    open_image(qtbot, edited, second)
    assert asked == [] and edited.document.project_path is None
    assert edited.document.source_path == second and len(edited.document.stack) == 0


def test_cancel_keeps_the_image_and_its_edits(edited, photo_path, second, monkeypatch):
    asked = save_dialog_answers(monkeypatch, "unused")
    edited.reporter.saves = ["cancel"]
    edited.files.open_path(second)
    assert asked == [] and not edited.files.lane.busy
    assert edited.document.source_path == photo_path and len(edited.document.stack) == 1


def test_closing_asks_too_and_closes_only_after_a_save_or_discard(qtbot, edited, tmp_path, monkeypatch):
    project = tmp_path / "work.esproj"
    save_dialog_answers(monkeypatch, str(project))
    edited.reporter.saves = ["cancel"]
    assert not edited.close() and edited.isVisible()
    edited.reporter.saves = ["save"]
    assert edited.close() and not edited.isVisible()
    assert project.is_file() and len(edited.reporter.questions) == 2


@pytest.mark.parametrize("button, answer", [(QMessageBox.StandardButton.Save, "save"),
                                            (QMessageBox.StandardButton.Discard, "discard"),
                                            (QMessageBox.StandardButton.Cancel, "cancel")])
def test_the_message_box_offers_save_discard_and_cancel(monkeypatch, button, answer):
    offered = []

    def question(parent, title, text, buttons, default):
        offered.append((buttons, default))
        return button

    monkeypatch.setattr(QMessageBox, "question", question)
    assert ErrorReporter().ask_to_save(None, "Save edits?", "Save them?") == answer
    standard = QMessageBox.StandardButton
    assert offered == [(standard.Save | standard.Discard | standard.Cancel, standard.Save)]


def test_edits_made_while_the_next_file_is_read_are_asked_about_before_it_opens(qtbot, window, photo_path, second,
                                                                                 monkeypatch):
    import threading

    import app.file_actions as file_actions

    open_image(qtbot, window, photo_path)
    gate, read = threading.Event(), file_actions._read_job
    monkeypatch.setattr(file_actions, "_read_job", lambda *args: gate.wait(10) and read(*args))
    window.files.open_path(second)
    assert window.reporter.questions == [], "nothing was unsaved when the read started"
    add_filter(qtbot, window, "negative")
    window.reporter.saves = ["cancel"]
    gate.set()
    qtbot.waitUntil(lambda: not window.files.lane.busy, timeout=20000)
    assert "made while second.png was being read" in window.reporter.questions[-1]
    assert window.document.source_path == photo_path and len(window.document.stack) == 1


def test_the_title_and_the_save_question_name_the_open_project(qtbot, edited, second, tmp_path, monkeypatch):
    """With a project open, the title named only its image and the question spoke of "a project"."""
    project = tmp_path / "work.esproj"
    save_dialog_answers(monkeypatch, str(project))
    assert edited.files.save_project()
    assert edited.windowTitle().startswith("work.esproj (photo.png)"), edited.windowTitle()
    add_filter(qtbot, edited, "gamma")
    edited.reporter.saves = ["cancel"]
    edited.files.open_path(second)
    assert "not saved in project work.esproj" in edited.reporter.questions[-1]
    edited.reporter.saves = ["discard"]
    open_image(qtbot, edited, second)
    assert edited.windowTitle().startswith("second.png"), "another image leaves the project"
