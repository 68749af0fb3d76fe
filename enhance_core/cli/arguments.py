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


def _whole_number(text: str, lowest: int, below: str) -> int:
    """``text`` as a whole number of at least ``lowest``; ``below`` says what a smaller one is not."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"{below}, got {value}")
    return value


def page_argument(text: str) -> int:
    """A page or frame number (0 the first), refused with the option's name when it is not one."""
    return _whole_number(text, 0, "pages are numbered from 0")


def positive_argument(text: str) -> int:
    """A whole number of at least 1 (``--jobs``)."""
    return _whole_number(text, 1, "must be at least 1")


def nonempty_argument(text: str) -> str:
    """A file, folder or glob given on the command line, refused when empty (see :func:`path_argument`)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path (an unset shell variable?): name a file or folder")
    return text
