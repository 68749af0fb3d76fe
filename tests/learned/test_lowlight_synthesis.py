"""Low-light data synthesis: darkening is physical, reproducible and within the configured ranges; lamps clip."""

from __future__ import annotations

import numpy as np
import pytest

from enhance_core.learned.lowlight_ops import linear_to_srgb, srgb_to_linear
from enhance_core.training.synth_lowlight import (EVAL_CAMERA, Darkening, darken_image, darken_through_camera,
                                                  lit_reference, random_illumination, random_lamps, sample_darkening)
from tests.learned.conftest import synthetic_rgb


def test_srgb_transfer_round_trips():
    values = np.linspace(0, 1, 1001, dtype=np.float32)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(values)), values, atol=2e-6)
    assert abs(float(srgb_to_linear(np.float32(0.5))) - 0.2140) < 1e-3


def test_darkening_scales_linear_light_and_quantizes():
    clean = synthetic_rgb(96, 96)
    quiet = Darkening(ev=-2.0, shot=1e-7, read=0.0)
    dark = darken_image(clean, quiet, np.random.default_rng(0))
    assert dark.dtype == np.float32 and dark.shape == clean.shape
    np.testing.assert_array_equal(np.round(dark * 255), dark * 255)
    ratio = srgb_to_linear(dark).mean() / srgb_to_linear(clean).mean()
    assert abs(ratio - 0.25) < 0.01


def test_darkening_is_reproducible_and_noise_grows_as_light_falls():
    clean = synthetic_rgb(96, 96)
    first = darken_image(clean, Darkening(ev=-3.0, **EVAL_CAMERA), np.random.default_rng(5))
    again = darken_image(clean, Darkening(ev=-3.0, **EVAL_CAMERA), np.random.default_rng(5))
    np.testing.assert_array_equal(first, again)

    def relative_noise(ev: float) -> float:
        dark = darken_image(clean, Darkening(ev=ev, **EVAL_CAMERA), np.random.default_rng(1))
        quiet = darken_image(clean, Darkening(ev=ev, shot=1e-9, read=0.0), np.random.default_rng(1))
        lin, ref = srgb_to_linear(dark), srgb_to_linear(quiet)
        return float(np.std(lin - ref) / ref.mean())

    assert relative_noise(-4.0) > 2.5 * relative_noise(-1.0)


def test_sampled_darkenings_stay_in_range_and_light_pools_are_bounded():
    rng = np.random.default_rng(0)
    for _ in range(50):
        d = sample_darkening(rng, ev_range=(-5.0, -1.0), shot_range=(1e-4, 5e-3), wb_jitter=0.03)
        assert -5.0 <= d.ev <= -1.0 and 1e-4 <= d.shot <= 5e-3 and d.read > 0 and d.wb[1] == 1.0
    light = random_illumination((40, 60), rng, depth=2.5)
    assert light.shape == (40, 60) and light.min() >= 0 and light.max() == pytest.approx(2.5)


def test_lamps_clip_in_the_dark_photo_and_stay_in_the_reference():
    rng = np.random.default_rng(3)
    clean = synthetic_rgb(96, 128) * 0.5
    lamps = random_lamps(clean.shape[:2], rng)
    assert lamps.shape == (96, 128, 3) and lamps.min() >= 0 and lamps.max() >= 1.0
    darkening = Darkening(ev=-4.0, shot=1e-7, read=0.0)
    dark = darken_image(clean, darkening, rng, lamps=lamps)
    core = lamps.max(axis=2) >= 1.0
    assert (dark.max(axis=2)[core] == 1.0).all(), "a lamp's core clips however dark the room"
    assert dark[lamps.max(axis=2) < 1e-4].max() < 0.25, "the room is still 4 stops down"
    reference = lit_reference(clean, darkening, lamps)
    assert (reference.max(axis=2)[core] > 0.9999).all() and (reference >= clean - 1e-6).all()


def test_no_lamps_leaves_the_darkening_as_it_was():
    clean = synthetic_rgb(64, 64)
    darkening = Darkening(ev=-3.0, **EVAL_CAMERA, wb=(1.05, 1.0, 0.95))
    plain = darken_image(clean, darkening, np.random.default_rng(4))
    expected = np.clip(srgb_to_linear(clean) * np.float32([1.05, 1.0, 0.95]) * np.float32(0.125), 0, 1)
    np.testing.assert_array_equal(plain, darken_image(clean, darkening, np.random.default_rng(4), lamps=None))
    assert abs(float(srgb_to_linear(plain).mean() - expected.mean())) < 0.002


def test_darkening_through_the_camera_keeps_the_exposure_and_correlates_the_noise():
    clean = np.full((96, 128, 3), 0.5, np.float32)
    darkening = Darkening(ev=-3.0, **EVAL_CAMERA)
    residuals = {}
    for name, darken in (("plain", darken_image), ("camera", darken_through_camera)):
        dark = darken(clean, darkening, np.random.default_rng(4))
        assert dark.dtype == np.float32 and dark.shape == clean.shape
        ratio = srgb_to_linear(dark).mean() / srgb_to_linear(clean).mean()
        assert abs(ratio - 2.0**-3) < 0.01, name
        residuals[name] = dark - dark.mean(axis=(0, 1))
    np.testing.assert_array_equal(darken_through_camera(clean, darkening, np.random.default_rng(4)),
                                  darken_through_camera(clean, darkening, np.random.default_rng(4)))

    def neighbour_correlation(residual: np.ndarray) -> float:
        return float(np.corrcoef(residual[:, :-1, 1].ravel(), residual[:, 1:, 1].ravel())[0, 1])

    assert abs(neighbour_correlation(residuals["plain"])) < 0.1
    assert neighbour_correlation(residuals["camera"]) > 0.3, "demosaicing spreads the noise over neighbours"
