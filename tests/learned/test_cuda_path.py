"""The learned filters on a CUDA GPU (fp16 autocast) give the CPU's pictures; skipped on machines without one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from enhance_core.learned.damage import damage_probability
from enhance_core.learned.denoise import denoise_image
from enhance_core.learned.inpaint import inpaint_masked
from enhance_core.learned.lowlight import enhance_low_light
from enhance_core.learned.super_res import enlarge_image

from .conftest import synthetic_rgb

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _noisy() -> np.ndarray:
    clean = synthetic_rgb(160, 224)
    return np.clip(clean + np.random.default_rng(0).normal(0.0, 0.06, clean.shape), 0.0, 1.0).astype(np.float32)


def _hole() -> np.ndarray:
    mask = np.zeros((160, 224), np.float32)
    mask[60:75, 40:180] = 1.0
    return mask


RUNS = {
    "denoise": lambda device: denoise_image(_noisy(), sigma=15.0, device=device),
    "low_light": lambda device: enhance_low_light(_noisy() * np.float32(0.15), device=device),
    "super_resolution": lambda device: enlarge_image(synthetic_rgb(80, 112), scale=4, device=device),
    "hole_fill": lambda device: inpaint_masked(synthetic_rgb(160, 224), _hole(), device=device),
    "detect": lambda device: damage_probability(_noisy(), device=device)[..., None],
    "detect_gray_with_coarse_pass": lambda device: damage_probability(
        np.tile(_noisy().mean(axis=2, keepdims=True), (3, 3, 1)), device=device)[..., None],
}


@pytest.mark.parametrize("name", list(RUNS))
def test_the_gpu_gives_the_cpu_picture_within_fp16_rounding(name):
    on_gpu, on_cpu = RUNS[name]("cuda"), RUNS[name]("cpu")
    assert on_gpu.shape == on_cpu.shape and on_gpu.dtype == np.float32 and np.isfinite(on_gpu).all()
    difference = np.abs(on_gpu - on_cpu)
    assert difference.mean() < 2.0 / 255.0, f"{name}: mean difference {difference.mean() * 255:.2f}/255"
    assert np.percentile(difference, 99.9) < 16.0 / 255.0, f"{name}: fp16 changed the picture somewhere"
