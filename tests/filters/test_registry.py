"""The explicit filter registry."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from enhance_core.errors import ParameterError
from enhance_core.filters.base import FilterDef, coerce_param, param, param_specs
from enhance_core.filters.registry import CATEGORIES, CLASSIC_MODULES, FILTERS, get_filter, register

ISSUE_FILTERS = {
    "negative", "brightness_contrast", "exposure", "gamma", "log", "contrast_stretch", "intensity_slice",
    "bit_plane", "threshold", "histogram_equalize", "clahe", "window_level", "levels", "color_balance",
    "saturation", "gaussian_blur", "box_blur", "median_blur", "bilateral", "non_local_means",
    "wavelet_denoise", "tv_denoise", "unsharp_mask", "laplacian_sharpen", "sobel", "canny",
    "fft_lowpass", "fft_highpass", "fft_bandpass", "homomorphic",
}


def test_every_classic_operation_is_registered() -> None:
    assert ISSUE_FILTERS <= set(FILTERS)
    assert all(f.category in CATEGORIES for f in FILTERS.values())


def test_every_module_of_filters_is_registered() -> None:
    import ast
    from pathlib import Path

    from enhance_core.filters import registry

    def assigns_filters(node: ast.stmt) -> bool:
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        return any(isinstance(target, ast.Name) and target.id == "FILTERS" for target in targets)

    folder = Path(registry.__file__).parent
    with_filters = {f"enhance_core.filters.{path.stem}" for path in folder.glob("*.py")
                    if path.stem != "registry"
                    and any(assigns_filters(node) for node in ast.parse(path.read_text(encoding="utf-8")).body)}
    assert with_filters == set(CLASSIC_MODULES), \
        "a module with a FILTERS tuple joins CLASSIC_MODULES in enhance_core/filters/registry.py"


def test_unknown_filter_names_close_matches() -> None:
    with pytest.raises(ParameterError, match="gaussian_blur"):
        get_filter("gausian_blur")
    with pytest.raises(ParameterError, match="unknown filter 'zzz'"):
        get_filter("zzz")


def test_out_of_range_and_unknown_parameters_are_named() -> None:
    blur = get_filter("gaussian_blur")
    with pytest.raises(ParameterError, match="'sigma'.*outside"):
        blur.make_params({"sigma": -1})
    with pytest.raises(ParameterError, match="no parameter 'radius'"):
        blur.make_params({"radius": 2})


@pytest.mark.parametrize(("minimum", "maximum", "value", "message"), [
    (0.0, None, -1e-9, ": -1e-09 is outside the allowed range 0 or more"),
    (None, 10.0, "10.5", ": 10.5 is outside the allowed range up to 10"),
    (0.0, 1.0, 2, ": 2 is outside the allowed range 0 to 1"),
])
def test_a_value_out_of_range_is_shown_as_given_with_the_bounds(minimum, maximum, value, message) -> None:
    @dataclass(frozen=True)
    class Bounded:
        amount: float = param(0.5, label="Amount", minimum=minimum, maximum=maximum)

    with pytest.raises(ParameterError, match=f"{message}$"):
        coerce_param("bounded", param_specs(Bounded)[0], value)


def test_register_rejects_a_second_filter_under_a_taken_name() -> None:
    @dataclass(frozen=True)
    class Nothing:
        amount: float = param(1.0, label="Amount", minimum=0.0, maximum=2.0)

    clash = FilterDef("negative", "Other", "Tone", Nothing, lambda p, params, ctx: p.copy())
    with pytest.raises(ValueError, match="already registered"):
        register(clash)
    register(FILTERS["negative"])  # the same definition again is fine


def test_used_when_must_name_a_choice_of_a_choice_parameter() -> None:
    @dataclass(frozen=True)
    class Modes:
        mode: str = param("auto", label="Mode", choices=("auto", "manual"))
        level: float = param(1.0, label="Level", minimum=0.0, maximum=2.0, used_when=("mode", "manual"))

    assert param_specs(Modes)[1].used_when == ("mode", "manual")

    @dataclass(frozen=True)
    class Typo:
        mode: str = param("auto", label="Mode", choices=("auto", "manual"))
        level: float = param(1.0, label="Level", minimum=0.0, maximum=2.0, used_when=("mode", "manaul"))

    with pytest.raises(TypeError, match=r"Typo.level: used_when=\('mode', 'manaul'\) names no choice"):
        param_specs(Typo)


def test_used_when_may_name_a_boolean_parameter_turned_on() -> None:
    @dataclass(frozen=True)
    class Switch:
        stretch: bool = param(False, label="Stretch")
        apart: bool = param(False, label="Each channel apart", used_when=("stretch", True))

    assert param_specs(Switch)[1].used_when == ("stretch", True)

    @dataclass(frozen=True)
    class Off:
        stretch: bool = param(False, label="Stretch")
        apart: bool = param(False, label="Each channel apart", used_when=("stretch", False))

    with pytest.raises(TypeError, match="nor a boolean parameter turned on"):
        param_specs(Off)


def test_a_parameter_of_one_choice_selects_that_choice_unless_the_choice_is_given() -> None:
    denoise = get_filter("denoise")
    assert denoise.make_params({"sigma": 25}).mode == "manual"
    assert denoise.make_params({}).mode == "auto"
    kept = denoise.make_params({"mode": "auto", "sigma": 30})
    assert (kept.mode, kept.sigma) == ("auto", 30.0), "stored values of an unchosen mode are kept, not applied"


def test_registry_import_does_not_start_torch() -> None:
    import subprocess

    code = "import sys, enhance_core.filters.registry; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("typed", "meant"), [("on", True), ("Yes", True), ("1", True), ("true", True),
                                              ("off", False), ("No", False), ("0", False), (" false ", False)])
def test_a_switch_typed_as_a_word_reads_as_meant(typed: str, meant: bool) -> None:
    assert get_filter("restore").make_params({"denoise": typed}).denoise is meant
