"""The one explicit registry of filters: ``FILTERS[name] -> FilterDef``.

Classic filters come from the modules named in :data:`CLASSIC_MODULES`, each
with a ``FILTERS`` tuple of :class:`FilterDef` (a new module joins that list;
``tests/filters/test_registry.py`` finds one left out). Learned filters live in
:mod:`enhance_core.learned`; each module named in :data:`LEARNED_MODULES`
exposes ``FILTER_DEF`` (a :class:`FilterDef` with ``learned=True``) and imports
``torch`` only inside its functions, so importing this registry stays cheap
and never starts torch. Those modules must not import this registry (the
registry imports them). :func:`register` adds any other filter explicitly.
Classic filter modules likewise import SciPy and scikit-image only inside the
functions that use them: ``enhance-studio apply --list`` imports this registry
and must start quickly (``tests/core/test_cli_startup.py``).
"""

from __future__ import annotations

import difflib
import importlib

from enhance_core.errors import ParameterError
from enhance_core.filters.base import FilterDef, param_specs

CATEGORIES: tuple[str, ...] = (
    "Geometry", "Tone", "Color", "Blur & denoise", "Sharpen & edges", "Frequency", "Learned", "Medical",
)
"""Menu groups in display order."""

CLASSIC_MODULES: tuple[str, ...] = tuple(f"enhance_core.filters.{name}" for name in (
    "geometry_ops", "point", "histogram", "curves", "color", "spatial", "denoise", "frequency", "tone_local", "dehaze",
    "vignette", "hsl"))
"""Modules whose ``FILTERS`` are registered, in this order (the menus' order within a group)."""

LEARNED_MODULES: tuple[str, ...] = (
    "enhance_core.learned.denoise",
    "enhance_core.learned.lowlight",
    "enhance_core.learned.hole_fill",
    "enhance_core.learned.restore",
    "enhance_core.learned.super_res",
)
"""Modules whose ``FILTER_DEF`` is registered after the classic filters."""

FILTERS: dict[str, FilterDef] = {}


def register(filter_def: FilterDef) -> FilterDef:
    """Add ``filter_def`` to :data:`FILTERS` and return it.

    Registering the same definition again is a no-op; a different filter
    under a taken name, or an unknown category, raises :class:`ValueError`.
    """
    existing = FILTERS.get(filter_def.name)
    if existing is not None and existing is not filter_def:
        raise ValueError(f"a filter named {filter_def.name!r} is already registered; choose another name")
    if filter_def.category not in CATEGORIES:
        raise ValueError(f"filter {filter_def.name!r} has category {filter_def.category!r}; "
                         f"use one of: {', '.join(CATEGORIES)}")
    param_specs(filter_def.params_type)  # raises TypeError for a field not declared with param()
    FILTERS[filter_def.name] = filter_def
    return filter_def


def get_filter(name: str) -> FilterDef:
    """Return the filter called ``name``.

    Raises
    ------
    ParameterError
        If no filter has that name; the message lists the closest names.
    """
    try:
        return FILTERS[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), list(FILTERS), n=4, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "run 'enhance-studio apply --list' to see them"
        raise ParameterError(f"unknown filter {name!r}; {hint}") from None


def filters_in_category(category: str) -> list[FilterDef]:
    """Registered filters of one menu group, in registration order."""
    return [f for f in FILTERS.values() if f.category == category]


def _register_learned() -> None:
    """Register the ``FILTER_DEF`` of every learned-filter module that is present."""
    for module_name in LEARNED_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                continue
            raise
        register(module.FILTER_DEF)


for _module_name in CLASSIC_MODULES:
    for _filter_def in importlib.import_module(_module_name).FILTERS:
        register(_filter_def)
_register_learned()
