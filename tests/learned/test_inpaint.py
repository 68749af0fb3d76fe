"""Hole fill: the tiny training run end to end, and the contract of ``inpaint_masked`` and ``hole_fill``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from enhance_core.errors import Cancelled, ParameterError
from enhance_core.filters.base import RenderContext
from enhance_core.filters.registry import get_filter
from enhance_core.learned import registry
from enhance_core.learned.inpaint import COARSE_REACH, inpaint_masked
from enhance_core.learned.prefill import push_pull_fill
from enhance_core.training import export, train_inpaint
from enhance_core.training.checkpoints import load_init_state
from tests.learned.conftest import synthetic_rgb

TINY_CONFIG = Path(train_inpaint.__file__).parent / "configs" / "inpaint_tiny.json"


def write_synthetic_dataset(root: Path) -> None:
    """Write small random PNGs where the training script expects CBSD432, Set5 and Set12."""
    rng = np.random.default_rng(0)
    for folder, mode, count in (("CBSD432", "RGB", 4), ("Set5", "RGB", 2), ("Set12", "L", 2)):
        (root / folder).mkdir(parents=True)
        for index in range(count):
            array = (rng.random((64, 80, 3)) * 255).astype(np.uint8)
            PILImage.fromarray(array).convert(mode).save(root / folder / f"{index}.png")


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    """Train the tiny config on synthetic data and export it; return the models folder, entry and checkpoint."""
    root = tmp_path_factory.mktemp("tiny_inpaint")
    write_synthetic_dataset(root / "data")
    run_dir = root / "run"
    train_inpaint.main(["--config", str(TINY_CONFIG), "--data", str(root / "data"),
                        "--set", f"out_dir={json.dumps(str(run_dir))}"])
    log = [json.loads(line) for line in (run_dir / "val_log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 30 and np.isfinite(log[-1]["psnr_hole_color"])
    _, _, spec = export.export_checkpoint(run_dir / "ckpt.pt", name="inpaint_tiny", folder=root / "models")
    return root / "models", spec, run_dir / "ckpt.pt"


@pytest.fixture
def tiny_model(tiny_export, monkeypatch, tmp_path) -> str:
    """Register the tiny model under ``inpaint_tiny`` and return that name."""
    source, spec, _ = tiny_export
    shutil.copytree(source, tmp_path / "models")
    monkeypatch.setenv(registry.MODELS_ENV, str(tmp_path / "models"))
    monkeypatch.setitem(registry.MODELS, "inpaint_tiny", spec)
    registry.clear_cache()
    yield "inpaint_tiny"
    registry.clear_cache()


def test_widened_network_fills_exactly_as_the_narrow_one_did():
    torch = pytest.importorskip("torch")
    from enhance_core.learned.archs.inpaint_unet import InpaintUNet

    torch.manual_seed(0)
    narrow = InpaintUNet(3, (8, 16, 32), (1, 1, 2))
    for parameter in narrow.parameters():
        parameter.data.normal_(0, 0.1)
    wide = InpaintUNet(3, (12, 24, 48), (1, 1, 2))
    train_inpaint.widen_into(wide, narrow.state_dict())
    prefilled = torch.rand(1, 3, 32, 40)
    hole = (torch.rand(1, 1, 32, 40) > 0.6).float()
    with torch.no_grad():
        expected = narrow(prefilled, hole)
        assert (expected - prefilled).abs().max() > 0.01
        assert torch.allclose(wide(prefilled, hole), expected, atol=1e-5)
    with pytest.raises(ValueError, match="same levels and blocks"):
        train_inpaint.widen_into(InpaintUNet(3, (12, 24), (1, 1)), narrow.state_dict())
    with pytest.raises(ValueError, match="cannot widen"):
        train_inpaint.widen_into(InpaintUNet(3, (4, 16, 32), (1, 1, 2)), narrow.state_dict())


def test_wide_run_starts_from_the_tiny_run(tiny_export, tmp_path, capsys):
    _, _, checkpoint = tiny_export
    write_synthetic_dataset(tmp_path / "data")
    train_inpaint.main(["--config", str(TINY_CONFIG), "--data", str(tmp_path / "data"),
                        "--set", f"out_dir={json.dumps(str(tmp_path / 'wide'))}",
                        "--set", "widths=[12, 24]", "--set", "steps=5", "--set", "eval_every=5",
                        "--set", f"init={json.dumps(str(checkpoint))}"])
    assert "widened to [12, 24]" in capsys.readouterr().out
    log = [json.loads(line) for line in (tmp_path / "wide" / "val_log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 5 and np.isfinite(log[-1]["psnr_hole_color"])


def test_wide_run_names_a_missing_or_unfit_init_checkpoint(tiny_export, tmp_path):
    _, _, checkpoint = tiny_export
    write_synthetic_dataset(tmp_path / "data")
    base = ["--config", str(TINY_CONFIG), "--data", str(tmp_path / "data"),
            "--set", f"out_dir={json.dumps(str(tmp_path / 'wide'))}"]
    with pytest.raises(SystemExit, match="nope.pt not found"):
        train_inpaint.main([*base, "--set", f"init={json.dumps(str(tmp_path / 'nope.pt'))}"])
    with pytest.raises(SystemExit, match="same levels and blocks"):
        train_inpaint.main([*base, "--set", "widths=[12, 24, 48]", "--set", "blocks=[1, 1, 1]",
                            "--set", f"init={json.dumps(str(checkpoint))}"])


def test_run_fine_tunes_exported_weights_and_checks_their_hash(tiny_export, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    folder, spec, checkpoint = tiny_export
    exported = folder / spec.weights
    state = load_init_state(exported)
    earlier = torch.load(checkpoint, map_location="cpu", weights_only=True)["params_ema"]
    assert set(state) == set(earlier)
    assert all(torch.allclose(state[name], earlier[name].half().float()) for name in state)
    write_synthetic_dataset(tmp_path / "data")
    base = ["--config", str(TINY_CONFIG), "--data", str(tmp_path / "data"), "--set", "steps=5", "--set", "eval_every=5"]
    train_inpaint.main([*base, "--set", f"out_dir={json.dumps(str(tmp_path / 'ft'))}", "--set", f"init={exported}"])
    assert f"initialized from {exported}" in capsys.readouterr().out
    tampered = tmp_path / exported.name
    tampered.write_bytes(exported.read_bytes()[:-4] + b"\0\0\0\0")
    shutil.copy(exported.with_name(exported.name + ".sha256"), tmp_path)
    with pytest.raises(SystemExit, match=f"cannot start from {tampered}.*SHA-256"):
        train_inpaint.main([*base, "--set", f"out_dir={tmp_path / 'bad'}", "--set", f"init={tampered}"])
    assert not (tmp_path / "bad" / "ckpt.pt").exists()


def blob_mask(rows: int, cols: int, radius: float) -> np.ndarray:
    """A float mask holding one disk of ``radius`` in the middle and a thin scratch."""
    r, c = np.mgrid[0:rows, 0:cols]
    mask = ((r - rows / 2) ** 2 + (c - cols / 2) ** 2 <= radius**2).astype(np.float32)
    mask[rows // 5, cols // 8 : cols - cols // 8] = 0.6
    return mask


def test_tiny_model_fills_color_and_keeps_known_pixels(tiny_model):
    image = synthetic_rgb(96, 112)
    mask = blob_mask(96, 112, 12)
    out = inpaint_masked(image, mask, device="cpu", model=tiny_model)
    assert out.shape == image.shape and out.dtype == np.float32
    assert np.array_equal(out[mask == 0], image[mask == 0])
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert not np.array_equal(out[mask > 0], image[mask > 0])


def test_a_feathered_rim_is_filled_too(tiny_model):
    image = synthetic_rgb(96, 112)
    mask = blob_mask(96, 112, 12).astype(np.float32) * 0.3
    out = inpaint_masked(image, mask, device="cpu", model=tiny_model)
    assert not np.array_equal(out[mask > 0], image[mask > 0]), "a mask value of 0.3 is a hole"


def test_gray_image_stays_gray_with_one_channel(tiny_model):
    image = synthetic_rgb(80, 64)[..., 1:2]
    mask = blob_mask(80, 64, 8)
    out = inpaint_masked(image, mask[..., None], device="cpu", model=tiny_model)
    assert out.shape == (80, 64, 1)
    assert np.array_equal(out[mask == 0], image[mask == 0])


def test_empty_mask_is_identity_and_needs_no_model():
    image = synthetic_rgb(40, 48)
    out = inpaint_masked(image, np.zeros((40, 48), np.float32), model="no_such_model")
    assert out is not image and np.array_equal(out, image)


def test_wrong_mask_shape_names_both_shapes():
    image = synthetic_rgb(40, 48)
    with pytest.raises(ValueError, match=r"image's 40x48 shape.*got 48x40"):
        inpaint_masked(image, np.ones((48, 40), np.float32))
    with pytest.raises(ParameterError, match=r"pixels must be"):
        inpaint_masked(image[..., :2], np.ones((40, 48), np.float32))


def test_large_hole_goes_coarse_to_fine_and_reports_progress(tiny_model):
    image = synthetic_rgb(160, 176)
    mask = blob_mask(160, 176, COARSE_REACH + 12)
    reports = []
    out = inpaint_masked(image, mask, device="cpu", model=tiny_model, tile=96,
                         progress=lambda fraction, message: reports.append(fraction))
    assert np.array_equal(out[mask == 0], image[mask == 0]) and np.isfinite(out).all()
    assert reports == sorted(reports) and reports[-1] == pytest.approx(1.0)
    assert len(reports) >= 2 and reports[0] <= 0.25


@pytest.mark.parametrize("reach, halved", [(COARSE_REACH - 2, False), (COARSE_REACH + 2, True)])
def test_only_holes_reaching_past_the_coarse_reach_get_the_half_size_pass(tiny_model, monkeypatch, reach, halved):
    from enhance_core.learned import inpaint

    prefilled = []
    monkeypatch.setattr(inpaint, "push_pull_fill",
                        lambda crop, hole: prefilled.append(hole.shape) or push_pull_fill(crop, hole))
    rows, cols = np.mgrid[:320, :320]
    diagonal = (np.abs(cols - rows) <= round(reach * np.sqrt(2))) & (np.minimum(rows, cols) >= 40) \
        & (np.maximum(rows, cols) < 280)
    inpaint_masked(synthetic_rgb(320, 320), diagonal.astype(np.float32), device="cpu", model=tiny_model, tile=128)
    assert prefilled == ([(160, 160)] if halved else [(320, 320)]), "Euclidean reach, not city-block or chessboard"


def _push_pull_reference(pixels: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Push-pull written plainly: normalized convolution down the pyramid, then blended back up at every level."""
    known = (~hole).astype(np.float32)
    values, weights = [pixels * known[..., None]], [known]
    while min(weights[-1].shape) > 1 and weights[-1].min() <= 0:
        weights.append(cv2.pyrDown(weights[-1]))
        values.append(cv2.pyrDown(values[-1]).reshape(*weights[-1].shape, pixels.shape[2]))
    filled = values[-1] / np.maximum(weights[-1], 1e-8)[..., None]
    for level in range(len(values) - 2, -1, -1):
        v, w = values[level], weights[level]
        coarse = cv2.pyrUp(filled, dstsize=(w.shape[1], w.shape[0])).reshape(v.shape)
        density = (np.clip(w * 4.0, 0.0, 1.0) if level else w)[..., None]
        filled = density * (v / np.maximum(w, 1e-8)[..., None]) + (1.0 - density) * coarse
    return np.where(hole[..., None], filled, pixels).astype(np.float32)


@pytest.mark.parametrize("rows, cols, channels, side", [(96, 128, 3, 24), (97, 61, 1, 9), (40, 300, 3, 3)])
def test_push_pull_equals_the_plain_algorithm(rows, cols, channels, side):
    rng = np.random.default_rng(rows)
    pixels = rng.random((rows, cols, channels), dtype=np.float32)
    hole = rng.random((rows, cols)) < 0.2
    hole[10:10 + side, 20:20 + side] = True
    assert np.array_equal(push_pull_fill(pixels, hole), _push_pull_reference(pixels, hole))


def test_push_pull_keeps_known_pixels_and_fills_holes_from_their_surroundings():
    ramp = np.repeat(np.linspace(0.0, 1.0, 96, dtype=np.float32)[None, :, None], 64, axis=0).repeat(3, axis=2)
    hole = np.zeros((64, 96), bool)
    hole[20:40, 30:60] = True
    filled = push_pull_fill(ramp, hole)
    assert filled.dtype == np.float32 and filled.shape == ramp.shape
    assert np.array_equal(filled[~hole], ramp[~hole])
    inside = filled[30, 30:60, 0]
    assert np.all(np.diff(inside) > 0), "a ramp's hole fills rising from its dark side to its bright side"
    assert ramp[30, 29, 0] < inside.mean() < ramp[30, 60, 0]
    flat = np.full((64, 96, 1), 0.3, np.float32)
    assert np.allclose(push_pull_fill(flat, hole), 0.3, atol=1e-6)
    row = np.linspace(0.0, 1.0, 50, dtype=np.float32)[None, :, None]
    one_row_hole = np.zeros((1, 50), bool)
    one_row_hole[0, 10:12] = True
    assert np.array_equal(push_pull_fill(row, one_row_hole)[~one_row_hole], row[~one_row_hole])
    assert np.all(push_pull_fill(ramp, np.ones((64, 96), bool)) == 0.5)
    assert np.array_equal(push_pull_fill(ramp, np.zeros((64, 96), bool)), ramp)
    step = np.zeros((64, 96, 1), np.float32)
    step[:, 48:] = 1.0
    speck = np.zeros((64, 96), bool)
    speck[30, 70] = True
    assert push_pull_fill(step, speck)[30, 70, 0] > 0.95, "a speck fills from its own side of an edge"
    bowl = ((np.mgrid[:64, :96] - np.array([32, 48])[:, None, None]) ** 2).sum(axis=0)[..., None] / 3300.0
    small = np.zeros((64, 96), bool)
    small[20:23, 60:63] = True
    assert np.abs(push_pull_fill(bowl.astype(np.float32), small) - bowl)[small].max() < 0.02, \
        "a small hole in a curved picture keeps its neighbours' values"
    strip = np.full((3, 200, 1), 0.7, np.float32)
    gap = np.zeros((3, 200), bool)
    gap[:, 50:150] = True
    assert np.allclose(push_pull_fill(strip, gap), 0.7), "a hole wider than the pyramid reaches gets the known mean"


def test_stop_request_cancels(tiny_model):
    image = synthetic_rgb(64, 64)
    with pytest.raises(Cancelled):
        inpaint_masked(image, blob_mask(64, 64, 8), device="cpu", model=tiny_model, should_stop=lambda: True)


def test_hole_fill_filter_needs_a_mask_or_detection(tiny_model, monkeypatch):
    from enhance_core.learned import inpaint

    monkeypatch.setattr(inpaint, "MODEL_NAME", tiny_model)
    definition = get_filter("hole_fill")
    assert definition.learned and definition.category == "Learned"
    image = synthetic_rgb(64, 72)
    notes: list[str] = []
    unpainted = definition.apply(image, definition.default_params(), RenderContext(device="cpu", note=notes.append))
    assert np.array_equal(unpainted, image) and notes == [
        "no holes painted yet: paint over the damage with the brush (B), or set the source to detected"]
    mask = blob_mask(64, 72, 6)
    out = definition.apply(image, definition.default_params(), RenderContext(device="cpu", mask=mask))
    assert np.array_equal(out[mask == 0], image[mask == 0])
    specks = image.copy()
    specks[20:23, 30:33] = 0.0
    from enhance_core.learned import damage

    monkeypatch.setattr(damage, "damage_probability",
                        lambda pixels, **kwargs: (pixels.max(axis=2) < 0.05).astype(np.float32))
    params = definition.make_params({"source": "detected", "sensitivity": 0.5})
    out = definition.apply(specks, params, RenderContext(device="cpu"))
    assert np.abs(out[21, 31] - image[21, 31]).max() < 0.25
    assert np.array_equal(out[:10], specks[:10])


def test_batch_hole_fill_with_detected_masks_dir(tiny_model, monkeypatch, tmp_path):
    from enhance_core.cli import main
    from enhance_core.image import Image, ImageMeta
    from enhance_core.io import read_image, write_image
    from enhance_core.learned import inpaint

    from enhance_core.learned import damage

    monkeypatch.setattr(inpaint, "MODEL_NAME", tiny_model)
    monkeypatch.setattr(damage, "damage_probability", lambda pixels, **kwargs: (
        (pixels.max(axis=2) > 0.99) | (pixels.max(axis=2) < 0.01)).astype(np.float32))
    scans, masks, out = tmp_path / "scans", tmp_path / "masks", tmp_path / "out"
    scans.mkdir()
    clean = synthetic_rgb(64, 72)
    damaged = clean.copy()
    damaged[30:33, 20:23] = 0.0
    damaged[10, 5:60] = 1.0
    write_image(Image(damaged, meta=ImageMeta(bit_depth=16)), scans / "scan.png")
    assert main(["detect-dust", "-o", str(masks), str(scans)]) == 0
    assert main(["apply", "--filter", "hole_fill", "--mask-dir", str(masks), "--jobs", "1", "--device", "cpu",
                 "-o", str(out), str(scans)]) == 0
    filled = read_image(out / "scan.png").pixels
    mask = read_image(masks / "scan.png").pixels[..., 0] > 0.5
    assert mask[31, 21] and mask[10, 30]
    assert np.abs(filled[mask] - clean[mask]).mean() < np.abs(damaged[mask] - clean[mask]).mean() / 4
    np.testing.assert_allclose(filled[~mask], damaged[~mask], atol=1 / 65535)


def test_hole_fill_brush_preview_matches_export(tiny_model, monkeypatch):
    from enhance_core.image import Image, ImageMeta
    from enhance_core.learned import inpaint
    from enhance_core.masks import Mask, Stroke
    from enhance_core.render import Renderer
    from enhance_core.stack import make_item

    monkeypatch.setattr(inpaint, "MODEL_NAME", tiny_model)
    clean = synthetic_rgb(128, 160)
    damaged = clean.copy()
    damaged[60:64, 20:140] = 1.0
    mask = Mask(128, 160).with_stroke(Stroke(((18, 62), (142, 62)), radius=6, hardness=0.8))
    image = Image(damaged, meta=ImageMeta(bit_depth=8))
    steps = [make_item("hole_fill", {}, mask=mask)]
    export = Renderer().render(image, steps, device="cpu")
    preview = Renderer().render(image, steps, scale=0.5, device="cpu")
    painted = mask.render()
    assert np.array_equal(export[painted == 0], damaged[painted == 0])
    assert np.abs(export[61, 20:140] - clean[61, 20:140]).max() < 0.1
    shrunk = cv2.resize(export, (preview.shape[1], preview.shape[0]), interpolation=cv2.INTER_AREA)
    assert np.abs(preview - shrunk).mean() < 0.01


def test_training_resumes_from_a_checkpoint_loaded_without_pickle(tiny_export, tmp_path, capsys):
    _, _, checkpoint = tiny_export
    shutil.copytree(checkpoint.parent, tmp_path / "run")
    assert isinstance(torch.load(tmp_path / "run" / "ckpt.pt", weights_only=True)["rng"], str)
    train_inpaint.main(["--config", str(TINY_CONFIG), "--data", str(checkpoint.parent.parent / "data"),
                        "--set", f"out_dir={json.dumps(str(tmp_path / 'run'))}"])
    assert "resumed at step 30" in capsys.readouterr().out
