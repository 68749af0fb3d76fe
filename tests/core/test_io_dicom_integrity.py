"""Damaged DICOM is refused or opens with a visible warning, never as a silently wrong image (issue #21)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate, generate_fragments

from enhance_core.cli import main
from enhance_core.cli.info import strict_json
from enhance_core.errors import DicomSeriesError, ImageReadError
from enhance_core.io import read_image

from .dicom_fixtures import write_multi_frame
from .hostile_files import rescaled_dicom, truncated_jpeg_ls_dicom

COMPRESSED = ["MR_small_jpeg_ls_lossless.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm", "SC_rgb_jpeg_dcmtk.dcm",
              "MR_small_jp2klossless.dcm", "JPEG-LL.dcm"]


def pixel_data_offset(path: str) -> int:
    """Where the Pixel Data element starts in ``path``."""
    with open(path, "rb") as handle:
        pydicom.dcmread(handle, stop_before_pixels=True)
        return handle.tell()


def test_head_c_1608_of_a_jpeg_ls_file_is_refused(tmp_path, capfd):
    path = truncated_jpeg_ls_dicom(tmp_path)
    with pytest.raises(ImageReadError,
                       match="cut short inside fragment 2 .4,430 bytes announced.; the file is truncated"):
        read_image(path)
    assert main(["info", str(path)]) == 2
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1


@pytest.mark.parametrize("name", COMPRESSED)
def test_compressed_dicom_cut_anywhere_in_its_pixel_data_is_refused(tmp_path, name):
    source = get_testdata_file(name)
    data = Path(source).read_bytes()
    start = pixel_data_offset(source)
    assert read_image(source).rows > 0
    for part in range(1, 8):
        cut = tmp_path / f"cut{part}.dcm"
        cut.write_bytes(data[:start + (len(data) - start) * part // 8])
        with pytest.raises(ImageReadError, match="truncated|cut short"):
            read_image(cut)


def test_native_pixel_data_shorter_than_the_header_says_is_refused(tmp_path):
    data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    path = tmp_path / "short.dcm"
    path.write_bytes(data[:-200])
    with pytest.raises(ImageReadError, match="holds 32,706 bytes but the header's size needs 32,768"):
        read_image(path)


def test_native_pixel_data_holding_more_frames_than_the_header_says_is_refused(tmp_path):
    """NumberOfFrames damaged from 3 to 2: opening would hide a frame."""
    path = write_multi_frame(tmp_path / "more.dcm", 2, 3)
    with pytest.raises(ImageReadError, match=r"more\.dcm: the pixel data holds 3 frames of 128 x 128, but the header "
                                             r"says 2; the header is damaged \(NumberOfFrames\)"):
        read_image(path)


def test_native_pixel_data_longer_than_the_size_by_less_than_a_frame_opens_with_a_warning(tmp_path):
    """Padding, or Columns damaged from 128 to 127 (a sheared picture): the pixels cannot tell which, the user can."""
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.Columns = 127
    path = tmp_path / "sheared.dcm"
    dataset.save_as(path, enforce_file_format=True)
    image = read_image(path)
    assert image.pixels.shape == (128, 127, 1)
    assert any(warning.startswith("the pixel data holds 256 bytes more than a 127 x 128 image needs")
               for warning in image.meta.extra["warnings"])


def test_colour_samples_marked_signed_are_read_unsigned_with_a_warning(tmp_path):
    dataset = pydicom.dcmread(get_testdata_file("SC_rgb.dcm"))
    expected = read_image(get_testdata_file("SC_rgb.dcm")).pixels
    dataset.PixelRepresentation = 1
    path = tmp_path / "signed.dcm"
    dataset.save_as(path, enforce_file_format=True)
    image = read_image(path)
    np.testing.assert_array_equal(image.pixels, expected)
    assert any("marks the colour samples signed" in warning for warning in image.meta.extra["warnings"])


def test_colour_samples_beyond_their_bits_stored_are_read_at_their_own_depth(tmp_path):
    """A compressed frame decodes at 8 bits whatever BitsStored says (3 here): values must stay in 0-1."""
    dataset = pydicom.dcmread(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm"))
    dataset.BitsStored, dataset.HighBit = 3, 2
    path = tmp_path / "bits3.dcm"
    dataset.save_as(path, enforce_file_format=True)
    image = read_image(path)
    assert image.pixels.min() >= 0.0 and 0.5 < image.pixels.max() <= 1.0
    assert image.meta.bit_depth == 8
    assert any("more than the 3 bits the header says they hold" in warning for warning in image.meta.extra["warnings"])


def test_colour_samples_cut_to_a_bits_stored_under_8_are_said_to_be_suspect(tmp_path):
    """pydicom cuts uncompressed and lossless samples to BitsStored before they are read: 4 bits of an 8-bit RGB
    picture opened with wrong colours and no warning (a radiologist's walk-through)."""
    dataset = pydicom.dcmread(get_testdata_file("SC_rgb.dcm"))
    dataset.BitsStored, dataset.HighBit = 4, 3
    dataset.save_as(tmp_path / "bits4.dcm", enforce_file_format=True)
    warnings = read_image(tmp_path / "bits4.dcm").meta.extra["warnings"]
    assert any("hold 4 bits (BitsStored), which colour pictures never do" in warning for warning in warnings)
    assert "warnings" not in read_image(get_testdata_file("SC_rgb.dcm")).meta.extra


def test_a_byte_order_check_short_of_memory_still_names_what_is_wrong(tmp_path, monkeypatch):
    """Read in the other byte order a damaged length can ask for 4 GB; under a memory limit that raised MemoryError,
    and the user was told to close other programs instead of what is wrong with the file."""
    from enhance_core.io import dicom_checks

    def huge(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(dicom_checks, "read_dataset", huge)
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del dataset.Rows, dataset.Columns
    path = tmp_path / "no_size.dcm"
    dataset.save_as(path, enforce_file_format=True)
    with pytest.raises(ImageReadError, match="no_size.dcm: it is a CT Image Storage file but its header ends before "
                                             "the image size"):
        read_image(path)


def test_a_header_without_pixel_data_is_not_only_called_truncated(tmp_path):
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    del dataset.PixelData
    dataset.save_as(tmp_path / "header.dcm")
    with pytest.raises(ImageReadError, match="ends after its header, with no pixel data: it was cut short, or saved "
                                             "without its image"):
        read_image(tmp_path / "header.dcm")


def test_codestream_without_its_end_marker_opens_with_a_visible_warning(tmp_path, capfd):
    dataset = pydicom.dcmread(get_testdata_file("MR_small_jpeg_ls_lossless.dcm"))
    codestream = b"".join(generate_fragments(dataset.PixelData)).rstrip(b"\x00")
    assert codestream.endswith(b"\xff\xd9")
    dataset.PixelData = encapsulate([codestream[:-2]])
    path = tmp_path / "no_eoi.dcm"
    dataset.save_as(path, enforce_file_format=True)
    warning = "the last compressed frame does not end with its end-of-image marker; its pixels may be incomplete"
    assert read_image(path).meta.extra["warnings"] == [warning]
    assert main(["info", str(path)]) == 0
    captured = capfd.readouterr()
    assert json.loads(captured.out)["warnings"] == [warning]
    assert captured.err == f"warning: {path}: {warning}\n"


@pytest.mark.parametrize(("slope", "intercept", "reason"), [
    ("NaN", "0", "RescaleSlope is nan, not a finite number"),
    ("inf", "0", "RescaleSlope is inf, not a finite number"),
    ("-inf", "0", "RescaleSlope is -inf, not a finite number"),
    ("1", "NaN", "RescaleIntercept is nan, not a finite number"),
    ("0", "0", "RescaleSlope is 0, which maps every pixel to the same value"),
    ("1e308", "0", "the rescale values map the stored pixels to [-inf, inf]"),
    ("1", "1e308", "map the stored pixels to [1e+308, 1e+308]"),
    ("1e36", "0", "map the stored pixels to [-3.2768e+40, 3.2767e+40]"),
])
def test_absurd_rescale_values_are_refused_with_one_line(tmp_path, capfd, slope, intercept, reason):
    path = rescaled_dicom(tmp_path, slope, intercept)
    with pytest.raises(ImageReadError, match=reason.replace("[", r"\[").replace("+", r"\+")):
        read_image(path)
    assert main(["info", str(path)]) == 2
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and reason in captured.err


def test_large_but_representable_rescale_values_still_map_exactly(tmp_path):
    image = read_image(rescaled_dicom(tmp_path, "1e30", "0"))
    low, high = image.meta.extra["value_range"]
    assert math.isfinite(low) and math.isfinite(high) and high > low
    stored = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array[0, 0]
    assert image.to_physical(image.pixels[0, 0, 0]) == pytest.approx(1e30 * float(stored), rel=1e-5)


def test_non_finite_windows_are_dropped_and_info_stays_json(tmp_path, capfd):
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    with pydicom.config.disable_value_validation():
        dataset.WindowCenter = ["NaN", "40"]
        dataset.WindowWidth = ["400", "inf"]
    path = tmp_path / "windows.dcm"
    dataset.save_as(path, enforce_file_format=True)
    assert read_image(path).meta.windows == []
    assert main(["info", str(path)]) == 0
    assert json.loads(capfd.readouterr().out)["windows"] == []


def test_a_header_window_the_window_step_cannot_take_is_left_out_with_a_warning(tmp_path, capfd):
    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.WindowCenter, dataset.WindowWidth = ["1e15", "40", "-600"], ["400", "5e12", "1500"]
    path = tmp_path / "windows.dcm"
    dataset.save_as(path, enforce_file_format=True)
    image = read_image(path)
    assert [(window.center, window.width) for window in image.meta.windows] == [(-600.0, 1500.0)]
    assert image.meta.extra["warnings"] == [
        "WindowCenter 1e+15 lies beyond ±1e+12, more than the window/level step takes; that header window "
        "(1e+15 / 400) is left out",
        "WindowWidth 5e+12 is above 2e+12, more than the window/level step takes; that header window (40 / 5e+12) "
        "is left out"]
    assert main(["info", str(path)]) == 0
    captured = capfd.readouterr()
    assert json.loads(captured.out)["windows"] == [{"center": -600.0, "width": 1500.0, "name": ""}]
    assert "WindowCenter 1e+15 lies beyond" in captured.err


def test_info_json_never_holds_nan():
    assert strict_json({"value_range": [float("nan"), 1.5], "windows": [{"center": float("inf")}]}) == {
        "value_range": [None, 1.5], "windows": [{"center": None}]}


def test_warnings_of_a_non_conformant_file_reach_info(capfd):
    path = get_testdata_file("SC_rgb_jpeg.dcm")
    assert main(["info", path]) == 0
    facts = json.loads(capfd.readouterr().out)
    assert facts["warnings"] == ["the file is written with implicit VR, which its transfer syntax, JPEG Baseline "
                                 "(Process 1), does not allow; it is read as written (other programs may need the "
                                 "file re-exported)"]


@pytest.mark.parametrize(("name", "marker", "offset"), [("JPEG2000.dcm", b"\xff\x4f\xff\x51", 8),
                                                        ("SC_rgb_jpeg_dcmtk.dcm", b"\xff\xc0", 7)])
def test_codestream_claiming_another_size_than_the_header_is_refused_before_decoding(tmp_path, name, marker, offset):
    """A JPEG 2000 decoder trusts its codestream: 16 711 936 columns in a 256-column frame took 21 GB."""
    data = bytearray(Path(get_testdata_file(name)).read_bytes())
    start = data.index(marker, pixel_data_offset(get_testdata_file(name)))
    data[start + offset:start + offset + 2] = b"\x7f\xff"
    path = tmp_path / "forged.dcm"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match=r"fragment 2 holds a codestream of \d+ x \d+ pixels but the header says"):
        read_image(path)


def restated(tmp_path: Path, name: str, transfer_syntax: pydicom.uid.UID) -> Path:
    """A copy of test file ``name`` whose file meta names ``transfer_syntax`` while its data stays as it was.

    The UID is replaced in place where it has the length of the file's own (so native pixels can be called
    compressed); pydicom rewrites the file otherwise.
    """
    source = get_testdata_file(name)
    dataset = pydicom.dcmread(source)
    path = tmp_path / f"{Path(name).stem}_as_{transfer_syntax.keyword}.dcm"
    old, new = (uid.encode() + b"\x00" * (len(uid) % 2)
                for uid in (str(dataset.file_meta.TransferSyntaxUID), str(transfer_syntax)))
    if len(old) == len(new):
        path.write_bytes(Path(source).read_bytes().replace(old, new, 1))
    else:
        dataset.file_meta.TransferSyntaxUID = transfer_syntax
        pydicom.dcmwrite(path, dataset)
    return path


@pytest.mark.parametrize(("name", "stated", "reason"), [
    ("JPEG2000.dcm", pydicom.uid.ExplicitVRLittleEndian,
     r"says the pixel data is uncompressed \(Explicit VR Little Endian\), but it is stored as compressed fragments "
     r"\(JPEG 2000 data\)"),
    ("SC_rgb_rle.dcm", pydicom.uid.ImplicitVRLittleEndian,
     r"uncompressed \(Implicit VR Little Endian\), but it is stored as compressed fragments \(RLE data\)"),
    ("CT_small.dcm", pydicom.uid.RLELossless,
     "says the pixel data is compressed as RLE Lossless, but it holds the 32,768 bytes of uncompressed pixels"),
    ("JPEG2000.dcm", pydicom.uid.RLELossless, "compressed as RLE Lossless, but it holds JPEG 2000 data"),
    ("MR_small_RLE.dcm", pydicom.uid.JPEGLSLossless, "compressed as JPEG-LS Lossless Image Compression, but it holds "
                                                     "RLE data"),
    ("SC_rgb_jpeg_dcmtk.dcm", pydicom.uid.JPEG2000Lossless, "but it holds JPEG data"),
])
def test_a_transfer_syntax_that_misstates_the_pixel_data_is_named_not_called_truncated(tmp_path, capfd, name,
                                                                                         stated, reason):
    path = restated(tmp_path, name, stated)
    with pytest.raises(ImageReadError, match=reason + r"; the transfer syntax in its file meta \(0002,0010\) is wrong"):
        read_image(path)
    assert main(["info", str(path)]) == 2
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "truncated" not in captured.err


def test_a_little_endian_file_called_big_endian_is_named_not_called_truncated(tmp_path):
    data = bytearray(Path(get_testdata_file("CT_small.dcm")).read_bytes())
    stated = data.index(str(pydicom.uid.ExplicitVRLittleEndian).encode())
    data[stated:stated + 20] = str(pydicom.uid.ExplicitVRBigEndian).encode() + b"\x00"
    path = tmp_path / "big.dcm"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="says the file is written as Explicit VR Big Endian, but it is written "
                                             "little endian; the transfer syntax in its file meta"):
        read_image(path)


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm", "SC_rgb_jpeg_dcmtk.dcm",
                                  "MR_small_jpeg_ls_lossless.dcm", "JPEG-LL.dcm", "MR_small_bigendian.dcm"])
def test_files_whose_transfer_syntax_is_right_still_open(name):
    assert read_image(get_testdata_file(name)).rows > 0


@pytest.mark.parametrize("name", ["CT_small.dcm", "SC_rgb.dcm"])
def test_explicit_vr_pixel_data_under_an_implicit_vr_syntax_is_read_as_written_with_a_warning(tmp_path, name):
    data = Path(get_testdata_file(name)).read_bytes()
    stated = str(pydicom.uid.ExplicitVRLittleEndian).encode() + b"\x00"
    path = tmp_path / "implicit.dcm"
    path.write_bytes(data.replace(stated, str(pydicom.uid.ImplicitVRLittleEndian).encode().ljust(len(stated), b"\x00"),
                                  1))
    image = read_image(path)
    np.testing.assert_array_equal(image.pixels, read_image(get_testdata_file(name)).pixels)
    assert image.meta.extra["warnings"] == [
        "the header says Implicit VR Little Endian, but the file is written with explicit VR; it is read as written "
        "(the transfer syntax in its file meta (0002,0010) is wrong; other programs may need the file re-exported)"]


def test_a_transfer_syntax_uid_that_is_none_is_named(tmp_path, capfd):
    data = Path(get_testdata_file("CT_small.dcm")).read_bytes()
    path = tmp_path / "made_up.dcm"
    path.write_bytes(data.replace(str(pydicom.uid.ExplicitVRLittleEndian).encode(), b"1.2.3.4.5.6.7.8.9.1", 1))
    assert main(["info", str(path)]) == 2
    captured = capfd.readouterr()
    assert captured.err.count("\n") == 1 and ("its file meta names 1.2.3.4.5.6.7.8.9.1 as the transfer syntax "
                                              "(0002,0010), which is not a DICOM transfer syntax") in captured.err


def test_implicit_vr_pixel_data_whose_odd_length_spells_a_vr_still_opens(tmp_path):
    """16 975 bytes (97 x 175, unpadded) read as 'OB\\0\\0': the length that fits the image wins over the VR look."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import SecondaryCaptureImageStorage, generate_uid

    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID = SecondaryCaptureImageStorage
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID = generate_uid()
    dataset.Rows, dataset.Columns, dataset.SamplesPerPixel = 97, 175, 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated = dataset.BitsStored = 8
    dataset.HighBit, dataset.PixelRepresentation = 7, 0
    pixels = np.full((97, 175), 200, np.uint8)
    pixels[0, :2] = 0
    dataset.PixelData = pixels.tobytes()
    path = tmp_path / "odd.dcm"
    dataset.save_as(path, enforce_file_format=False)
    data = bytearray(path.read_bytes())
    start = data.rindex(b"\xe0\x7f\x10\x00")
    data[start + 4:start + 8] = (97 * 175).to_bytes(4, "little")
    path.write_bytes(bytes(data[:-1]))
    assert bytes(data[start + 4:start + 8]) == b"OB\x00\x00"
    np.testing.assert_array_equal(read_image(path).pixels[..., 0], pixels / np.float32(255.0))


def test_compressed_pixel_data_with_fewer_fragments_than_claimed_frames_is_refused_at_once(tmp_path):
    from enhance_core.io.dicom import check_frames
    from enhance_core.medical.series import scan_series

    dataset = pydicom.dcmread(get_testdata_file("emri_small_RLE.dcm"))
    assert check_frames(Path(get_testdata_file("emri_small_RLE.dcm"))) == 10
    dataset.NumberOfFrames = 5_000_000
    path = tmp_path / "claims.dcm"
    dataset.save_as(path)
    reason = "says the file holds 5,000,000 frames, but its compressed pixel data holds 10 fragment"
    with pytest.raises(ImageReadError, match=reason):
        read_image(path)
    with pytest.raises(ImageReadError, match=reason):
        check_frames(path)
    with pytest.raises(DicomSeriesError, match=reason):
        scan_series(tmp_path)
