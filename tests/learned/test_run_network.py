"""The learned filters' shared plumbing, :func:`enhance_core.learned.engine.run_network`, with a toy network."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from enhance_core.errors import Cancelled, ParameterError
from enhance_core.learned.engine import check_pixels, run_network


class Scale(torch.nn.Module):
    """Multiplies each colour channel by its own factor and adds the conditions' channel 3 (if any)."""

    multiple = 8

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Identity()
        self.seen: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(tuple(x.shape))
        colour = self.conv(x[:, :3]) * torch.tensor([1.5, 1.0, 0.5]).view(1, 3, 1, 1)
        return colour + x[:, 3:4] if x.shape[1] > 3 else colour


def ramp(rows: int, cols: int, channels: int) -> np.ndarray:
    return np.linspace(-0.2, 1.2, rows * cols * channels, dtype=np.float32).reshape(rows, cols, channels)


def test_gray_is_fed_as_rgb_and_averaged_back_then_clipped_to_the_input_range():
    net, gray = Scale(), ramp(40, 48, 1)
    out = run_network(net, gray, lambda n, t: n(t), overlap=8, bytes_per_pixel=64.0, device="cpu", clip=True)
    assert out.shape == (40, 48, 1) and all(shape[1] == 3 for shape in net.seen)
    np.testing.assert_allclose(out, np.clip(gray, -0.2, 1.2), atol=1e-6)  # mean of 1.5, 1.0, 0.5 times x is x


def test_conditions_clip_input_and_one_channel_output():
    net, pixels = Scale(), ramp(32, 32, 3)
    conditions = np.full((32, 32, 1), 0.25, np.float32)
    out = run_network(net, pixels, lambda n, t: n(t)[:, 1:2], conditions=conditions, overlap=8,
                      bytes_per_pixel=64.0, out_channels=1, device="cpu", clip_input=True, average_gray=False)
    assert out.shape == (32, 32, 1) and net.seen[0][1] == 4
    np.testing.assert_allclose(out[..., 0], np.clip(pixels[..., 1], 0.0, 1.0) + 0.25, atol=1e-6)


def test_refine_runs_before_clipping():
    out = run_network(Scale(), ramp(16, 16, 3), lambda n, t: n(t), overlap=4, bytes_per_pixel=64.0, device="cpu",
                      refine=lambda result: result + 10.0, clip=True)
    assert out.max() == pytest.approx(1.2)


def test_a_stop_request_cancels_and_bad_pixels_are_refused():
    calls = iter(range(100))
    with pytest.raises(Cancelled):
        run_network(Scale(), ramp(16, 16, 3), lambda n, t: n(t), overlap=4, bytes_per_pixel=64.0, device="cpu",
                    should_stop=lambda: next(calls) >= 2)
    with pytest.raises(ParameterError, match="rows, cols, 1 or 3"):
        run_network(Scale(), np.zeros((8, 8, 2), np.float32), lambda n, t: n(t), overlap=4, bytes_per_pixel=64.0)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_pixels_that_are_not_numbers_are_counted_and_refused(value):
    pixels = ramp(16, 16, 3)
    pixels[3, 4, 1] = pixels[9, 9, 0] = value
    with pytest.raises(ParameterError, match="pixels hold 2 NaN or infinite sample"):
        run_network(Scale(), pixels, lambda n, t: n(t), overlap=4, bytes_per_pixel=64.0, device="cpu")


def test_both_infinities_together_are_counted_without_a_warning():
    pixels = ramp(16, 16, 3)
    pixels[0, 0, 0], pixels[1, 1, 1], pixels[2, 2, 2] = np.inf, -np.inf, np.nan
    with pytest.raises(ParameterError, match="pixels hold 3 NaN or infinite sample"):
        run_network(Scale(), pixels, lambda n, t: n(t), overlap=4, bytes_per_pixel=64.0, device="cpu")


@pytest.mark.parametrize(("dtype", "division"), [(np.uint8, "/ 255"), (np.uint16, "/ 65535"), (np.bool_, "")])
def test_integer_samples_are_refused_with_the_division_that_makes_them_unit_values(dtype, division):
    with pytest.raises(ParameterError, match=f"got {np.dtype(dtype)}: pass pixels.astype\\(numpy.float32\\)"
                                             f"{re.escape(' ' + division) if division else '$'}"):
        check_pixels(np.zeros((8, 8, 3), dtype))


def test_huge_finite_pixels_are_not_taken_for_infinite_ones():
    check_pixels(np.full((8, 8, 3), 1e308, np.float64))
    pixels = np.full((8, 8, 3), np.finfo(np.float32).max, np.float32)
    pixels[0, 0, 0] = -np.finfo(np.float32).max
    out = run_network(Scale(), pixels, lambda n, t: n(t), overlap=4, bytes_per_pixel=64.0, device="cpu",
                      clip_input=True)
    assert np.isfinite(out).all()
