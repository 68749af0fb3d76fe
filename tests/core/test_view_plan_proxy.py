"""plan_view's proxy-first rule without Qt: a slow step not cached at the preview scale is shown coarse first."""

from __future__ import annotations

import dataclasses

import pytest

from enhance_core.stack import make_item
from enhance_core.view_plan import (PROXY_PIXELS, ViewState, ViewWish, after_frame, is_slow, plan_view,
                                    preview_scale_for, proxy_scale_for)

ROWS, COLS = 4000, 6000
SCALE = preview_scale_for(ROWS, COLS)
PROXY = proxy_scale_for(ROWS, COLS, SCALE)
BLUR = make_item("gaussian_blur")
DENOISE = make_item("denoise")


def wish(generation: int = 2, steps: tuple = (BLUR, DENOISE), *, uncached: tuple = (DENOISE,),
         interactive: bool = False, zoom: float | None = None,
         visible: tuple[int, int, int, int] = (0, 0, COLS, ROWS), proxy: float | None = PROXY) -> ViewWish:
    return ViewWish(generation, steps, ROWS, COLS, SCALE, SCALE if zoom is None else zoom, visible,
                    proxy_scale=proxy, uncached_steps=uncached, interactive=interactive)


def shown(generation: int = 1, steps: tuple = (BLUR,)) -> ViewState:
    """The state once the full preview of ``steps`` landed (a fitted view)."""
    view = wish(generation, steps, uncached=steps)
    return after_frame(ViewState(), plan_view(ViewState(), view).request)


def test_the_proxy_is_about_a_quarter_megapixel_and_only_where_it_saves_time():
    assert PROXY == pytest.approx((PROXY_PIXELS / (ROWS * COLS)) ** 0.5)
    assert proxy_scale_for(1000, 1000, 1.0) == pytest.approx(0.5)  # a quarter of the preview's pixels
    assert proxy_scale_for(500, 800, 1.0) == 0.5  # 0.4 MP: a quarter-megapixel proxy would hold 62 % of it
    assert proxy_scale_for(250, 380, 1.0) is None  # under 0.1 MP the preview is quick itself
    assert is_slow(DENOISE) and is_slow(make_item("low_light")) and not is_slow(BLUR)


def test_adding_a_learned_step_shows_the_proxy_then_the_full_preview():
    request = plan_view(shown(), wish()).request
    assert (request.preview, request.proxy_scale, request.result_scale, request.slow) == (True, PROXY, PROXY, False)
    assert not request.before and request.preview_scale == SCALE
    state = after_frame(shown(), request)
    assert state.preview_generation == 2 and state.preview_proxy
    full = plan_view(state, wish()).request
    assert (full.preview, full.proxy_scale, full.result_scale, full.slow) == (True, None, SCALE, True)
    state = after_frame(state, full)
    assert not state.preview_proxy
    assert plan_view(state, wish(uncached=())).request is None


def test_a_drag_shows_a_proxy_per_change_and_the_full_preview_once_it_rests():
    state = shown()
    for generation in (2, 3, 4):
        moved = make_item("denoise", {"sigma": 10.0 + generation}, uid=DENOISE.uid)
        dragged = wish(generation, (BLUR, moved), uncached=(moved,), interactive=True)
        request = plan_view(state, dragged).request
        assert request.proxy_scale == PROXY and request.preview
        state = after_frame(state, request)
        assert plan_view(state, dragged).request is None  # the full preview waits while the stack changes
    request = plan_view(state, wish(4)).request
    assert request.proxy_scale is None and request.slow


def test_cached_learned_results_go_straight_to_the_full_preview():
    state = after_frame(shown(), plan_view(shown(), wish()).request)
    undone = plan_view(state, wish(3, (BLUR,), uncached=())).request
    assert (undone.proxy_scale, undone.slow) == (None, False)
    state = after_frame(state, undone)
    redone = plan_view(state, wish(4, uncached=())).request
    assert (redone.proxy_scale, redone.slow) == (None, False)
    toggled_after = plan_view(state, wish(5, (DENOISE, BLUR), uncached=(BLUR,))).request
    assert toggled_after.proxy_scale is None and not toggled_after.slow


def test_no_proxy_when_zoomed_in_or_for_a_small_image():
    zoomed = plan_view(shown(), wish(zoom=1.0, visible=(1000, 1000, 2000, 1600))).request
    assert zoomed.proxy_scale is None and zoomed.detail_rect is not None and zoomed.slow
    small = plan_view(shown(), wish(proxy=None)).request
    assert small.proxy_scale is None and small.slow


def test_a_new_image_with_a_learned_step_shows_both_sides_with_a_proxy_result():
    request = plan_view(ViewState(), wish(1)).request
    assert request.before and request.preview and request.proxy_scale == PROXY


def test_zooming_out_while_a_proxy_shows_remakes_the_screen_layers_from_the_proxy():
    zoom = SCALE / 3
    state = after_frame(shown(), plan_view(shown(), wish(zoom=zoom)).request)
    assert state.preview_proxy and state.screen_zoom == zoom
    request = plan_view(state, wish(zoom=zoom / 2, interactive=True)).request
    assert (request.preview, request.proxy_scale, request.screen_zoom) == (False, PROXY, zoom / 2)
    assert after_frame(state, request).preview_proxy
    full = plan_view(after_frame(state, request), wish(zoom=zoom / 2)).request
    assert full.preview and full.proxy_scale is None and full.screen_zoom == zoom / 2


def test_a_cancelled_proxy_is_not_rendered_again_until_the_stack_changes():
    state = dataclasses.replace(shown(), stopped_generation=2)
    assert plan_view(state, wish()).request is None
    assert plan_view(state, wish(3)).request.proxy_scale == PROXY
