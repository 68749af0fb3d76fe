"""``enhance-studio convert IN OUT``: keeps depth and metadata, never overwrites its input."""

from __future__ import annotations

import numpy as np
from pydicom.data import get_testdata_file

from enhance_core.cli import main
from enhance_core.io import read_image, write_image

from .io_fixtures import camera_exif, levels, make_image
from .locked_folders import lock_folder


def test_sixteen_bit_tiff_to_png_keeps_depth_icc_exif_and_alpha(tmp_path, capsys):
    image = make_image(bit_depth=16, alpha=True)
    image.meta.exif = camera_exif(orientation=3)
    source = write_image(image, tmp_path / "scan.tif")
    assert main(["convert", str(source), str(tmp_path / "scan.png")]) == 0
    assert "(PNG, 16-bit)" in capsys.readouterr().out
    converted, original = read_image(tmp_path / "scan.png"), read_image(source)
    assert converted.meta.bit_depth == 16 and converted.meta.icc_profile == original.meta.icc_profile
    np.testing.assert_array_equal(levels(converted.pixels, 16), levels(original.pixels, 16))
    np.testing.assert_array_equal(levels(converted.alpha, 16), levels(original.alpha, 16))
    assert b"TestCam" in converted.meta.exif


def test_dicom_to_sixteen_bit_png_keeps_every_value_and_says_how(tmp_path, capsys):
    import json

    import pydicom
    from PIL import Image as PILImage

    path = get_testdata_file("CT_small.dcm")
    assert main(["convert", path, str(tmp_path / "ct.png")]) == 0
    assert "(PNG, 16-bit values of HU; the map to them is in its description)" in capsys.readouterr().out
    with PILImage.open(tmp_path / "ct.png") as png:
        described, codes = json.loads(png.info["Description"]), np.asarray(png).astype(np.int64)
    dataset = pydicom.dcmread(path)
    hounsfield = pydicom.pixels.apply_modality_lut(dataset.pixel_array, dataset)
    np.testing.assert_array_equal(described["offset"] + described["scale"] * codes, hounsfield)
    assert described["deidentified"] and "PatientName" not in described["dicom"]


def test_dicom_to_jpeg_is_the_picture_of_its_header_window(tmp_path, capsys):
    from enhance_core.medical.windows import header_window, window_item
    from enhance_core.render import render_image

    path = get_testdata_file("CT_small.dcm")
    assert main(["convert", path, str(tmp_path / "ct.jpg")]) == 0
    assert "8-bit picture through the window" in capsys.readouterr().out
    image = read_image(path)
    expected = render_image(image, (window_item(header_window(image)),)).pixels
    assert np.abs(read_image(tmp_path / "ct.jpg").pixels - expected).mean() < 2 / 255
    assert main(["convert", path, str(tmp_path / "ct16.jpg"), "--bit-depth", "16"]) == 2
    assert "the values of a DICOM image need .png or .tif" in capsys.readouterr().err


def test_refuses_to_overwrite_input_or_an_existing_file(tmp_path, capsys):
    source = write_image(make_image(), tmp_path / "in.png")
    before = source.read_bytes()
    assert main(["convert", str(source), str(source)]) == 2
    assert "is the input file" in capsys.readouterr().err
    assert main(["convert", str(source), str(tmp_path / "." / "in.png"), "--force"]) == 2
    assert source.read_bytes() == before
    other = write_image(make_image(), tmp_path / "taken.jpg")
    assert main(["convert", str(source), str(other)]) == 2
    assert "already exists; choose another name or pass --overwrite" in capsys.readouterr().err
    assert main(["convert", str(source), str(other), "--overwrite"]) == 0, "the name the other commands use"
    assert main(["convert", str(source), str(other), "--force"]) == 0


def test_a_folder_as_out_is_called_a_folder_with_or_without_force(tmp_path, capsys):
    source = write_image(make_image(), tmp_path / "in.png")
    (tmp_path / "out").mkdir()
    for extra in ([], ["--force"]):
        assert main(["convert", str(source), str(tmp_path / "out"), *extra]) == 2
        assert f"is a folder; give the file to write, e.g. {tmp_path / 'out' / 'in.png'}" in capsys.readouterr().err


def test_an_in_or_out_in_a_folder_that_cannot_be_entered_exits_2_naming_the_folder(tmp_path, monkeypatch, capsys):
    source = write_image(make_image(), tmp_path / "in.png")
    locked = tmp_path / "locked"
    locked.mkdir()
    unreachable = write_image(make_image(), locked / "b.png")
    lock_folder(monkeypatch, locked, listable=False)
    target = locked / "c.png"
    for named, argv in ((unreachable, [unreachable, tmp_path / "out.png"]), (target, [source, target]),
                        (target, [source, target, "--force"])):
        assert main(["convert", *map(str, argv)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {named}: permission denied: the folder {locked} cannot be entered; check the "
                              "folder's permissions") and err.count("\n") == 1
    assert not (tmp_path / "out.png").exists()


def test_what_the_output_format_leaves_out_is_noted(tmp_path, capsys):
    from enhance_core.image import Image, ImageMeta

    values = np.linspace(-0.2, 1.3, 4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    write_image(Image(values, meta=ImageMeta(bit_depth=32, float_source=True)), tmp_path / "float.tif")
    assert main(["convert", str(tmp_path / "float.tif"), str(tmp_path / "f.png")]) == 0
    assert "note: 33.3% of the samples lie outside 0..1 and are clipped in PNG" in capsys.readouterr().err
    overshoot = np.clip(values, -0.001, 1.001)  # a filter's overshoot, under a level: nothing said
    write_image(Image(overshoot, meta=ImageMeta(bit_depth=32, float_source=True)), tmp_path / "near.tif")
    assert main(["convert", str(tmp_path / "near.tif"), str(tmp_path / "near.png")]) == 0
    assert "note:" not in capsys.readouterr().err
    alpha = np.zeros((4, 5), np.float32)
    write_image(Image(np.full((4, 5, 3), 0.5, np.float32), alpha), tmp_path / "cut.png")
    assert main(["convert", str(tmp_path / "cut.png"), str(tmp_path / "cut.jpg")]) == 0
    assert "note: JPEG holds no transparency: the transparent parts are composited over white" in \
        capsys.readouterr().err
    assert main(["convert", str(tmp_path / "cut.png"), str(tmp_path / "cut.tif")]) == 0
    assert "note:" not in capsys.readouterr().err


def test_a_page_of_a_multi_page_tiff_is_named_by_its_page_option_which_counts_from_0(tmp_path, capsys):
    import tifffile

    with tifffile.TiffWriter(tmp_path / "pages.tif") as writer:
        for value in (10, 20, 30):
            writer.write(np.full((8, 12), value, np.uint8), photometric="minisblack")
    assert main(["convert", str(tmp_path / "pages.tif"), str(tmp_path / "p.png"), "--page", "1"]) == 0
    assert ("note: page 2 of 3 only (--page 1): the other pages are not in the output; --page counts from 0, so 0 "
            "to 2 picks one") in capsys.readouterr().err.splitlines()
    assert levels(read_image(tmp_path / "p.png").pixels, 8).max() == 20


def test_values_below_zero_alone_are_said_to_be_clipped(tmp_path):
    from enhance_core.image import Image, ImageMeta
    from enhance_core.io import write_losses

    values = np.linspace(-0.3, 0.9, 4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    image = Image(values, meta=ImageMeta(bit_depth=32, float_source=True))
    assert any("outside 0..1" in loss for loss in write_losses(image, tmp_path / "f.png"))
