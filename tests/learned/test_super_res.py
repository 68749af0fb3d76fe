"""Super-resolution: the network, the tiled enlargement, the tiny training run, and the degradations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from enhance_core.cli import main
from enhance_core.errors import Cancelled, ParameterError
from enhance_core.image import Image, ImageMeta
from enhance_core.io import read_image, write_image
from enhance_core.learned.archs.super_res_net import SuperResNet
from enhance_core.learned.super_res import REACH, TILE_OVERLAP, enlarge_image
from enhance_core.masks import Mask, Region, Stroke
from enhance_core.recipe import load_recipe, save_recipe
from enhance_core.render import Renderer, render_image
from enhance_core.stack import make_item
from enhance_core.training import train_super_res
from enhance_core.training.sr_degrade import degrade_scan, downscale_bicubic, modcrop, psnr_y

TINY_CONFIG = Path(train_super_res.__file__).parent / "configs" / "super_res_tiny.json"


def synthetic_rgb(rows: int, cols: int, seed: int = 0) -> np.ndarray:
    """A smooth colour picture with fine random texture, float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    r, c = np.mgrid[0:rows, 0:cols] / 20.0
    smooth = np.stack([0.5 + 0.3 * np.sin(r + c), 0.5 + 0.3 * np.cos(r * 1.3), 0.5 + 0.2 * np.sin(c * 2)], axis=-1)
    return np.clip(smooth + rng.normal(0.0, 0.05, smooth.shape), 0.0, 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def random_net() -> SuperResNet:
    """A small network with random (nonzero) tails, so its detail is not zero."""
    torch.manual_seed(0)
    net = SuperResNet(3, width=8, blocks=2, scales=(2, 4))
    with torch.no_grad():
        for tail in net.tails.values():
            tail.weight.normal_(0.0, 0.05)
    return net.eval()


def test_an_untrained_network_returns_bicubic() -> None:
    net = SuperResNet(3, width=8, blocks=1).eval()
    x = torch.rand(1, 4, 12, 10)
    with torch.no_grad():
        out = net(x, 4)
    expected = torch.nn.functional.interpolate(x[:, :3], scale_factor=4, mode="bicubic", align_corners=False)
    assert out.shape == (1, 3, 48, 40)
    assert torch.equal(out, expected)


def test_the_reach_is_what_the_filter_plans_with() -> None:
    assert SuperResNet(3, width=32, blocks=4).reach == REACH
    assert TILE_OVERLAP // 4 > REACH


@pytest.mark.parametrize("scale", [2, 4])
def test_tiled_enlargement_equals_one_pass_of_the_network(random_net: SuperResNet, scale: int, monkeypatch) -> None:
    from enhance_core.learned import engine

    monkeypatch.setenv(engine.CPU_BF16_ENV, "0")
    picture = synthetic_rgb(150, 170, seed=scale)
    tiled = enlarge_image(picture, scale=scale, model=random_net, tile=64, device="cpu")
    x = torch.from_numpy(np.concatenate([picture, np.zeros(picture.shape[:2] + (1,), np.float32)], axis=2)
                         .transpose(2, 0, 1).copy())[None]
    with torch.no_grad():
        whole = np.clip(random_net(x, scale)[0].numpy().transpose(1, 2, 0), 0.0, 1.0)
    assert tiled.shape == (150 * scale, 170 * scale, 3)
    # cv2's bicubic (the filter's base) and torch's agree to float rounding away from the borders.
    inner = (slice(4 * scale, -4 * scale), slice(4 * scale, -4 * scale))
    assert np.abs(tiled[inner] - whole[inner]).max() < 2e-3


def test_gray_is_enlarged_as_three_equal_channels(random_net: SuperResNet) -> None:
    gray = synthetic_rgb(40, 36, seed=3).mean(axis=2, keepdims=True)
    out = enlarge_image(gray, scale=2, model=random_net, device="cpu")
    colour = enlarge_image(np.repeat(gray, 3, axis=2), scale=2, model=random_net, device="cpu")
    assert out.shape == (80, 72, 1)
    np.testing.assert_allclose(out[..., 0], colour.mean(axis=2), atol=1e-6)


def test_detail_zero_is_bicubic_and_the_kind_changes_the_result(random_net: SuperResNet) -> None:
    picture = synthetic_rgb(32, 32, seed=5)
    plain = enlarge_image(picture, scale=2, detail=0.0, model=random_net, device="cpu")
    clean = enlarge_image(picture, scale=2, model=random_net, device="cpu")
    scan = enlarge_image(picture, scale=2, input_kind="scan", model=random_net, device="cpu")
    assert np.abs(clean - plain).max() > 1e-3
    assert np.abs(scan - clean).max() > 1e-4
    half = enlarge_image(picture, scale=2, detail=0.5, model=random_net, device="cpu")
    inside = (plain > 0) & (plain < 1) & (clean > 0) & (clean < 1)
    np.testing.assert_allclose(half[inside], (plain[inside] + clean[inside]) / 2, atol=1e-5)


@pytest.mark.parametrize("options, message", [
    ({"scale": 3}, "scale must be one of 2, 4"),
    ({"input_kind": "film"}, "input_kind must be one of clean, scan"),
    ({"detail": 2.0}, "detail must be between 0 and 1.5"),
])
def test_bad_options_are_refused_by_name(random_net: SuperResNet, options: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        enlarge_image(synthetic_rgb(8, 8), model=random_net, **options)


def test_cancel_stops_the_enlargement(random_net: SuperResNet) -> None:
    with pytest.raises(Cancelled):
        enlarge_image(synthetic_rgb(64, 64), scale=4, model=random_net, device="cpu", should_stop=lambda: True)


def test_degradations_have_the_reduced_size_and_differ_from_bicubic() -> None:
    original = modcrop(synthetic_rgb(101, 98, seed=2), 4)
    clean = downscale_bicubic(original, 4)
    scan = degrade_scan(original, 4, np.random.default_rng(0))
    assert clean.shape == scan.shape == (25, 24, 3)
    assert scan.dtype == np.float32 and 0.0 <= scan.min() and scan.max() <= 1.0
    assert np.abs(scan - clean).mean() > 1e-3


def test_psnr_y_crops_the_border() -> None:
    reference = synthetic_rgb(40, 40, seed=1)
    damaged = reference.copy()
    damaged[:2] = 1.0 - damaged[:2]
    assert psnr_y(damaged, reference, 2) == float("inf")
    assert psnr_y(damaged, reference, 1) < 40


def test_the_tiny_training_run_learns_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for name, count in (("CBSD432", 4), ("Set5", 2)):
        (data / name).mkdir(parents=True)
        for index in range(count):
            from PIL import Image as PILImage

            picture = synthetic_rgb(120, 120, seed=10 * len(name) + index)
            PILImage.fromarray(np.round(picture * 255).astype(np.uint8)).save(data / name / f"{index}.png")
    out = tmp_path / "run"
    args = ["--config", str(TINY_CONFIG), "--data", str(data), "--set", f"out_dir={out}", "--set", "threads=1"]
    train_super_res.main(args + ["--until", "10"])
    train_super_res.main(args)
    checkpoint = torch.load(out / "ckpt.pt", map_location="cpu", weights_only=True)
    assert checkpoint["step"] == 20
    lines = (out / "val_log.jsonl").read_text().splitlines()
    assert '"psnr_y_x4"' in lines[-1]


def test_the_adversarial_term_trains_beside_the_l1_loss(tmp_path: Path, capsys) -> None:
    from PIL import Image as PILImage

    data = tmp_path / "data"
    for name in ("CBSD432", "Set5"):
        (data / name).mkdir(parents=True)
        picture = synthetic_rgb(120, 120, seed=len(name))
        PILImage.fromarray(np.round(picture * 255).astype(np.uint8)).save(data / name / "0.png")
    out = tmp_path / "run"
    train_super_res.main(["--config", str(TINY_CONFIG), "--data", str(data), "--set", f"out_dir={out}",
                          "--set", "threads=1", "--set", "adversarial=0.05", "--set", "d_width=8",
                          "--set", "d_shift=4", "--set", "grid=1.0", "--set", "grid_window=4"])
    logged = [line for line in capsys.readouterr().out.splitlines() if line.startswith("step ")]
    assert logged and all(" l1 " in line and " adversarial " in line and " grid " in line for line in logged)
    assert torch.load(out / "ckpt.pt", map_location="cpu", weights_only=True)["step"] == 20


def test_sharpness_blends_the_weights_of_the_fidelity_and_the_sharp_networks(monkeypatch) -> None:
    from enhance_core.learned import engine, registry
    from enhance_core.learned.super_res import SHARPEST_BLEND

    monkeypatch.setenv(engine.CPU_BF16_ENV, "0")

    picture = synthetic_rgb(24, 28, seed=3)
    fidelity = registry.load_model("super_res").state_dict()
    sharp = registry.load_model("super_res_sharp").state_dict()
    blend = registry.build("SuperResNet", registry.get_spec("super_res").args)
    blend.load_state_dict({name: (1 - SHARPEST_BLEND) * value + SHARPEST_BLEND * sharp[name]
                           for name, value in fidelity.items()})
    expected = enlarge_image(picture, scale=4, input_kind="scan", model=blend.eval())
    sharpest = enlarge_image(picture, scale=4, input_kind="scan", sharpness=1.0)
    assert np.abs(sharpest - expected).max() < 1e-5
    plain = enlarge_image(picture, scale=4, input_kind="scan")
    assert np.array_equal(enlarge_image(picture, scale=4, input_kind="scan", sharpness=0.0), plain)
    half = enlarge_image(picture, scale=4, input_kind="scan", sharpness=0.5)
    assert np.abs(half - plain).max() > 1e-3 and np.abs(half - sharpest).max() > 1e-3


def test_sharpness_out_of_range_or_with_an_evaluated_network_is_refused(random_net) -> None:
    picture = synthetic_rgb(16, 16)
    with pytest.raises(ParameterError, match="sharpness must be between 0 and 1, got 1.5"):
        enlarge_image(picture, scale=2, sharpness=1.5)
    with pytest.raises(ParameterError, match="sharpness blends the shipped networks"):
        enlarge_image(picture, scale=2, sharpness=0.5, model=random_net)


def test_the_grid_term_sees_a_pattern_on_the_sub_pixel_grid_and_not_an_offset() -> None:
    torch.manual_seed(0)
    target = torch.rand(2, 3, 64, 64)
    patterned = target.clone()
    patterned[:, :, ::4, ::4] += 0.1
    assert float(train_super_res.grid_error(target + 0.05, target, 4, 8)) < 1e-6
    assert float(train_super_res.grid_error(patterned, target, 4, 8)) > 0.01
    assert float(train_super_res.grid_error(patterned, target, 2, 8)) > 0.005


def test_the_discriminator_sees_real_and_fake_cut_alike_at_varying_offsets() -> None:
    from enhance_core.training.adversary import PatchAdversary

    torch.manual_seed(0)
    real = torch.arange(2 * 3 * 24 * 24, dtype=torch.float32).reshape(2, 3, 24, 24)
    offsets = set()
    for _ in range(40):
        cut_real, cut_fake = PatchAdversary(width=4, shift=8)._cut(real, real + 1)
        assert cut_real.shape == cut_fake.shape == (2, 3, 17, 17)
        assert torch.equal(cut_fake, cut_real + 1)
        offsets.add(int(cut_real[0, 0, 0, 0]))
    assert len(offsets) > 10
    unshifted = PatchAdversary(width=4)._cut(real, real)
    assert unshifted[0] is real


def test_the_step_enlarges_through_the_stack_as_the_function_does() -> None:
    picture = synthetic_rgb(40, 50, seed=7)
    out = render_image(Image(picture, meta=ImageMeta(bit_depth=8)), [make_item("super_resolution", {"scale": "2"})],
                       device="cpu")
    assert (out.rows, out.cols) == (80, 100)
    np.testing.assert_allclose(out.pixels, enlarge_image(picture, scale=2, device="cpu"), atol=1e-5)


def test_a_region_at_one_to_one_equals_that_part_of_the_whole_enlargement() -> None:
    image = Image(synthetic_rgb(60, 70, seed=8), meta=ImageMeta(bit_depth=8))
    steps = [make_item("super_resolution", {"scale": "4", "input": "scan"})]
    whole = Renderer().render(image, steps, device="cpu")
    part = Renderer().render(image, steps, region=Region(37, 101, 50, 90), device="cpu")
    assert whole.shape == (240, 280, 3)
    np.testing.assert_allclose(part, whole[37:87, 101:191], atol=1e-4)
    low = Renderer().render(image, steps, region=Region(170, 150, 60, 70), device="cpu")
    np.testing.assert_allclose(low, whole[170:230, 150:220], atol=1e-4)


def test_a_preview_enlarges_the_downscaled_source() -> None:
    image = Image(synthetic_rgb(64, 96, seed=9), meta=ImageMeta(bit_depth=8))
    preview = Renderer().render(image, [make_item("super_resolution", {"scale": "2"})], scale=0.5, device="cpu")
    assert preview.shape == (64, 96, 3)


def test_a_stroke_on_a_step_after_the_enlargement_stays_on_its_source_content() -> None:
    picture = synthetic_rgb(40, 40, seed=10)
    mask = Mask(40, 40).with_stroke(Stroke(((0, 10), (39, 10)), radius=2, hardness=1.0))
    steps = [make_item("super_resolution", {"scale": "2"}), make_item("negative", mask=mask)]
    plain = render_image(Image(picture, meta=ImageMeta(bit_depth=8)), steps[:1], device="cpu").pixels
    out = render_image(Image(picture, meta=ImageMeta(bit_depth=8)), steps, device="cpu").pixels
    changed = np.abs(out - plain).max(axis=(1, 2)) > 0.01
    assert changed[20] and changed[21] and not changed[:14].any() and not changed[28:].any()


def test_apply_enlarges_files_and_a_recipe_replays_on_another_size(tmp_path: Path, capsys) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    write_image(Image(synthetic_rgb(30, 44, seed=11), meta=ImageMeta(bit_depth=8)), inputs / "a.png")
    write_image(Image(synthetic_rgb(24, 20, seed=12), meta=ImageMeta(bit_depth=8)), inputs / "b.png")
    code = main(["apply", "--filter", "super_resolution", "--set", "scale=4", "--set", "input=scan",
                 "--jobs", "1", "-o", str(tmp_path / "out"), str(inputs)])
    assert code == 0, capsys.readouterr().err
    assert read_image(tmp_path / "out" / "a.png").pixels.shape == (120, 176, 3)
    assert read_image(tmp_path / "out" / "b.png").pixels.shape == (96, 80, 3)
    recipe = save_recipe([make_item("super_resolution", {"scale": "2", "detail": 0.5})], tmp_path / "sr.json")
    (step,) = load_recipe(recipe)
    assert (step.params.scale, step.params.detail) == ("2", 0.5)


def test_the_shipped_model_beats_bicubic_on_a_held_out_picture() -> None:
    from skimage import data

    from enhance_core.training.sr_degrade import downscale_bicubic, modcrop, psnr_y

    original = modcrop((data.astronaut() / 255.0).astype(np.float32), 4)  # in the wheel: it runs in CI too (+1.95 dB)
    small = downscale_bicubic(original, 4)
    bicubic = enlarge_image(small, scale=4, detail=0.0, device="cpu")
    ours = enlarge_image(small, scale=4, device="cpu")
    assert psnr_y(ours, original, 4) > psnr_y(bicubic, original, 4) + 1.5



def test_bf16_enlargement_matches_fp32(monkeypatch) -> None:
    """Where the CPU computes bf16 natively the shipped network runs under bf16 autocast; the picture stays."""
    from skimage import data

    from .conftest import fp32_and_bf16

    picture = data.astronaut()[160:224, 200:264].astype(np.float32) / 255
    fp32, bf16 = fp32_and_bf16(lambda: enlarge_image(picture, scale=4, device="cpu"), monkeypatch)
    assert np.abs(bf16 - fp32).max() < 3 / 255 and np.abs(bf16 - fp32).mean() < 0.2 / 255
