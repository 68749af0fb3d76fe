"""Tiling in the inference engine: tiled equals whole, no seams, mask-only tiles, OOM retry."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from enhance_core.errors import ModelError, ParameterError
from enhance_core.learned.engine import choose_tile, run_tiled
from enhance_core.learned.tiling import plan_tiles
from tests.learned.conftest import psnr


def sigma_fn(model):
    """Wrap a denoiser so that it takes only the image tensor (noise level 0.1)."""
    return lambda t: model(t, torch.full_like(t[:, :1], 0.1))


def box_filter(t: torch.Tensor) -> torch.Tensor:
    """A 5x5 mean with reflect padding: a network whose tile-edge effects reach 2 pixels."""
    return torch.nn.functional.avg_pool2d(torch.nn.functional.pad(t, (2, 2, 2, 2), mode="reflect"), 5, 1)


@pytest.mark.parametrize("rows, cols", [(200, 168), (97, 131), (64, 64), (5, 300)])
def test_tile_weights_sum_to_one_everywhere(rows, cols):
    total = np.zeros((rows, cols, 1), np.float64)
    for tile in plan_tiles(rows, cols, tile=64, overlap=16, multiple=8):
        total[tile.out_rows, tile.out_cols] += tile.weight
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_tiled_denoiser_matches_whole_image_within_005_db(clean_and_noisy, tiny_denoiser):
    clean, noisy = clean_and_noisy
    fn = sigma_fn(tiny_denoiser)
    whole = run_tiled(fn, noisy, tile=1024, multiple=8, device="cpu")
    tiled = run_tiled(fn, noisy, tile=96, overlap=32, multiple=8, device="cpu")
    assert abs(psnr(tiled, clean) - psnr(whole, clean)) < 0.05
    assert psnr(tiled, whole) > 60.0


def test_tiling_leaves_no_seam(clean_and_noisy, tiny_denoiser):
    _, noisy = clean_and_noisy
    whole_box = run_tiled(box_filter, noisy, tile=1024, multiple=8, device="cpu")
    tiled_box = run_tiled(box_filter, noisy, tile=64, overlap=16, multiple=8, device="cpu")
    np.testing.assert_allclose(tiled_box, whole_box, atol=1e-6)
    fn = sigma_fn(tiny_denoiser)
    difference = np.abs(run_tiled(fn, noisy, tile=96, overlap=32, multiple=8, device="cpu")
                        - run_tiled(fn, noisy, tile=1024, multiple=8, device="cpu"))
    assert difference.max() < 0.5 / 255, "tile boundaries would show after 8-bit quantization"


def test_output_is_deterministic(clean_and_noisy, tiny_denoiser):
    _, noisy = clean_and_noisy
    fn = sigma_fn(tiny_denoiser)
    first = run_tiled(fn, noisy, tile=96, overlap=32, multiple=8, device="cpu")
    second = run_tiled(fn, noisy, tile=96, overlap=32, multiple=8, device="cpu")
    assert np.array_equal(first, second)


def test_mask_computes_only_touched_tiles_and_keeps_the_rest():
    pixels = np.random.default_rng(1).random((200, 200, 3), dtype=np.float32)
    mask = np.zeros((200, 200), np.float32)
    mask[5:10, 5:10] = 0.5
    calls = []

    def darken(t):
        calls.append(tuple(t.shape))
        return t * 0.5

    out = run_tiled(darken, pixels, tile=64, overlap=16, multiple=8, mask=mask, device="cpu")
    assert len(calls) == 1
    np.testing.assert_allclose(out[5:10, 5:10], pixels[5:10, 5:10] * 0.5, rtol=1e-6)
    assert np.array_equal(out[64:], pixels[64:]) and np.array_equal(out[:, 64:], pixels[:, 64:])
    calls.clear()
    assert np.array_equal(run_tiled(darken, pixels, tile=64, mask=np.zeros_like(mask), device="cpu"), pixels)
    assert calls == []


def test_a_dab_is_computed_on_its_extent_alone_and_matches_the_whole_tiling(clean_and_noisy):
    """A brush dab in the middle of a large picture cost four whole tiles (a 24 px dab of the denoiser: 3.7 s in a
    6 MP picture's 1:1 view); only its extent grown by the overlap is now tiled, with the same result under it."""
    _, noisy = clean_and_noisy
    pixels = np.ascontiguousarray(np.tile(noisy, (4, 4, 1))[:600, :600])
    mask = np.zeros((600, 600), np.float32)
    mask[290:310, 295:305] = 1.0
    shapes = []

    def counted_box(t):
        shapes.append(tuple(t.shape[2:]))
        return box_filter(t)

    out = run_tiled(counted_box, pixels, tile=256, overlap=16, multiple=8, mask=mask, mask_reach=16, device="cpu")
    assert sum(rows * cols for rows, cols in shapes) <= 64 * 56
    whole = run_tiled(box_filter, pixels, tile=1024, multiple=8, device="cpu")
    np.testing.assert_allclose(out[290:310, 295:305], whole[290:310, 295:305], atol=1e-6)
    assert np.array_equal(out[:272], pixels[:272]) and np.array_equal(out[:, 321:], pixels[:, 321:])
    shapes.clear()
    run_tiled(counted_box, pixels, tile=256, overlap=16, multiple=8, mask=mask, device="cpu")
    assert sum(rows * cols for rows, cols in shapes) > 40_000, "without a reach (a fill's context): whole tiles"


@pytest.mark.parametrize("error", [
    torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 1073741824 bytes."),
])
def test_out_of_memory_retries_at_smaller_tiles(error):
    pixels = np.random.default_rng(2).random((150, 170, 3), dtype=np.float32)
    sizes = []

    def picky(t):
        sizes.append(t.shape[-1])
        if t.shape[-1] > 64:
            raise error
        return box_filter(t)

    out = run_tiled(picky, pixels, tile=256, overlap=16, multiple=8, device="cpu")
    assert sizes[0] == 176 and 64 < sizes[1] < 176 and max(sizes[-4:]) <= 64
    np.testing.assert_allclose(out, run_tiled(box_filter, pixels, tile=512, multiple=8, device="cpu"), atol=1e-6)


def test_out_of_memory_at_smallest_tile_is_a_model_error():
    def always_oom(t):
        raise RuntimeError("CUDA out of memory")

    with pytest.raises(ModelError, match="out of memory"):
        run_tiled(always_oom, np.zeros((300, 300, 3), np.float32), tile=256, device="cpu")


def test_other_errors_are_not_retried():
    def broken(t):
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        run_tiled(broken, np.zeros((64, 64, 3), np.float32), device="cpu")


def test_tile_size_follows_memory_budget():
    assert choose_tile("cpu", memory_budget=64 * 2**20, bytes_per_pixel=1024, multiple=8) == 256
    assert choose_tile("cpu", memory_budget=2**34, bytes_per_pixel=1024, multiple=8) == 512
    assert choose_tile("cpu", memory_budget=1, bytes_per_pixel=1024, multiple=8) == 64


def test_bad_inputs_raise_parameter_errors():
    with pytest.raises(ParameterError, match="float32"):
        run_tiled(box_filter, np.zeros((8, 8, 3), np.uint8), device="cpu")
    with pytest.raises(ParameterError, match="mask must have the image's 8x8 shape"):
        run_tiled(box_filter, np.zeros((8, 8, 3), np.float32), mask=np.ones((4, 4)), device="cpu")


def test_wrong_output_shape_is_a_model_error():
    with pytest.raises(ModelError, match="expected"):
        run_tiled(lambda t: t[:, :1], np.zeros((16, 16, 3), np.float32), device="cpu")


@pytest.mark.parametrize("length", [1, 2, 5, 8])
def test_reflect_indices_mirror_as_numpy_pads(length: int) -> None:
    from enhance_core.learned.tiling import reflect_indices

    axis = np.arange(length)
    padded = np.pad(axis, 3 * length, mode="reflect") if length > 1 else np.zeros(7 * length, int)
    np.testing.assert_array_equal(axis[reflect_indices(-3 * length, 4 * length, length)], padded)
