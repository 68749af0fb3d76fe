"""plan_view without Qt: what the preview renders for each change of stack, window step, zoom and pan."""

from __future__ import annotations

import dataclasses

import pytest

from enhance_core.image import Window
from enhance_core.medical.windows import window_item
from enhance_core.stack import make_item
from enhance_core.view_plan import (MOSAIC_PATCHES, MOSAIC_PIXELS, Detail, ViewRequest, ViewState, ViewWish,
                                    add_patch, after_frame, bounding_rect, detail_scale_for, padded_rect, plan_view,
                                    preview_scale_for, screen_zoom_for, uncovered_parts)

ROWS, COLS = 2000, 3000
SCALE = preview_scale_for(ROWS, COLS)
BLUR = make_item("gaussian_blur")
LUNG = window_item(Window(-600, 1500))


def wish(generation: int = 1, steps: tuple = (BLUR,), *, zoom: float | None = None,
         visible: tuple[int, int, int, int] = (0, 0, COLS, ROWS), pixel_ratio: float = 1.0) -> ViewWish:
    return ViewWish(generation, steps, ROWS, COLS, SCALE, SCALE if zoom is None else zoom, visible, pixel_ratio)


def landed(state: ViewState, view: ViewWish) -> ViewState:
    """The state after the planned request for ``view`` rendered and landed."""
    request = plan_view(state, view).request
    assert request is not None
    return after_frame(state, request)


def test_scales_follow_the_preview_budget():
    assert preview_scale_for(1000, 1000) == 1.0
    assert SCALE == pytest.approx((2_000_000 / 6_000_000) ** 0.5)
    assert detail_scale_for(SCALE, SCALE) is None
    assert detail_scale_for(0.7, SCALE) == 1.0 and detail_scale_for(3.0, SCALE) == 1.0
    assert detail_scale_for(0.3 * 1.2 * 4, 0.3) == 1.0 and detail_scale_for(0.45, 0.3) == 0.5
    assert detail_scale_for(1.0, 0.868) == 1.0, "at 1:1 a preview of 0.868 is not what the export holds"
    assert detail_scale_for(0.8, 0.868) is None and detail_scale_for(1.0, 1.0) is None
    assert screen_zoom_for(0.1, SCALE) == 0.1 and screen_zoom_for(SCALE, SCALE) is None
    assert padded_rect((100, 100, 200, 300), cols=250, rows=1000) == (75, 50, 225, 350)


def test_actual_pixels_on_a_200_percent_screen_renders_the_full_resolution_patch():
    """Half a logical pixel per source pixel there is one device pixel per source pixel."""
    state = landed(ViewState(), wish())
    request = plan_view(state, wish(zoom=0.5, visible=(0, 0, 800, 600), pixel_ratio=2.0)).request
    assert request is not None and request.detail_rect is not None and request.detail_scale == 1.0
    assert plan_view(state, wish(zoom=0.4, pixel_ratio=2.0)).request is None, "under 1:1 the preview serves it"


def test_a_new_image_renders_preview_and_before_then_nothing():
    plan = plan_view(ViewState(), wish())
    assert plan.request == ViewRequest(1, (BLUR,), SCALE, preview=True, before=True, before_steps=())
    assert not plan.drop_detail
    assert plan_view(landed(ViewState(), wish()), wish()).request is None


def test_a_stack_edit_renders_the_preview_alone():
    state = landed(ViewState(), wish())
    request = plan_view(state, wish(2, (BLUR, make_item("negative")))).request
    assert (request.generation, request.preview, request.before, request.detail_rect) == (2, True, False, None)


def test_a_new_window_step_renders_the_before_side_through_it():
    state = landed(ViewState(), wish())
    request = plan_view(state, wish(2, (LUNG, BLUR))).request
    assert request.before and request.before_steps == (LUNG,)
    state = after_frame(state, request)
    assert plan_view(state, wish(3, (LUNG, BLUR, make_item("negative")))).request.before is False


def test_zooming_in_asks_for_the_padded_visible_patch_until_it_covers_the_view():
    state = landed(ViewState(), wish())
    zoomed = wish(zoom=2.0, visible=(1000, 800, 1400, 1100))
    request = plan_view(state, zoomed).request
    assert (request.preview, request.detail_rect, request.detail_scale) == (False, (900, 725, 1500, 1175), 1.0)
    state = after_frame(state, request)
    assert state.details == (Detail(1, (900, 725, 1500, 1175), 1.0),)
    assert plan_view(state, dataclasses.replace(zoomed, visible=(1050, 800, 1450, 1100))).request is None
    assert plan_view(state, dataclasses.replace(zoomed, visible=(1200, 800, 1600, 1100))).request is not None
    edited = plan_view(state, dataclasses.replace(zoomed, generation=2)).request
    assert edited.preview and edited.detail_rect == (900, 725, 1500, 1175)


def test_a_pan_by_half_a_canvas_renders_the_new_half_and_a_pan_back_nothing():
    state = landed(ViewState(), wish())
    first = wish(zoom=1.0, visible=(1000, 800, 1400, 1100))
    assert plan_view(state, first).request.detail_rect == (900, 725, 1500, 1175)
    state = landed(state, first)
    panned = dataclasses.replace(first, visible=(1200, 800, 1600, 1100))
    request = plan_view(state, panned).request
    assert (request.preview, request.detail_rect) == (False, (1500, 725, 1700, 1175))
    state = after_frame(state, request)
    assert [patch.rect for patch in state.details] == [(900, 725, 1500, 1175), (1500, 725, 1700, 1175)]
    assert plan_view(state, panned).request is None
    assert plan_view(state, first).request is None
    assert plan_view(state, dataclasses.replace(first, visible=(1100, 800, 1500, 1100))).request is None


def test_a_diagonal_pan_asks_for_the_bounding_rectangle_of_the_uncovered_corner_strips():
    state = landed(landed(ViewState(), wish()), wish(zoom=1.0, visible=(1000, 800, 1400, 1100)))
    request = plan_view(state, wish(zoom=1.0, visible=(1300, 1000, 1700, 1300))).request
    assert request.detail_rect == (1200, 925, 1800, 1375)
    down = plan_view(state, wish(zoom=1.0, visible=(1000, 1100, 1400, 1400))).request
    assert down.detail_rect == (900, 1175, 1500, 1475)


def test_a_stack_change_or_another_scale_starts_a_new_mosaic():
    first = wish(zoom=1.0, visible=(1000, 800, 1400, 1100))
    panned = dataclasses.replace(first, visible=(1200, 800, 1600, 1100))
    state = landed(landed(landed(ViewState(), wish()), first), panned)
    assert len(state.details) == 2
    edited = dataclasses.replace(first, generation=2, steps=(BLUR, make_item("negative")))
    request = plan_view(state, edited).request
    assert request.preview and request.detail_rect == (900, 725, 1500, 1175)
    assert after_frame(state, request).details == (Detail(2, (900, 725, 1500, 1175), 1.0),)
    large = ViewWish(1, (BLUR,), 4000, 6000, preview_scale_for(4000, 6000), 1.0, (1000, 800, 1400, 1100))
    state = landed(landed(ViewState(), dataclasses.replace(large, zoom=0.1, visible=(0, 0, 6000, 4000))), large)
    request = plan_view(state, dataclasses.replace(large, zoom=0.45)).request
    assert (request.detail_rect, request.detail_scale) == ((900, 725, 1500, 1175), 0.5)
    assert after_frame(state, request).details == (Detail(1, (900, 725, 1500, 1175), 0.5),)


def test_the_mosaic_keeps_the_newest_patches_within_its_bounds():
    patches = tuple(Detail(1, (100 * i, 0, 100 * i + 100, 100), 1.0) for i in range(MOSAIC_PATCHES + 2))
    mosaic: tuple[Detail, ...] = ()
    for patch in patches:
        mosaic = add_patch(mosaic, patch)
    assert mosaic == patches[-MOSAIC_PATCHES:]
    assert add_patch(mosaic, Detail(1, (0, 0, 10_000, 10), 1.0))[-1].rect == (0, 0, 10_000, 10)
    assert add_patch(mosaic, Detail(1, (0, 0, 10_000, 100), 1.0)) == (Detail(1, (0, 0, 10_000, 100), 1.0),)
    side = int(MOSAIC_PIXELS ** 0.5)
    big = Detail(1, (0, 200, side, 200 + side), 1.0)
    assert add_patch(mosaic, big) == (big,)
    assert add_patch((big,), patches[0]) == (patches[0],)
    assert add_patch((patches[0],), Detail(2, patches[1].rect, 1.0)) == (Detail(2, patches[1].rect, 1.0),)


def test_uncovered_parts_are_what_no_patch_contains():
    assert uncovered_parts((0, 0, 10, 10), []) == [(0, 0, 10, 10)]
    assert uncovered_parts((0, 0, 10, 10), [(-5, -5, 20, 20)]) == []
    parts = uncovered_parts((0, 0, 10, 10), [(3, 3, 6, 6), (0, 0, 10, 2)])
    assert sum((right - left) * (bottom - top) for left, top, right, bottom in parts) == 100 - 9 - 20
    assert bounding_rect(parts) == (0, 2, 10, 10)
    assert uncovered_parts((0, 0, 10, 10), [(0, 0, 5, 10), (5, 0, 10, 10)]) == []


def test_an_image_previewed_at_full_scale_gets_no_patch_when_zoomed_in():
    """A 512 x 512 CT slice fitted at 1.7x: the patch would render the preview's pixels a second time."""
    assert detail_scale_for(1.7, 1.0) is None and detail_scale_for(8.0, 1.0) is None
    ct = ViewWish(1, (BLUR,), 512, 512, 1.0, 1.7, (0, 0, 512, 512))
    request = plan_view(ViewState(), ct).request
    assert request is not None and request.preview and request.detail_rect is None
    assert plan_view(after_frame(ViewState(), request), ct).request is None


def test_zooming_out_again_drops_the_patch_without_rendering():
    state = landed(landed(ViewState(), wish()), wish(zoom=2.0, visible=(1000, 800, 1400, 1100)))
    plan = plan_view(state, wish())
    assert plan.drop_detail and plan.request is None


def test_zoomed_out_views_get_screen_sized_layers_once_per_zoom():
    state = landed(ViewState(), wish())
    request = plan_view(state, wish(zoom=0.1)).request
    assert (request.preview, request.screen_zoom) == (False, 0.1)
    state = after_frame(state, request)
    assert plan_view(state, wish(zoom=0.1)).request is None
    assert plan_view(state, wish(zoom=0.1, pixel_ratio=2.0)).request.screen_zoom == 0.2
    assert plan_view(state, wish(2, zoom=0.1)).request.screen_zoom == 0.1


def test_a_stopped_generation_is_not_rendered_again_until_the_stack_changes():
    state = ViewState(stopped_generation=1)
    assert plan_view(state, wish(1)).request is None
    assert plan_view(state, wish(2)).request is not None
    assert after_frame(state, plan_view(state, wish(2)).request).stopped_generation == -1


def test_a_late_frame_for_the_old_window_leaves_the_new_window_to_render():
    brain = (window_item(Window(40, 80)),)
    lung_request = plan_view(ViewState(), wish(1, (LUNG,))).request
    state = ViewState()
    assert plan_view(state, wish(2, brain)).request.before_steps == brain
    state = after_frame(state, lung_request)  # the running job for the lung window finishes first
    request = plan_view(state, wish(2, brain)).request
    assert request.before and request.before_steps == brain
