"""The learned denoise filter: registration, parameters, masks through the stack, noise estimation."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from enhance_core.errors import ParameterError
from enhance_core.filters.base import RenderContext
from enhance_core.filters.registry import get_filter
from enhance_core.learned import registry
from enhance_core.learned.denoise import FILTER_DEF, denoise_image
from enhance_core.learned.noise_level import estimate_noise_sigma
from tests.learned.conftest import synthetic_rgb


@pytest.fixture
def tiny_as_denoise(tiny_model, monkeypatch):
    """Serve the tiny trained model under the shipped name, so the filter path runs quickly."""
    monkeypatch.setitem(registry.MODELS, "denoise", registry.MODELS["denoise_tiny"])
    return registry.load_model("denoise", device="cpu")


def test_filter_is_registered_with_its_controls():
    definition = get_filter("denoise")
    assert definition is FILTER_DEF and definition.learned and definition.category == "Learned"
    specs = {spec.name: spec for spec in definition.specs}
    assert specs["mode"].choices == ("auto", "manual")
    assert (specs["sigma"].minimum, specs["sigma"].maximum, specs["sigma"].unit) == (0.0, 75.0, "σ (0–255)")
    assert definition.make_params({"sigma": "25"}).sigma == 25.0
    with pytest.raises(ParameterError, match="sigma"):
        definition.make_params({"sigma": 80})


def test_mask_computes_only_the_tiles_it_touches(tiny_as_denoise):
    calls = []
    handle = tiny_as_denoise.register_forward_hook(lambda module, inputs, output: calls.append(1))
    pixels = synthetic_rgb(640, 640)  # 2 x 2 tiles of 512 on the CPU
    mask = np.zeros((640, 640), np.float32)
    mask[600:610, 600:610] = 1.0
    params = FILTER_DEF.make_params({"mode": "manual", "sigma": 20})
    try:
        whole = FILTER_DEF.apply(pixels, params, RenderContext(device="cpu"))
        whole_calls = len(calls)
        calls.clear()
        masked = FILTER_DEF.apply(pixels, params, RenderContext(device="cpu", mask=mask))
    finally:
        handle.remove()
    assert (len(calls), whole_calls) == (1, 4)
    assert np.array_equal(masked[:100, :100], pixels[:100, :100])
    np.testing.assert_allclose(masked[600:610, 600:610], whole[600:610, 600:610], atol=1e-5)


def test_preview_scales_the_manual_level(tiny_as_denoise):
    pixels = synthetic_rgb(64, 64)
    params = FILTER_DEF.make_params({"mode": "manual", "sigma": 40})
    preview = FILTER_DEF.apply(pixels, params, RenderContext(device="cpu", scale=0.5))
    np.testing.assert_array_equal(preview, denoise_image(pixels, sigma=20, device="cpu"))


def test_auto_strength_multiplies_the_estimated_level_and_says_so(tiny_as_denoise, monkeypatch):
    from enhance_core.learned import denoise

    levels = np.full((64, 64), 6.0, np.float32)
    monkeypatch.setattr(denoise, "estimate_noise_map", lambda pixels, **options: levels)
    pixels = synthetic_rgb(64, 64)
    said: list[str] = []
    params = FILTER_DEF.make_params({"auto_strength": 2.5})
    assert params.mode == "auto", "the auto strength chooses auto mode"
    out = FILTER_DEF.apply(pixels, params, RenderContext(device="cpu", note=said.append))
    np.testing.assert_array_equal(out, denoise_image(pixels, sigma=levels * 2.5, device="cpu"))
    assert said == ["estimated noise σ 6.0, removed at 2.5× (σ 15.0)"]
    said.clear()
    FILTER_DEF.apply(pixels, FILTER_DEF.make_params({}), RenderContext(device="cpu", note=said.append))
    assert said == ["estimated noise σ 6.0"]
    levels[:] = 83.0
    said.clear()
    FILTER_DEF.apply(pixels, FILTER_DEF.make_params({}), RenderContext(device="cpu", note=said.append))
    assert said == ["estimated noise σ 83.0, removed at σ 75, the most the network knows"]


@pytest.mark.parametrize("ctx, bf16", [
    (RenderContext(device="cpu"), True),
    (RenderContext(device="cpu", bit_depth=16), False),
    (RenderContext(device="cpu", bit_depth=16, unit="HU", value_offset=-32768.0, value_scale=65535.0,
                   windowed=True), False),
])
def test_only_an_8_bit_picture_is_computed_in_bfloat16(tiny_as_denoise, monkeypatch, ctx, bf16):
    from enhance_core.learned import denoise

    asked: list[bool] = []
    run_network = denoise.run_network
    monkeypatch.setattr(denoise, "run_network",
                        lambda *args, **options: asked.append(options["cpu_bf16"]) or run_network(*args, **options))
    FILTER_DEF.apply(synthetic_rgb(64, 64), FILTER_DEF.make_params({"mode": "manual", "sigma": 5}), ctx)
    assert asked == [bf16], "bfloat16 steps are half an 8-bit level: a 16-bit picture would lose its depth"


def test_medical_values_are_stretched_over_the_slice_s_range_for_the_network(tiny_as_denoise):
    from enhance_core.learned import denoise

    values = np.full((64, 64, 1), 0.48, np.float32)
    values[:, 32:] = 0.52
    ct = RenderContext(device="cpu", bit_depth=16, unit="HU", value_offset=-32768.0, value_scale=65535.0)
    params = FILTER_DEF.make_params({"mode": "manual", "sigma": 5})
    said: list[str] = []
    stretched = FILTER_DEF.apply(values, params, ct.with_(note=said.append))
    expected = denoise_image((values - 0.48) / np.float32(0.04), sigma=5, device="cpu", bf16=False)
    np.testing.assert_allclose(stretched, expected * np.float32(0.04) + np.float32(0.48), atol=1e-6)
    assert said == [f"on the slice's own range: σ 1 = {0.04 * 65535 / 255:.3g} HU{denoise.FINER}"]
    windowed = FILTER_DEF.apply(values, params, ct.with_(windowed=True))
    np.testing.assert_allclose(windowed, denoise_image(values, sigma=5, device="cpu", bf16=False), atol=1e-6)


def test_progress_rises_to_the_end_only_when_the_result_is_ready(tiny_as_denoise):
    seen: list[tuple[float, str]] = []
    ctx = RenderContext(device="cpu", progress=lambda fraction, message: seen.append((fraction, message)))
    FILTER_DEF.apply(synthetic_rgb(64, 64), FILTER_DEF.make_params({"mode": "manual", "sigma": 20}), ctx)
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert fractions.count(1.0) == 1 and seen[-1][1] == "refined", "the tiles stop short of the end"


def test_zero_level_returns_a_copy_and_bad_input_is_refused():
    pixels = synthetic_rgb(32, 32)
    out = denoise_image(pixels, sigma=0)
    assert out is not pixels and np.array_equal(out, pixels)
    with pytest.raises(ParameterError, match="between 0 and 75"):
        denoise_image(pixels, sigma=90)
    with pytest.raises(ParameterError, match="rows, cols, 1 or 3"):
        denoise_image(pixels[..., :2], sigma=10)
    with pytest.raises(ParameterError, match="rows, cols, 1 or 3"):
        denoise_image(pixels[..., :2])
    assert denoise_image(pixels[:5, :7], device="cpu").shape == (5, 7, 3), "auto mode works on tiny images too"


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("sigma", [10.0, 25.0, 50.0])
def test_noise_level_estimate_is_close(channels, sigma):
    clean = synthetic_rgb(192, 192)[..., :channels]
    noise = np.random.default_rng(3).standard_normal(clean.shape) * sigma / 255
    noisy = (np.round(np.clip(clean + noise, 0, 1) * 255) / 255).astype(np.float32)
    assert abs(estimate_noise_sigma(noisy) - sigma) < 0.1 * sigma
    assert estimate_noise_sigma(clean) < 2.0


def test_learned_noise_map_reads_gaussian_noise_and_more_in_the_noisier_half():
    from enhance_core.learned.noise_map import estimate_noise_map, typical_level

    clean = synthetic_rgb(96, 128)
    rng = np.random.default_rng(4)
    levels = np.where(np.arange(128) < 64, 5.0, 30.0)[None, :, None] / 255.0
    noisy = np.clip(clean + rng.standard_normal(clean.shape).astype(np.float32) * levels, 0, 1).astype(np.float32)
    level_map = estimate_noise_map(noisy, device="cpu")
    assert level_map.shape == (96, 128)
    assert 3.0 < np.median(level_map[:, 8:56]) < 9.0 and 15.0 < np.median(level_map[:, 72:120]) < 40.0
    assert typical_level(level_map) == float(np.median(level_map))


def test_a_brush_dab_does_not_estimate_the_same_pixels_again(monkeypatch):
    """Each dab renders the auto denoiser's step again on the same input: the estimate was three quarters of a
    dab's time (0.85 s of 1.1 s in a 6 MP picture's 1:1 view). Same content, same map; other content, a new one."""
    from enhance_core.learned import noise_map

    runs = []
    network = noise_map.run_network
    monkeypatch.setattr(noise_map, "run_network", lambda *args, **options: runs.append(1) or network(*args, **options))
    pixels = synthetic_rgb(96, 128)
    first = noise_map.estimate_noise_map(pixels, device="cpu")
    again = noise_map.estimate_noise_map(pixels.copy(), device="cpu")
    assert len(runs) == 1 and np.array_equal(first, again) and not again.flags.writeable
    changed = pixels.copy()
    changed[50, 60, 1] += 0.01
    noise_map.estimate_noise_map(changed, device="cpu")
    assert len(runs) == 2
    mask = np.zeros((96, 128), np.float32)
    mask[40:56, 50:70] = 1.0
    for _ in range(2):
        FILTER_DEF.apply(pixels, FILTER_DEF.make_params({}), RenderContext(device="cpu", mask=mask))
    assert len(runs) == 2
    shipped = noise_map.load_network
    monkeypatch.setattr(noise_map, "load_network",
                        lambda name, **options: (copy.deepcopy(shipped(name, **options)[0]), "cpu"))
    noise_map.estimate_noise_map(pixels, device="cpu")
    assert len(runs) == 3, "weights served in the shipped ones' place get their own map"


@pytest.mark.parametrize("samples", [250_000, 600])
def test_noise_map_is_capped_where_it_reads_more_than_the_pixels_of_its_brightness_carry(monkeypatch, samples):
    """Also measured on a reduced copy (as on a large picture) and the cap enlarged back."""
    from enhance_core.learned import noise_map
    from enhance_core.learned.noise_map import LEVEL_CAP, level_for_denoising

    monkeypatch.setattr(noise_map, "SAMPLES", samples)

    pixels = np.full((64, 96, 3), 0.5, np.float32)
    pixels[:, 64:] = 0.1
    level_map = np.full((64, 96), 4.0, np.float32)
    level_map[16:32, 16:32] = 30.0
    level_map[:, 64:] = 12.0
    capped = level_for_denoising(level_map, pixels)
    assert np.allclose(capped[20:28, 20:28], LEVEL_CAP * 4.0)
    assert np.allclose(capped[:, 70:], 12.0) and np.allclose(capped[40:, :56], 4.0)


def test_automatic_mode_keeps_a_fine_pattern_the_noise_map_reads_as_strong_noise():
    """A pixel checkerboard reads as noise of level 50 where the gray beside it reads 5 (a woven tie, pearls)."""
    from enhance_core.learned.denoise import denoise_image

    rows, cols = np.mgrid[:192, :192]
    clean = np.full((192, 192, 3), 0.5, np.float32)
    clean[48:144, 48:144] += (((rows + cols) % 2) * 0.2 - 0.1)[48:144, 48:144, None]
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 4 / 255, clean.shape), 0, 1).astype(np.float32)
    result = denoise_image(noisy, device="cpu")
    contrast = float(np.abs(np.diff(result[64:128, 64:128, 0], axis=1)).mean())
    assert contrast > 0.04
    assert result[:40, :40].std() * 255 < 1.0


def test_automatic_level_is_told_by_the_render_the_cache_and_the_command_line(tmp_path, capsys):
    from enhance_core.cli import main
    from enhance_core.image import Image, ImageMeta
    from enhance_core.io import write_image
    from enhance_core.render import Renderer
    from enhance_core.stack import make_item

    clean = synthetic_rgb(64, 80)
    noisy = np.clip(clean + np.random.default_rng(1).normal(0, 20 / 255, clean.shape), 0, 1).astype(np.float32)
    image = Image(noisy, meta=ImageMeta())
    step = make_item("denoise", {})
    renderer, notes = Renderer(), {}
    renderer.render(image, [step], device="cpu", notes=notes)
    level = float(notes[step.uid].split("σ")[1])
    assert notes[step.uid].startswith("estimated noise σ") and 12.0 < level < 30.0
    again: dict[str, str] = {}
    renderer.render(image, [step], device="cpu", notes=again)
    assert again == notes, "a cached step repeats what it said"
    preview: dict[str, str] = {}
    renderer.render(image, [step], scale=0.5, device="cpu", notes=preview)
    assert preview[step.uid].endswith("in the 50% preview")
    manual: dict[str, str] = {}
    renderer.render(image, [make_item("denoise", {"sigma": 20})], device="cpu", notes=manual)
    assert manual == {}
    write_image(Image(noisy, meta=ImageMeta(bit_depth=8)), tmp_path / "in.png")
    assert main(["apply", "--filter", "denoise", "--jobs", "1", "--device", "cpu", "-o", str(tmp_path / "out"),
                 str(tmp_path / "in.png")]) == 0
    assert "Denoise (CNN): estimated noise σ" in capsys.readouterr().err


def test_the_grid_a_region_render_starts_on_is_the_shipped_networks_size_step():
    from enhance_core.learned.denoise import GRID

    assert GRID % registry.load_model("denoise", device="cpu").multiple == 0 and GRID % 4 == 0
    assert FILTER_DEF.grid == GRID


@pytest.mark.parametrize("mode", ["manual", "auto"])
def test_a_one_to_one_region_is_that_part_of_the_whole_render(mode):
    from enhance_core.image import Image
    from enhance_core.learned.denoise import DenoiseParams
    from enhance_core.masks import Region
    from enhance_core.render import Renderer, render_image
    from enhance_core.stack import make_item

    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:200, 0:280].astype(np.float32)
    base = np.stack([0.5 + 0.3 * np.sin(rows / 9 + cols / 13), 0.5 + 0.3 * np.cos(cols / 7),
                     0.4 + 0.3 * np.sin(rows / 5)], -1)
    image = Image(np.clip(base + rng.normal(0, 0.06, base.shape), 0, 1).astype(np.float32))
    steps = [make_item("denoise", DenoiseParams(mode=mode, sigma=25.0))]
    whole = render_image(image, steps, device="cpu").pixels
    for region in (Region(101, 133, 57, 91), Region(61, 205, 40, 75)):
        part = Renderer(cache_bytes=0).render(image, steps, region=region, device="cpu")
        assert np.abs(part - whole[region.slices]).max() < 1.5 / 255, f"{region} off the network's grid"
