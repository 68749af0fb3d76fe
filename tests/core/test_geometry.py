"""Size-changing stack steps: affine helpers, planning through geometry, masks, alpha, metadata, previews."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from enhance_core.errors import ParameterError
from enhance_core.geometry import (StepGeometry, affine_scale, compose_affines, identity_affine, input_region,
                                   invert_affine, map_points, scale_affine, translate_affine, warp_image, warp_region)
from enhance_core.image import Image
from enhance_core.masks import Mask, Region, Stroke
from enhance_core.render import Renderer, render_image
from enhance_core.stack import make_item
from enhance_core.stack_geometry import output_affine, output_shape, stack_geometry

from tests.filters.synthetic import source_pixels


def test_compose_invert_and_map_points() -> None:
    turn = np.array([[0.0, -1.0, 30.0], [1.0, 0.0, 0.0]])
    shift = translate_affine(-5, 2)
    both = compose_affines(turn, shift)
    points = np.array([[0.0, 0.0], [3.5, 7.25]])
    np.testing.assert_allclose(map_points(both, points), map_points(shift, map_points(turn, points)))
    np.testing.assert_allclose(compose_affines(both, invert_affine(both)), identity_affine(), atol=1e-12)
    assert affine_scale(scale_affine(2.0, 0.5)) == pytest.approx(1.0)
    assert affine_scale(compose_affines(turn, scale_affine(3.0))) == pytest.approx(3.0)
    with pytest.raises(ParameterError, match="singular"):
        invert_affine([[0, 0, 1], [0, 0, 1]])


def test_step_geometry_is_hashable_and_checked() -> None:
    geometry = StepGeometry(10, 20, np.array([[1.0, 0, -3], [0, 1, -4]]))
    assert geometry == StepGeometry(10, 20, ((1.0, 0.0, -3.0), (0.0, 1.0, -4.0)))
    assert hash(geometry) == hash(StepGeometry(10, 20, geometry.affine))
    with pytest.raises(ParameterError, match="out_rows"):
        StepGeometry(0, 20, identity_affine())


def test_input_region_is_the_preimage_grown_and_clipped() -> None:
    crop = translate_affine(-10, -20)
    assert input_region(crop, Region(0, 0, 5, 6), 100, 100) == Region(20, 10, 5, 6)
    assert input_region(crop, Region(0, 0, 5, 6), 100, 100, margin=3) == Region(17, 7, 11, 12)
    half = scale_affine(0.5)
    assert input_region(half, Region(2, 3, 4, 5), 100, 100) == Region(4, 6, 8, 10)
    assert input_region(half, Region(0, 0, 50, 50), 100, 100, margin=7) == Region(0, 0, 100, 100)


def test_warp_region_equals_the_part_of_the_whole_warp() -> None:
    pixels = source_pixels(37, 53, 3, 32)
    turn = compose_affines(translate_affine(-26.5, -18.5), np.array([[0.96, 0.28, 0], [-0.28, 0.96, 0]]))
    for matrix, shape in ((scale_affine(0.37, 0.41), (15, 20)), (scale_affine(2.3), (85, 122)),
                          (np.array([[0.0, -1.0, 37.0], [1.0, 0.0, 0.0]]), (53, 37)),
                          (compose_affines(turn, translate_affine(20, 20)), (40, 40))):
        whole = warp_image(pixels, matrix, shape)
        out = Region(3, 4, shape[0] - 7, shape[1] - 9)
        need = input_region(matrix, out, 37, 53, margin=5)
        part = warp_region(pixels[need.slices], matrix, in_origin=(need.top, need.left), in_shape=(37, 53),
                           out_region=out)
        np.testing.assert_array_equal(part, whole[out.slices])


def test_shrinking_averages_areas_and_enlarging_keeps_flat_areas() -> None:
    pixels = np.zeros((4, 4, 1), np.float32)
    pixels[:2, :2] = 1.0
    np.testing.assert_allclose(warp_image(pixels, scale_affine(0.5), (2, 2))[:, :, 0], [[1.0, 0.0], [0.0, 0.0]])
    flat = np.full((9, 7, 3), 0.25, np.float32)
    np.testing.assert_allclose(warp_image(flat, scale_affine(3.0), (27, 21)), 0.25, atol=1e-6)


IMAGE = Image(source_pixels(90, 120, 3, 16))
GEOMETRIES = [
    ("crop", {"left": 0.1, "top": 0.2, "right": 0.05, "bottom": 0.1}),
    ("crop", {"aspect": "1:1"}),
    ("rotate", {"angle": "90"}),
    ("rotate", {"angle": "180"}),
    ("flip", {"direction": "horizontal"}),
    ("straighten", {"angle": 7.5}),
    ("straighten", {"angle": -3.0, "auto_crop": False}),
    ("resize", {"percent": 37.0}),
    ("resize", {"percent": 250.0}),
]


@pytest.mark.parametrize(("name", "values"), GEOMETRIES)
def test_region_render_through_geometry_equals_the_crop_of_the_full_render(name: str, values: dict) -> None:
    steps = [make_item("gaussian_blur", {"sigma": 1.5}), make_item(name, values),
             make_item("unsharp_mask", {"amount": 1.0})]
    full = Renderer().render(IMAGE, steps)
    assert full.shape[:2] == output_shape(steps, IMAGE.rows, IMAGE.cols)
    region = Region(7, 11, min(30, full.shape[0] - 7), min(40, full.shape[1] - 11))
    part = Renderer().render(IMAGE, steps, region=region)
    np.testing.assert_allclose(part, full[region.slices], rtol=0, atol=1e-6)


def test_crop_renders_the_box_and_plans_only_what_a_viewport_needs() -> None:
    steps = [make_item("crop", {"left": 0.25, "top": 0.1, "right": 0.25, "bottom": 0.4})]
    out = Renderer().render(IMAGE, steps)
    np.testing.assert_array_equal(out, IMAGE.pixels[9:54, 30:90])
    shapes = stack_geometry(steps, IMAGE.rows, IMAGE.cols, 0.5)
    assert (shapes[0].in_rows, shapes[0].in_cols, shapes[0].out_rows, shapes[0].out_cols) == (45, 60, 23, 30)
    _, _, _, outputs, inputs, _ = Renderer()._prepare(IMAGE, steps, 1.0, Region(0, 0, 4, 4), None, lambda: False)
    assert outputs[0] == Region(0, 0, 4, 4) and inputs[0] == Region(9, 30, 4, 4)


def test_empty_crop_is_refused_with_the_fix() -> None:
    with pytest.raises(ParameterError, match="sum to less than 1"):
        output_shape([make_item("crop", {"left": 0.6, "right": 0.5})], 100, 100)


def test_crop_leaving_under_a_pixel_names_the_size_not_the_sum() -> None:
    with pytest.raises(ParameterError) as caught:
        output_shape([make_item("crop", {"left": 0.5, "right": 0.49})], 40, 48)
    message = str(caught.value)
    assert "0.48 px of the 48 px width of this 48 x 40 px image" in message
    assert "at least one pixel" in message and "sum to less than 1" not in message


def test_viewport_at_one_to_one_after_geometry_matches_the_full_render() -> None:
    steps = [make_item("straighten", {"angle": 4.0}), make_item("crop", {"left": 0.3, "top": 0.3}),
             make_item("resize", {"percent": 150.0}), make_item("gamma", {"gamma": 1.4})]
    renderer = Renderer()
    full = renderer.render(IMAGE, steps)
    for region in (Region(0, 0, 16, 16), Region(20, 30, 25, 17), Region(full.shape[0] - 9, full.shape[1] - 9, 9, 9)):
        np.testing.assert_allclose(renderer.render(IMAGE, steps, region=region), full[region.slices], atol=1e-6)


def test_preview_is_the_full_render_shrunk() -> None:
    steps = [make_item("crop", {"left": 0.1, "right": 0.2}), make_item("rotate", {"angle": "270"}),
             make_item("straighten", {"angle": 3.0})]
    big = Image(source_pixels(240, 320, 3, 32))
    full = Renderer().render(big, steps)
    preview = Renderer().render(big, steps, scale=0.25)
    rows, cols = full.shape[:2]
    assert abs(preview.shape[0] - rows / 4) <= 1.5 and abs(preview.shape[1] - cols / 4) <= 1.5
    shrunk = cv2.resize(full, (preview.shape[1], preview.shape[0]), interpolation=cv2.INTER_AREA)
    assert np.mean(np.abs(shrunk - preview)) < 0.02


def test_stroke_painted_after_a_crop_stays_on_its_content() -> None:
    spot = Mask(IMAGE.rows, IMAGE.cols).with_stroke(Stroke(((70.0, 50.0),), radius=4.0, hardness=1.0))
    steps = [make_item("crop", {"left": 0.5, "top": 0.5}), make_item("gamma", {"gamma": 3.0}, mask=spot)]
    out = Renderer().render(IMAGE, steps)
    changed = np.argwhere(np.any(out != IMAGE.pixels[45:, 60:], axis=2))
    assert changed.size and np.allclose(changed.mean(axis=0), (50 - 45, 70 - 60), atol=0.6)
    rotated = [make_item("rotate", {"angle": "90"}), make_item("gamma", {"gamma": 3.0}, mask=spot)]
    out = Renderer().render(IMAGE, rotated)
    plain = Renderer().render(IMAGE, rotated[:1])
    changed = np.argwhere(np.any(out != plain, axis=2))
    # rotating clockwise sends source (x, y) to (rows - y, x): column 90 - 50, row 70
    assert np.allclose(changed.mean(axis=0), (70, IMAGE.rows - 1 - 50), atol=0.6)


def test_mask_render_through_an_affine_matches_plain_scaling() -> None:
    mask = Mask(40, 60, raster=np.linspace(0, 1, 2400, dtype=np.float32).reshape(40, 60), feather=1.0)
    mask = mask.with_stroke(Stroke(((10.0, 12.0), (40.0, 30.0)), radius=5.0))
    plain = mask.render(scale=0.5)
    through = mask.render(affine=scale_affine(0.5), shape=(20, 30))
    assert np.mean(np.abs(plain - through)) < 0.02
    region = Region(3, 5, 10, 12)
    np.testing.assert_allclose(mask.render(affine=scale_affine(0.5), shape=(20, 30), region=region),
                               through[region.slices], atol=1e-6)


def test_full_render_warps_alpha_and_keeps_metadata() -> None:
    alpha = np.zeros((90, 120), np.float32)
    alpha[:, 60:] = 1.0
    image = Image(IMAGE.pixels, alpha)
    image.meta.extra["kept"] = 1
    out = render_image(image, [make_item("rotate", {"angle": "180"}), make_item("resize", {"percent": 50.0})])
    assert out.pixels.shape == (45, 60, 3) and out.alpha is not None and out.alpha.shape == (45, 60)
    assert out.alpha[:, :29].min() > 0.99 and out.alpha[:, 31:].max() < 0.01
    assert out.meta.extra["kept"] == 1 and out.meta.extra["geometry"] is not None
    same = render_image(image, [make_item("gamma", {"gamma": 2.0})])
    assert same.alpha is image.alpha


def test_output_affine_composes_the_steps() -> None:
    steps = [make_item("crop", {"left": 0.5}), make_item("resize", {"percent": 200.0})]
    np.testing.assert_allclose(output_affine(steps, 90, 120), [[2.0, 0.0, -120.0], [0.0, 2.0, 0.0]])
    np.testing.assert_allclose(output_affine(steps, 90, 120, 0.5), [[1.0, 0.0, -60.0], [0.0, 1.0, 0.0]])


def test_render_over_through_an_affine_paints_where_render_does() -> None:
    mask = Mask(40, 60).with_stroke(Stroke(((10.0, 12.0), (40.0, 30.0)), radius=3.0))
    turn = [[0.0, -1.0, 40.0], [1.0, 0.0, 0.0]]
    over = mask.render_over(np.zeros((60, 40), np.float32), affine=turn, shape=(60, 40))
    np.testing.assert_allclose(over, mask.render(affine=turn, shape=(60, 40)), atol=1e-6)
    np.testing.assert_allclose(mask.render(affine=turn, shape=(60, 40)), np.rot90(mask.render(), -1), atol=1e-6)


def test_masked_step_after_geometry_renders_regions_like_the_full_render() -> None:
    mask = Mask(IMAGE.rows, IMAGE.cols, feather=2.0).with_stroke(Stroke(((20.0, 30.0), (100.0, 60.0)), radius=9.0))
    steps = [make_item("straighten", {"angle": -8.0}), make_item("resize", {"percent": 70.0}),
             make_item("gaussian_blur", {"sigma": 2.0}, mask=mask, opacity=0.8)]
    full = Renderer().render(IMAGE, steps)
    changed = np.any(full != Renderer().render(IMAGE, steps[:2]), axis=2)
    assert 0.05 < changed.mean() < 0.6
    region = Region(10, 12, 25, 30)
    np.testing.assert_allclose(Renderer().render(IMAGE, steps, region=region), full[region.slices], atol=1e-6)
    preview = Renderer().render(IMAGE, steps, scale=0.5)
    assert abs(preview.shape[0] - full.shape[0] / 2) <= 1 and abs(preview.shape[1] - full.shape[1] / 2) <= 1


def test_a_masked_geometry_step_blends_over_its_warped_input() -> None:
    half = Mask(IMAGE.rows, IMAGE.cols, raster=np.pad(np.ones((90, 60), np.float32), ((0, 0), (0, 60))))
    steps = [make_item("resize", {"percent": 50.0}, mask=half, opacity=0.5)]
    np.testing.assert_allclose(Renderer().render(IMAGE, steps), Renderer().render(IMAGE, steps[:0] + [
        make_item("resize", {"percent": 50.0})]), atol=1e-6)


def _exif_with_thumbnail(rows: int, cols: int) -> bytes:
    """An EXIF block (little-endian) with PixelX/YDimension ``cols`` x ``rows`` and an IFD1 JPEG thumbnail."""
    import io
    import struct

    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 6), (200, 30, 30)).save(buffer, "JPEG")
    thumbnail = buffer.getvalue()
    ifd0 = struct.pack("<H", 2) + struct.pack("<HHII", 0x0112, 3, 1, 1) + struct.pack("<HHII", 0x8769, 4, 1, 38)
    ifd0 += struct.pack("<I", 68)
    exif_ifd = struct.pack("<H", 2) + struct.pack("<HHII", 0xA002, 4, 1, cols)
    exif_ifd += struct.pack("<HHII", 0xA003, 4, 1, rows) + struct.pack("<I", 0)
    ifd1 = struct.pack("<H", 3) + struct.pack("<HHII", 0x0103, 3, 1, 6) + struct.pack("<HHII", 0x0201, 4, 1, 110)
    ifd1 += struct.pack("<HHII", 0x0202, 4, 1, len(thumbnail)) + struct.pack("<I", 0)
    return b"Exif\x00\x00II*\x00" + struct.pack("<I", 8) + ifd0 + exif_ifd + ifd1 + thumbnail


def test_exported_crop_says_its_size_in_exif_and_drops_the_stale_thumbnail(tmp_path) -> None:
    from PIL import ExifTags
    from PIL import Image as PILImage

    from enhance_core.image import ImageMeta
    from enhance_core.io import read_image, write_image
    from tests.core.io_fixtures import srgb_profile

    exif = _exif_with_thumbnail(60, 80)
    write_image(Image(source_pixels(60, 80, 3, 8), meta=ImageMeta(exif=exif, icc_profile=srgb_profile())),
                tmp_path / "source.jpg")
    source = read_image(tmp_path / "source.jpg")
    with PILImage.open(tmp_path / "source.jpg") as written:
        assert written.getexif().get_ifd(ExifTags.IFD.IFD1)
    cropped = render_image(source, [make_item("crop", {"left": 0.25, "bottom": 0.5})])
    write_image(cropped, tmp_path / "crop.jpg")
    with PILImage.open(tmp_path / "crop.jpg") as written:
        parsed = written.getexif()
        assert (parsed.get_ifd(0x8769)[0xA002], parsed.get_ifd(0x8769)[0xA003]) == (60, 30)
        assert not parsed.get_ifd(ExifTags.IFD.IFD1)
        assert parsed[0x0112] == 1
        assert written.info["icc_profile"] == srgb_profile()
    assert read_image(tmp_path / "crop.jpg").meta.exif.find(b"\xff\xd8") < 0
    resized = render_image(source, [make_item("resize", {"percent": 50.0})])
    assert resized.meta.exif.find(b"\xff\xd8") > 0
    parsed = PILImage.Exif()
    parsed.load(resized.meta.exif)
    assert (parsed.get_ifd(0x8769)[0xA002], parsed.get_ifd(0x8769)[0xA003]) == (40, 30)


@pytest.mark.parametrize(("steps", "kept"), [
    ([], True),
    ([make_item("gamma", {"gamma": 0.8}, enabled=False)], True),
    ([make_item("resize", {"percent": 50.0})], True),
    ([make_item("gamma", {"gamma": 0.8})], False),
    ([make_item("resize", {"percent": 50.0}), make_item("unsharp_mask", {"amount": 1.0})], False),
])
def test_the_exif_thumbnail_is_kept_only_while_it_shows_the_written_picture(steps, kept) -> None:
    from enhance_core.full_results import FullResults
    from enhance_core.image import ImageMeta

    source = Image(source_pixels(60, 80, 3, 8), meta=ImageMeta(exif=_exif_with_thumbnail(60, 80)))
    for result in (render_image(source, steps), FullResults().render(source, steps)):
        assert (result.meta.exif.find(b"\xff\xd8") > 0) is kept
    assert source.meta.exif == _exif_with_thumbnail(60, 80)


def test_apply_drops_the_thumbnail_of_a_retouched_photo_and_convert_keeps_it(tmp_path) -> None:
    from PIL import ExifTags
    from PIL import Image as PILImage

    from enhance_core.cli import main

    PILImage.new("RGB", (80, 60), (90, 120, 30)).save(tmp_path / "photo.jpg", exif=_exif_with_thumbnail(60, 80))
    assert main(["apply", "--filter", "gamma", "--set", "gamma=0.8", "--jobs", "1", "-o", str(tmp_path / "out"),
                 str(tmp_path / "photo.jpg")]) == 0
    assert main(["convert", str(tmp_path / "photo.jpg"), str(tmp_path / "photo.png")]) == 0
    with PILImage.open(tmp_path / "out" / "photo.jpg") as retouched, PILImage.open(tmp_path / "photo.png") as same:
        assert not retouched.getexif().get_ifd(ExifTags.IFD.IFD1)
        assert same.getexif().get_ifd(ExifTags.IFD.IFD1)


def test_a_photo_turned_upright_on_reading_says_its_upright_size_and_drops_its_sideways_thumbnail(tmp_path) -> None:
    import struct

    from PIL import ExifTags
    from PIL import Image as PILImage

    from enhance_core.io import read_image

    exif = _exif_with_thumbnail(60, 80).replace(struct.pack("<HHII", 0x0112, 3, 1, 1),
                                                struct.pack("<HHII", 0x0112, 3, 1, 6))
    PILImage.new("RGB", (80, 60), (90, 120, 30)).save(tmp_path / "portrait.jpg", exif=exif)
    image = read_image(tmp_path / "portrait.jpg")
    assert (image.rows, image.cols) == (80, 60)
    parsed = PILImage.Exif()
    parsed.load(image.meta.exif)
    assert parsed[0x0112] == 1 and (parsed.get_ifd(0x8769)[0xA002], parsed.get_ifd(0x8769)[0xA003]) == (60, 80)
    assert not parsed.get_ifd(ExifTags.IFD.IFD1) and image.meta.exif.find(b"\xff\xd8") < 0


def test_a_crop_that_cuts_away_a_whole_side_is_refused_before_any_file_is_read(tmp_path, capsys):
    import json

    from enhance_core.cli import main as cli_main
    from enhance_core.recipe import load_recipe, save_recipe
    from enhance_core.stack import FilterStack

    stack = FilterStack()
    crop = stack.add("crop", {"right": 0.5})
    with pytest.raises(ParameterError, match="left 0.6 \\+ right 0.5 sum to 1.1 and cut away the whole width"):
        stack.set_params(crop.uid, {"left": 0.6})
    assert stack.item(crop.uid) == crop
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(b"not read")
    assert cli_main(["apply", "--filter", "crop", "--set", "top=0.5", "--set", "bottom=0.5", "-o",
                     str(tmp_path / "out"), str(tmp_path / "in")]) == 2
    assert "top 0.5 + bottom 0.5 sum to 1 and cut away the whole height" in capsys.readouterr().err
    assert not (tmp_path / "out").exists(), "no output folder, no manifest of failed files"
    save_recipe([make_item("crop", {"right": 0.5})], tmp_path / "old.json")
    data = json.loads((tmp_path / "old.json").read_text())
    data["steps"][0]["params"]["left"] = 0.6  # as an earlier version let a user save it
    (tmp_path / "old.json").write_text(json.dumps(data))
    (step,) = load_recipe(tmp_path / "old.json")
    assert step.params.left == 0.6, "a recipe or project saved so still opens; its render says why"
    with pytest.raises(ParameterError, match="cut away the whole width"):
        render_image(Image(np.zeros((8, 8, 3), np.float32)), [step])
    assert cli_main(["apply", "--recipe", str(tmp_path / "old.json"), "-o", str(tmp_path / "out"),
                     str(tmp_path / "in")]) == 2
    assert f"recipe {tmp_path / 'old.json'}, step 1: crop: left 0.6" in capsys.readouterr().err


def test_a_resize_rescales_both_pixel_spacings_of_a_dicom_header() -> None:
    from pydicom.dataset import Dataset

    from enhance_core.geometry import dicom_after_geometry, scale_affine

    header = Dataset()
    header.PixelSpacing, header.ImagerPixelSpacing = [0.5, 0.5], [0.6, 0.6]
    header.ImagePositionPatient, header.ImageOrientationPatient = [0, 0, 0], [1, 0, 0, 0, 1, 0]
    moved, _ = dicom_after_geometry(header, scale_affine(0.5, 0.5))
    assert [float(v) for v in moved.PixelSpacing] == [1.0, 1.0]
    assert [float(v) for v in moved.ImagerPixelSpacing] == [1.2, 1.2]
    assert [float(v) for v in moved.ImagePositionPatient] == pytest.approx([0.25, 0.25, 0.0])
