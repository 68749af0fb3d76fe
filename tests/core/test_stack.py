"""The filter stack (edits, events, snapshots) and the caching renderer (preview, region, masks)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pytest

from enhance_core.errors import Cancelled, ParameterError
from enhance_core.filters.base import FilterDef, param
from enhance_core.filters.registry import FILTERS
from enhance_core.image import Image, ImageMeta
from enhance_core.masks import Mask, Region, Stroke
from enhance_core import render
from enhance_core.render import Renderer, render_image
from enhance_core.stack import FilterStack, make_item


def textured(rows: int = 96, cols: int = 128, channels: int = 3) -> Image:
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    planes = [0.5 + 0.3 * np.sin(xx / (4 + c)) * np.cos(yy / 9) for c in range(channels)]
    return Image(np.ascontiguousarray(np.stack(planes, -1), dtype=np.float32), meta=ImageMeta(bit_depth=16))


@dataclass(frozen=True)
class AddParams:
    amount: float = param(0.1, label="Amount", minimum=-1.0, maximum=1.0)


@pytest.fixture
def counting(monkeypatch):
    """Register test filters ``add_a``, ``add_b``, ``add_c`` that count their calls and record ctx."""
    calls: list[str] = []
    contexts: list = []

    def make(name: str) -> FilterDef:
        def apply(pixels, params, ctx):
            calls.append(name)
            contexts.append(ctx)
            return pixels + np.float32(params.amount)

        return FilterDef(name, name, "Tone", AddParams, apply)

    for name in ("add_a", "add_b", "add_c"):
        monkeypatch.setitem(FILTERS, name, make(name))
    return calls, contexts


def test_edits_notify_and_snapshots_stay_frozen() -> None:
    stack = FilterStack()
    events = []
    unsubscribe = stack.subscribe(events.append)
    blur = stack.add("gaussian_blur", {"sigma": 3.0})
    gamma = stack.add("gamma")
    before = stack.snapshot()
    stack.move(gamma.uid, 0)
    stack.set_params(blur.uid, {"sigma": 5.0})
    stack.set_enabled(gamma.uid, False)
    stack.set_opacity(blur.uid, 0.25)
    stack.set_mask(blur.uid, Mask(10, 10))
    assert [e.kind for e in events] == ["added", "added", "moved", "params", "enabled", "opacity", "mask"]
    assert before[0].params.sigma == 3.0 and before[1].filter == "gamma"
    now = stack.snapshot()
    assert [i.filter for i in now] == ["gamma", "gaussian_blur"]
    assert now[1].params.sigma == 5.0 and now[1].opacity == 0.25 and not now[0].enabled
    unsubscribe()
    stack.remove(gamma.uid)
    assert len(events) == 7 and len(stack) == 1


def test_remove_and_insert_undo_each_other() -> None:
    stack = FilterStack()
    items = [stack.add(name) for name in ("negative", "gamma", "levels")]
    index, removed = stack.remove(items[1].uid)
    assert index == 1 and [i.filter for i in stack] == ["negative", "levels"]
    stack.insert(index, removed)
    assert stack.snapshot() == tuple(items)
    old = stack.set_params(items[2].uid, {"black": 0.1})
    stack.replace_item(old)
    assert stack.snapshot() == tuple(items)


def test_bad_edits_raise_and_leave_the_stack_unchanged() -> None:
    stack = FilterStack()
    item = stack.add("gamma")
    with pytest.raises(ParameterError, match="'gamma'.*outside"):
        stack.set_params(item.uid, {"gamma": 100.0})
    with pytest.raises(ParameterError, match="opacity"):
        stack.set_opacity(item.uid, 1.5)
    with pytest.raises(ParameterError, match="unknown filter"):
        stack.add("no_such_filter")
    with pytest.raises(ParameterError, match="no stack item"):
        stack.set_enabled("nope", False)
    assert stack.snapshot() == (item,)


def test_a_parameter_with_a_choice_that_ignores_it_is_refused_not_dropped() -> None:
    with pytest.raises(ParameterError, match="sigma is used only when mode=manual, not mode=auto"):
        make_item("denoise", {"mode": "auto", "sigma": 25})
    assert make_item("denoise", {"sigma": 25}).params.mode == "manual"
    stack = FilterStack()
    item = stack.add("denoise", {"sigma": 30})
    with pytest.raises(ParameterError, match="sigma is used only when mode=manual"):
        stack.set_params(item.uid, {"mode": "auto", "sigma": 10})
    stack.set_params(item.uid, {"mode": "auto"})
    assert (stack.item(item.uid).params.mode, stack.item(item.uid).params.sigma) == ("auto", 30.0)


def test_changing_step_k_recomputes_from_k_on(counting) -> None:
    calls, _ = counting
    image = textured()
    stack = FilterStack()
    a, b, c = (stack.add(name) for name in ("add_a", "add_b", "add_c"))
    renderer = Renderer()
    first = renderer.render(image, stack.snapshot())
    assert calls == ["add_a", "add_b", "add_c"]
    np.testing.assert_allclose(first, image.pixels + 0.3, atol=1e-6)
    calls.clear()
    stack.set_params(c.uid, {"amount": 0.2})
    renderer.render(image, stack.snapshot())
    assert calls == ["add_c"]
    calls.clear()
    stack.set_params(b.uid, {"amount": 0.0})
    renderer.render(image, stack.snapshot())
    assert calls == ["add_b", "add_c"]
    calls.clear()
    stack.set_enabled(a.uid, False)
    renderer.render(image, stack.snapshot())
    stack.set_enabled(a.uid, True)
    again = renderer.render(image, stack.snapshot())
    assert calls == ["add_b", "add_c"]
    np.testing.assert_allclose(again, image.pixels + 0.3, atol=1e-6)
    calls.clear()
    renderer.render(image, stack.snapshot(), region=Region(10, 10, 20, 20))
    assert calls == []


def test_region_render_matches_the_full_render_with_spatial_and_global_steps() -> None:
    image = textured()
    stack = FilterStack()
    stack.add("gaussian_blur", {"sigma": 2.0})
    stack.add("clahe", {"tiles": 4})
    stack.add("unsharp_mask", {"sigma": 3.0}, opacity=0.6)
    stack.add("median_blur", {"size": 5}, mask=Mask(96, 128).with_stroke(Stroke(((60, 40),), radius=20)))
    stack.add("fft_lowpass", {"cutoff": 6.0})
    for scale in (1.0, 0.5):
        full = Renderer().render(image, stack.snapshot(), scale=scale)
        for region in (Region(5, 7, 20, 30), Region(0, 0, 10, 10)):
            part = Renderer().render(image, stack.snapshot(), scale=scale, region=region)
            np.testing.assert_allclose(part, full[region.slices], atol=1e-5)


def test_preview_matches_a_downscaled_export() -> None:
    image = textured(128, 160)
    stack = FilterStack()
    stack.add("gaussian_blur", {"sigma": 4.0})
    stack.add("levels", {"black": 0.1, "white": 0.9})
    stack.add("histogram_equalize")
    export = Renderer().render(image, stack.snapshot())
    preview = Renderer().render(image, stack.snapshot(), scale=0.5)
    assert preview.shape == (64, 80, 3)
    down = export.reshape(64, 2, 80, 2, 3).mean(axis=(1, 3))
    assert np.abs(down - preview).mean() < 0.02


def test_opacity_and_mask_blend_the_step_result() -> None:
    image = textured(40, 50, 1)
    half = make_item("negative", opacity=0.5)
    out = Renderer().render(image, (half,))
    np.testing.assert_allclose(out, 0.5 * image.pixels + 0.5 * (1 - image.pixels), atol=1e-6)
    nearly = Renderer().render(image, (make_item("negative", opacity=0.995),))
    np.testing.assert_allclose(nearly, 0.005 * image.pixels + 0.995 * (1 - image.pixels), atol=1e-6)
    raster = np.zeros((40, 50), np.float32)
    raster[:, 25:] = 1.0
    masked = make_item("negative", mask=Mask(40, 50, raster=raster))
    out = Renderer().render(image, (masked,))
    np.testing.assert_allclose(out[:, :25], image.pixels[:, :25])
    np.testing.assert_allclose(out[:, 25:], 1 - image.pixels[:, 25:], atol=1e-6)
    quarter = Renderer().render(image, (make_item("negative", mask=Mask(40, 50, raster=raster), opacity=0.25),))
    np.testing.assert_allclose(quarter[:, :25], image.pixels[:, :25])
    np.testing.assert_allclose(quarter[:, 25:], 0.75 * image.pixels[:, 25:] + 0.25 * (1 - image.pixels[:, 25:]),
                               atol=1e-6)


def test_filters_see_the_mask_progress_runs_and_stop_cancels(counting) -> None:
    _, contexts = counting
    image = textured(40, 50)
    mask = Mask(40, 50).with_stroke(Stroke(((25, 20),), radius=5))
    steps = (make_item("add_a", mask=mask), make_item("add_b"))
    reports = []
    Renderer().render(image, steps, scale=0.5, progress=lambda f, m: reports.append(f))
    assert contexts[0].mask.shape == (20, 25) and contexts[0].scale == 0.5 and contexts[1].mask is None
    assert contexts[0].bit_depth == 16
    assert reports == sorted(reports) and reports[-1] == 1.0
    with pytest.raises(Cancelled):
        Renderer().render(image, steps, should_stop=lambda: True)


def test_mask_for_another_image_size_is_reported_with_its_step() -> None:
    image = textured(40, 50)
    steps = (make_item("gamma"), make_item("negative", mask=Mask(20, 20)))
    with pytest.raises(ParameterError, match="step 2 .*20x20"):
        Renderer().render(image, steps)
    with pytest.raises(ParameterError, match="step 3 .*20x20"):
        Renderer().render(image, (make_item("gamma", enabled=False), *steps))


def test_a_reduced_source_is_never_kept_for_another_picture(monkeypatch) -> None:
    renderer = Renderer()
    black, white = Image(np.zeros((40, 40, 3), np.float32)), Image(np.ones((40, 40, 3), np.float32))
    reduce = render.visible_pixels

    def another_render_meanwhile(image: Image) -> np.ndarray:
        if image is black:  # another thread renders another picture while this one is reduced
            renderer.render(white, (make_item("negative"),), scale=0.5)
        return reduce(image)

    monkeypatch.setattr(render, "visible_pixels", another_render_meanwhile)
    assert renderer.render(black, (make_item("negative"),), scale=0.5).min() == 1.0
    assert renderer.render(white, (make_item("gamma"),), scale=0.5).min() == 1.0


def test_results_are_read_only_and_the_source_is_untouched() -> None:
    image = textured(30, 40)
    source = image.pixels.copy()
    out = Renderer().render(image, (make_item("negative"),))
    with pytest.raises(ValueError):
        out[0, 0, 0] = 1.0
    untouched = Renderer().render(image, ())
    with pytest.raises(ValueError):
        untouched[0, 0, 0] = 1.0
    np.testing.assert_array_equal(image.pixels, source)
    exported = render_image(image, (make_item("negative"),))
    exported.pixels[0, 0, 0] = 0.0  # export results belong to the caller
    assert exported.meta is image.meta


@pytest.mark.parametrize("name, params", [("gaussian_blur", {"sigma": 3.0}), ("unsharp_mask", {}),
                                           ("median_blur", {"size": 7}), ("contrast_stretch", {})])
def test_colours_hidden_under_transparent_pixels_never_reach_the_visible_ones(name: str, params: dict) -> None:
    pixels = np.zeros((40, 40, 3), np.float32)
    alpha = np.zeros((40, 40), np.float32)
    pixels[10:30, 10:30] = np.linspace(0.4, 0.6, 20, dtype=np.float32)[None, :, None] * [1.0, 0.8, 0.3]
    alpha[10:30, 10:30] = 1.0
    white_behind = pixels.copy()
    white_behind[alpha == 0] = 1.0
    steps = [make_item(name, params)]
    shown = alpha > 0
    results = [render_image(Image(p, alpha.copy()), steps).pixels for p in (pixels, white_behind)]
    np.testing.assert_array_equal(results[0][shown], results[1][shown])
    for scale in (1.0, 0.5):
        preview = Renderer().render(Image(pixels, alpha.copy()), [], scale=scale)
        edge = preview[int(10 * scale), int(20 * scale)]
        assert edge[0] >= 0.39 and edge[1] / edge[0] == pytest.approx(0.8, abs=0.01), "no dark fringe"


def test_hidden_colours_are_filled_once_per_source_for_every_renderer(monkeypatch) -> None:
    import enhance_core.render as render

    calls: list[int] = []
    fill = render.fill_hidden_colours
    monkeypatch.setattr(render, "fill_hidden_colours", lambda pixels, alpha: calls.append(1) or fill(pixels, alpha))
    alpha = np.ones((20, 30), np.float32)
    alpha[:, :10] = 0.0
    image = Image(np.random.default_rng(0).random((20, 30, 3)).astype(np.float32), alpha)
    for _ in range(3):
        Renderer(cache_bytes=0).render(image, [make_item("gaussian_blur")], region=Region(0, 0, 5, 5))
    gray = Image(np.zeros((20, 30, 1), np.float32), alpha)
    assert render_image(gray, [make_item("gaussian_blur")]).pixels.shape == (20, 30, 1)
    assert len(calls) == 2


def test_the_hidden_colour_fill_of_a_picture_too_long_for_remap_is_the_same(monkeypatch) -> None:
    import enhance_core.render as render

    rng = np.random.default_rng(4)
    pixels = rng.random((30, 50, 3)).astype(np.float32)
    alpha = (rng.random((30, 50)) > 0.6).astype(np.float32)
    by_remap = render.fill_hidden_colours(pixels, alpha)
    monkeypatch.setattr(render, "REMAP_SIDE", 40)  # as a panorama 32 767 px or more long
    np.testing.assert_array_equal(render.fill_hidden_colours(pixels, alpha), by_remap)


def test_worker_renders_a_snapshot_while_the_stack_is_edited() -> None:
    image = textured()
    stack = FilterStack()
    blur = stack.add("gaussian_blur", {"sigma": 2.0})
    stack.add("clahe")
    snapshot = stack.snapshot()
    expected = Renderer().render(image, snapshot)
    renderer, results = Renderer(), []
    worker = threading.Thread(target=lambda: results.append(renderer.render(image, snapshot)))
    worker.start()
    for k in range(50):
        stack.set_params(blur.uid, {"sigma": 1.0 + k / 10})
        stack.add("gamma")
    worker.join()
    np.testing.assert_array_equal(results[0], expected)
    assert len(stack) == 52


@pytest.mark.parametrize("opacity", [np.float32(0.5), np.float64(1.0), 0, 1])
def test_an_opacity_may_be_any_real_number_from_0_to_1(opacity) -> None:
    assert make_item("negative", opacity=opacity).opacity == float(opacity)


@pytest.mark.parametrize("opacity", [True, 1.5, float("nan"), "0.5"])
def test_an_opacity_that_is_no_number_from_0_to_1_is_named(opacity) -> None:
    with pytest.raises(ParameterError, match="opacity must be a number from 0 to 1"):
        make_item("negative", opacity=opacity)


def test_a_picture_transparent_everywhere_renders() -> None:
    image = Image(textured(20, 30).pixels, alpha=np.zeros((20, 30), np.float32))
    out = render_image(image, (make_item("gaussian_blur", {"sigma": 2.0}),))
    assert out.pixels.shape == (20, 30, 3) and np.isfinite(out.pixels).all()


def test_a_faint_16_bit_alpha_keeps_its_colour() -> None:
    """An alpha of 100 of 65535 is faint, not transparent: the pixel kept its neighbour's colour instead of its own."""
    pixels = np.zeros((4, 6, 3), np.float32)
    pixels[:, :3, 0], pixels[:, 3:, 2] = 1.0, 1.0
    alpha = np.ones((4, 6), np.float32)
    alpha[:, :3] = 100 / 65535
    alpha[0, 0] = 0.0
    result = render_image(Image(pixels, alpha), [make_item("gamma", {"gamma": 1.0})])
    np.testing.assert_array_equal(result.pixels[:, 1:3], pixels[:, 1:3])
    np.testing.assert_array_equal(result.pixels[0, 0], [1.0, 0.0, 0.0])



def test_a_render_s_progress_names_each_step_by_its_label(monkeypatch) -> None:
    """The status bar said "Rendering preview: low_light", or "tile 1 of 2" without saying which step."""
    import dataclasses

    from enhance_core.filters.registry import FILTERS

    def in_tiles(pixels, params, ctx):
        ctx.progress(0.25, "gamma")
        ctx.progress(0.5, "tile 1 of 2")
        return pixels + np.float32(0.01)

    monkeypatch.setitem(FILTERS, "gamma", dataclasses.replace(FILTERS["gamma"], apply=in_tiles))
    said: list[str] = []
    Renderer(cache_bytes=0).render(textured(), [make_item("exposure", {"stops": 0.5}), make_item("gamma")],
                                   progress=lambda fraction, message: said.append(message))
    assert said == ["Exposure", "Gamma", "Gamma", "Gamma: tile 1 of 2", "done"], said


def test_an_export_keeps_the_colours_under_fully_transparent_pixels() -> None:
    """A master's scan under a mask (alpha 0) was written as the nearest visible colour, even through gamma 1."""
    rng = np.random.default_rng(3)
    pixels = rng.random((16, 20, 3)).astype(np.float32)
    alpha = np.ones((16, 20), np.float32)
    alpha[:, 12:] = 0.0
    image = Image(pixels, alpha)
    for steps in ([make_item("gamma", {"gamma": 1.0})], [make_item("gaussian_blur", {"sigma": 2.0})]):
        result = render_image(image, steps)
        np.testing.assert_array_equal(result.pixels[:, 12:], pixels[:, 12:])
    blurred = render_image(image, [make_item("gaussian_blur", {"sigma": 2.0})]).pixels
    filled = render_image(Image(render.fill_hidden_colours(pixels, alpha)), [make_item("gaussian_blur",
                                                                                       {"sigma": 2.0})]).pixels
    np.testing.assert_allclose(blurred[:, :12], filled[:, :12], atol=1e-6)  # the visible part sees the fill as before
