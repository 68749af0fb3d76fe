"""Geometry filters (crop, rotate, flip, straighten, resize, deskew): contract, exact moves, sizes, alpha,
DICOM spacing, recipes on other sizes, the command line, reference metrics and deskew accuracy."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pydicom
import pytest

from enhance_core.cli import main
from enhance_core.errors import ParameterError
from enhance_core.filters.base import RenderContext
from enhance_core.filters.geometry_ops import (crop_box, detect_skew, largest_inner_rectangle, skews_measured,
                                                turn_geometry)
from enhance_core.filters.registry import FILTERS, filters_in_category
from enhance_core.image import Image, ImageMeta
from enhance_core.io import read_image, write_image
from enhance_core.metrics import reference_for_result
from enhance_core.recipe import load_recipe, save_recipe
from enhance_core.render import Renderer, render_image
from enhance_core.stack import make_item
from enhance_core.stack_geometry import output_affine, output_shape
from enhance_core.view_plan import stack_preview_scales

from .synthetic import DEPTHS, source_pixels

GEOMETRY = sorted(name for name, f in FILTERS.items() if f.geometry is not None and not f.learned)
SETTINGS = {
    "crop": {"left": 0.1, "top": 0.05, "right": 0.2, "bottom": 0.15, "aspect": "4:3"},
    "rotate": {"angle": "270"},
    "flip": {"direction": "vertical"},
    "straighten": {"angle": -6.0},
    "resize": {"percent": 160.0},
    "deskew": {"max_angle": 5.0},
}


def test_geometry_filters_are_registered_in_their_category() -> None:
    assert set(GEOMETRY) == set(SETTINGS)
    assert [f.name for f in filters_in_category("Geometry")] == ["crop", "rotate", "flip", "straighten", "resize",
                                                                 "deskew"]


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("channels", (1, 3))
@pytest.mark.parametrize("name", GEOMETRY)
def test_geometry_filter_keeps_the_pixel_contract(name: str, channels: int, depth: int) -> None:
    pixels = source_pixels(40, 56, channels, depth)
    before = pixels.copy()
    definition = FILTERS[name]
    params = definition.make_params(SETTINGS[name])
    out = definition.apply(pixels, params, RenderContext(bit_depth=depth))
    expected = output_shape([make_item(name, SETTINGS[name])], 40, 56, ctx=RenderContext(source=pixels))
    assert out.shape == expected + (channels,) and out.dtype == np.float32 and out.flags.c_contiguous
    assert np.isfinite(out).all() and not np.shares_memory(out, pixels)
    if depth < 32:
        assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(pixels, before)


@pytest.mark.parametrize(("name", "values"), [("crop", {}), ("straighten", {"angle": 0.0}),
                                              ("resize", {"percent": 100.0})])
def test_rest_parameters_give_the_input_back(name: str, values: dict) -> None:
    pixels = source_pixels(33, 47, 3, 16)
    out = Renderer().render(Image(pixels), [make_item(name, values)])
    np.testing.assert_array_equal(out, pixels)


def test_quarter_turns_and_flips_move_pixels_exactly() -> None:
    image = Image(source_pixels(21, 34, 3, 8))

    def run(*steps: tuple[str, dict]) -> np.ndarray:
        return Renderer().render(image, [make_item(name, values) for name, values in steps])

    np.testing.assert_array_equal(run(("rotate", {"angle": "90"})), np.rot90(image.pixels, -1))
    np.testing.assert_array_equal(run(("rotate", {"angle": "270"})), np.rot90(image.pixels, 1))
    np.testing.assert_array_equal(run(("rotate", {"angle": "180"})),
                                  run(("flip", {"direction": "horizontal"}), ("flip", {"direction": "vertical"})))
    np.testing.assert_array_equal(run(("flip", {"direction": "horizontal"})), image.pixels[:, ::-1])
    np.testing.assert_array_equal(run(*[("rotate", {"angle": "90"})] * 4), image.pixels)


def test_crop_fits_the_aspect_ratio_centred_in_the_box() -> None:
    params = FILTERS["crop"].make_params
    assert crop_box(params({"aspect": "3:2"}), 90, 120) == (5, 0, 80, 120)
    assert crop_box(params({"aspect": "3:2", "orientation": "portrait"}), 90, 120) == (0, 30, 90, 60)
    assert crop_box(params({"aspect": "1:1", "left": 0.5}), 90, 120) == (15, 60, 60, 60)
    assert crop_box(params({"aspect": "original", "top": 0.5}), 100, 200) == (50, 50, 50, 100)
    with pytest.raises(ParameterError, match="left 0.5 \\+ right 0.5"):
        crop_box(params({"left": 0.5, "right": 0.5}), 90, 120)


def test_straighten_crops_to_the_largest_inner_rectangle() -> None:
    width, height = largest_inner_rectangle(120, 90, np.radians(10.0))
    assert width < 120 and height < 90
    flat = Image(np.full((90, 120, 1), 0.5, np.float32))
    out = Renderer().render(flat, [make_item("straighten", {"angle": 10.0})])
    assert out.shape[:2] == (int(height), int(width))
    np.testing.assert_allclose(out, 0.5, atol=1e-6)
    kept = Renderer().render(flat, [make_item("straighten", {"angle": 10.0, "auto_crop": False})])
    assert kept.shape[:2] == (90, 120)


def test_resize_targets_are_full_resolution_sizes_at_any_render_scale() -> None:
    image = Image(source_pixels(300, 400, 3, 8))
    long_edge = [make_item("resize", {"long_edge": 200})]
    megapixels = [make_item("resize", {"megapixels": 0.03})]
    assert Renderer().render(image, long_edge).shape[:2] == (150, 200)
    assert Renderer().render(image, long_edge, scale=0.5).shape[:2] == (75, 100)
    assert Renderer().render(image, megapixels).shape[:2] == (150, 200)
    assert Renderer().render(image, megapixels, scale=0.25).shape[:2] == (38, 50)
    with pytest.raises(ParameterError, match="'resize' would make a 100000x75000 image, more than the limit"):
        output_shape([make_item("resize", {"long_edge": 100_000})], 300, 400, 0.5)


def test_shrinking_averages_and_enlarging_is_lanczos() -> None:
    image = Image(source_pixels(64, 96, 1, 32))
    small = Renderer().render(image, [make_item("resize", {"percent": 50.0})])
    np.testing.assert_allclose(small, cv2.resize(image.pixels, (48, 32), interpolation=cv2.INTER_AREA)[:, :, None],
                               atol=1e-5)
    big = Renderer().render(image, [make_item("resize", {"percent": 200.0})])
    reference = cv2.resize(image.pixels, (192, 128), interpolation=cv2.INTER_LANCZOS4)[:, :, None]
    assert np.mean(np.abs(big - reference)[8:-8, 8:-8]) < 0.01


def synthetic_scan(angle: float, *, rows: int = 700, cols: int = 900) -> np.ndarray:
    """A white page of dark 'words' in lines 26 px apart, turned ``angle`` degrees counterclockwise."""
    rng = np.random.default_rng(3)
    page = np.ones((rows, cols), np.float32)
    for top in range(60, rows - 60, 26):
        left = 70
        while left < cols - 120:
            width = int(rng.integers(20, 90))
            page[top:top + 11, left:left + width] = 0.1
            left += width + int(rng.integers(8, 18))
    turn = cv2.getRotationMatrix2D((cols / 2.0, rows / 2.0), angle, 1.0)
    return cv2.warpAffine(page, turn, (cols, rows), flags=cv2.INTER_LINEAR, borderValue=1.0)[:, :, None]


@pytest.mark.parametrize("largest", (1.0, 2.0))
def test_deskew_within_a_narrow_search_still_finds_a_page_s_skew(largest: float) -> None:
    assert detect_skew(synthetic_scan(0.7), max_angle=largest) == pytest.approx(0.7, abs=0.3)


@pytest.mark.parametrize("angle", (2.3, -4.1, 0.7))
def test_deskew_finds_a_known_rotation_and_straightens_it(angle: float) -> None:
    scan = synthetic_scan(angle)
    assert detect_skew(scan) == pytest.approx(angle, abs=0.3)
    notes: dict[str, str] = {}
    step = make_item("deskew", {})
    out = render_image(Image(scan), [step], notes=notes)
    said = float(notes[step.uid].split("°")[0].removeprefix("skew "))
    assert said == pytest.approx(angle, abs=0.3)
    assert abs(detect_skew(out.pixels)) <= 0.3
    assert out.rows < scan.shape[0] and out.cols < scan.shape[1]


@pytest.mark.parametrize("name", ("astronaut", "coffee", "chelsea"))
def test_deskew_leaves_a_photograph_without_lines_of_text_straight_and_says_so(name: str) -> None:
    from skimage import data

    photo = (getattr(data, name)() / 255.0).astype(np.float32)
    assert detect_skew(photo) == 0.0
    notes: dict[str, str] = {}
    step = make_item("deskew", {})
    out = render_image(Image(photo), [step], notes=notes)
    assert out.pixels.shape == photo.shape and notes[step.uid].startswith("no skew found")


def test_deskew_after_a_quarter_turn_still_levels_the_lines() -> None:
    scan = synthetic_scan(3.0)
    out = render_image(Image(scan), [make_item("rotate", {"angle": "90"}), make_item("deskew", {})])
    assert out.rows > out.cols
    assert abs(detect_skew(np.rot90(out.pixels, 1))) <= 0.3


@pytest.mark.parametrize("channels", (1, 3))
def test_alpha_follows_the_geometry(channels: int) -> None:
    pixels = source_pixels(60, 80, channels, 16)
    alpha = np.zeros((60, 80), np.float32)
    alpha[:30] = 1.0
    out = render_image(Image(pixels, alpha), [make_item("rotate", {"angle": "90"}),
                                              make_item("straighten", {"angle": 5.0})])
    assert out.alpha is not None and out.alpha.shape == out.pixels.shape[:2] and out.pixels.shape[2] == channels
    assert out.alpha[:, -3:].min() > 0.99 and out.alpha[:, :3].max() < 0.01
    assert out.alpha.min() >= 0.0 and out.alpha.max() <= 1.0


def test_dicom_pixel_spacing_follows_the_geometry() -> None:
    header = pydicom.Dataset()
    header.PixelSpacing = [0.5, 0.25]
    image = Image(source_pixels(40, 60, 1, 16), meta=ImageMeta(format="DICOM", bit_depth=12, dicom=header))
    halved = render_image(image, [make_item("resize", {"percent": 50.0})])
    assert [float(v) for v in halved.meta.dicom.PixelSpacing] == pytest.approx([1.0, 0.5])
    assert "PixelSpacing" in halved.meta.extra["pixel_spacing_note"]
    turned = render_image(image, [make_item("rotate", {"angle": "90"}), make_item("crop", {"left": 0.5})])
    assert [float(v) for v in turned.meta.dicom.PixelSpacing] == pytest.approx([0.25, 0.5])
    assert [float(v) for v in image.meta.dicom.PixelSpacing] == [0.5, 0.25]


def test_a_recipe_replays_on_other_sizes(tmp_path) -> None:
    steps = [make_item("crop", {"left": 0.25, "right": 0.25, "aspect": "1:1"}), make_item("rotate", {"angle": "90"}),
             make_item("resize", {"mode": "long_edge", "long_edge": 64})]
    path = save_recipe(steps, tmp_path / "scan.json")
    loaded = load_recipe(path)
    for rows, cols in ((100, 200), (300, 160)):
        out = render_image(Image(source_pixels(rows, cols, 3, 8)), loaded)
        assert out.pixels.shape == (64, 64, 3)


def test_apply_command_writes_the_new_size(tmp_path, capsys) -> None:
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    write_image(Image(source_pixels(40, 50, 3, 16), meta=ImageMeta(bit_depth=16)), folder / "one.png")
    code = main(["apply", "--filter", "crop", "--set", "left=0.1", "--set", "right=0.3", "--jobs", "1",
                 "-o", str(out), str(folder)])
    assert code == 0, capsys.readouterr()
    result = read_image(out / "one.png")
    assert (result.rows, result.cols) == (40, 30)
    np.testing.assert_allclose(result.pixels, read_image(folder / "one.png").pixels[:, 5:35], atol=1 / 65535)


def test_reference_follows_the_stack_or_says_why_not() -> None:
    source = source_pixels(60, 80, 3, 32)
    steps = [make_item("crop", {"left": 0.25}), make_item("rotate", {"angle": "90"})]
    result = Renderer().render(Image(source), steps)
    affine = output_affine(steps, 60, 80)
    warped = reference_for_result(source, result_shape=result.shape[:2], source_shape=(60, 80), affine=affine)
    np.testing.assert_array_equal(warped, result)
    assert reference_for_result(result, result_shape=result.shape[:2], source_shape=(60, 80), affine=affine) is result
    preview = Renderer().render(Image(source), steps, scale=0.5)
    half = output_affine(steps, 60, 80, 0.5)
    small = reference_for_result(source, result_shape=preview.shape[:2], source_shape=(60, 80), affine=half)
    assert np.mean(np.abs(small - preview)) < 1e-5
    resized = reference_for_result(result, result_shape=preview.shape[:2], source_shape=(60, 80),
                                   output_shape=result.shape[:2], affine=half)
    assert resized.shape == preview.shape
    with pytest.raises(ValueError, match="reference is 10x10, the result 60x60 and the source 80x60"):
        reference_for_result(np.zeros((10, 10, 3), np.float32), result_shape=result.shape[:2],
                             source_shape=(60, 80), affine=affine)


def test_preview_scale_keeps_the_enlarged_output_within_the_budget() -> None:
    steps = [make_item("resize", {"percent": 400.0})]
    preview, proxy = stack_preview_scales(steps, 1000, 2000)
    assert preview == pytest.approx(0.25, rel=0.01) and proxy is not None and proxy < preview
    cropped = [make_item("crop", {"left": 0.75, "bottom": 0.75})]
    assert stack_preview_scales(cropped, 3000, 4000)[0] == 1.0
    assert stack_preview_scales([], 3000, 4000)[0] == pytest.approx(np.sqrt(2e6 / 12e6))


def test_apply_command_turns_alpha_with_the_pixels(tmp_path) -> None:
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    alpha = np.zeros((30, 44), np.float32)
    alpha[:, :10] = 1.0
    write_image(Image(source_pixels(30, 44, 3, 16), alpha, ImageMeta(bit_depth=16)), folder / "a.png")
    assert main(["apply", "--filter", "rotate", "--set", "angle=90", "--jobs", "1", "-o", str(out), str(folder)]) == 0
    result = read_image(out / "a.png")
    assert result.pixels.shape == (44, 30, 3) and result.alpha is not None
    np.testing.assert_array_equal(result.alpha, np.rot90(alpha, -1))


def test_batch_scores_a_source_size_reference_through_the_geometry(tmp_path) -> None:
    from enhance_core.batch import plan_batch, run_batch
    from enhance_core.batch_inputs import collect_inputs

    folder, references, out = tmp_path / "in", tmp_path / "ref", tmp_path / "out"
    for path in (folder, references, out):
        path.mkdir()
    pixels = source_pixels(48, 64, 3, 16)
    write_image(Image(pixels, meta=ImageMeta(bit_depth=16)), folder / "a.png")
    write_image(Image(pixels, meta=ImageMeta(bit_depth=16)), references / "a.png")
    write_image(Image(pixels, meta=ImageMeta(bit_depth=16)), folder / "b.png")
    write_image(Image(pixels[:20, :20], meta=ImageMeta(bit_depth=16)), references / "b.png")
    steps = (make_item("crop", {"left": 0.25}), make_item("rotate", {"angle": "90"}))
    results = run_batch(plan_batch(collect_inputs([folder]), steps, out, reference_dir=references), jobs=1)
    assert results[0].metrics is not None and results[0].metrics["psnr"] == float("inf")
    assert results[1].metrics is None and "reference is 20x20" in results[1].note
    assert "source 64x48" in results[1].note


def test_dicom_export_describes_the_spacing_after_the_geometry(tmp_path) -> None:
    from PIL import Image as PILImage
    from pydicom.data import get_testdata_file

    from enhance_core.image import Window
    from enhance_core.medical.export import export_slice

    ct = read_image(get_testdata_file("CT_small.dcm"))
    spacing = [float(v) for v in ct.meta.dicom.PixelSpacing]
    path = export_slice(ct, tmp_path / "slice.png", window=Window(40.0, 400.0),
                        steps=(make_item("crop", {"left": 0.5}), make_item("resize", {"percent": 200.0})))
    with PILImage.open(path) as picture:
        described = json.loads(picture.info["Description"])
        assert picture.size == (128, 256)
    assert [float(v) for v in described["dicom"]["PixelSpacing"]] == pytest.approx([s / 2 for s in spacing])
    assert [float(v) for v in ct.meta.dicom.PixelSpacing] == spacing



def test_the_deskew_angle_cache_is_safe_to_share_between_threads(monkeypatch):
    """Threads look angles up while others evict them (GUI planning, preview and metrics workers): no KeyError."""
    import sys
    import threading

    from enhance_core.filters import geometry_ops

    monkeypatch.setattr(geometry_ops, "detect_skew", lambda pixels, *, max_angle=10.0: max_angle / 10.0)
    sources = [np.zeros((4, 4, 1), np.float32) for _ in range(12)]  # more than the cache holds
    start, errors = threading.Barrier(len(sources)), []

    def plan(source: np.ndarray) -> None:
        start.wait()
        try:
            for _ in range(40_000):
                assert geometry_ops._source_skew(source, 5.0) == 0.5
        except Exception as error:  # noqa: BLE001 - any error fails the test below
            errors.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=plan, args=(source,)) for source in sources]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[:3]


def test_planning_without_measuring_guesses_the_deskew_angle_until_a_render_measures_it():
    scan = synthetic_scan(2.3)
    step = make_item("deskew", {"max_angle": 8.0})
    planning = RenderContext(source=scan, measure=False)
    before = skews_measured()
    assert output_shape([step], *scan.shape[:2], ctx=planning) == scan.shape[:2]  # guessed 0, nothing measured
    assert skews_measured() == before
    measured = output_shape([step], *scan.shape[:2], ctx=RenderContext(source=scan))
    assert skews_measured() == before + 1 and measured != scan.shape[:2]
    assert output_shape([step], *scan.shape[:2], ctx=planning) == measured  # remembered now
    narrower = make_item("deskew", {"max_angle": 1.0})  # not measured for 1 degree: the last angle, clipped
    clipped = turn_geometry(-1.0, True, *scan.shape[:2]).out_shape
    assert output_shape([narrower], *scan.shape[:2], ctx=planning) == clipped
    assert skews_measured() == before + 1


@pytest.mark.parametrize("shape", [(3, 5000), (1, 40), (20, 300)])
def test_a_strip_too_thin_for_a_slope_is_left_straight(shape: tuple[int, int]) -> None:
    noise = np.random.default_rng(3).random((*shape, 1)).astype(np.float32)
    assert detect_skew(noise) == 0.0


def test_a_strip_thin_once_measured_is_left_straight_too() -> None:
    noise = np.random.default_rng(4).random((40, 4000, 1)).astype(np.float32)
    assert detect_skew(noise) == 0.0
