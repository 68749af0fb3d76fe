"""A dark Fusion palette, as photo editors use, so the image is judged against neutral gray."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

_ROLES = {
    QPalette.ColorRole.Window: (45, 45, 48),
    QPalette.ColorRole.WindowText: (225, 225, 225),
    QPalette.ColorRole.Base: (33, 33, 35),
    QPalette.ColorRole.AlternateBase: (50, 50, 53),
    QPalette.ColorRole.ToolTipBase: (60, 60, 64),
    QPalette.ColorRole.ToolTipText: (235, 235, 235),
    QPalette.ColorRole.Text: (225, 225, 225),
    QPalette.ColorRole.Button: (55, 55, 58),
    QPalette.ColorRole.ButtonText: (225, 225, 225),
    QPalette.ColorRole.BrightText: (255, 90, 90),
    QPalette.ColorRole.Link: (90, 160, 240),
    QPalette.ColorRole.Highlight: (60, 120, 200),
    QPalette.ColorRole.HighlightedText: (255, 255, 255),
    QPalette.ColorRole.PlaceholderText: (140, 140, 140),
}
PROBLEM_COLOUR = "#f07470"
"""Text that says something failed: 4.9:1 on the window's gray (#d9534f was 3.5:1, under WCAG AA's 4.5:1)."""
WARNING_COLOUR = "#e8a33d"
"""Text that warns (a file read with a warning): 6.4:1 on the window's gray (#c77c00 was 4.1:1)."""


def apply_dark_theme(app: QApplication) -> None:
    """Give ``app`` the dark palette (disabled widgets dimmed, a slider's filled groove too: Fusion draws it with
    Highlight, which left a disabled Quality or Strength slider looking live)."""
    palette = QPalette()
    for role, rgb in _ROLES.items():
        palette.setColor(role, QColor(*rgb))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 120))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Highlight, QColor(75, 75, 80))
    app.setPalette(palette)
