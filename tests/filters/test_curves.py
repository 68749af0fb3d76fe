"""The tone curve: identity at rest, monotone PCHIP, per-channel curves, 16-bit precision, recipes and --set."""

from __future__ import annotations

import argparse
import json
import re

import numpy as np
import pytest

from enhance_core.cli import main
from enhance_core.cli.apply import build_steps
from enhance_core.errors import ParameterError
from enhance_core.filters.base import RenderContext
from enhance_core.filters.curves import ToneCurveParams, apply_tone_curve, evaluate_curve
from enhance_core.filters.registry import get_filter
from enhance_core.recipe import load_recipe, save_recipe
from enhance_core.stack import make_item

from .synthetic import DEPTHS, source_pixels

S_CURVE = ((0.0, 0.0), (0.25, 0.18), (0.75, 0.85), (1.0, 1.0))


def random_monotone_points(rng: np.random.Generator) -> tuple[tuple[float, float], ...]:
    """2 to 16 points with increasing x (at least 0.02 apart, as the curve editor keeps them) and non-decreasing y."""
    count = int(rng.integers(2, 17))
    xs = np.sort(rng.choice(np.arange(0, 51), count, replace=False)) / 50.0
    ys = np.sort(rng.random(count))
    return tuple((float(x), float(y)) for x, y in zip(xs, ys))


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("channels", (1, 3))
def test_default_curve_gives_the_input_back_bit_for_bit(channels: int, depth: int) -> None:
    pixels = source_pixels(40, 56, channels, depth)
    out = get_filter("tone_curve").apply(pixels, ToneCurveParams(), RenderContext(bit_depth=depth))
    assert out.dtype == np.float32 and not np.shares_memory(out, pixels)
    np.testing.assert_array_equal(out, pixels)


def test_points_on_the_diagonal_are_the_identity() -> None:
    pixels = source_pixels(20, 30, 3, 16)
    diagonal = ((0.0, 0.0), (0.3, 0.3), (0.6, 0.6), (1.0, 1.0))
    out = apply_tone_curve(pixels, ToneCurveParams(rgb=diagonal, green=diagonal), RenderContext())
    np.testing.assert_array_equal(out, pixels)


def test_curve_is_scipy_pchip() -> None:
    interpolate = pytest.importorskip("scipy.interpolate")
    rng = np.random.default_rng(3)
    for _ in range(20):
        points = random_monotone_points(rng) if rng.random() < 0.5 else tuple(
            (x, float(rng.random())) for x, _ in random_monotone_points(rng))
        xs, ys = np.array(points).T
        t = np.linspace(xs[0], xs[-1], 2001)
        np.testing.assert_allclose(evaluate_curve(points, t), interpolate.PchipInterpolator(xs, ys)(t),
                                   rtol=0, atol=1e-12)


def test_random_monotone_points_give_a_monotone_image_map() -> None:
    rng = np.random.default_rng(7)
    ramp = np.linspace(0.0, 1.0, 5000, dtype=np.float32).reshape(50, 100, 1)
    for _ in range(25):
        points = random_monotone_points(rng)
        out = apply_tone_curve(ramp, ToneCurveParams(rgb=points), RenderContext()).ravel()
        assert np.all(np.diff(out) >= -1e-7), points
        assert out.min() >= 0.0 and out.max() <= 1.0
        xs = np.array([x for x, _ in points], np.float32)
        at_points = apply_tone_curve(xs.reshape(1, -1, 1), ToneCurveParams(rgb=points), RenderContext()).ravel()
        # Slopes reach 50 here; at an end point inside (0, 1) the table interpolates across the corner
        # into the flat part, by up to slope / 4 table steps (4e-4); elsewhere the curve is smooth.
        np.testing.assert_allclose(at_points, [y for _, y in points], atol=4e-4)
        np.testing.assert_allclose(at_points[1:-1], [y for _, y in points[1:-1]], atol=2e-6)


def test_curve_is_flat_beyond_its_end_points() -> None:
    points = ((0.2, 0.1), (0.8, 0.9))
    out = apply_tone_curve(np.array([[[0.0], [0.1], [0.9], [1.0]]], np.float32), ToneCurveParams(rgb=points),
                           RenderContext())
    np.testing.assert_allclose(out.ravel(), [0.1, 0.1, 0.9, 0.9], atol=1e-6)


def test_channel_curves_follow_the_rgb_curve_and_leave_other_channels() -> None:
    pixels = source_pixels(30, 40, 3, 32)
    red = ((0.0, 0.1), (0.5, 0.7), (1.0, 1.0))
    out = apply_tone_curve(pixels, ToneCurveParams(red=red), RenderContext())
    np.testing.assert_array_equal(out[:, :, 1:], pixels[:, :, 1:])
    np.testing.assert_allclose(out[:, :, 0], evaluate_curve(red, pixels[:, :, 0]), atol=1e-6)
    both = apply_tone_curve(pixels, ToneCurveParams(rgb=S_CURVE, blue=red), RenderContext())
    after_rgb = evaluate_curve(S_CURVE, pixels.astype(np.float64))
    np.testing.assert_allclose(both[:, :, :2], after_rgb[:, :, :2], atol=1e-6)
    np.testing.assert_allclose(both[:, :, 2], evaluate_curve(red, after_rgb[:, :, 2]), atol=1e-6)


def test_gray_images_take_the_rgb_curve_only() -> None:
    pixels = source_pixels(30, 40, 1, 8)
    params = ToneCurveParams(rgb=S_CURVE, red=((0.0, 1.0), (1.0, 0.0)))
    out = apply_tone_curve(pixels, params, RenderContext())
    np.testing.assert_allclose(out, evaluate_curve(S_CURVE, pixels.astype(np.float64)), atol=1e-6)


def test_16_bit_and_float_data_keep_float_precision() -> None:
    steep = ((0.0, 0.0), (0.02, 0.3), (0.5, 0.6), (1.0, 1.0))
    for pixels in (source_pixels(64, 64, 3, 16), np.random.default_rng(0).random((64, 64, 3), np.float32)):
        out = apply_tone_curve(pixels, ToneCurveParams(rgb=steep), RenderContext(bit_depth=16))
        exact = evaluate_curve(steep, pixels.astype(np.float64))
        assert np.abs(out - exact).max() < 1e-6
        codes = np.unique(np.round(out * 65535))
        assert len(codes) > 0.9 * len(np.unique(np.round(pixels * 65535)))


def test_wide_images_are_mapped_whole() -> None:
    pixels = np.random.default_rng(1).random((3, 13001, 3), np.float32)
    out = apply_tone_curve(pixels, ToneCurveParams(rgb=S_CURVE), RenderContext())
    np.testing.assert_allclose(out, evaluate_curve(S_CURVE, pixels.astype(np.float64)), atol=1e-6)


def test_points_parameter_validation() -> None:
    definition = get_filter("tone_curve")
    assert [spec.kind for spec in definition.specs] == ["points"] * 4
    params = definition.make_params({"rgb": "0,0; 0.25,0.2; 1,1", "blue": [[0, 0.1], [1, 0.9]]})
    assert params.rgb == ((0.0, 0.0), (0.25, 0.2), (1.0, 1.0)) and params.blue == ((0.0, 0.1), (1.0, 0.9))
    assert definition.make_params({"rgb": "0,0 1,1"}).rgb == ((0.0, 0.0), (1.0, 1.0))
    for bad, said in (("0,0", "1 point"), ("0,0;0.5,1.5;1,1", "outside 0..1"), ("0,0;0.5,a;1,1", "not a list"),
                      ("0,0;0.6,0.5;0.4,0.6;1,1", "must increase"), (";".join(["0.1,0"] * 2), "must increase"),
                      ([[0, 0], [0.5, 0.5, 1], [1, 1]], "not a point"), ([[0, 0], [True, 1]], "not a point"),
                      (";".join(f"{i / 20},0" for i in range(17)), "17 point")):
        with pytest.raises(ParameterError, match=re.escape(said)) as caught:
            definition.make_params({"rgb": bad})
        assert "parameter 'rgb'" in str(caught.value) and "rgb=0,0;0.25,0.2;1,1" in str(caught.value)


def test_recipe_round_trip_keeps_the_points(tmp_path) -> None:
    params = ToneCurveParams(rgb=S_CURVE, green=((0.0, 0.05), (1.0, 0.95)))
    path = save_recipe((make_item("tone_curve", params),), tmp_path / "curve.json")
    assert '"rgb": [\n' in path.read_text()
    (step,) = load_recipe(path)
    assert step.params == params


@pytest.mark.parametrize("value, said", (("0,0;1,1", "expected a list"), ([[0, 0], [1]], "is not a point"),
                                          ([[0, 0], [1, "1"]], "is not a number"), ([[0, 0]], "1 point")))
def test_recipe_refuses_bad_points(tmp_path, value: object, said: str) -> None:
    path = save_recipe((make_item("tone_curve"),), tmp_path / "curve.json")
    data = json.loads(path.read_text())
    data["steps"][0]["params"]["rgb"] = value
    path.write_text(json.dumps(data))
    with pytest.raises(ParameterError, match=said) as caught:
        load_recipe(path)
    assert "step 1" in str(caught.value) and "'rgb'" in str(caught.value)


def test_cli_set_points_and_a_bad_value(tmp_path, capsys) -> None:
    (step,) = build_steps(argparse.Namespace(recipe=None, filter=["tone_curve"], set=["rgb=0,0;0.25,0.2;1,1"]))
    assert step.params.rgb == ((0.0, 0.0), (0.25, 0.2), (1.0, 1.0))
    code = main(["apply", "--filter", "tone_curve", "--set", "rgb=0,0;1", "-o", str(tmp_path / "out"),
                 str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "parameter 'rgb'" in err[0] and "--set 'rgb=0,0;0.25,0.2;1,1'" in err[0]


def test_project_round_trip_keeps_the_points(tmp_path) -> None:
    from enhance_core.project import load_project, save_project

    params = ToneCurveParams(rgb=S_CURVE, red=((0.0, 0.0), (0.4, 0.5), (1.0, 1.0)))
    path = save_project(tmp_path / "edit.esproj", image=tmp_path / "a.png", reference=None,
                        steps=(make_item("tone_curve", params), make_item("tone_curve")))
    steps = load_project(path).steps
    assert [step.params for step in steps] == [params, ToneCurveParams()]


def test_nan_and_infinite_pixels_do_not_stop_the_curve() -> None:
    pixels = source_pixels(16, 16, 3, 32).copy()
    pixels[2, 3, 1] = np.nan
    pixels[4, 5] = (np.inf, -np.inf, np.nan)
    params = ToneCurveParams(rgb=((0.0, 0.0), (0.5, 0.7), (1.0, 1.0)))
    out = apply_tone_curve(pixels, params, RenderContext())
    assert np.isnan(out[2, 3, 1]) and np.isnan(out[4, 5, 2])
    assert out[4, 5, 0] == pytest.approx(1.0) and out[4, 5, 1] == pytest.approx(0.0)
    finite = np.isfinite(pixels)
    clean = np.where(finite, pixels, 0.5).astype(np.float32)
    np.testing.assert_array_equal(out[finite], apply_tone_curve(clean, params, RenderContext())[finite])
