"""The non-destructive filter stack: items, the editable stack, and its change events.

A :class:`StackItem` is one step: a registered filter's name, its parameters
dataclass, whether it is enabled, its opacity and an optional
:class:`~enhance_core.masks.Mask`. Items are immutable; :class:`FilterStack`
replaces them on every edit, notifies subscribers, and hands out
:meth:`FilterStack.snapshot` tuples that a worker thread renders with
:class:`enhance_core.render.Renderer` while the GUI keeps editing (the
renderer depends on the stack, never the reverse).

Every edit method names the item by its ``uid`` (stable across moves) and
returns what an undo command needs to revert it.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

from enhance_core.errors import ParameterError
from enhance_core.filters.base import FilterDef
from enhance_core.filters.conflicts import check_param_conflicts
from enhance_core.filters.registry import get_filter
from enhance_core.masks import Mask

__all__ = ["FilterStack", "StackChange", "StackItem", "make_item"]


def new_uid() -> str:
    """A fresh identifier for a stack item."""
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class StackItem:
    """One step of the stack.

    Attributes
    ----------
    filter : str
        Registered filter name (see :mod:`enhance_core.filters.registry`).
    params : dataclass
        The filter's frozen parameters dataclass.
    enabled : bool
        Disabled steps are skipped (and keep their cached neighbours valid).
    opacity : float
        0..1 blend of the step's result over its input.
    mask : Mask or None
        Where the result applies (times opacity); None applies everywhere.
    uid : str
        Stable identity for edits, undo and the GUI.
    """

    filter: str
    params: Any
    enabled: bool = True
    opacity: float = 1.0
    mask: Mask | None = None
    uid: str = field(default_factory=new_uid)

    @property
    def definition(self) -> FilterDef:
        """The registered :class:`FilterDef`."""
        return get_filter(self.filter)

    @property
    def render_key(self) -> tuple:
        """What the rendered result of this step depends on (uid and enabled excluded)."""
        return (self.filter, self.params, self.opacity, self.mask)


def make_item(filter_name: str, params: Any = None, *, enabled: bool = True, opacity: float = 1.0,
              mask: Mask | None = None, uid: str | None = None) -> StackItem:
    """Build a validated :class:`StackItem`.

    ``params`` is None (defaults), a dict of values (validated and completed
    with defaults; a parameter given with a choice that ignores it is refused,
    see :func:`~enhance_core.filters.conflicts.check_param_conflicts`) or the
    filter's parameters dataclass.
    """
    definition = get_filter(filter_name)
    if params is None:
        params = definition.default_params()
    elif isinstance(params, Mapping):
        check_param_conflicts(definition, params)
        params = definition.make_params(dict(params))
    elif type(params) is not definition.params_type:
        raise ParameterError(f"filter {filter_name!r} takes {definition.params_type.__name__}, "
                             f"got {type(params).__name__}")
    check_opacity(opacity)
    if mask is not None and not isinstance(mask, Mask):
        raise ParameterError(f"mask must be an enhance_core.masks.Mask or None, got {type(mask).__name__}")
    return StackItem(filter_name, params, bool(enabled), float(opacity), mask, uid or new_uid())


def check_opacity(opacity: float) -> None:
    """Raise :class:`ParameterError` unless ``opacity`` is a number in 0..1."""
    if not (isinstance(opacity, numbers.Real) and not isinstance(opacity, bool) and math.isfinite(opacity)
            and 0.0 <= opacity <= 1.0):
        raise ParameterError(f"opacity must be a number from 0 to 1, got {opacity!r}")


@dataclass(frozen=True)
class StackChange:
    """A change event: ``kind`` is added, removed, moved, params, enabled, opacity, mask or reset."""

    kind: str
    uid: str | None = None
    index: int | None = None


Listener = Callable[[StackChange], None]


class FilterStack:
    """An ordered, observable list of :class:`StackItem` (thread-safe edits and snapshots)."""

    def __init__(self, items: Sequence[StackItem] = ()) -> None:
        self._items: list[StackItem] = list(items)
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []

    def snapshot(self) -> tuple[StackItem, ...]:
        """The current items as an immutable tuple (safe to render from another thread)."""
        with self._lock:
            return tuple(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[StackItem]:
        return iter(self.snapshot())

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Call ``callback(change)`` after every edit; returns a function that unsubscribes."""
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

    def index_of(self, uid: str) -> int:
        """Position of the item with ``uid``; unknown uids raise :class:`ParameterError`."""
        with self._lock:
            for index, item in enumerate(self._items):
                if item.uid == uid:
                    return index
        raise ParameterError(f"no stack item has uid {uid!r}; it may have been removed")

    def item(self, uid: str) -> StackItem:
        """The item with ``uid``."""
        with self._lock:
            return self._items[self.index_of(uid)]

    def add(self, filter_name: str, params: Any = None, *, enabled: bool = True, opacity: float = 1.0,
            mask: Mask | None = None) -> StackItem:
        """Append a new step for ``filter_name`` and return it."""
        item = make_item(filter_name, params, enabled=enabled, opacity=opacity, mask=mask)
        return self.insert(len(self._items), item)

    def insert(self, index: int, item: StackItem) -> StackItem:
        """Insert ``item`` at ``index`` (clamped to the ends) and return it; used by undo of remove."""
        if not isinstance(item, StackItem):
            raise ParameterError(f"insert takes a StackItem, got {type(item).__name__}")
        with self._lock:
            if any(existing.uid == item.uid for existing in self._items):
                raise ParameterError(f"the stack already holds an item with uid {item.uid!r}")
            index = max(0, min(index, len(self._items)))
            self._items.insert(index, item)
        self._notify(StackChange("added", item.uid, index))
        return item

    def remove(self, uid: str) -> tuple[int, StackItem]:
        """Remove the item with ``uid``; return its former index and the item."""
        with self._lock:
            index = self.index_of(uid)
            item = self._items.pop(index)
        self._notify(StackChange("removed", uid, index))
        return index, item

    def move(self, uid: str, index: int) -> int:
        """Move the item with ``uid`` to ``index`` (clamped); return its former index."""
        with self._lock:
            old = self.index_of(uid)
            item = self._items.pop(old)
            index = max(0, min(index, len(self._items)))
            self._items.insert(index, item)
        self._notify(StackChange("moved", uid, index))
        return old

    def set_params(self, uid: str, params: Any) -> StackItem:
        """Set parameters (a dataclass, or a dict of changed values); return the previous item.

        Parameters the filter refuses on any image (:attr:`FilterDef.refusal`: a crop that cuts all away) raise
        :class:`ParameterError` and leave the step as it was.
        """
        with self._lock:
            old = self.item(uid)
            if isinstance(params, Mapping):
                check_param_conflicts(old.definition, params)
                params = old.definition.make_params({**dataclasses.asdict(old.params), **params})
            refusal = old.definition.refusal(params)
            if refusal:
                raise ParameterError(refusal)
            new = make_item(old.filter, params, enabled=old.enabled, opacity=old.opacity,
                            mask=old.mask, uid=old.uid)
            self._replace(old, new)
        self._notify(StackChange("params", uid, self.index_of(uid)))
        return old

    def set_enabled(self, uid: str, enabled: bool) -> StackItem:
        """Enable or disable a step; return the previous item."""
        return self._update(uid, "enabled", enabled=bool(enabled))

    def set_opacity(self, uid: str, opacity: float) -> StackItem:
        """Set a step's opacity (0..1); return the previous item."""
        check_opacity(opacity)
        return self._update(uid, "opacity", opacity=float(opacity))

    def set_mask(self, uid: str, mask: Mask | None) -> StackItem:
        """Set or clear a step's mask; return the previous item."""
        if mask is not None and not isinstance(mask, Mask):
            raise ParameterError(f"mask must be an enhance_core.masks.Mask or None, got {type(mask).__name__}")
        return self._update(uid, "mask", mask=mask)

    def replace_item(self, item: StackItem) -> StackItem:
        """Put ``item`` in place of the item with the same uid (undo of any edit); return the old one.

        The change is told as what differs ("params", "enabled", "opacity" or "mask") when that is one
        thing, so listeners can update in place (an undo keeps the focused control); else as "reset".
        """
        with self._lock:
            old = self.item(item.uid)
            self._replace(old, item)
        differ = [name for name in ("params", "enabled", "opacity") if getattr(old, name) != getattr(item, name)]
        differ += ["mask"] if old.mask is not item.mask else []  # masks by identity: they hold arrays
        kind = differ[0] if len(differ) == 1 and old.filter == item.filter else "reset"
        self._notify(StackChange(kind, item.uid, self.index_of(item.uid)))
        return old

    def reset(self, items: Sequence[StackItem]) -> tuple[StackItem, ...]:
        """Replace every item (loading a recipe); return the previous snapshot."""
        with self._lock:
            old = tuple(self._items)
            self._items = list(items)
        self._notify(StackChange("reset"))
        return old

    def _update(self, uid: str, kind: str, **changes: Any) -> StackItem:
        """Replace one field of an item and notify."""
        with self._lock:
            old = self.item(uid)
            self._replace(old, dataclasses.replace(old, **changes))
        self._notify(StackChange(kind, uid, self.index_of(uid)))
        return old

    def _replace(self, old: StackItem, new: StackItem) -> None:
        """Swap ``old`` for ``new`` in place (lock held)."""
        self._items[self._items.index(old)] = new

    def _notify(self, change: StackChange) -> None:
        """Call every listener (outside the lock)."""
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(change)
