"""Values that set a parameter together with a choice that ignores it are refused, naming both."""

from __future__ import annotations

import pytest

from enhance_core.errors import ParameterError
from enhance_core.filters.conflicts import check_param_conflicts
from enhance_core.filters.registry import FILTERS, get_filter


def test_a_parameter_with_a_choice_that_ignores_it_is_refused():
    with pytest.raises(ParameterError, match="'denoise': sigma is used only when mode=manual, not mode=auto; "
                                             "drop one of the two"):
        check_param_conflicts(get_filter("denoise"), {"mode": "auto", "sigma": 25})


@pytest.mark.parametrize("values", [{"sigma": 25}, {"mode": "manual", "sigma": "25"}, {"mode": "auto"}, {}])
def test_consistent_values_pass(values):
    check_param_conflicts(get_filter("denoise"), values)


def test_every_choice_dependent_parameter_of_every_filter_is_checked():
    checked = 0
    for definition in FILTERS.values():
        for spec in definition.specs:
            if not spec.used_when:
                continue
            choice_name, needed = spec.used_when
            choices = next(s.choices for s in definition.specs if s.name == choice_name) or (True, False)
            other = next(c for c in choices if c != needed)
            wanted = str(needed).lower() if isinstance(needed, bool) else needed
            with pytest.raises(ParameterError, match=f"{spec.name} is used only when {choice_name}={wanted}"):
                given = True if spec.kind == "bool" else spec.default  # a switch's setting turned on asks for it
                check_param_conflicts(definition, {choice_name: other, spec.name: given})
            checked += 1
    assert checked >= 5
