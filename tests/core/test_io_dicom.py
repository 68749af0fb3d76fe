"""DICOM: physical values checked against pydicom's own modality LUT, windows, MONOCHROME1, frames, codecs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.pixels import apply_modality_lut

from enhance_core.errors import ImageReadError, ParameterError, UnsupportedFormat
from enhance_core.image import Image
from enhance_core.io import read_image
from enhance_core.medical.windows import default_window_params, window_item, with_window
from enhance_core.render import render_image
from enhance_core.stack import make_item

from .dicom_fixtures import sqrt_lut, with_voi_lut

REPO = Path(__file__).resolve().parents[2]

# (file, frame): pydicom's own test files, then files of the pydicom-data package (found by the same function).
HU_CASES = [
    ("CT_small.dcm", 0),                    # CT, signed 16-bit, slope 1 / intercept -1024
    ("MR_small.dcm", 0),                    # signed, no rescale
    ("MR_small_RLE.dcm", 0),                # RLE Lossless (decoded by pydicom itself)
    ("MR_small_jpeg_ls_lossless.dcm", 0),   # JPEG-LS (pylibjpeg-libjpeg)
    ("JPEG2000.dcm", 0),                    # JPEG 2000, signed (pylibjpeg-openjpeg / Pillow)
    ("MR2_UNCI.dcm", 0),                    # pydicom-data: fractional slope 3.774114
    ("693_J2KR.dcm", 0),                    # pydicom-data: CT, JPEG 2000 lossless, signed
    ("bad_sequence.dcm", 0),                # pydicom-data: CT, JPEG Lossless, two windows
    ("emri_small.dcm", 7),                  # pydicom-data: 10-frame MR
]


def dataset_and_expected(name: str, frame: int) -> tuple[pydicom.Dataset, np.ndarray]:
    """Return pydicom's dataset and its own modality-LUT output for ``frame``."""
    dataset = pydicom.dcmread(get_testdata_file(name))
    stored = dataset.pixel_array
    if int(dataset.get("NumberOfFrames", 1) or 1) > 1:
        stored = stored[frame]
    return dataset, np.asarray(apply_modality_lut(stored, dataset), dtype=np.float64)


@pytest.mark.parametrize(("name", "frame"), HU_CASES)
def test_physical_values_match_pydicom_modality_lut(name, frame):
    dataset, expected = dataset_and_expected(name, frame)
    image = read_image(get_testdata_file(name), page=frame)
    physical = image.to_physical(image.pixels[:, :, 0].astype(np.float64))
    tolerance = abs(image.meta.value_scale) * 2.0**-22
    np.testing.assert_allclose(physical, expected, rtol=0, atol=tolerance)
    if float(dataset.get("RescaleSlope", 1)) == 1:
        np.testing.assert_array_equal(np.rint(physical), expected)
    padding = dataset.get("PixelPaddingValue")
    anatomy = expected if padding is None else expected[dataset.pixel_array != padding]
    assert image.meta.extra["value_range"] == pytest.approx((anatomy.min(), anatomy.max()))


def test_ct_unit_is_hounsfield_and_windows_are_listed():
    image = read_image(get_testdata_file("bad_sequence.dcm"))
    assert image.meta.unit == "HU" and image.meta.modality == "CT"
    assert [(w.center, w.width, w.name) for w in image.meta.windows] == [(40, 350, "WINDOW1"), (450, 1500, "WINDOW2")]
    assert image.meta.dicom is not None and "PixelData" not in image.meta.dicom


def test_monochrome1_is_shown_inverted_with_negative_scale(tmp_path):
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.PhotometricInterpretation = "MONOCHROME1"
    dataset.save_as(tmp_path / "mono1.dcm")
    expected = np.asarray(apply_modality_lut(dataset.pixel_array, dataset), dtype=np.float64)
    inverted, upright = read_image(tmp_path / "mono1.dcm"), read_image(get_testdata_file("CT_small.dcm"))
    assert inverted.meta.value_scale < 0 < upright.meta.value_scale
    np.testing.assert_allclose(inverted.pixels, 1.0 - upright.pixels, atol=1e-7)
    display = inverted.pixels[:, :, 0]
    assert display.flat[np.argmin(expected)] == display.max()
    np.testing.assert_array_equal(np.rint(inverted.to_physical(display.astype(np.float64))), expected)


def test_frame_choice_and_missing_frame():
    frames = pydicom.dcmread(get_testdata_file("emri_small.dcm")).pixel_array
    first = read_image(get_testdata_file("emri_small.dcm"))
    fourth = read_image(get_testdata_file("emri_small.dcm"), page=3)
    assert first.meta.page_count == 10 and fourth.meta.page == 3
    np.testing.assert_allclose(np.rint(fourth.to_physical(fourth.pixels[:, :, 0].astype(np.float64))), frames[3])
    with pytest.raises(ImageReadError, match="frame 10 does not exist; the file has 10 frame"):
        read_image(get_testdata_file("emri_small.dcm"), page=10)


@pytest.mark.parametrize("compressed", ["emri_small_RLE.dcm", "emri_small_jpeg_ls_lossless.dcm",
                                        "emri_small_jpeg_2k_lossless.dcm"])
def test_lossless_compressed_frames_equal_the_uncompressed_file(compressed):
    plain = read_image(get_testdata_file("emri_small.dcm"), page=5)
    packed = read_image(get_testdata_file(compressed), page=5)
    np.testing.assert_array_equal(packed.pixels, plain.pixels)


def test_enhanced_ct_takes_rescale_from_functional_groups():
    dataset = pydicom.dcmread(get_testdata_file("eCT_Supplemental.dcm"))
    transform = dataset.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
    expected = dataset.pixel_array[1] * float(transform.RescaleSlope) + float(transform.RescaleIntercept)
    image = read_image(get_testdata_file("eCT_Supplemental.dcm"), page=1)
    np.testing.assert_array_equal(np.rint(image.to_physical(image.pixels[:, :, 0].astype(np.float64))), expected)
    assert image.meta.unit == "HU" and image.meta.windows


@pytest.mark.parametrize("name", ["SC_rgb_jpeg_gdcm.dcm", "SC_rgb_rle_16bit.dcm", "OBXXXX1A.dcm"])
def test_color_dicom_becomes_rgb(name):
    image = read_image(get_testdata_file(name))
    assert image.channels == 3 and image.meta.unit == "" and 0.0 <= image.pixels.min() and image.pixels.max() <= 1.0


@pytest.mark.parametrize("little, big", [("OBXXXX1A.dcm", "OBXXXX1A_expb.dcm"),
                                        ("OBXXXX1A_2frame.dcm", "OBXXXX1A_expb_2frame.dcm")])
def test_a_big_endian_palette_image_has_the_colours_of_its_little_endian_twin(little, big):
    expected = read_image(get_testdata_file(little)).pixels
    assert expected.max() > 0.9
    np.testing.assert_array_equal(read_image(get_testdata_file(big)).pixels, expected)


def test_an_enhanced_ct_measures_in_mm_with_the_spacing_of_its_functional_groups():
    from enhance_core.medical.roi import Roi, pixel_spacing, roi_stats, source_values

    path = get_testdata_file("eCT_Supplemental.dcm")
    shared = pydicom.dcmread(path, stop_before_pixels=True).SharedFunctionalGroupsSequence[0]
    expected = tuple(float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing)
    image = read_image(path, page=1)
    assert pixel_spacing(image.meta.dicom) == expected
    stats = roi_stats(source_values(image), Roi("rectangle", 30, 30, 60, 60), spacing=pixel_spacing(image.meta.dicom))
    assert stats.area_mm2 == pytest.approx(stats.count * expected[0] * expected[1])


def test_a_file_without_file_meta_is_decoded_in_the_encoding_its_header_was_read_in():
    from pydicom.pixels import apply_color_lut

    path = get_testdata_file("OT-PAL-8-face.dcm")
    dataset = pydicom.dcmread(path, force=True)
    assert "TransferSyntaxUID" not in dataset.file_meta
    dataset.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    expected = apply_color_lut(dataset.pixel_array, dataset) / 65535.0
    np.testing.assert_allclose(read_image(path).pixels, expected, atol=1e-6)


def test_a_sigmoid_voi_function_is_read_with_the_header_windows(tmp_path):
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.WindowCenter, dataset.WindowWidth, dataset.VOILUTFunction = [40, -600], [400, 1500], "SIGMOID"
    dataset.save_as(tmp_path / "sigmoid.dcm")
    windows = read_image(tmp_path / "sigmoid.dcm").meta.windows
    assert [(w.center, w.width, w.function) for w in windows] == [(40, 400, "sigmoid"), (-600, 1500, "sigmoid")]
    del dataset.VOILUTFunction
    dataset.save_as(tmp_path / "linear.dcm")
    assert {w.function for w in read_image(tmp_path / "linear.dcm").meta.windows} == {"linear"}


def test_a_dicomdir_says_to_open_its_folder():
    with pytest.raises(UnsupportedFormat, match="DICOMDIR is the index .* open its folder instead"):
        read_image(get_testdata_file("DICOMDIR"))


def test_dicom_without_image_and_unknown_codec_are_unsupported(tmp_path):
    with pytest.raises(UnsupportedFormat, match="holds no image"):
        read_image(get_testdata_file("rtplan.dcm"))
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.file_meta.TransferSyntaxUID = pydicom.uid.MPEG2MPML
    dataset.PixelData = encapsulate([dataset.PixelData])
    dataset.save_as(tmp_path / "video.dcm", enforce_file_format=True)
    with pytest.raises(UnsupportedFormat, match="MPEG2 Main Profile"):
        read_image(tmp_path / "video.dcm")


@pytest.mark.parametrize("name, size, kind", [("CT_small.dcm", 400, "CT Image Storage"),
                                               ("CT_small.dcm", 1200, "CT Image Storage"),
                                               ("rtdose.dcm", 600, "RT Dose Storage")])
def test_dicom_image_cut_off_in_its_header_is_called_truncated(tmp_path, name, size, kind):
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(Path(get_testdata_file(name)).read_bytes()[:size])
    with pytest.raises(ImageReadError, match=f"{kind} file but its header ends before the image size"):
        read_image(cut)


def test_truncated_dicom_is_a_read_error():
    with pytest.raises(ImageReadError,
                       match="holds 8,130 bytes but the header's size needs 8,192; the file is truncated"):
        read_image(get_testdata_file("MR_truncated.dcm"))


BLOCK_DECODERS = (
    "import sys\n"
    "for name in ('pylibjpeg', 'libjpeg', 'openjpeg', 'rle', 'gdcm'):\n"
    "    sys.modules[name] = None\n"
    "from enhance_core.cli import main\n"
    "sys.exit(main(['info', *sys.argv[1:]]))\n"
)


def test_missing_decoder_names_the_package_to_install():
    files = [get_testdata_file("JPEG-LL.dcm"), get_testdata_file("JPGExtended.dcm")]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", BLOCK_DECODERS, *files],
                          capture_output=True, text=True, timeout=120, env=environment)
    assert done.returncode == 1 and [json.loads(line)["file"] for line in done.stdout.splitlines()] == files
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2, done.stderr
    for path, line in zip(files, errors):
        assert path in line and "pip install pylibjpeg pylibjpeg-libjpeg" in line


def test_a_voi_lut_sequence_opens_as_the_file_asks(tmp_path):
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    entries = sqrt_lut(1500, 4095)
    with_voi_lut(dataset, entries, -500, 12).save_as(tmp_path / "lut.dcm")
    image = read_image(tmp_path / "lut.dcm")
    (window,) = image.meta.windows
    assert (window.name, window.function, window.center, window.width) == ("NORMAL", "file LUT", 249.5, 1499.0)
    assert default_window_params(image) == {"center": 249.5, "width": 1499.0, "function": "file LUT"}
    shown = render_image(image, (window_item(window),)).pixels[..., 0]
    hounsfield = apply_modality_lut(dataset.pixel_array, dataset)
    expected = entries[np.clip(np.round(hounsfield).astype(int) + 500, 0, 1499)] / 4095.0
    assert np.ptp(expected) > 0.5
    np.testing.assert_allclose(shown, expected, atol=1e-4)


def test_a_voi_lut_is_stretched_by_a_window_drag_and_monochrome1_shows_it_inverted(tmp_path):
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    entries = sqrt_lut(1001, 4095)
    with_voi_lut(dataset, entries, 0, 12).save_as(tmp_path / "lut.dcm")
    image = read_image(tmp_path / "lut.dcm")
    hounsfield = apply_modality_lut(dataset.pixel_array, dataset)
    item = with_window(window_item(image.meta.windows[0]), 1000.0, 2000.0)
    assert item.params.function == "file LUT"
    shown = render_image(image, (item,)).pixels[..., 0]
    stretched = np.interp(hounsfield, np.linspace(0.0, 2000.0, 1001), entries / 4095.0)
    np.testing.assert_allclose(shown, stretched, atol=1e-4)
    assert np.abs(shown - entries[np.clip(np.round(hounsfield).astype(int), 0, 1000)] / 4095.0).max() > 0.1
    dataset.PhotometricInterpretation = "MONOCHROME1"
    dataset.save_as(tmp_path / "inverted.dcm")
    inverted = read_image(tmp_path / "inverted.dcm")
    shown = render_image(inverted, (window_item(inverted.meta.windows[0]),)).pixels[..., 0]
    np.testing.assert_allclose(shown, 1.0 - entries[np.clip(np.round(hounsfield).astype(int), 0, 1000)] / 4095.0,
                               atol=1e-4)


def test_voi_lut_entries_of_12_bits_under_a_16_bit_descriptor_fill_the_display(tmp_path):
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    with_voi_lut(dataset, sqrt_lut(256, 4095), 0, 16).save_as(tmp_path / "lut.dcm")
    (window,) = read_image(tmp_path / "lut.dcm").meta.windows
    assert window.lut[0] == 0.0 and window.lut[-1] == 1.0


def test_a_damaged_voi_lut_is_not_offered_and_the_file_says_why(tmp_path):
    dataset = with_voi_lut(pydicom.dcmread(get_testdata_file("CT_small.dcm")), sqrt_lut(100, 4095), 0, 12)
    dataset.VOILUTSequence[0].LUTDescriptor = [4096, 0, 12]
    dataset.save_as(tmp_path / "short.dcm")
    image = read_image(tmp_path / "short.dcm")
    assert image.meta.windows == []
    assert ("the VOI LUT holds 100 entries where its descriptor promises 4096; it is not offered"
            in image.meta.extra["warnings"])


def test_a_file_lut_curve_on_an_image_without_one_is_refused_with_a_reason():
    item = make_item("window_level", {"center": 0.5, "width": 1.0, "function": "file LUT"})
    with pytest.raises(ParameterError, match="the file's VOI LUT, but the image has none; choose the linear"):
        render_image(Image(np.zeros((4, 4, 1), np.float32)), (item,))


@pytest.mark.parametrize(("data", "held"), [(b"hello world\n", "12 bytes"), (b"DICM", "4 bytes"),
                                             (bytes(range(256)) * 20, "5,120 bytes")])
def test_a_file_named_dcm_that_is_not_dicom_says_so(tmp_path, data, held):
    path = tmp_path / "scan.dcm"
    path.write_bytes(data)
    with pytest.raises(ImageReadError, match=f"it holds no DICOM header \\({held}\\): the file is damaged or not a "
                                             "DICOM file"):
        read_image(path)


def test_the_voi_lut_of_a_real_file_shows_as_pydicom_applies_it():
    """vlut_04.dcm (pydicom-data) holds a VOI LUT Sequence of 256 16-bit entries and no window."""
    from pydicom.pixels import apply_voi_lut

    path = get_testdata_file("vlut_04.dcm")
    dataset = pydicom.dcmread(path)
    image = read_image(path)
    assert [window.function for window in image.meta.windows] == ["file LUT"]
    shown = render_image(image, (window_item(image.meta.windows[0]),)).pixels[..., 0]
    expected = apply_voi_lut(apply_modality_lut(dataset.pixel_array, dataset), dataset) / 65535.0
    assert np.ptp(expected) == 1.0
    np.testing.assert_allclose(shown, expected, atol=1e-6)


def test_a_negative_first_mapped_value_written_unsigned_is_read_as_negative(tmp_path):
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    entries = sqrt_lut(1500, 4095)
    with_voi_lut(dataset, entries, -500, 12).save_as(tmp_path / "signed.dcm")
    item = dataset.VOILUTSequence[0]
    del item.LUTDescriptor
    item.add_new("LUTDescriptor", "US", [1500, 65536 - 500, 12])
    dataset.save_as(tmp_path / "unsigned.dcm")
    (signed,), (unsigned,) = (read_image(tmp_path / name).meta.windows for name in ("signed.dcm", "unsigned.dcm"))
    assert (unsigned.center, unsigned.width) == (signed.center, signed.width) == (249.5, 1499.0)


@pytest.mark.parametrize(("descriptor", "data", "reason"), [
    ([4, 0, 32], [0, 1, 2, 3], "the VOI LUT's descriptor gives 32 bits per entry, where 1 to 16 are possible"),
    ([1, 0, 12], 7, "the VOI LUT has a single entry"),
])
def test_a_voi_lut_that_cannot_be_shown_says_why(tmp_path, descriptor, data, reason):
    dataset = with_voi_lut(pydicom.dcmread(get_testdata_file("CT_small.dcm")), sqrt_lut(4, 4095), 0, 12)
    item = dataset.VOILUTSequence[0]
    item.LUTDescriptor = descriptor
    del item.LUTData
    item.add_new("LUTData", "US", data)
    dataset.save_as(tmp_path / "lut.dcm")
    image = read_image(tmp_path / "lut.dcm")
    assert image.meta.windows == [] and any(reason in warning for warning in image.meta.extra["warnings"])


def test_a_pet_unit_code_reads_as_the_unit_it_names(tmp_path):
    import pydicom
    from pydicom.data import get_testdata_file

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.Modality, dataset.Units = "PT", "BQML"
    dataset.save_as(tmp_path / "pet.dcm")
    assert read_image(tmp_path / "pet.dcm").meta.unit == "Bq/ml"


def test_a_ct_mapped_through_a_modality_lut_is_in_the_unit_the_lut_names(tmp_path):
    """Only RescaleType and RescaleIntercept were read: a CT through a Modality LUT Sequence had no unit."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del dataset.RescaleSlope, dataset.RescaleIntercept
    stored = np.clip(dataset.pixel_array.astype(np.int32) - dataset.pixel_array.min(), 0, 4095).astype(np.uint16)
    dataset.PixelRepresentation, dataset.BitsStored, dataset.HighBit = 0, 12, 11
    dataset.PixelData = stored.tobytes()
    lut = Dataset()
    lut.LUTDescriptor, lut.ModalityLUTType = [4096, 0, 16], "HU"
    lut.add_new("LUTData", "OW", (np.arange(4096) * 2).astype("<u2").tobytes())
    dataset.ModalityLUTSequence = Sequence([lut])
    dataset.save_as(tmp_path / "ct_lut.dcm", enforce_file_format=True)
    image = read_image(tmp_path / "ct_lut.dcm")
    assert image.meta.unit == "HU"
    np.testing.assert_allclose(image.to_physical(image.pixels[..., 0].astype(np.float64)),
                               apply_modality_lut(stored, dataset), atol=0.01)


def test_overlay_planes_and_a_window_of_width_0_are_told_not_dropped_silently(tmp_path):
    overlaid = read_image(get_testdata_file("examples_overlay.dcm"))
    assert any("1 overlay plane(s) (group 6000" in warning and "neither shows nor exports" in warning
               for warning in overlaid.meta.extra["warnings"])
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.WindowCenter, dataset.WindowWidth = [40, 300], [0, 1500]
    dataset.save_as(tmp_path / "width0.dcm")
    image = read_image(tmp_path / "width0.dcm")
    assert [(window.center, window.width) for window in image.meta.windows] == [(300.0, 1500.0)]
    assert any("header window 40 / 0 " in warning and "left out" in warning
               for warning in image.meta.extra["warnings"])
    assert "warnings" not in read_image(get_testdata_file("CT_small.dcm")).meta.extra


def test_a_ct_object_without_an_image_is_called_so_not_undecodable():
    """Its header read the other byte order raised OSError, which sent the message to 'cannot decode this file'."""
    with pytest.raises(ImageReadError, match="it is a CT Image Storage file but its header ends before the image"):
        read_image(get_testdata_file("UN_sequence.dcm"))
