"""Choosing a filter to add: a menu grouped by category and a searchable palette.

Both list the registered filters (:mod:`enhance_core.filters.registry`) and
report the chosen filter's name; learned filters are marked so users know
they run a network (and may take longer).
"""

from __future__ import annotations

import re
from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QDialog, QLineEdit, QListWidget, QListWidgetItem, QMenu, QVBoxLayout, QWidget

from enhance_core.filters.base import FilterDef
from enhance_core.filters.registry import CATEGORIES, FILTERS, filters_in_category


def display_name(definition: FilterDef) -> str:
    """Menu text of a filter: learned filters marked, unless their label says "(CNN)" already."""
    return f"{definition.label} (learned)" if definition.learned and "(CNN)" not in definition.label \
        else definition.label


def shown_text(text: str) -> str:
    """``text`` as Qt can show it: the bytes of a file name that is not UTF-8 (held as surrogate escapes, which
    Qt drops: ``caf\udce9.png`` showed as ``caf.png``) as the replacement character, ``caf\ufffd.png``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def menu_text(text: str) -> str:
    """``text`` as a menu or action label shows it: ``&`` doubled so Qt does not read it as a mnemonic."""
    return shown_text(text).replace("&", "&&")


def build_filter_menu(parent: QWidget, on_chosen: Callable[[str], None]) -> QMenu:
    """A menu with one submenu per category; choosing an entry calls ``on_chosen(name)``."""
    menu = QMenu("Add filter", parent)
    for category in CATEGORIES:
        definitions = filters_in_category(category)
        if not definitions:
            continue
        submenu = menu.addMenu(menu_text(category))
        for definition in definitions:
            action = submenu.addAction(menu_text(display_name(definition)))
            action.setToolTip(definition.description)
            action.setStatusTip(definition.description)
            action.setData(definition.name)
            action.triggered.connect(lambda checked=False, name=definition.name: on_chosen(name))
        submenu.setToolTipsVisible(True)
    return menu


def match_rank(definition: FilterDef, text: str) -> int | None:
    """How well ``definition`` matches the search ``text``: 0 is best, None is no match.

    Its label or name (``hole_fill`` also as "hole fill") equal to the text
    ranks 0, starting with it 1, having a word that starts with it 2,
    containing every word of it 3; a filter whose label, name, category and
    description together contain every word ranks last (4).
    """
    words = text.lower().split()
    query = " ".join(words)
    names = {definition.label.lower(), definition.name.lower(), definition.name.replace("_", " ").lower()}
    name_tests: tuple[Callable[[str], bool], ...] = (
        lambda name: name == query,
        lambda name: name.startswith(query),
        lambda name: re.search(rf"\b{re.escape(query)}", name) is not None,
        lambda name: all(word in name for word in words),
    )
    for rank, test in enumerate(name_tests):
        if any(test(name) for name in names):
            return rank
    haystack = " ".join((*names, definition.category, definition.description)).lower()
    return len(name_tests) if all(word in haystack for word in words) else None


def matching_filters(text: str) -> list[FilterDef]:
    """Filters matching ``text``, best first (:func:`match_rank`; ties in registry order)."""
    ranked = [(rank, definition) for definition in FILTERS.values()
              if (rank := match_rank(definition, text)) is not None]
    return [definition for _, definition in sorted(ranked, key=lambda pair: pair[0])]


class FilterPalette(QDialog):
    """Type to search the filters; Enter or a double click adds the highlighted one."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add filter")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search filters (blur, denoise, window…)")
        self.search.setClearButtonEnabled(True)
        self.results = QListWidget()
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.results)
        self.resize(420, 380)
        self.search.textChanged.connect(self.refresh)
        self.search.returnPressed.connect(self.accept_current)
        self.results.itemActivated.connect(lambda item: self.accept_current())
        self.search.installEventFilter(self)
        self.refresh("")

    def refresh(self, text: str) -> None:
        """List the filters matching ``text`` and highlight the first."""
        self.results.clear()
        for definition in matching_filters(text):
            item = QListWidgetItem(f"{display_name(definition)}    — {definition.category}")
            item.setData(Qt.ItemDataRole.UserRole, definition.name)
            item.setToolTip(definition.description)
            self.results.addItem(item)
        if self.results.count():
            self.results.setCurrentRow(0)

    def accept_current(self) -> None:
        """Emit ``chosen`` for the highlighted filter and close."""
        item = self.results.currentItem()
        if item is not None:
            self.chosen.emit(item.data(Qt.ItemDataRole.UserRole))
            self.accept()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Up and Down in the search field move the highlight in the list."""
        if watched is self.search and isinstance(event, QKeyEvent) and event.type() == QKeyEvent.Type.KeyPress:
            if event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
                step = -1 if event.key() == Qt.Key.Key_Up else 1
                row = min(max(self.results.currentRow() + step, 0), self.results.count() - 1)
                self.results.setCurrentRow(row)
                return True
        return super().eventFilter(watched, event)
