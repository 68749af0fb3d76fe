"""A small thread-safe memo of values computed from arrays, keyed by the array's identity.

A render asks again for what it computed a moment ago on the same array: each
region of a view renders the same source, a restore's detector map is counted
once per region. Keeping the last few results by the array object (held
weakly, so a memo never keeps a picture alive) avoids doing it again.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np

V = TypeVar("V")


class IdentityMemo(Generic[V]):
    """The values of the last ``size`` (array, key) pairs asked for, each computed once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: list[tuple[weakref.ref, Hashable, V]] = []
        self._lock = threading.Lock()

    def get(self, array: np.ndarray, key: Hashable, compute: Callable[[], V]) -> V:
        """The value remembered for ``array`` (this very object) and ``key``; else ``compute()``, remembered."""
        with self._lock:
            for ref, known, value in self._entries:
                if ref() is array and known == key:
                    return value
        value = compute()
        with self._lock:
            kept = [entry for entry in self._entries[len(self._entries) - self.size + 1:] if entry[0]() is not None]
            self._entries = kept + [(weakref.ref(array), key, value)]
        return value
