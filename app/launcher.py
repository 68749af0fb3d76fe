"""The ``enhance-studio`` entry point: headless subcommands or the editor.

``enhance-studio info|metrics|convert|jpeg-table|... ARGS`` (any key of
:data:`enhance_core.cli.SUBCOMMANDS`), ``-h``/``--help`` and ``--version`` run
the Qt-free command line. Anything else (nothing, or an image or project and
an optional reference) opens the editor, on the bundled sample image when no
path is given; an option, a third path or a path where nothing is (a mistyped
command) is one line of error instead. Qt is imported
only on that second path, so the headless commands work without PySide6.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from app.bundled import SAMPLE_IMAGE
from enhance_core.cli import SUBCOMMANDS
from enhance_core.cli import main as cli_main
from enhance_core.errors import ParameterError
from enhance_core.paths import exists

_CLI_FLAGS = ("-h", "--help", "--version")


def _display_problem() -> str:
    """Why no window can open on this Linux machine ("" when one can, or when Qt chooses elsewhere)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return ""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return ""
    return ("error: no display to open the editor on (DISPLAY and WAYLAND_DISPLAY are unset); run it in a desktop "
            "session, over ssh -X, or under xvfb-run (see the README); the headless commands need none: "
            "enhance-studio --help")


def _open_editor(paths: list[Path]) -> int:
    """Import the GUI lazily and run it on ``paths``; a missing display or PySide6 is one clear line."""
    problem = _display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    try:
        from app.editor import run_editor
    except ModuleNotFoundError as error:
        if not (error.name or "").startswith("PySide6"):
            raise
        print('error: the editor needs PySide6; install it with: pip install "PySide6-Essentials>=6.11.2,!=6.12.0" '
              "(the headless subcommands work without it: enhance-studio --help)", file=sys.stderr)
        return 2
    return int(run_editor(paths) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a subcommand or open the editor; return the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args and (args[0] in SUBCOMMANDS or args[0] in _CLI_FLAGS):
        try:
            return cli_main(args)
        except SystemExit as done:
            return done.code if isinstance(done.code, int) else (0 if done.code is None else 2)
    problem = _arguments_problem(args)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    return _open_editor([Path(arg) for arg in args] or [SAMPLE_IMAGE])


def _arguments_problem(args: list[str]) -> str:
    """Why the editor cannot open what the command line names: an option, a third path, a path that is not there
    (a mistyped command among them); "" when it can."""
    word = bool(args) and not Path(args[0]).suffix and os.sep not in args[0]  # a file's name is no mistyped command
    close = difflib.get_close_matches(args[0], SUBCOMMANDS, n=1) if word else []
    if close and _missing(Path(args[0])):
        return (f"error: {args[0]}: no such file or folder; did you mean the command '{close[0]}'? "
                "(enhance-studio --help lists the commands)")
    option = next((arg for arg in args if arg.startswith("-")), None)
    if option is not None:
        return f"error: unknown option {option!r}; enhance-studio --help lists the commands and their options"
    if len(args) > 2:
        return (f"error: the editor opens one image or project and an optional reference, not {len(args)} files; to "
                "process many files use enhance-studio apply (enhance-studio apply --help)")
    missing = next((arg for arg in args if _missing(Path(arg))), None)
    if missing is not None and missing == args[0] and not Path(missing).suffix and os.sep not in missing:
        return (f"error: {missing}: no such file or folder, nor a command; enhance-studio --help lists the "
                "commands")
    if missing is not None:
        return f"error: {missing}: no such file or folder; check the path and spelling"
    return ""


def _missing(path: Path) -> bool:
    """Whether nothing is at ``path`` (a folder on the way that cannot be entered is the editor's to say)."""
    try:
        return not exists(path, ParameterError)
    except ParameterError:
        return False


if __name__ == "__main__":
    sys.exit(main())
