"""Read a JSON file that may be hostile: bounded size, no giant or non-finite numbers, bounded nesting.

Python's :mod:`json` accepts ``NaN`` and ``Infinity``, turns ``1e400`` into
infinity, parses integers of thousands of digits (raising ``ValueError`` past
4300) and raises ``RecursionError`` on deep nesting. :func:`read_json_file`
and :func:`parse_json` turn each of these, and a file too large or not a
regular file (a FIFO would block forever), into one :class:`ParameterError`
line naming the file, as is a key given twice in one object (Python keeps
the last silently). A UTF-8 byte-order mark at the start is accepted.
"""

from __future__ import annotations

import json
import math
import re
import stat
from pathlib import Path
from typing import Any

from enhance_core.errors import ParameterError

MAX_INT_DIGITS = 30
"""Longest integer accepted (sign included); no setting of a recipe needs more."""


class _Refused(Exception):
    """Raised inside the JSON parser's hooks; carries the reason and the text of the value refused."""

    def __init__(self, reason: str, token: str) -> None:
        super().__init__(reason)
        self.token = token


_STRING_OR_VALUE = re.compile(r'"(?:[^"\\]|\\(?:.|\Z))*(?:"|\Z)|[-+.\w]+', re.DOTALL)
"""A JSON string (one left open runs to the end, so a scan of a damaged file stays linear) or a bare value."""


def _place(text: str, token: str) -> str:
    """`` (line L, column C)`` of the first ``token`` in JSON ``text`` outside its strings; empty when not found
    (or ``token`` is empty)."""
    for found in _STRING_OR_VALUE.finditer(text) if token else ():
        if found.group() == token:
            line_start = text.rfind("\n", 0, found.start()) + 1
            line = text.count("\n", 0, line_start) + 1
            return f" (line {line}, column {found.start() - line_start + 1})"
    return ""


def _parse_int(text: str) -> int:
    """Parse a JSON integer, refusing ones too long to be a setting."""
    if len(text) > MAX_INT_DIGITS:
        raise _Refused(f"holds a whole number of {len(text.lstrip('-'))} digits ({text[:12]}...); numbers "
                       f"here have at most {MAX_INT_DIGITS} digits", text)
    return int(text)


def _parse_float(text: str) -> float:
    """Parse a JSON number with a fraction or exponent, refusing ones too large to be finite."""
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"holds the number {text[:20]}{'...' if len(text) > 20 else ''}, too large to be finite",
                       text)
    return value


def _parse_constant(name: str) -> Any:
    """Refuse NaN, Infinity and -Infinity, which are not JSON."""
    raise _Refused(f"holds {name}, which is not a JSON number; use a finite number", name)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object, refusing a key given twice (Python's :mod:`json` would keep the last silently)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _Refused(f"gives the key {key!r} twice in one object; keep the one you mean and delete the other",
                           "")
        found[key] = value
    return found


def parse_json(text: str | bytes, *, source: str) -> Any:
    """Parse JSON ``text`` strictly; ``source`` names it in errors (``recipe /a/b.json``).

    A leading byte-order mark (Windows Notepad saves UTF-8 with one) is skipped.

    Raises
    ------
    ParameterError
        Invalid JSON, NaN or Infinity, a number too large to be finite, an
        integer of more than :data:`MAX_INT_DIGITS` digits, a key given twice
        in one object, or nesting deeper
        than Python's recursion limit.
    """
    if isinstance(text, str):
        text = text.removeprefix("\ufeff")
    try:
        return json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant,
                          object_pairs_hook=_object)
    except _Refused as refused:
        where = _place(text if isinstance(text, str) else text.decode("utf-8", "replace"), refused.token)
        raise ParameterError(f"{source} {refused}{where}") from None
    except json.JSONDecodeError as error:
        raise ParameterError(f"{source} is not valid JSON (line {error.lineno}, column {error.colno}: "
                             f"{error.msg})") from None
    except RecursionError:
        raise ParameterError(f"{source} nests lists or objects too deeply to be read; it is not a valid "
                             "Enhance Studio file") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise ParameterError(f"{source} is not valid JSON ({error})") from None


def read_json_file(path: str | Path, *, what: str, max_bytes: int, limit_env: str) -> Any:
    """Read and parse the JSON file ``path`` of at most ``max_bytes`` bytes.

    Parameters
    ----------
    path : str or Path
        The file.
    what : str
        What the file is, for messages (``"recipe"``).
    max_bytes : int
        Largest file accepted.
    limit_env : str
        Environment variable that raises ``max_bytes``, named in the message.

    Raises
    ------
    ParameterError
        The file is missing, not a regular file, unreadable, too large, or
        refused by :func:`parse_json`.
    """
    path = Path(path)
    source = f"{what} {path}"
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ParameterError(f"{source} is not a regular file; give the path of a {what} file")
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise ParameterError(f"{source} does not exist; check the path") from None
    except OSError as error:
        raise ParameterError(f"{source} could not be read ({error.strerror or error})") from None
    if len(data) > max_bytes:
        size = max(info.st_size, len(data))
        raise ParameterError(f"{source} is {size:,} bytes, more than the limit of {max_bytes:,} bytes for a "
                             f"{what}; if you trust the file, raise the limit with the environment variable "
                             f"{limit_env}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ParameterError(f"{source} is not UTF-8 text (byte {error.start}); save it as UTF-8 JSON") from None
    return parse_json(text, source=source)
