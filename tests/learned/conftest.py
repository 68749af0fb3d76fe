"""Shared fixtures for the learned-filter tests: synthetic images and tiny networks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from enhance_core.learned import registry
from enhance_core.learned.registry import ModelSpec
from enhance_core.training import export, train_denoise


def synthetic_rgb(rows: int = 200, cols: int = 168) -> np.ndarray:
    """Return a smooth synthetic color image in [0.2, 0.8] (no data files involved)."""
    r, c = np.mgrid[0:rows, 0:cols] / 50.0
    channels = [0.5 + 0.3 * np.sin(r + c), 0.5 + 0.3 * np.cos(r * 1.3), 0.5 + 0.2 * np.sin(c * 2)]
    return np.stack(channels, axis=-1).astype(np.float32)


def fp32_and_bf16(run, monkeypatch) -> tuple[np.ndarray, np.ndarray]:
    """``run()`` in fp32 and under bf16 autocast, as a CPU with native bf16 runs learned filters; checks bf16 ran."""
    from enhance_core.learned import engine

    monkeypatch.setattr(engine, "cpu_has_fast_bf16", lambda: True)
    monkeypatch.setenv(engine.CPU_BF16_ENV, "0")
    fp32 = run()
    monkeypatch.delenv(engine.CPU_BF16_ENV)
    bf16 = run()
    assert not np.array_equal(bf16, fp32), "the bf16 path ran"
    return fp32, bf16


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio of ``a`` against ``b`` for a peak of 1."""
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


@pytest.fixture
def clean_and_noisy() -> tuple[np.ndarray, np.ndarray]:
    """A synthetic image and a copy with Gaussian noise of standard deviation 0.1."""
    clean = synthetic_rgb()
    noise = np.random.default_rng(0).normal(0.0, 0.1, clean.shape)
    return clean, (clean + noise).astype(np.float32)


@pytest.fixture
def tiny_denoiser():
    """A randomly initialised three-level denoiser network (fixed seed) and its size step."""
    import torch

    from enhance_core.learned.archs.denoise_unet import DenoiseUNet

    torch.manual_seed(0)
    return DenoiseUNet(3, (8, 16, 32), (1, 1, 1)).eval()


TINY_CONFIG = Path(train_denoise.__file__).parent / "configs" / "denoise_tiny.json"


def write_synthetic_dataset(root: Path) -> None:
    """Write small random PNGs where the training script expects Train400, CBSD432, Set12 and Set5."""
    rng = np.random.default_rng(0)
    for folder, mode, count in (("Train400", "L", 4), ("CBSD432", "RGB", 4), ("Set12", "L", 2), ("Set5", "RGB", 2)):
        (root / folder).mkdir(parents=True)
        for index in range(count):
            array = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
            PILImage.fromarray(array).convert(mode).save(root / folder / f"{index}.png")


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory) -> tuple[Path, ModelSpec, Path]:
    """Train the tiny config on synthetic data and export it; return the models folder, entry and checkpoint."""
    root = tmp_path_factory.mktemp("tiny")
    write_synthetic_dataset(root / "data")
    run_dir = root / "run"
    train_denoise.main(["--config", str(TINY_CONFIG), "--data", str(root / "data"),
                        "--set", f"out_dir={json.dumps(str(run_dir))}"])
    _, _, spec = export.export_checkpoint(run_dir / "ckpt.pt", name="denoise_tiny", folder=root / "models")
    return root / "models", spec, run_dir / "ckpt.pt"


@pytest.fixture
def tiny_model(tiny_export, monkeypatch, tmp_path) -> Path:
    """Register a fresh copy of the tiny model; return its weights file (safe to tamper with)."""
    source, spec, _ = tiny_export
    shutil.copytree(source, tmp_path / "models")
    monkeypatch.setenv(registry.MODELS_ENV, str(tmp_path / "models"))
    monkeypatch.setitem(registry.MODELS, "denoise_tiny", spec)
    registry.clear_cache()
    yield tmp_path / "models" / spec.weights
    registry.clear_cache()
