"""Argument types shared by the subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path


def path_argument(text: str) -> Path:
    """A path given on the command line; an empty one is refused (``Path("")`` is the current folder, so an unset
    shell variable, ``-o "$OUT"``, wrote the results where the command ran)."""
    return Path(nonempty_argument(text))


def value_argument(text: str) -> str:
    """An option's value, refused when empty or blank (``--preset "$PRESET"`` with the variable unset exported
    with the default window, as if no preset had been asked for)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty value (an unset shell variable?): give one or leave the option out")
    return text


def nonempty_argument(text: str) -> str:
    """A file, folder or glob given on the command line, refused when empty (see :func:`path_argument`)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path (an unset shell variable?): name a file or folder")
    return text
