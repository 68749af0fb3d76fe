"""ROI statistics in HU against numpy on pydicom's CT_small HU array; areas and distances from PixelSpacing."""

from __future__ import annotations

import math

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut

from enhance_core.errors import Cancelled, ParameterError
from enhance_core.io import read_image
from enhance_core.masks import Mask, Stroke
from enhance_core.medical.roi import (Roi, distance_mm, pixel_spacing, roi_mask, roi_stats, source_values,
                                      stack_values, value_steps)
from enhance_core.image import Window
from enhance_core.medical.windows import window_item
from enhance_core.stack import make_item


@pytest.fixture(scope="module")
def ct():
    path = get_testdata_file("CT_small.dcm")
    dataset = pydicom.dcmread(path)
    return read_image(path), apply_modality_lut(dataset.pixel_array, dataset).astype(np.float64), dataset


def test_rectangle_statistics_match_numpy_on_the_hounsfield_array(ct):
    image, hu, dataset = ct
    stats = roi_stats(source_values(image), Roi("rectangle", 20, 30, 60, 50), spacing=pixel_spacing(image.meta.dicom),
                      unit="HU")
    inside = hu[30:50, 20:60]
    assert stats.count == inside.size == 800 and stats.unit == "HU"
    assert stats.mean == pytest.approx(inside.mean(), abs=0.01)
    assert stats.sd == pytest.approx(inside.std(ddof=1), abs=0.01)
    assert (stats.minimum, stats.maximum) == (inside.min(), inside.max())
    row, col = (float(v) for v in dataset.PixelSpacing)
    assert stats.area_mm2 == pytest.approx(800 * row * col)


def test_source_values_are_the_stored_hounsfield_units_exactly(ct):
    image, hu, _ = ct
    assert np.abs(image.to_physical(image.pixels[:, :, 0].astype(np.float64)) - hu).max() > 0
    np.testing.assert_array_equal(source_values(image), hu)
    np.testing.assert_array_equal(stack_values(image, ()), hu)


@pytest.mark.parametrize("rescale", [{"RescaleSlope": 2}, {"RescaleIntercept": 0.5},
                                     {"RescaleSlope": 0.5, "RescaleIntercept": -1024.25},
                                     {"RescaleSlope": -3, "RescaleIntercept": 7}])
@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_source_values_are_exact_whatever_the_rescale(tmp_path, rescale, photometric):
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for name in ("RescaleSlope", "RescaleIntercept"):
        if name in dataset:
            delattr(dataset, name)
    for name, value in rescale.items():
        setattr(dataset, name, value)
    dataset.PhotometricInterpretation = photometric
    dataset.save_as(tmp_path / "ct.dcm")
    expected = apply_modality_lut(dataset.pixel_array, dataset).astype(np.float64)
    np.testing.assert_array_equal(source_values(read_image(tmp_path / "ct.dcm")), expected)


def test_values_far_too_many_for_float32_pixels_are_not_snapped(tmp_path):
    dataset = pydicom.dcmread(get_testdata_file("rtdose_1frame.dcm"))
    stored = dataset.pixel_array.astype(np.uint32) * 1000 + 3
    dataset.PixelData = stored.tobytes()
    dataset.save_as(tmp_path / "dose.dcm")
    image = read_image(tmp_path / "dose.dcm")
    assert "value_grid" not in image.meta.extra
    expected = apply_modality_lut(stored, dataset) * float(dataset.DoseGridScaling)
    np.testing.assert_allclose(source_values(image), expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


def test_a_disabled_step_or_pixels_a_step_left_alone_read_as_the_source(ct):
    image, hu, _ = ct
    np.testing.assert_array_equal(stack_values(image, [make_item("negative", enabled=False)]), hu)
    stroke = Stroke(((20.0, 20.0), (40.0, 20.0)), 6.0, 1.0, 1.0, False)
    brushed = make_item("negative", mask=Mask(image.rows, image.cols, strokes=(stroke,)))
    after = stack_values(image, [brushed])
    np.testing.assert_array_equal(after[60:, :], hu[60:, :])
    assert not np.allclose(after[20, 30], hu[20, 30])


def test_ellipse_takes_the_pixels_whose_centers_are_inside(ct):
    image, hu, _ = ct
    roi = Roi("ellipse", 70, 60, 10, 20)  # dragged up and to the left, wider than tall
    y, x = np.mgrid[0:128, 0:128] + 0.5
    expected = ((x - 40) / 30) ** 2 + ((y - 40) / 20) ** 2 <= 1
    np.testing.assert_array_equal(roi_mask(roi, 128, 128), expected)
    stats = roi_stats(source_values(image), roi)
    assert stats.count == expected.sum() and abs(stats.count - math.pi * 600) < 20
    assert stats.mean == pytest.approx(hu[expected].mean(), abs=0.01) and stats.area_mm2 is None
    assert stats.sd == pytest.approx(hu[expected].std(ddof=1), abs=0.01)


def test_empty_and_bad_rois():
    values = np.zeros((10, 10))
    assert roi_stats(values, Roi("ellipse", 3, 3, 3, 8)) is None
    assert roi_stats(values, Roi("rectangle", 20, 20, 30, 30)) is None
    single = roi_stats(values + 5, Roi("rectangle", 2.2, 2.2, 2.8, 2.8))
    assert (single.count, single.mean, single.sd) == (1, 5.0, 0.0)
    with pytest.raises(ParameterError, match="shape"):
        roi_mask(Roi("polygon", 0, 0, 1, 1), 4, 4)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="2-D"):
        roi_stats(np.zeros((4, 4, 3)), Roi("rectangle", 0, 0, 2, 2))


def test_distance_uses_row_and_column_spacing(ct):
    image, _, dataset = ct
    spacing = pixel_spacing(image.meta.dicom)
    assert distance_mm((10, 10), (40, 50), spacing) == pytest.approx(50 * float(dataset.PixelSpacing[0]))
    assert distance_mm((0, 0), (3, 4), (2.0, 0.5)) == pytest.approx(math.hypot(1.5, 8.0))
    assert pixel_spacing(None) is None and pixel_spacing({"PixelSpacing": ["0", "1"]}) is None
    assert pixel_spacing({"ImagerPixelSpacing": ["0.2", "0.3"]}) == (0.2, 0.3)


def test_stack_values_leave_the_window_out_and_show_what_a_filter_changed(ct):
    image, hu, _ = ct
    windowed = [window_item(Window(-600, 1500))]
    np.testing.assert_allclose(stack_values(image, windowed), hu, atol=0.01)
    blurred = stack_values(image, windowed + [make_item("gaussian_blur", {"sigma": 3.0})])
    roi = Roi("rectangle", 20, 30, 60, 50)
    before, after = roi_stats(source_values(image), roi), roi_stats(blurred, roi)
    assert after.count + after.clipped == before.count and after.clipped > 0, "blurred past the window: no value"
    assert after.sd < before.sd


def test_air_a_sigmoid_window_shows_black_holds_no_value_once_clahe_lifts_it(ct):
    """A sigmoid never reaches black: CLAHE lifted air shown black and the ROI read -447 HU (a review)."""
    image, hu, _ = ct
    after = stack_values(image, [window_item(Window(40, 400, function="sigmoid")), make_item("clahe")])
    air = hu < -700
    assert air.sum() > 1000 and np.isnan(after[air]).all()
    assert np.isfinite(after[np.abs(hu - 40) < 100]).all(), "tissue inside the window keeps a value"


def test_steps_after_the_window_are_measured_on_the_picture_shown_mapped_back_through_it(ct):
    from enhance_core.render import render_image

    image, hu, _ = ct
    brain = window_item(Window(40, 400))
    steps = [brain, make_item("clahe")]
    after = stack_values(image, steps)
    shown = render_image(image, steps).pixels[:, :, 0].astype(np.float64)
    windowed = render_image(image, [brain]).pixels[:, :, 0]
    inside = (shown > 0) & (shown < 1) & (windowed > 0) & (windowed < 1)
    changed = shown != windowed
    lifted = (windowed == 0) & (shown > 0)
    assert lifted.any() and np.isnan(after[lifted]).all(), "clipped by the window, then lifted by CLAHE: no value"
    ramp = 399.0 * shown[inside & changed]  # DICOM LINEAR: 40 - 0.5 + (shown - 0.5) * (400 - 1)
    np.testing.assert_allclose(after[inside & changed], -160.0 + ramp, atol=1e-6)
    assert np.isnan(after[~inside & changed]).all(), "clipped to black or white: no value"
    np.testing.assert_array_equal(after[~changed], hu[~changed])
    stats = roi_stats(after, Roi("rectangle", 0, 0, 128, 128))
    assert stats.clipped == int((~inside & changed).sum()) > 0 and stats.count == 128 * 128 - stats.clipped


@pytest.mark.parametrize("window, why", [
    ({"mask": "painted"}, "a window/level step with a painted mask"),
    ({"twice": True}, "two window/level steps"),
])
def test_a_window_that_cannot_be_mapped_back_with_a_step_after_it_is_refused(ct, window, why):
    from enhance_core.masks import Mask

    image, _, _ = ct
    brain = window_item(Window(40, 400))
    if window.get("mask"):
        brain = make_item(brain.filter, brain.params, mask=Mask(image.rows, image.cols, raster=np.ones(
            (image.rows, image.cols), np.float32)))
    steps = [brain, brain] if window.get("twice") else [brain]
    with pytest.raises(ParameterError, match=f"maps back to HU only through one unmasked window step .*this stack "
                                             f"has {why}"):
        stack_values(image, [*steps, make_item("clahe")])


def test_stack_values_are_measured_in_the_source_geometry(ct):
    image, hu, _ = ct
    steps = [make_item("crop", {"left": 0.5}), make_item("rotate", {"angle": "90"}),
             make_item("gaussian_blur", {"sigma": 3.0})]
    assert value_steps(steps) == (steps[2],)
    assert stack_values(image, steps).shape == hu.shape


def test_stack_values_stop_when_asked(ct):
    image, _, _ = ct
    steps = [window_item(Window(-600, 1500)), make_item("gaussian_blur", {"sigma": 3.0})]
    assert value_steps(steps) == tuple(steps) and value_steps(steps[::-1]) == (steps[1],), "a last window: no value"
    with pytest.raises(Cancelled):
        stack_values(image, steps, should_stop=lambda: True)


def test_roi_spec_round_trips_through_the_cli_and_the_csv_needs_after_values_when_asked():
    from enhance_core.cli.roi_stats import parse_roi
    from enhance_core.medical.roi import RoiRecord, RoiStats, roi_spec, roi_stats_csv

    roi = Roi("ellipse", 80.5, 90.0, 40.25, 50.0)
    assert roi_spec(roi) == "ellipse:40.25,50,80.5,90" and parse_roi(roi_spec(roi)) == roi.normalized()
    assert parse_roi(roi_spec(Roi("rectangle", 1, 2, 3, 4))) == Roi("rectangle", 1, 2, 3, 4)
    stats = RoiStats(4, 10.0, 2.5, 7.0, 13.0, None, "HU")
    record = RoiRecord("a.dcm", "rect:1,2,3,4", stats)
    assert roi_stats_csv([record], with_after=False).splitlines() == [
        "file,roi,unit,count,area_mm2,mean,sd,min,max", 'a.dcm,"rect:1,2,3,4",HU,4,,10.000,2.500,7.000,13.000']
    with pytest.raises(ValueError, match="rect:1,2,3,4 of a.dcm has no statistics after the stack"):
        roi_stats_csv([record], with_after=True)
    named = RoiRecord("a.dcm", "rect:1,2,3,4", stats, series="series_002_CT")
    assert roi_stats_csv([named], with_after=False, with_series=True).splitlines() == [
        "series,file,roi,unit,count,area_mm2,mean,sd,min,max",
        'series_002_CT,a.dcm,"rect:1,2,3,4",HU,4,,10.000,2.500,7.000,13.000']


def test_a_colour_image_is_measured_on_its_luma_in_its_levels():
    import cv2

    from enhance_core.medical.roi import roi_unit, source_values, stack_values

    path = get_testdata_file("US1_UNCR.dcm")
    dataset = pydicom.dcmread(path)
    image = read_image(path)
    expected = cv2.cvtColor(dataset.pixel_array.astype(np.float32) / 255, cv2.COLOR_RGB2GRAY) * 255
    np.testing.assert_allclose(source_values(image), expected, atol=1e-3)
    assert roi_unit(image) == "luma"
    stats = roi_stats(source_values(image), Roi("rectangle", 100, 100, 200, 200), unit=roi_unit(image))
    assert stats.unit == "luma" and 1.0 < stats.mean < 255.0
    np.testing.assert_array_equal(stack_values(image, (make_item("negative", enabled=False),)), source_values(image))
