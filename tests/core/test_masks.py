"""Masks: vector strokes render the same at any scale and region, and round-trip through JSON/PNG."""

from __future__ import annotations

import json

import numpy as np
import pytest

from enhance_core.errors import ImageReadError, ImageWriteError, ParameterError
from enhance_core.masks import (
    Mask,
    Region,
    Stroke,
    load_mask_raster,
    mask_from_dict,
    mask_to_dict,
    save_mask_raster,
)

STROKE = Stroke(points=((40.0, 50.0), (120.0, 70.0), (200.0, 150.0)), radius=12.0, hardness=0.5)


def test_stroke_profile_known_values() -> None:
    mask = Mask(100, 100).with_stroke(Stroke(points=((50, 50),), radius=10, hardness=0.5))
    out = mask.render()
    assert out[50, 50] == 1.0 and out[50, 55] == 1.0
    assert out[50, 60] == 0.0 and out[50, 70] == 0.0
    assert 0.0 < out[50, 58] < 1.0
    assert out[50, 42] == pytest.approx(out[50, 58])


def test_opacity_paint_over_and_erase() -> None:
    dab = Stroke(points=((20, 20),), radius=5, hardness=1.0, opacity=0.5)
    twice = Mask(40, 40).with_stroke(dab).with_stroke(dab).render()
    assert twice[20, 20] == pytest.approx(0.75)
    erased = Mask(40, 40).with_stroke(dab).with_stroke(
        Stroke(points=((20, 20),), radius=3, hardness=1.0, erase=True)).render()
    assert erased[20, 20] == 0.0 and erased[20, 24] == pytest.approx(0.5)
    full = Stroke(points=((20, 20),), radius=8, hardness=1.0)
    half_erased = Mask(40, 40).with_stroke(full).with_stroke(
        Stroke(points=((20, 20),), radius=3, hardness=1.0, opacity=0.5, erase=True)).render()
    assert half_erased[20, 20] == pytest.approx(0.5), "an eraser at half opacity takes half away"


def test_region_render_equals_the_same_part_of_a_full_render() -> None:
    mask = Mask(200, 260, feather=3.0).with_stroke(STROKE)
    for scale in (1.0, 0.5, 0.3):
        full = mask.render(scale=scale)
        for region in (Region(10, 20, 30, 40), Region(0, 0, 5, 5), Region(full.shape[0] - 7, 3, 7, 50)):
            np.testing.assert_allclose(mask.render(scale=scale, region=region), full[region.slices], atol=1e-5)


def test_preview_matches_a_downscaled_full_render() -> None:
    mask = Mask(200, 260).with_stroke(STROKE)
    full, half = mask.render(), mask.render(scale=0.5)
    assert half.shape == (100, 130)
    assert abs(full.mean() - half.mean()) < 0.01
    down = full.reshape(100, 2, 130, 2).mean(axis=(1, 3))
    assert np.abs(down - half).mean() < 0.02


def test_mask_is_immutable_and_with_stroke_shares_the_raster() -> None:
    raster = np.zeros((20, 30), np.float32)
    raster[5:10, 5:10] = 1.0
    base = Mask(20, 30, raster=raster)
    raster[:] = 0.5  # the caller's array is copied
    painted = base.with_stroke(Stroke(points=((25, 15),), radius=2))
    assert painted.raster is base.raster and not base.strokes
    assert base.render()[7, 7] == 1.0 and base.render()[0, 0] == 0.0
    with pytest.raises(ValueError):
        base.raster[0, 0] = 1.0
    assert painted == Mask(20, 30, painted.strokes, base.raster) and painted != base


def test_raster_base_scales_with_the_render() -> None:
    raster = np.zeros((40, 40), np.float32)
    raster[:, 20:] = 1.0
    out = Mask(40, 40, raster=raster).render(scale=0.5)
    assert out.shape == (20, 20) and out[:, :9].max() == 0.0 and out[:, 11:].min() == 1.0


def test_bad_strokes_and_masks_are_rejected_with_the_field_named() -> None:
    with pytest.raises(ParameterError, match="radius"):
        Stroke(points=((1, 2),), radius=0)
    with pytest.raises(ParameterError, match="hardness"):
        Stroke(points=((1, 2),), radius=3, hardness=2)
    with pytest.raises(ParameterError, match="at least one point"):
        Stroke(points=(), radius=3)
    with pytest.raises(ParameterError, match="raster must have"):
        Mask(10, 10, raster=np.zeros((5, 5), np.float32))
    with pytest.raises(ParameterError, match="outside"):
        Mask(10, 10).render(region=Region(5, 5, 10, 10))


def test_json_and_png_round_trip_replays_exactly(tmp_path) -> None:
    raster = np.linspace(0, 1, 30 * 40, dtype=np.float32).reshape(30, 40)
    mask = Mask(30, 40, raster=raster, feather=1.5).with_stroke(
        Stroke(points=((3.25, 4.125), (30.5, 20.0)), radius=4.5, hardness=0.2, opacity=0.7, erase=True))
    png = save_mask_raster(mask, tmp_path / "m.png")
    data = json.loads(json.dumps(mask_to_dict(mask, raster_file=png.name)))
    loaded = mask_from_dict(data, raster=load_mask_raster(png, rows=30, cols=40))
    assert loaded.strokes == mask.strokes and loaded.feather == 1.5
    np.testing.assert_allclose(loaded.render(), mask.render(), atol=1.0 / 65535)


def test_saving_a_mask_writes_it_whole_or_names_the_failure(tmp_path) -> None:
    mask = Mask(10, 12, raster=np.ones((10, 12), np.float32))
    save_mask_raster(mask, tmp_path / "m.png")
    assert [path.name for path in tmp_path.iterdir()] == ["m.png"], "no temporary file is left"
    with pytest.raises(ImageWriteError, match="missing.*could not write the mask"):
        save_mask_raster(mask, tmp_path / "missing" / "m.png")


def test_loading_a_mask_of_the_wrong_size_names_the_file(tmp_path) -> None:
    png = save_mask_raster(Mask(10, 12, raster=np.ones((10, 12), np.float32)), tmp_path / "m.png")
    with pytest.raises(ImageReadError, match="m.png.*12x10"):
        load_mask_raster(png, rows=20, cols=20)
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(ImageReadError, match="junk.png"):
        load_mask_raster(tmp_path / "junk.png", rows=10, cols=12)


def test_raster_line_keeps_its_coverage_in_a_shrunk_render_through_a_crop() -> None:
    from enhance_core.stack import make_item
    from enhance_core.stack_geometry import output_affine

    raster = np.zeros((160, 200), np.float32)
    raster[103, :] = 1.0
    raster[:, 87] = 1.0
    mask = Mask(160, 200, raster=raster)
    crop = [make_item("crop", {"left": 0.2, "top": 0.25})]
    affine = output_affine(crop, 160, 200, 0.25)
    through = mask.render(affine=affine, shape=(30, 40))
    plain = mask.render(scale=0.25)[10:, 10:]
    assert through.sum() == pytest.approx(plain.sum(), rel=0.05)
    np.testing.assert_allclose(through, plain, atol=0.02)


def test_a_mask_file_far_larger_than_its_picture_is_refused_before_it_is_read(tmp_path, monkeypatch) -> None:
    """A 3 GiB file named as a mask froze Load Recipe for 18 s and took 3.3 GB, to end 'not a gray PNG mask'."""
    noisy = np.random.default_rng(0).random((300, 400)).astype(np.float32)
    png = save_mask_raster(Mask(300, 400, raster=noisy), tmp_path / "m.png")
    assert load_mask_raster(png, rows=300, cols=400).shape == (300, 400), "the noisiest real mask is read"
    with open(png, "r+b") as handle:
        handle.truncate(3 * 2**30)  # sparse: 3 GiB on paper
    read = []
    monkeypatch.setattr(np, "frombuffer", lambda *args, **kwargs: read.append(1))
    with pytest.raises(ImageReadError, match=r"m.png.*3,221,225,472 bytes, far more than a 400x300 mask PNG holds"):
        load_mask_raster(png, rows=300, cols=400)
    assert read == []
