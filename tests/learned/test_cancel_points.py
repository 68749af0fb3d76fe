"""Cancel reaches every slow stretch of the learned filters (issue 21): start-up, estimation, full-size passes.

These tests check *where* ``should_stop()`` is honoured, not how fast;
``benchmarks/bench_cancel.py`` measures the latency.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
import torch

from enhance_core.errors import Cancelled, ModelError
from enhance_core.learned import denoise, engine, registry
from enhance_core.learned.engine import call_interruptibly, inference_mode, load_network
from enhance_core.learned.inpaint import inpaint_masked


def test_call_interruptibly_returns_at_a_stop_and_lets_the_work_finish() -> None:
    release, finished = threading.Event(), threading.Event()

    def slow() -> str:
        release.wait()
        finished.set()
        return "loaded"

    checks = []
    with pytest.raises(Cancelled):
        call_interruptibly(slow, lambda: checks.append(1) or len(checks) > 3, poll=0.001)
    assert not finished.is_set()
    release.set()
    assert finished.wait(10)
    assert call_interruptibly(lambda: "value", lambda: False) == "value"
    assert call_interruptibly(lambda: "direct", None) == "direct"
    with pytest.raises(ModelError, match="broken"):
        call_interruptibly(lambda: (_ for _ in ()).throw(ModelError("broken")), lambda: False)


def test_loading_a_model_is_cancellable(monkeypatch) -> None:
    release = threading.Event()
    monkeypatch.setattr(registry, "load_model", lambda name, device: release.wait() and None)
    calls = []
    try:
        with pytest.raises(Cancelled):
            load_network("denoise", device="cpu", should_stop=lambda: calls.append(1) or len(calls) > 2)
    finally:
        release.set()


def test_inference_leaves_the_deterministic_switch_alone(monkeypatch) -> None:
    def forbidden(mode: bool, **options: object) -> None:
        raise AssertionError("it imports torch._inductor (seconds before the first cancel) and makes cuBLAS raise")

    monkeypatch.setattr(torch, "use_deterministic_algorithms", forbidden)
    for device in ("cpu", "cuda"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a CPU build's autocast("cuda") says it is off
            with inference_mode(device):
                assert torch.is_inference_mode_enabled()


def test_lanes_running_networks_at_once_keep_cudnn_deterministic(monkeypatch) -> None:
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", False)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    monkeypatch.setattr(engine, "_CUDA_SETTLED", threading.Event())
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def first() -> None:
        with inference_mode("cuda"):
            first_in.set()
            second_in.wait(10)
        first_out.set()

    def second() -> None:
        first_in.wait(10)
        with inference_mode("cuda"):
            second_in.set()
            first_out.wait(10)
            seen.append((torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lanes = [threading.Thread(target=first), threading.Thread(target=second)]
        for lane in lanes:
            lane.start()
        for lane in lanes:
            lane.join(20)
    assert seen == [(True, False)], "the lane that ended first took the setting from the one still running"
    assert (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark) == (True, False)


def test_the_first_run_in_a_process_is_cancelled_while_torch_loads() -> None:
    code = """
import sys, threading
import numpy as np
from enhance_core.errors import Cancelled
from enhance_core.learned.denoise import denoise_image
assert "torch" not in sys.modules
loading = []
def should_stop():
    alive = any(t.name == "enhance-learned-start" and t.is_alive() for t in threading.enumerate())
    loading.append(alive)
    return alive
try:
    denoise_image(np.zeros((64, 64, 3), np.float32), sigma=25, device="cpu", should_stop=should_stop)
except Cancelled:
    print("cancelled while loading" if loading[-1] else "cancelled later")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "cancelled while loading", result.stderr


def test_automatic_noise_estimation_is_cancellable(monkeypatch) -> None:
    release = threading.Event()
    real_load = registry.load_model

    def slow_estimator(name, device):
        if name == "noise_level":
            release.wait()
        return real_load(name, device=device)

    monkeypatch.setattr(registry, "load_model", slow_estimator)
    calls = []
    try:
        with pytest.raises(Cancelled):
            denoise.denoise_image(np.zeros((32, 32, 3), np.float32), should_stop=lambda: calls.append(1) or
                                  len(calls) > 2)
    finally:
        release.set()


def test_hole_fill_stops_before_loading_its_network(monkeypatch) -> None:
    loads = []
    monkeypatch.setattr(registry, "load_model", lambda name, device: loads.append(name))
    mask = np.zeros((40, 40), np.float32)
    mask[10:20, 10:20] = 1
    with pytest.raises(Cancelled):
        inpaint_masked(np.zeros((40, 40, 3), np.float32), mask, device="cpu", should_stop=lambda: True)
    assert loads == []


def test_a_tiled_run_checks_while_it_copies_a_large_input(monkeypatch) -> None:
    monkeypatch.setattr(engine, "COPY_ROWS", 16)
    calls = []
    with pytest.raises(Cancelled):
        engine.run_tiled(lambda t: calls.append("net") or t, np.zeros((160, 64, 3), np.float32), device="cpu",
                         should_stop=lambda: calls.append(1) or len(calls) >= 5)
    assert "net" not in calls


def test_a_stop_asked_as_the_tiles_finish_stops_the_denoiser_s_refine_step() -> None:
    pixels = np.random.default_rng(0).random((96, 96, 3), dtype=np.float32)
    asked: list[bool] = []

    def progress(fraction: float, message: str) -> None:
        if fraction >= engine.REFINE_START and message != "refined":
            asked.append(True)

    with pytest.raises(Cancelled, match="refined"):
        denoise.denoise_image(pixels, sigma=10.0, device="cpu", progress=progress, should_stop=lambda: bool(asked))
    with pytest.raises(Cancelled, match="refined"):
        denoise.keep_local_mean(pixels, pixels, should_stop=lambda: True)


def test_start_up_work_whose_thread_cannot_start_leaves_nothing_to_wait_for(monkeypatch):
    """Left in the set of running start-up work, an unstarted thread made the window's shutdown raise on its join."""
    real_start = threading.Thread.start

    def refused(thread):
        if thread.name == "enhance-learned-start":
            raise RuntimeError("can't start new thread")
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", refused)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        engine.call_interruptibly(lambda: 1, lambda: False)
    assert engine.wait_for_start_up_work(0.1)
