"""One channel for errors and questions to the user, replaceable in tests.

Typed core errors (:class:`~enhance_core.errors.EnhanceError`) already say
what went wrong and what to do, so their message is shown as is; anything
else is an unexpected failure and says so. The traceback is always one click
away under "Show Details...". Tests swap in a reporter that records instead
of opening modal dialogs.
"""

from __future__ import annotations

import errno
import os
import traceback
from pathlib import Path
from typing import Sequence

from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget

from enhance_core.errors import EnhanceError, out_of_memory
from enhance_core.paths import name_refusal

SAVE_ANSWERS = ("save", "discard", "cancel")


class ErrorReporter:
    """Shows errors and asks questions with message boxes."""

    def show_error(self, parent: QWidget | None, title: str, message: str, details: str = "") -> None:
        """Show ``message`` in an error dialog, with ``details`` (a traceback) one click away."""
        _show(QMessageBox.Icon.Critical, parent, title, message, details)

    def show_warning(self, parent: QWidget | None, title: str, message: str, details: str = "") -> None:
        """Show ``message`` in a warning dialog (what was done differs from what the user may expect; nothing
        failed), with ``details`` one click away."""
        _show(QMessageBox.Icon.Warning, parent, title, message, details)

    def ask_to_save(self, parent: QWidget | None, title: str, question: str) -> str:
        """Ask whether to save unsaved work first: "save", "discard" or "cancel" (default Save, Escape cancels)."""
        button = QMessageBox.StandardButton
        answer = QMessageBox.question(parent, title, question, button.Save | button.Discard | button.Cancel,
                                      button.Save)
        return {button.Save: "save", button.Discard: "discard"}.get(answer, "cancel")

    def choose(self, parent: QWidget | None, title: str, message: str, choices: Sequence[str], *,
               default: str | None = None) -> str:
        """Ask with one button per choice (``default``, else the first, for Enter; Escape picks the last); return
        its text."""
        box, buttons = question_box(parent, title, message, choices, default=default)
        box.exec()
        return buttons.get(box.clickedButton(), choices[-1])

    def report(self, parent: QWidget | None, title: str, error: BaseException, details: str = "") -> None:
        """Show an exception: its own message for typed errors, a plain "unexpected error" otherwise."""
        details = details or "".join(traceback.format_exception(type(error), error, error.__traceback__))
        if isinstance(error, EnhanceError):
            message = str(error)
        elif isinstance(error, OSError) and error.errno == errno.ENAMETOOLONG and error.filename is not None:
            message = f"{error.filename}: {name_refusal(Path(os.fsdecode(error.filename)))}"
        elif out_of_memory(error):
            message = "There was not enough memory for this operation. Close other programs or use a smaller image."
        else:
            message = (f"An unexpected error occurred ({type(error).__name__}: {error}). "
                       "Your work is unchanged; the details below help to report the problem.")
        self.show_error(parent, title, message, details)


def _show(icon: QMessageBox.Icon, parent: QWidget | None, title: str, message: str, details: str) -> None:
    """A message box with an OK button, ``details`` (when given) one click away."""
    box = QMessageBox(icon, title, message, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.exec()


def question_box(parent: QWidget | None, title: str, message: str, choices: Sequence[str], *,
                 default: str | None = None) -> tuple[QMessageBox, dict[QAbstractButton, str]]:
    """A question box with one button per choice (``default``, else the first, for Enter; the last for Escape)
    and the buttons' choices."""
    box = QMessageBox(QMessageBox.Icon.Question, title, message, QMessageBox.StandardButton.NoButton, parent)
    buttons: dict[QAbstractButton, str] = {}
    for index, choice in enumerate(choices):
        role = QMessageBox.ButtonRole.AcceptRole if index == 0 else QMessageBox.ButtonRole.ActionRole
        button = box.addButton(choice, role)
        buttons[button] = choice
        if choice == (default or choices[0]):
            box.setDefaultButton(button)
        if index == len(choices) - 1:
            box.setEscapeButton(button)
    return box, buttons


ESCAPE = "<Escape>"
"""A preset answer of :class:`RecordingReporter` that stands for Escape (or the question box's close button)."""


class RecordingReporter(ErrorReporter):
    """Records errors and answers questions from preset lists (for tests and headless runs)."""

    def __init__(self, choices: list[str] | None = None, saves: list[str] | None = None) -> None:
        self.errors: list[tuple[str, str, str]] = []
        self.warnings: list[tuple[str, str, str]] = []
        self.questions: list[str] = []
        self.choices = list(choices or [])
        self.saves = list(saves or [])

    def show_error(self, parent: QWidget | None, title: str, message: str, details: str = "") -> None:
        """Keep ``(title, message, details)`` in :attr:`errors`."""
        self.errors.append((title, message, details))

    def show_warning(self, parent: QWidget | None, title: str, message: str, details: str = "") -> None:
        """Keep ``(title, message, details)`` in :attr:`warnings`."""
        self.warnings.append((title, message, details))

    def ask_to_save(self, parent: QWidget | None, title: str, question: str) -> str:
        """Record the question and return the next preset answer of :attr:`saves` ("discard" when none are left)."""
        self.questions.append(question)
        answer = self.saves.pop(0) if self.saves else "discard"
        if answer not in SAVE_ANSWERS:
            raise ValueError(f"preset answer {answer!r} is not one of {list(SAVE_ANSWERS)}")
        return answer

    def choose(self, parent: QWidget | None, title: str, message: str, choices: Sequence[str], *,
               default: str | None = None) -> str:
        """Record the question and return the next preset choice (the default, as Enter would, when none are
        left; :data:`ESCAPE` gives the last choice, as Escape and the close button do)."""
        self.questions.append(message)
        answer = self.choices.pop(0) if self.choices else (default or choices[0])
        if answer == ESCAPE:
            answer = choices[-1]
        if answer not in choices:
            raise ValueError(f"preset answer {answer!r} is not one of the choices {list(choices)}")
        return answer
