"""Device choice, cooperative cancel and lazy torch import in the inference engine."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from enhance_core.errors import Cancelled, ParameterError
from enhance_core.learned.archs.denoise_unet import DenoiseUNet
from enhance_core.learned import engine
from enhance_core.learned.engine import describe_device, run_tiled, select_device, stop_checks


def test_environment_variable_overrides_automatic_choice(monkeypatch):
    monkeypatch.setenv("ENHANCE_DEVICE", "cpu")
    assert select_device() == "cpu"
    assert select_device("auto") == "cpu"
    assert describe_device("cpu").startswith("CPU (")


def test_preference_wins_over_environment(monkeypatch):
    monkeypatch.setenv("ENHANCE_DEVICE", "nonsense")
    assert select_device("cpu") == "cpu"
    assert select_device(" CPU ") == "cpu", "in any case, as the environment variable"
    with pytest.raises(ParameterError, match=r"unknown device 'nonsense' \(set by ENHANCE_DEVICE\)"):
        select_device()


def test_unavailable_device_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("ENHANCE_DEVICE", "cuda")
    with pytest.raises(ParameterError, match="not available on this machine; use auto or cpu"):
        select_device()
    with pytest.raises(ParameterError, match="^device 'cuda' is not available"):
        select_device("cuda")


def test_automatic_choice_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.delenv("ENHANCE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert select_device() == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert select_device() == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert select_device() == "cpu"


def test_cancel_between_tiles_stops_before_the_next_tile():
    calls = []
    with pytest.raises(Cancelled):
        run_tiled(lambda t: calls.append(1) or t, np.zeros((256, 256, 3), np.float32), tile=64, overlap=16,
                  device="cpu", should_stop=lambda: len(calls) >= 2)
    assert len(calls) == 2


def test_cancel_inside_a_large_tile_returns_within_half_a_second():
    torch.manual_seed(0)
    model = DenoiseUNet(3, (64, 128, 256), (1, 2, 2)).eval()
    pixels = np.random.default_rng(0).random((384, 384, 3), dtype=np.float32)
    checks = []
    flipped_at = []

    def should_stop() -> bool:
        checks.append(1)
        if len(checks) == 4:
            flipped_at.append(time.perf_counter())
        return len(checks) >= 4

    def fn(t: torch.Tensor) -> torch.Tensor:
        return model(t, torch.full_like(t[:, :1], 0.1))

    with stop_checks(model, should_stop), pytest.raises(Cancelled):
        run_tiled(fn, pixels, tile=512, multiple=8, device="cpu", should_stop=should_stop)
    assert time.perf_counter() - flipped_at[0] < 0.5
    assert all(not module._forward_pre_hooks for module in model.modules())


def test_engine_import_does_not_import_torch():
    code = "import sys, enhance_core.learned.engine, enhance_core.learned.tiling; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_the_cpu_description_counts_threads_in_words(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert describe_device("cpu") == "CPU (1 thread)"
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    assert describe_device("cpu") == "CPU (4 threads)"


def test_cpu_bf16_follows_the_cpu_unless_turned_off(monkeypatch):
    monkeypatch.delenv(engine.CPU_BF16_ENV, raising=False)
    monkeypatch.setattr(engine, "cpu_has_fast_bf16", lambda: True)
    assert engine.use_cpu_bf16()
    monkeypatch.setenv(engine.CPU_BF16_ENV, "0")
    assert not engine.use_cpu_bf16()
    monkeypatch.setenv(engine.CPU_BF16_ENV, "1")
    monkeypatch.setattr(engine, "cpu_has_fast_bf16", lambda: False)
    assert not engine.use_cpu_bf16(), "asking for bf16 does not force it on a CPU without it"
