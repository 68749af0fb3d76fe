"""Parameter values that contradict each other: a parameter set with a choice under which it is ignored.

A parameter declared with ``used_when=(choice, value)`` (denoise's ``sigma``,
used only when ``mode`` is ``manual``) matters only under that choice. Given
alone it selects the choice (:meth:`FilterDef.make_params`: ``{"sigma": 25}``
is manual denoising); given together with another value of the choice
(``{"mode": "auto", "sigma": 25}``) one of the two is a mistake, and
dropping the parameter silently would hide it. :func:`check_param_conflicts`
refuses such values. It checks values a person wrote (the command line, a
script calling ``make_item``), not a complete parameter set: a recipe or a
stored step keeps the values of the other choice on purpose.
"""

from __future__ import annotations

from typing import Any, Mapping

from enhance_core.errors import ParameterError
from enhance_core.filters.base import FilterDef, coerce_param


def check_param_conflicts(definition: FilterDef, values: Mapping[str, Any]) -> None:
    """Raise :class:`ParameterError` when ``values`` set a parameter and a choice that ignores it.

    Parameters
    ----------
    definition : FilterDef
        The filter the values are for.
    values : mapping
        Parameter values by name as given (unknown names are left to ``make_params``).
    """
    for spec in definition.specs:
        if spec.name not in values or not spec.used_when:
            continue
        choice_name, needed = spec.used_when
        if choice_name not in values:
            continue
        specs = {other.name: other for other in definition.specs}
        given = coerce_param(definition.name, specs[choice_name], values[choice_name])
        if specs[choice_name].kind == "bool" and not coerce_param(definition.name, spec, values[spec.name]):
            continue  # a switch's setting turned off asks nothing of the switch
        if given != needed:
            wanted = str(needed).lower() if isinstance(needed, bool) else needed
            raise ParameterError(f"filter {definition.name!r}: {spec.name} is used only when {choice_name}={wanted}, "
                                 f"not {choice_name}={values[choice_name]}; drop one of the two")
