"""Headless command line: ``enhance-studio SUBCOMMAND ...``.

Each subcommand is a module with ``add_parser(subparsers)`` and ``run(args) -> int``,
listed explicitly in :data:`SUBCOMMANDS`. Errors a user can cause
(:class:`enhance_core.errors.EnhanceError`) print one line and exit 2.
Every subcommand module is imported to build the parser, so each imports the
rest of the core (numpy, image I/O, filters...) inside the functions that use
it: ``--help`` then starts in a fraction of a second (issue 20,
``tests/core/test_cli_startup.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import io
import os
import re
import sys
from pathlib import Path

from enhance_core import __version__
from enhance_core.cli.stopping import stop_status, stopped_word, terminate_as_interrupt
from enhance_core.errors import EnhanceError
from enhance_core.paths import name_refusal

SUBCOMMANDS: dict[str, str] = {
    "info": "enhance_core.cli.info",
    "metrics": "enhance_core.cli.metrics",
    "convert": "enhance_core.cli.convert",
    "jpeg-table": "enhance_core.cli.jpeg_table",
    "apply": "enhance_core.cli.apply",
    "detect-dust": "enhance_core.cli.detect_dust",
    "dicom-export": "enhance_core.cli.dicom_export",
    "roi-stats": "enhance_core.cli.roi_stats",
}


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="enhance-studio", description="Enhance Studio command line.",
        epilog="Without a command, 'enhance-studio [IMAGE|PROJECT [REFERENCE]]' opens the editor. "
               "'enhance-studio COMMAND --help' tells more of each command.")
    parser.add_argument("--version", action="version", version=f"enhance-studio {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in SUBCOMMANDS.values():
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


SIGNED_VALUE_OPTIONS = ("--window", "--resize")
"""Options whose value may start with a minus sign (a lung window's centre, -600), which argparse would take for
an option of its own: ``--window -600,1500`` is read as ``--window=-600,1500``; ``--resize -5%`` is then refused
by its own check, which says why, not by argparse's "expected one argument"."""


def _join_signed_values(argv: list[str]) -> list[str]:
    """``argv`` with each of :data:`SIGNED_VALUE_OPTIONS` followed by a negative number joined to it by ``=``."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] in SIGNED_VALUE_OPTIONS and re.match(r"-\.?\d", arg):
            joined[-1] = f"{joined[-1]}={arg}"
        else:
            joined.append(arg)
    return joined


def _output_gone() -> bool:
    """Whether standard output's reader went away: its pipe reports an error when polled (where there is no poll,
    Windows, a broken pipe is taken to be the output's)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return True


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand and return its exit status."""
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 is printed with escapes, not a crash
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    try:  # the subcommands are imported here: a Ctrl+C meanwhile is a stop like any other, not a traceback
        args = build_parser().parse_args(_join_signed_values(list(sys.argv[1:] if argv is None else argv)))
        from enhance_core.io.limits import resolve_limits  # imported past --help, which needs none of the readers

        resolve_limits()  # a malformed ENHANCE_MAX_PIXELS refused once, not as a failure of every file of a batch
        with terminate_as_interrupt():
            return int(args.run(args) or 0)
    except EnhanceError as error:
        print("error: " + " ".join(str(error).split()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(stopped_word(), file=sys.stderr)
        return stop_status()
    except BrokenPipeError as error:
        if not _output_gone():  # another pipe: a worker's or a helper process's
            with contextlib.suppress(OSError):  # standard error's reader gone too: the status says it
                print(f"error: a pipe to another process broke ({error.strerror or error}); run the command "
                      "again (apply --jobs 1 runs without worker processes)", file=sys.stderr)
            return 1
        devnull = os.open(os.devnull, os.O_WRONLY)  # the reader of the output went away (| head): the rest is
        os.dup2(devnull, sys.stdout.fileno())  # not wanted; Python's own flush at exit would fail on the pipe again
        return 141
    except PermissionError as error:  # a check no subcommand foresaw: a file or folder it may not open or enter
        print(f"error: {error.filename or 'a file'}: permission denied; check that you may read it (write it, for "
              "an output) and enter the folders on its way", file=sys.stderr)
        return 2
    except OSError as error:
        if error.errno != errno.ENAMETOOLONG or error.filename is None:
            raise
        print(f"error: {error.filename}: {name_refusal(Path(os.fsdecode(error.filename)))}", file=sys.stderr)
        return 2

