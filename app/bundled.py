"""Where the files the program ships with lie: its resources folder and the sample image the editor opens."""

from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
SAMPLE_IMAGE = RESOURCES / "sample_astronaut.png"
