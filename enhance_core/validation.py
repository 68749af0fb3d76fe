"""Strict checks of JSON-shaped values (recipes, masks, strokes) and of limits set by the environment.

Every check takes ``where``, the words that locate the value for the user
(``mask, stroke 2, radius``), and raises :class:`ParameterError` with one
line saying what is wrong and what is allowed. Booleans must be JSON booleans
(``"no"`` is refused, never read as true), numbers must be JSON numbers
(``true`` is not 1), finite and within range.
"""

from __future__ import annotations

import json
import math
import numbers
import operator
import os
from typing import Any, Collection

import numpy as np

from enhance_core.errors import ParameterError


def shown(value: Any) -> str:
    """A short representation of ``value`` for an error message, spelt as JSON spells it (a recipe's ``"abc"``, not
    Python's ``'abc'``)."""
    if isinstance(value, list) and len(value) > 8:
        return f"[... {len(value):,} entries]"
    if isinstance(value, dict) and len(value) > 8:
        return f"{{... {len(value):,} keys}}"
    text = _json_spelt(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _json_spelt(value: Any, depth: int = 0) -> str:
    """``value`` as JSON writes it (strings in double quotes, true, false and null), in lists and objects too.

    Lists and objects show their first 8 entries, and are written ``[...]`` and
    ``{...}`` past three levels deep (a message shows 40 characters; a recipe
    may nest hundreds deep).
    """
    if value is None:
        return "null"
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > 100:
        return f"a number of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    if isinstance(value, list):
        if depth > 3:
            return "[...]"
        parts = [_json_spelt(item, depth + 1) for item in value[:8]]
        return "[" + ", ".join(parts + ["..."] * (len(value) > 8)) + "]"
    if isinstance(value, dict):
        if depth > 3:
            return "{...}"
        parts = [f"{_json_spelt(key)}: {_json_spelt(item, depth + 1)}" for key, item in list(value.items())[:8]]
        return "{" + ", ".join(parts + ["..."] * (len(value) > 8)) + "}"
    if isinstance(value, str):  # letters as they are, but no control or direction mark loose in a message
        return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in json.dumps(value[:41], ensure_ascii=False))
    return repr(value)


def json_kind(value: Any) -> str:
    """What JSON value ``value`` is, as an error message says it: ``nothing (or null)`` (a key left out reads as
    None), ``an object {...}``, ``a string 'x'``, ``a number 3``, ``true``."""
    if value is None:
        return "nothing (or null)"
    if isinstance(value, bool):
        return shown(value)
    kind = ("an object" if isinstance(value, dict) else "a list" if isinstance(value, list)
            else "a string" if isinstance(value, str) else "a number")
    return f"{kind} {shown(value)}"


def _at(where: str) -> str:
    """``where`` as a message prefix (nothing when empty)."""
    return f"{where}: " if where else ""


def check_object(value: Any, where: str, allowed: Collection[str]) -> dict:
    """Return ``value`` if it is a dict whose keys are all in ``allowed``; else raise."""
    if not isinstance(value, dict):
        raise ParameterError(f"{_at(where)}expected an object with {', '.join(allowed)}, got {json_kind(value)}")
    unknown = sorted(str(key) for key in value if key not in allowed)
    if unknown:
        raise ParameterError(f"{_at(where)}unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}")
    return value


def check_list(value: Any, where: str) -> list:
    """Return ``value`` if it is a list; else raise."""
    if not isinstance(value, list):
        raise ParameterError(f"{_at(where)}expected a list, got {json_kind(value)}")
    return value


def check_bool(value: Any, where: str) -> bool:
    """Return ``value`` if it is a boolean (JSON true or false); else raise."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{_at(where)}{shown(value)} is not a boolean; use true or false (no quotes)")
    return bool(value)


def check_number(value: Any, where: str, *, minimum: float, maximum: float) -> float:
    """Return ``value`` as a float if it is a finite number from ``minimum`` to ``maximum``; else raise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{_at(where)}{shown(value)} is not a number")
    try:
        number = float(value)
    except OverflowError:
        number = -math.inf if value < 0 else math.inf
    if math.isnan(number):
        raise ParameterError(f"{_at(where)}{shown(value)} is not a finite number")
    if not minimum <= number <= maximum:
        raise ParameterError(f"{_at(where)}{shown(value)} is outside the allowed range {minimum:g} to {maximum:g}")
    return number


def check_whole(value: Any, where: str, *, minimum: int, maximum: int) -> int:
    """Return ``value`` if it is a whole number from ``minimum`` to ``maximum``; else raise."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        if isinstance(value, (bool, np.bool_)):
            raise TypeError
        value = operator.index(value)
    except TypeError:
        raise ParameterError(f"{_at(where)}{shown(value)} is not a whole number") from None
    if not minimum <= value <= maximum:
        raise ParameterError(f"{_at(where)}{shown(value)} is outside the allowed range {minimum:,} to {maximum:,}")
    return value


def env_limit(name: str, default: int) -> int:
    """Return the positive whole number in environment variable ``name``, or ``default`` when it is unset.

    Raises
    ------
    ParameterError
        The variable is set to something other than a positive whole number.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ParameterError(f"{name}={raw!r} is not a positive whole number; unset it for the default {default:,}")
    return value
