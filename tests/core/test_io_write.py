"""Writing is atomic, refuses to overwrite its own source, and rejects what a format cannot hold."""

from __future__ import annotations

import numpy as np
import pytest

from enhance_core.errors import ImageWriteError, ParameterError
from enhance_core.io import read_image, write_image
from enhance_core.io import writer as writer_module

from .io_fixtures import make_image
from .locked_folders import lock_folder


def test_refuses_to_overwrite_its_source_unless_asked(tmp_path):
    source = write_image(make_image(), tmp_path / "photo.png")
    before = source.read_bytes()
    image = read_image(source)
    with pytest.raises(ImageWriteError,
                       match="own source file; refusing to overwrite it. Save under another name") as caught:
        write_image(image.with_pixels(1.0 - image.pixels), source)
    assert str(source) in str(caught.value)
    assert source.read_bytes() == before
    write_image(image.with_pixels(1.0 - image.pixels), tmp_path / "." / "photo.png", overwrite_source=True)
    assert source.read_bytes() != before


def test_memory_running_out_while_encoding_is_said_in_one_line_naming_the_file(tmp_path, monkeypatch):
    """convert of a 115 MP 16-bit scan to PNG under a 3 GiB limit printed a traceback ending in MemoryError."""
    target = write_image(make_image(), tmp_path / "keep.png")
    before = target.read_bytes()

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(writer_module, "encode_png_image", out_of_memory)
    with pytest.raises(ImageWriteError, match=r"keep\.png: not enough memory to encode it as PNG.*left unchanged"):
        write_image(make_image(), target)
    assert target.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]


def test_failed_encode_leaves_the_target_untouched_and_no_temp_file(tmp_path, monkeypatch):
    target = write_image(make_image(), tmp_path / "keep.png")
    before = target.read_bytes()

    def explode(*args, **kwargs):
        raise ValueError("encoder blew up")

    monkeypatch.setattr(writer_module, "encode_png_image", explode)
    with pytest.raises(ImageWriteError, match="encoder failed .*encoder blew up.*left unchanged"):
        write_image(make_image(), target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_unknown_suffix_and_unsupported_depth(tmp_path):
    with pytest.raises(ImageWriteError, match="cannot write '.gif'; end the name with one of"):
        write_image(make_image(), tmp_path / "out.gif")
    with pytest.raises(ImageWriteError, match="JPEG holds 8-bit samples, not 16-bit ones; choose that or"):
        write_image(make_image(), tmp_path / "out.jpg", bit_depth=16)
    with pytest.raises(ParameterError, match="quality must be an integer from 1 to 100"):
        write_image(make_image(), tmp_path / "out.jpg", quality=0)


def test_missing_folder_and_folder_target(tmp_path):
    with pytest.raises(ImageWriteError, match="does not exist; create it first"):
        write_image(make_image(), tmp_path / "missing" / "out.png")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(ImageWriteError, match="is a folder"):
        write_image(make_image(), tmp_path / "dir.png")
    (tmp_path / "taken.jpg").write_bytes(b"x")
    for target in (tmp_path / "taken.jpg" / "out.png", tmp_path / "taken.jpg" / "sub" / "out.png"):
        with pytest.raises(ImageWriteError, match="taken.jpg is a file, not a folder; choose a folder"):
            write_image(make_image(), target)


@pytest.mark.parametrize("listable", [True, False])
def test_a_target_in_a_folder_that_cannot_be_entered_names_that_folder(tmp_path, monkeypatch, listable):
    locked = tmp_path / "locked"
    (locked / "sub").mkdir(parents=True)
    lock_folder(monkeypatch, locked, listable=listable)
    for target in (locked / "out.png", locked / "sub" / "out.png", locked / "missing" / "out.png"):
        with pytest.raises(ImageWriteError) as caught:
            write_image(make_image(), target)
        assert str(caught.value) == (f"{target}: permission denied: the folder {locked} cannot be entered; check the "
                                     "folder's permissions or choose another folder to write in")
        assert caught.value.storage


def test_returns_the_written_path(tmp_path):
    assert write_image(make_image(), str(tmp_path / "a.tif")) == tmp_path / "a.tif"


@pytest.mark.parametrize("bits", [8, 16])
def test_quantizing_in_bands_of_rows_gives_the_whole_array_s_codes(monkeypatch, bits) -> None:
    from enhance_core.io import samples

    values = np.random.default_rng(4).uniform(-0.2, 1.2, (37, 11, 3)).astype(np.float32)
    values[3, 4, 1] = np.nan
    whole = samples.quantize(values, bits)
    maximum = (1 << bits) - 1
    expected = np.rint(np.clip(np.nan_to_num(values * np.float32(maximum), nan=0.0), 0, maximum))
    np.testing.assert_array_equal(whole, expected.astype(whole.dtype))
    monkeypatch.setattr(samples, "QUANTIZE_BAND", 50)
    np.testing.assert_array_equal(samples.quantize(values, bits), whole)


def test_a_jpeg_wider_than_the_format_holds_is_refused_before_encoding_with_what_to_do(tmp_path):
    import numpy as np

    from enhance_core.errors import ImageWriteError
    from enhance_core.image import Image
    from enhance_core.io import write_image

    with pytest.raises(ImageWriteError, match=r"JPEG holds at most 65,500 pixels a side and this picture is 70,000 "
                                              r"x 1: choose PNG or TIFF, or export it smaller"):
        write_image(Image(np.zeros((1, 70000, 3), np.float32)), tmp_path / "wide.jpg")
    with pytest.raises(ImageWriteError, match="65,501 x 2"):  # libjpeg's limit: above it the file did not read back
        write_image(Image(np.zeros((2, 65501, 3), np.float32)), tmp_path / "wide.jpg")
    assert not list(tmp_path.iterdir())
    widest = write_image(Image(np.zeros((2, 65500, 3), np.float32)), tmp_path / "widest.jpg")
    assert read_image(widest).cols == 65500


def test_the_source_is_refused_under_any_spelling_of_its_path(tmp_path, monkeypatch):
    import os

    source = write_image(make_image(), tmp_path / "photo.png")
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path, tmp_path / "link")
    monkeypatch.chdir(tmp_path / "sub")
    image, before = read_image(source), source.read_bytes()
    for alias in (tmp_path / "sub" / ".." / "photo.png", tmp_path / "link" / "photo.png", "../photo.png"):
        with pytest.raises(ImageWriteError, match="own source file"):
            write_image(image.with_pixels(1.0 - image.pixels), alias)
    assert source.read_bytes() == before


@pytest.mark.parametrize(("bits", "wanted"), [(8, 8), (10, 16), (12, 16), (16, 16)])
def test_a_source_of_more_than_8_bits_exports_at_16_by_default(tmp_path, bits, wanted):
    from enhance_core.image import Image, ImageMeta

    levels = (1 << bits) - 1
    ramp = (np.arange(64 * 64).reshape(64, 64, 1) % (levels + 1) / levels).astype(np.float32)
    path = write_image(Image(ramp, meta=ImageMeta(bit_depth=bits)), tmp_path / "out.png")
    back = read_image(path)
    assert back.meta.bit_depth == wanted
    assert len(np.unique(back.pixels)) == min(levels + 1, 64 * 64), "every level the source has is kept"


def test_a_target_the_system_refuses_to_replace_names_a_program_holding_it_open(tmp_path, monkeypatch):
    """Windows refuses to replace a file another program has open; the message only said to check the folder."""
    from enhance_core import atomic

    target = tmp_path / "out.png"
    target.write_bytes(b"the user's")

    def held_open(source, destination) -> None:
        raise PermissionError(13, "Access is denied", str(destination))

    monkeypatch.setattr(atomic.os, "replace", held_open)
    with pytest.raises(ImageWriteError) as refused:
        write_image(make_image(), target)
    assert "open" not in str(refused.value), "elsewhere an open file never blocks a replace"
    monkeypatch.setattr(writer_module.sys, "platform", "win32")
    with pytest.raises(ImageWriteError) as refused:
        write_image(make_image(), target)
    monkeypatch.undo()
    assert "and that no other program has out.png open" in str(refused.value)
    assert target.read_bytes() == b"the user's"
