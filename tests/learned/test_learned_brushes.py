"""Learned brushes through the stack: a feathered stroke applies the filter only where it is painted."""

from __future__ import annotations

import numpy as np

from enhance_core.image import Image, ImageMeta
from enhance_core.learned.denoise import denoise_image
from enhance_core.masks import Mask, Stroke
from enhance_core.render import render_image
from enhance_core.stack import make_item
from tests.learned.conftest import synthetic_rgb


def test_denoise_brush_blends_by_the_feathered_mask():
    clean = synthetic_rgb(96, 128)
    noisy = np.clip(clean + np.random.default_rng(1).normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
    mask = Mask(96, 128, feather=4.0).with_stroke(Stroke(((40, 48), (90, 52)), radius=16, hardness=0.4))
    image = Image(noisy, meta=ImageMeta(bit_depth=8))
    step = make_item("denoise", {"mode": "manual", "sigma": 25}, mask=mask)
    out = render_image(image, [step], device="cpu").pixels
    painted = mask.render()
    full = denoise_image(noisy, sigma=25, device="cpu")
    assert np.array_equal(out[painted == 0], noisy[painted == 0])
    assert 0 < np.count_nonzero((painted > 0.05) & (painted < 0.95))
    np.testing.assert_allclose(out, noisy + painted[..., None] * (full - noisy), atol=1e-4)
    core = painted > 0.95
    assert np.abs(out[core] - clean[core]).mean() < 0.5 * np.abs(noisy[core] - clean[core]).mean()


def test_a_low_light_dab_off_the_network_s_grid_gives_what_the_whole_step_gives_there():
    """The dab's tiles started on its own row and column; the denoiser's 4x4 unshuffle answers by its grid's
    phase, and a dab differed from the whole-picture step by up to 10 levels (1.6 on the grid)."""
    import cv2

    from enhance_core.learned.lowlight import enhance_low_light

    rng = np.random.default_rng(9)
    scene = np.clip(synthetic_rgb(200, 240) * 0.25 + rng.normal(0, 0.03, (200, 240, 3)), 0, 1).astype(np.float32)
    mask = np.zeros(scene.shape[:2], np.float32)
    cv2.circle(mask, (121, 103), 9, 1.0, -1)
    whole = enhance_low_light(scene, device="cpu")
    dab = enhance_low_light(scene, device="cpu", mask=mask)
    assert np.abs(dab - whole)[mask > 0].max() < 3 / 255

