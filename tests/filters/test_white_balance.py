"""Color balance from a neutral patch: the temperature and tint that make its mean gray."""

from __future__ import annotations

import numpy as np
import pytest

from enhance_core.filters.base import RenderContext
from enhance_core.filters.color import ColorBalanceParams, balance_color, neutral_temperature_tint


@pytest.mark.parametrize("rgb", ((0.55, 0.5, 0.4), (0.3, 0.35, 0.33), (0.42, 0.4, 0.5), (0.5, 0.5, 0.5)))
def test_the_patch_becomes_neutral(rgb) -> None:
    temperature, tint = neutral_temperature_tint(np.array(rgb))
    patch = np.tile(np.array(rgb, np.float32), (4, 4, 1))
    out = balance_color(patch, ColorBalanceParams(temperature=temperature, tint=tint), RenderContext())
    assert np.ptp(out[0, 0]) < 1e-5
    if np.ptp(rgb) == 0:
        assert (temperature, tint) == (0.0, 0.0)


def test_warm_patch_cools_and_green_patch_gets_magenta() -> None:
    temperature, _ = neutral_temperature_tint(np.array([0.6, 0.5, 0.4]))
    _, tint = neutral_temperature_tint(np.array([0.4, 0.6, 0.4]))
    assert temperature < 0 and tint > 0


def test_a_black_channel_cannot_be_balanced() -> None:
    with pytest.raises(ValueError, match="no blue light"):
        neutral_temperature_tint(np.array([0.5, 0.4, 0.0]))
