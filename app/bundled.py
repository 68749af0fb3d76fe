"""Where the files the program ships with lie: its resources folder and the sample image the editor opens."""

from __future__ import annotations

from pathlib import Path

_INSTALLED = Path(__file__).resolve().parent / "resources"
RESOURCES = _INSTALLED if _INSTALLED.is_dir() else Path(__file__).resolve().parent.parent / "resources"
"""``app/resources`` of an installed copy (the wheel holds them there), else ``resources/`` at the root of a
checkout."""
SAMPLE_IMAGE = RESOURCES / "sample_astronaut.png"
