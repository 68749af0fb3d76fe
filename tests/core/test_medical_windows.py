"""The window/level step rules, headless: which step is edited, which steps are the display mapping, drags."""

from __future__ import annotations

import numpy as np
import pytest

from enhance_core.image import Image, ImageMeta, Window
from enhance_core.masks import Mask
from enhance_core.medical.windows import (MAX_DRAG_WIDTH, MIN_WIDTH, WINDOW_LEVEL, auto_window, default_window_params,
                                          display_steps, drag_span, dragged_window, stack_window, window_item,
                                          window_step_to_edit, with_window)
from enhance_core.stack import make_item


def ct_image(windows: tuple[Window, ...] = ()) -> Image:
    meta = ImageMeta(format="DICOM", bit_depth=12, unit="HU", value_offset=-1024.0, value_scale=4095.0,
                     modality="CT", windows=windows, extra={"value_range": (-1000.0, 1500.0)})
    return Image(np.zeros((8, 10, 1), np.float32), None, meta)


def test_new_steps_start_on_the_header_window_else_the_value_range():
    assert default_window_params(ct_image((Window(40, 80, "Brain"), Window(-600, 1500)))) == \
        {"center": 40.0, "width": 80.0, "function": "linear"}
    assert default_window_params(ct_image()) == {"center": 250.0, "width": 2500.0, "function": "linear"}
    item = window_item(Window(-600, 1500))
    assert (item.filter, item.params.center, item.params.width) == (WINDOW_LEVEL, -600.0, 1500.0)


def test_edits_go_to_the_selected_window_step_else_the_first():
    blur, first, second = make_item("gaussian_blur"), window_item(Window(0, 10)), window_item(Window(5, 20))
    steps = (blur, first, second)
    assert window_step_to_edit(steps, second) is second
    assert window_step_to_edit(steps, blur) is first
    assert window_step_to_edit(steps) is first
    assert window_step_to_edit((blur,), blur) is None


def test_only_the_leading_enabled_unmasked_window_steps_map_the_display():
    lung, bone = window_item(Window(-600, 1500)), window_item(Window(400, 1800))
    off = make_item(WINDOW_LEVEL, enabled=False)
    masked = make_item(WINDOW_LEVEL, mask=Mask(8, 10))
    blur = make_item("gaussian_blur")
    assert display_steps((off, lung, bone, blur, window_item(Window(0, 1)))) == (lung, bone)
    assert display_steps((lung, masked, bone)) == (lung,)
    assert display_steps((blur, lung)) == ()


def test_an_export_describes_the_first_enabled_window():
    off = make_item(WINDOW_LEVEL, {"center": 1.0, "width": 2.0}, enabled=False)
    window = stack_window((make_item("gaussian_blur"), off, window_item(Window(50, 350))))
    assert (window.center, window.width, window.name) == (50.0, 350.0, "Window/level")
    assert stack_window((off,)) is None


def test_a_drag_moves_the_level_by_the_value_range_per_height_and_doubles_the_width_per_quarter_width():
    image = ct_image()
    span = drag_span(image)
    assert span == 2500.0
    assert dragged_window(40, 80, 0, 8, span=span, cols=10, rows=8) == (2540.0, 80.0), "down: the level"
    assert dragged_window(40, 80, 2.5, 0, span=span, cols=10, rows=8) == (40.0, 160.0), "across: the width"
    assert dragged_window(40, 80, -400, 0, span=span, cols=10, rows=8)[1] == MIN_WIDTH
    assert dragged_window(40, 80, 400, 0, span=span, cols=10, rows=8)[1] == MAX_DRAG_WIDTH
    flat = Image(np.zeros((4, 4, 1), np.float32), None, ImageMeta(value_scale=0.0))
    assert drag_span(flat) == 1.0


def test_a_pet_scan_in_bq_per_ml_opens_on_its_value_range_and_drags_wider_than_a_ct_window():
    meta = ImageMeta(format="DICOM", bit_depth=16, unit="BQML", value_scale=250.0 * 65535, modality="PT",
                     extra={"value_range": (32000.0, 547750.0)})
    pet = Image(np.zeros((8, 10, 1), np.float32), None, meta)
    params = default_window_params(pet)
    assert params == {"center": 289875.0, "width": 515750.0, "function": "linear"}
    assert window_item(Window(params["center"], params["width"])).params.width == 515750.0
    assert dragged_window(289875.0, 515750.0, 400, 0, span=drag_span(pet), cols=10, rows=8)[1] == 4 * 515750.0


def test_a_sigmoid_header_window_opens_as_a_sigmoid_and_a_drag_keeps_it():
    from enhance_core.render import render_image

    image = ct_image((Window(40, 80, "", "sigmoid"),))
    assert default_window_params(image)["function"] == "sigmoid"
    item = window_item(Window(40, 80, "", "sigmoid"))
    assert with_window(item, 60.0, 100.0).params.function == "sigmoid"
    hounsfield = np.array([40.0, 60.0, 20.0, -400.0, 600.0])
    values = ((hounsfield + 1024.0) / 4095.0).astype(np.float32).reshape(1, 5, 1)
    shown = render_image(Image(values, None, image.meta), (item,)).pixels.ravel()
    expected = 1.0 / (1.0 + np.exp(-4.0 * (hounsfield - 40.0) / 80.0))
    np.testing.assert_allclose(shown, expected, atol=1e-5)
    narrow = window_item(Window(40, 1, "", "sigmoid"))  # air 1064 widths below: exp overflowed (a warning)
    assert render_image(Image(values, None, image.meta), (narrow,)).pixels.ravel()[3] < 1e-30


def test_with_window_keeps_the_step_identity():
    item = make_item(WINDOW_LEVEL, {"center": 0.0, "width": 1.0}, opacity=0.5, enabled=False)
    moved = with_window(item, 30.0, 0.0)
    assert (moved.uid, moved.opacity, moved.enabled) == (item.uid, 0.5, False)
    assert (moved.params.center, moved.params.width) == (30.0, pytest.approx(MIN_WIDTH))


def test_an_image_whose_values_reach_beyond_the_step_opens_auto_windows_and_drags_within_it():
    """A RescaleSlope of 1e9 puts a CT's values near 1e12 HU; every window the program makes must fit the step."""
    meta = ImageMeta(format="DICOM", bit_depth=16, unit="HU", value_offset=-3.3e13, value_scale=6.6e13,
                     modality="CT", extra={"value_range": (1.28e11, 2.19e12)})
    pixels = np.linspace(0.5, 0.53, 80, dtype=np.float32).reshape(8, 10, 1)
    image = Image(pixels, None, meta)
    params = default_window_params(image)
    assert (params["center"], params["width"]) == (1e12, 2e12)
    auto = auto_window(image)
    for center, width in ((params["center"], params["width"]), (auto.center, auto.width),
                          dragged_window(1e12, 2e12, 10, 8, span=drag_span(image), cols=10, rows=8),
                          dragged_window(-1e12, 2e12, 0, -10, span=drag_span(image), cols=10, rows=8)):
        item = window_item(Window(center, width))
        assert abs(item.params.center) <= 1e12 and item.params.width <= 2e12


def test_a_ct_s_padding_outside_its_circle_is_left_out_of_its_range_and_auto_window(tmp_path):
    import pydicom
    from pydicom.data import get_testdata_file

    from enhance_core.io import read_image

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    stored = dataset.pixel_array.copy()
    stored[:40, :40] = -2000  # the corner outside the scanned circle: -2000 * 1 - 1024 = -3024 HU
    dataset.PixelData = stored.astype(np.int16).tobytes()
    dataset.PixelPaddingValue = -2000
    dataset.save_as(tmp_path / "padded.dcm")
    padded, plain = read_image(tmp_path / "padded.dcm"), read_image(get_testdata_file("CT_small.dcm"))
    assert padded.meta.extra["padding"] == (-3024.0, -3024.0)
    assert padded.meta.extra["value_range"][0] > -3024.0
    window = auto_window(padded)
    assert window.center - window.width / 2 > -1100.0, "the padding does not pull the window down to -3024 HU"
    corner_free = plain.with_pixels(plain.pixels[40:, 40:])
    assert window.width < 1.5 * auto_window(corner_free).width


def test_a_dicom_linear_window_is_dicom_s_linear_and_a_photograph_s_spans_its_width():
    from enhance_core.render import render_image

    hu = np.array([[-161.0, -160.0, 0.0, 238.0, 239.0]], np.float64)
    ct = ct_image()
    ct.meta.extra["value_step"] = 1.0  # whole HU, as integer samples with slope 1 hold them
    values = ct.with_pixels(ct.from_physical(hu).astype(np.float32)[:, :, None])
    shown = render_image(values, [make_item("window_level", {"center": 40.0, "width": 400.0})]).pixels[0, :, 0]
    np.testing.assert_allclose(shown, [0.0, 0.0, 160.0 / 399.0, 398.0 / 399.0, 1.0], atol=1e-5)
    step = render_image(values, [make_item("window_level", {"center": 0.6, "width": 1.0})]).pixels[0, :, 0]
    assert values.to_physical(values.pixels[0, 2, 0]) == pytest.approx(0.0, abs=0.01)
    np.testing.assert_array_equal(step, [0.0, 0.0, 0.0, 1.0, 1.0])  # width 1: white above center - 0.5 (0.1 HU)
    fine = ImageMeta(format="DICOM", bit_depth=16, value_offset=0.0, value_scale=0.9, modality="MR",
                     extra={"value_step": 1e-4})  # an MR of values 0..0.9 (slope 0.0001): not a threshold
    mr = Image(np.array([[[0.0], [0.25], [0.5], [0.75], [1.0]]], np.float32), None, fine)
    shown = render_image(mr, [make_item("window_level", {"center": 0.45, "width": 0.9})]).pixels[0, :, 0]
    np.testing.assert_allclose(shown, [0.0, 0.25, 0.5, 0.75, 1.0], atol=2e-4)
    photo = Image(np.array([[[0.25], [0.5], [0.75]]], np.float32))
    shown = render_image(photo, [make_item("window_level", {"center": 0.5, "width": 0.5})]).pixels[0, :, 0]
    np.testing.assert_allclose(shown, [0.0, 0.5, 1.0], atol=1e-6)


def test_a_ct_window_matches_pydicom_at_its_ends_and_as_a_threshold():
    import pydicom
    from pydicom.data import get_testdata_file

    from enhance_core.io import read_image
    from enhance_core.render import render_image

    path = get_testdata_file("CT_small.dcm")
    image = read_image(path)
    dataset = pydicom.dcmread(path)
    hu = pydicom.pixels.apply_modality_lut(dataset.pixel_array, dataset)
    threshold = render_image(image, [make_item("window_level", {"center": 40.5, "width": 1.0})]).pixels[:, :, 0]
    assert (hu == 40).any() and (threshold[hu <= 40] == 0.0).all() and (threshold[hu > 40] == 1.0).all()
    brain = render_image(image, [make_item("window_level", {"center": 40.0, "width": 80.0})]).pixels[:, :, 0]
    assert (brain[hu == 0] == 0.0).all() and (brain[hu == 79] == 1.0).all(), "the ends exactly, as pydicom"


def test_a_modality_lut_file_s_window_is_dicom_s_linear():
    from pydicom.data import get_testdata_file

    from enhance_core.filters.point import value_step
    from enhance_core.io import read_image

    assert value_step(read_image(get_testdata_file("mlut_18.dcm")).meta) == 1.0  # pydicom-data: the LUT's whole numbers


@pytest.mark.parametrize("center, width", [(100.3, 7.0), (40.2, 20.0), (40.7, 20.0), (40.0, 400.0)])
def test_a_window_whose_ends_fall_between_whole_units_matches_pydicom(center, width):
    import pydicom
    from pydicom.data import get_testdata_file

    from enhance_core.io import read_image
    from enhance_core.render import render_image

    path = get_testdata_file("CT_small.dcm")
    dataset = pydicom.dcmread(path)
    hu = pydicom.pixels.apply_modality_lut(dataset.pixel_array, dataset).astype(np.float64)
    dataset.WindowCenter, dataset.WindowWidth = center, width
    expected = pydicom.pixels.apply_windowing(hu, dataset)
    expected = (expected - expected.min()) / (expected.max() - expected.min())
    shown = render_image(read_image(path), [make_item("window_level", {"center": center, "width": width})])
    np.testing.assert_allclose(shown.pixels[:, :, 0], expected, atol=1e-3)  # a dragged centre: 100.3


@pytest.mark.parametrize("after", [{"brightness_contrast": {"contrast": 1.5, "brightness": 0.1}},
                                   {"unsharp_mask": {"sigma": 1.0, "amount": 1.5}}])
def test_steps_after_the_window_end_at_its_black_and_white_whether_the_samples_are_float_or_not(after):
    """On a float CT the steps after the window kept values past its white: a bone ROI's "after" mean fell from
    942 to 80 HU, its pixels counted as taken to white, and the same recipe drew halos only on float slices (a
    radiology check of the float changes)."""
    from enhance_core.render import render_image

    rng = np.random.default_rng(0)
    pixels = rng.uniform(0.0, 1.0, (40, 50, 1)).astype(np.float32)
    pixels[10:30, 10:30] = np.float32((1000.0 + 1024.0) / 4095.0)  # bone, white in a 40 / 400 window
    from dataclasses import replace

    (name, params), = after.items()
    steps = [window_item(Window(40, 400)), make_item(name, params)]
    rendered = {}
    for float_source in (False, True):
        image = Image(pixels, None, replace(ct_image().meta, float_source=float_source))
        rendered[float_source] = render_image(image, steps).pixels
    assert rendered[True].min() >= 0.0 and rendered[True].max() <= 1.0
    np.testing.assert_array_equal(rendered[True], rendered[False])
