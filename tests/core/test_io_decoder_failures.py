"""Whatever a decoder does on a hostile file, the caller gets the typed error for that file (issue #21)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from pydicom.pixels import pixel_array

from enhance_core import batch, errors
from enhance_core.batch import FileTask, process_file
from enhance_core.cli import main
from enhance_core.errors import ImageReadError
from enhance_core.io import dicom, read_image
from enhance_core.io import reader as reader_module
from enhance_core.stack import make_item

from .hostile_files import bytes_length_dicom, rle_panic_dicom, zero_tile_tiff, zero_width_tiff
from .io_fixtures import make_image


def one_line_error(path: Path, *words: str) -> str:
    """Read ``path``, expect an ImageReadError naming it on one line with ``words``; return the message."""
    with pytest.raises(ImageReadError) as caught:
        read_image(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message and len(message) < 400, message
    for word in words:
        assert word in message, message
    return message


def test_damaged_rle_dicom_is_a_read_error(tmp_path):
    one_line_error(rle_panic_dicom(tmp_path), "an RLE segment decodes to 4,177 bytes where the frame holds 4,096")


def test_a_rust_panic_in_a_decoder_becomes_the_typed_error(tmp_path, monkeypatch):
    """pylibjpeg-rle panics on the damaged file; the PanicException (a BaseException) must not escape."""
    monkeypatch.setattr(dicom, "_decode_frame",
                        lambda path, index, syntax, whole=False: pixel_array(path, index=index,
                                                                             decoding_plugin="pylibjpeg"))
    one_line_error(rle_panic_dicom(tmp_path), "cannot decode this DICOM file (PanicException: index out of bounds")


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_the_user_stopping_the_program_is_not_a_read_error(tmp_path, monkeypatch, stop):
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))

    def interrupted(*args, **kwargs):
        raise stop()

    monkeypatch.setitem(reader_module.READERS, "PNG", interrupted)
    with pytest.raises(stop):
        read_image(path)


def test_any_other_base_exception_from_a_decoder_is_typed(tmp_path, monkeypatch):
    class NativePanic(BaseException):
        pass

    def panics(*args, **kwargs):
        raise NativePanic("called `Option::unwrap()` on a `None` value")

    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    monkeypatch.setitem(reader_module.READERS, "PNG", panics)
    one_line_error(path, "cannot decode this PNG file (NativePanic: called `Option::unwrap()`")


def test_a_decoder_message_naming_a_python_object_leaves_the_object_out(tmp_path, monkeypatch):
    """Pillow's 'cannot identify image file <_io.BytesIO object at 0x7f78a3957790>' reached the user as it was."""
    from PIL import UnidentifiedImageError

    def unidentified(*args, **kwargs):
        raise UnidentifiedImageError("cannot identify image file <_io.BytesIO object at 0x7f78a3957790>")

    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    monkeypatch.setitem(reader_module.READERS, "PNG", unidentified)
    message = one_line_error(path, "cannot decode this PNG file (UnidentifiedImageError: cannot identify image file);")
    assert "0x" not in message and "BytesIO" not in message


@pytest.mark.parametrize("kind", [errors.ImageReadError, errors.UnsupportedFormat, errors.DecompressionBomb,
                                  errors.MissingDecoder, errors.DicomSeriesError, errors.ImageWriteError])
def test_typed_file_errors_survive_pickling_to_the_parent_process(kind):
    error = kind(Path("/scans/p.dcm"), "the pixel data is damaged")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is kind and copy.path == error.path and copy.reason == error.reason
    assert str(copy) == str(error) == "/scans/p.dcm: the pixel data is damaged"


def test_bytes_length_exception_is_a_read_error(tmp_path):
    one_line_error(bytes_length_dicom(tmp_path), "element (0028,0011) has a length that does not fit its value type")


def test_tiled_tiff_with_a_zero_tile_side_is_a_read_error(tmp_path):
    one_line_error(zero_tile_tiff(tmp_path), "TIFF tiles of 16 x 0 pixels")


def test_tiff_with_a_broken_width_is_one_clear_error_in_convert(tmp_path, capfd):
    path = zero_width_tiff(tmp_path)
    one_line_error(path, "claims 0 x 48 pixels", "header is damaged")
    target = tmp_path / "out.png"
    assert main(["convert", str(path), str(target)]) == 2
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "claims 0 x 48 pixels" in captured.err
    assert not target.exists()


def test_batch_goes_on_when_a_file_raises_a_base_exception(tmp_path, monkeypatch):
    class NativePanic(BaseException):
        pass

    def panics(path, **kwargs):
        raise NativePanic("index out of bounds")

    monkeypatch.setattr(batch, "read_image", panics)
    task = FileTask(tmp_path / "p.dcm", tmp_path / "out" / "p.png", (make_item("gaussian_blur"),))
    result = process_file(task)
    assert result.output is None and result.error == f"{task.source}: unexpected NativePanic: index out of bounds"


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_apply_finishes_with_a_summary_whatever_one_file_does(tmp_path, capfd, jobs):
    from enhance_core.io import write_image

    folder = tmp_path / "in"
    folder.mkdir()
    rle_panic_dicom(folder)
    for name in ("a.png", "z.png"):
        write_image(make_image(rows=24, cols=32, bit_depth=8), folder / name)
    out = tmp_path / "out"
    assert main(["apply", "--filter", "gaussian_blur", "--jobs", jobs, "-o", str(out), str(folder)]) == 1
    captured = capfd.readouterr()
    assert "failed: " in captured.err and "panic.dcm: an RLE segment decodes to 4,177 bytes" in captured.err
    assert "done: 2 of 3 file(s) written" in captured.out
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "enhance-manifest.jsonl", "z.png"]


def test_boolean_samples_backed_by_other_bytes_still_map_to_0_and_1():
    """Found by the fuzzer: a TIFF with a damaged BitsPerSample decoded to a bool array holding 253."""
    import numpy as np

    from enhance_core.io.samples import to_unit_pixels

    pixels, _ = to_unit_pixels(np.array([[0, 1, 253]], dtype=np.uint8).view(np.bool_), has_alpha=False)
    assert pixels[0, :, 0].tolist() == [0.0, 1.0, 1.0]
