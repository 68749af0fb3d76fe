"""The camera-noise model, the noise-level estimator's training and the real-noise evaluation helpers."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from enhance_core.training import export, train_noise_level
from enhance_core.training.camera_noise import camera_noise_pair, draw_settings, noise_level_map
from enhance_core.training.eval_denoise import tone_shift
from enhance_core.training.real_noise import REAL_NOISE_DIR, SPLITS, best_gain, load_real_pairs, real_pair_files

from .conftest import synthetic_rgb, write_synthetic_dataset

TINY_CONFIG = Path(train_noise_level.__file__).parent / "configs" / "noise_level_tiny.json"


def test_camera_noise_is_colour_correlated_grows_with_the_gain_and_is_measured_by_its_map():
    clean = synthetic_rgb(64, 96)
    rng = np.random.default_rng(0)
    quiet, loud = (draw_settings(np.random.default_rng(1), shot_range=(level, level)) for level in (1e-4, 4e-3))
    levels = []
    for settings in (quiet, loud):
        noisy, target, level = camera_noise_pair(clean, rng, settings)
        assert noisy.shape == target.shape == clean.shape and level.shape == clean.shape[:2]
        assert noisy.dtype == np.float32 and 0.0 <= noisy.min() and noisy.max() <= 1.0
        rms = float(np.sqrt(np.mean((noisy - target) ** 2)))
        assert 0.7 * rms < float(np.sqrt(np.mean(level ** 2))) < 1.3 * rms
        levels.append(float(np.median(level)))
    assert levels[1] > 3 * levels[0]
    smoothed = dataclasses.replace(loud, chroma_blur=4.0, luma_blur=1.0, sharpen=0.0, jpeg_quality=None)
    noisy, target, _ = camera_noise_pair(clean, rng, smoothed)
    residual = noisy - target
    assert np.corrcoef(residual[..., 0].ravel(), residual[..., 1].ravel())[0, 1] > 0.3, "camera noise reduction " \
        "leaves noise that the channels share"
    assert np.corrcoef(residual[:, :-1, 1].ravel(), residual[:, 1:, 1].ravel())[0, 1] > 0.3, "and blotches"


def test_noise_map_is_the_local_rms_of_the_difference():
    target = np.zeros((40, 40, 3), np.float32)
    noisy = target + np.random.default_rng(2).normal(0, 0.05, target.shape).astype(np.float32)
    assert abs(float(np.median(noise_level_map(noisy, target))) - 0.05) < 0.01


def test_tone_shift_reads_brightness_and_shadows_in_levels():
    reference = synthetic_rgb(32, 32)
    mean, dark = tone_shift(reference + 2 / 255, reference)
    assert abs(mean - 2.0) < 1e-3 and abs(dark - 2.0) < 1e-3
    gray = reference[..., :1]
    assert tone_shift(gray - 3 / 255, gray) == pytest.approx((-3.0, -3.0), abs=1e-3)


def test_tiny_noise_level_run_trains_exports_and_reads(tmp_path):
    write_synthetic_dataset(tmp_path / "data")
    run_dir = tmp_path / "run"
    train_noise_level.main(["--config", str(TINY_CONFIG), "--data", str(tmp_path / "data"),
                            "--set", f"out_dir={json.dumps(str(run_dir))}"])
    line = json.loads((run_dir / "val_log.jsonl").read_text().splitlines()[-1])
    assert line["step"] == 4 and np.isfinite(line["read_gray_25"])
    path, _, spec = export.export_checkpoint(run_dir / "ckpt.pt", name="noise_level", folder=tmp_path / "models")
    assert spec.args == {"channels": 3, "width": 8, "depth": 1} and path.stat().st_size < 50_000


def write_real_pairs(folder: Path, cameras: tuple[str, ...] = ("Canon5D2", "Canon80D")) -> None:
    """One noisy/mean JPEG pair per camera body, named as the PolyU crops are."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    clean = (synthetic_rgb(64, 64) * 255).astype(np.uint8)
    for camera in cameras:
        noisy = np.clip(clean + rng.normal(0, 6, clean.shape), 0, 255).astype(np.uint8)
        PILImage.fromarray(noisy).save(folder / f"{camera}_5_160_3200_chair_1_real.JPG", quality=90)
        PILImage.fromarray(clean).save(folder / f"{camera}_5_160_3200_chair_1_mean.JPG", quality=95)


def test_real_pairs_split_by_camera_body_so_validation_sees_other_cameras(tmp_path):
    write_real_pairs(tmp_path / "real", ("Canon5D2", "Canon600D", "Canon80D"))
    names = {split: [noisy.name.split("_")[0] for noisy, _ in real_pair_files(tmp_path / "real", split)]
             for split in SPLITS}
    assert names == {"train": ["Canon5D2"], "validation": ["Canon600D", "Canon80D"],
                     "all": ["Canon5D2", "Canon600D", "Canon80D"]}
    noisy, clean = load_real_pairs(tmp_path / "real", split="train")[0]
    assert noisy.shape == clean.shape == (64, 64, 3) and noisy.dtype == np.float32
    gray, _ = load_real_pairs(tmp_path / "real", split="train", mode="L")[0]
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    assert gray.shape == (64, 64, 1) and np.abs(gray[..., 0] - noisy @ weights).max() < 1.5 / 255
    assert real_pair_files(tmp_path / "missing") == []
    with pytest.raises(ValueError, match="split='test'"):
        real_pair_files(tmp_path / "real", "test")


def test_best_gain_is_the_factor_at_which_the_denoiser_comes_closest():
    clean = synthetic_rgb(32, 32)
    noisy = clean + np.random.default_rng(4).normal(0, 0.05, clean.shape).astype(np.float32)

    def denoise(image, level):
        """Removes noise in proportion to the level it is told, fully at twice the true level."""
        strength = min(float(np.mean(level)) / 0.1, 1.0)
        return image + strength * (clean - image) - max(strength - 1.0, 0.0) * 0.1

    assert best_gain(denoise, noisy, clean, np.full((32, 32), 0.05, np.float32)) == pytest.approx(2.0)


def test_tiny_noise_level_run_learns_from_real_training_pairs_and_scores_auto_on_the_others(tmp_path, capsys):
    write_synthetic_dataset(tmp_path / "data")
    write_real_pairs(tmp_path / "data" / REAL_NOISE_DIR)
    run_dir = tmp_path / "run"
    train_noise_level.main(["--config", str(TINY_CONFIG), "--data", str(tmp_path / "data"),
                            "--set", f"out_dir={json.dumps(str(run_dir))}", "--set", "real_fraction=1.0",
                            "--set", "real_gray_fraction=0.5"])
    assert "1 real training pairs (1 also gray); validation: Set12 2, real pairs 1" in capsys.readouterr().out
    line = json.loads((run_dir / "val_log.jsonl").read_text().splitlines()[-1])
    assert np.isfinite(line["real_auto_psnr"]) and line["real_read_mean"] >= 0
    assert np.isfinite(line["gray_real_auto_psnr"]) and line["gray_real_read_mean"] >= 0
