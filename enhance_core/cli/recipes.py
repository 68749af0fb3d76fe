"""Reading a recipe for a subcommand, saying what of it renders differently from the version that saved it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from enhance_core.stack import StackItem


def read_recipe(path: Path) -> tuple[StackItem, ...]:
    """The steps of the recipe at ``path``; each load note (a step that renders differently now, a retired
    setting) is printed to stderr as ``note: ...`` first (:func:`enhance_core.recipe.load_recipe`)."""
    from enhance_core.recipe import load_recipe

    notes: list[str] = []
    steps = load_recipe(path, notes=notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr, flush=True)
    return steps
