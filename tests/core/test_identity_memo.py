"""The memo of values computed from arrays, by the array's identity."""

from __future__ import annotations

import gc

import numpy as np

from enhance_core.identity_memo import IdentityMemo


def test_a_value_is_computed_once_per_array_and_key_and_the_oldest_is_forgotten() -> None:
    memo: IdentityMemo[int] = IdentityMemo(2)
    calls: list[str] = []

    def value(name: str) -> int:
        calls.append(name)
        return len(calls)

    a, b, c = np.zeros(3), np.zeros(3), np.zeros(3)  # equal contents, other objects
    assert memo.get(a, 1, lambda: value("a1")) == memo.get(a, 1, lambda: value("again")) == 1
    assert memo.get(a, 2, lambda: value("a2")) == 2 and memo.get(b, 1, lambda: value("b1")) == 3
    memo.get(c, 1, lambda: value("c1"))
    assert memo.get(b, 1, lambda: value("again")) == 3 and memo.get(a, 2, lambda: value("a2 again")) == 5
    assert calls == ["a1", "a2", "b1", "c1", "a2 again"]


def test_a_memo_does_not_keep_an_array_alive() -> None:
    memo: IdentityMemo[int] = IdentityMemo(4)
    array = np.zeros(1000)
    memo.get(array, None, lambda: 1)
    del array
    gc.collect()
    assert all(ref() is None for ref, _, _ in memo._entries)
