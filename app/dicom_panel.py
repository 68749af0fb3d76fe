"""A read-only view of the DICOM header of the shown slice: tag, name and value, filterable.

Sequences are branches of the tree, their items numbered. The filter keeps
rows whose tag, name or value contains the text (case ignored) and the
branches above them. The header shown is the one pydicom read with the pixel
data left out (``ImageMeta.dicom``); nothing here can change it. While the
slices of a series change (a held key, the wheel, cine), the tree is rebuilt
at most every ``SLICE_REFRESH_MS`` for the slice shown then: a CT header takes
about 12 ms, which every step would otherwise spend on the GUI thread.
"""

from __future__ import annotations

import warnings

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHeaderView, QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from app.document import Document

MAX_VALUE_CHARS = 200
SLICE_REFRESH_MS = 200


def _children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    children = (item.child(i) for i in range(item.childCount()))
    return [child for child in children if child is not None]


def _value_text(element) -> str:
    """A short, one-line text of an element's value."""
    if element.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
        length = len(element.value) if element.value is not None else 0
        return f"<{length} bytes>"
    text = " ".join(str(element.value).split())
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"


class DicomHeaderPanel(QWidget):
    """Tree of the current image's DICOM header with a filter box; empty for other images."""

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.filter_edit = QLineEdit()
        self.filter_edit.setAccessibleName("Filter the header")
        self.filter_edit.setObjectName("dicom_filter")
        self.filter_edit.setPlaceholderText("Filter by tag, name or value")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.apply_filter)
        self.tree = QTreeWidget()
        self.tree.setAccessibleName("DICOM header")
        self.tree.setObjectName("dicom_tree")
        self.tree.setHeaderLabels(["Tag", "Name", "Value"])
        self.tree.setUniformRowHeights(True)
        # Name and Value share what the tag leaves, so Value stays in view in a narrow dock (fixed widths of
        # 124 and 170 px pushed it off the right edge); long texts are elided, with the whole text as tooltip.
        columns = self.tree.header()
        columns.setStretchLastSection(False)
        columns.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        columns.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        columns.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.tree)
        self._slice_timer = QTimer(self)
        self._slice_timer.setSingleShot(True)
        self._slice_timer.setInterval(SLICE_REFRESH_MS)
        self._slice_timer.timeout.connect(self.refresh)
        document.image_changed.connect(self.refresh)
        document.source_replaced.connect(self._on_slice_changed)
        self.refresh()

    def _on_slice_changed(self) -> None:
        """Another slice: show its header soon (once for all the slices stepped through meanwhile)."""
        if not self._slice_timer.isActive():
            self._slice_timer.start()

    def refresh(self) -> None:
        """Show the header of the document's current source."""
        self._slice_timer.stop()
        source = self.document.source
        header = source.meta.dicom if source is not None else None
        self.tree.clear()
        if header is not None:
            file_meta = getattr(header, "file_meta", None)
            with warnings.catch_warnings():  # pydicom warns about values that break the standard; they are shown
                warnings.simplefilter("ignore")
                if file_meta is not None:
                    self._add_elements(self.tree.invisibleRootItem(), file_meta)
                self._add_elements(self.tree.invisibleRootItem(), header)
        self.apply_filter(self.filter_edit.text())

    def _add_elements(self, parent: QTreeWidgetItem, dataset) -> None:
        for element in dataset:
            tag = f"({element.tag.group:04X},{element.tag.element:04X})"
            if element.VR == "SQ":
                row = QTreeWidgetItem(parent, [tag, element.name, f"{len(element.value)} item(s)"])
                for number, item in enumerate(element.value, start=1):
                    branch = QTreeWidgetItem(row, ["", f"Item {number}", ""])
                    self._add_elements(branch, item)
            else:
                row = QTreeWidgetItem(parent, [tag, element.name, _value_text(element)])
            row.setToolTip(1, row.text(1))
            row.setToolTip(2, row.text(2))

    def rows(self) -> list[tuple[str, str, str]]:
        """The visible top-level rows as (tag, name, value) (for tests)."""
        return [(row.text(0), row.text(1), row.text(2)) for row in _children(self.tree.invisibleRootItem())
                if not row.isHidden()]

    def apply_filter(self, text: str) -> None:
        """Hide rows that do not contain ``text`` (case ignored) unless a row below them does."""
        needle = text.strip().lower()

        def show_all(item: QTreeWidgetItem) -> None:
            item.setHidden(False)
            for child in _children(item):
                show_all(child)

        def visit(item: QTreeWidgetItem) -> bool:
            if not needle or any(needle in item.text(column).lower() for column in range(3)):
                show_all(item)
                return True
            shown = any([visit(child) for child in _children(item)])
            item.setHidden(not shown)
            return shown

        for row in _children(self.tree.invisibleRootItem()):
            visit(row)
