"""``enhance-studio info``: JSON per file, DICOM facts, progress and per-file errors on stderr."""

from __future__ import annotations

import json

from pydicom.data import get_testdata_file

from enhance_core.cli import main
from enhance_core.io import write_image

from .io_fixtures import camera_exif, make_image
from .locked_folders import lock_folder


def test_info_prints_the_facts_of_a_photo(tmp_path, capsys):
    image = make_image(rows=30, cols=40, bit_depth=16, alpha=True)
    image.meta.exif = camera_exif(orientation=6)
    path = write_image(image, tmp_path / "photo.png")
    assert main(["info", str(path)]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts == {
        "file": str(path), "width": 40, "height": 30, "channels": 3, "bit_depth": 16, "float": False,
        "format": "PNG", "orientation": 1, "icc": True, "exif": True, "dpi": None, "alpha": True, "page": 0,
        "page_count": 1,
    }


def test_info_reports_dicom_modality_windows_unit_and_physical_range(capsys):
    assert main(["info", get_testdata_file("bad_sequence.dcm")]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["format"] == "DICOM" and facts["modality"] == "CT" and facts["unit"] == "HU"
    assert facts["windows"] == [{"center": 40.0, "width": 350.0, "name": "WINDOW1"},
                                {"center": 450.0, "width": 1500.0, "name": "WINDOW2"}]
    assert facts["value_range"] == [-1011.0, 1243.0]
    assert facts["bit_depth"] == 12 and facts["channels"] == 1


def test_several_files_show_progress_and_go_on_after_a_failure(tmp_path, capsys):
    good = write_image(make_image(), tmp_path / "good.tif")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    assert main(["info", str(bad), str(good)]) == 1
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.strip().splitlines()]
    assert lines[0]["file"] == str(bad) and "file is empty" in lines[0]["error"], "stdout alone says which failed"
    assert lines[1]["format"] == "TIFF" and lines[1]["exif"] is True
    assert "[1/2] reading" in captured.err and "[2/2] reading" in captured.err
    assert f"error: {bad}: file is empty" in captured.err


def test_one_bad_file_exits_2_with_one_line(tmp_path, capfd):
    bad = tmp_path / "noise.jpg"
    bad.write_bytes(bytes(range(256)) * 4)
    assert main(["info", str(bad)]) == 2
    captured = capfd.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith(f"error: {bad}: ")


def test_a_file_in_a_folder_that_cannot_be_entered_exits_2_naming_the_folder(tmp_path, monkeypatch, capsys):
    path = tmp_path / "locked" / "b.png"
    path.parent.mkdir()
    write_image(make_image(), path)
    lock_folder(monkeypatch, path.parent, listable=False)
    assert main(["info", str(path)]) == 2
    assert capsys.readouterr().err == (f"error: {path}: permission denied: the folder {path.parent} cannot be "
                                       "entered; check the folder's permissions or copy the file somewhere readable\n")


def test_damaged_tiff_header_is_one_line_without_library_noise(tmp_path, capfd):
    path = write_image(make_image(), tmp_path / "scan.tif")
    data = bytearray(path.read_bytes())
    data[4:8] = b"\xff\xff\x00\x00"
    path.write_bytes(bytes(data))
    assert main(["info", str(path)]) == 2
    captured = capfd.readouterr()
    assert captured.err == (f"error: {path}: TIFF file has no readable page; "
                            "its header is damaged or the file is truncated\n")


def test_output_piped_into_a_reader_that_stops_early_ends_quietly(tmp_path):
    import subprocess
    import sys

    import numpy as np

    from enhance_core.image import Image

    for index in range(200):
        write_image(Image(np.full((4, 4, 3), index / 200, np.float32)), tmp_path / f"{index:03d}.png")
    reader = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.readline()"], stdin=subprocess.PIPE)
    run = subprocess.run([sys.executable, "-m", "enhance_core.cli", "info", *map(str, sorted(tmp_path.iterdir()))],
                         stdout=reader.stdin, stderr=subprocess.PIPE, text=True, timeout=120)
    reader.stdin.close()
    reader.wait(30)
    assert "Traceback" not in run.stderr and run.returncode == 141, run.stderr[-500:]


def test_a_pipe_to_another_process_that_breaks_is_said_not_taken_for_a_reader_gone(tmp_path):
    """Any broken pipe ended the run silently with 141, as if its output's reader had gone: a batch whose
    multiprocessing helper died printed nothing at all (an audit of the messages)."""
    import subprocess
    import sys

    script = ("import sys\n"
              "from enhance_core.cli import info, main\n"
              "def run(args):\n"
              "    raise BrokenPipeError(32, 'Broken pipe')\n"
              "info.run = run\n"
              "sys.exit(main(['info', 'x.png']))\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "error: a pipe to another process broke (Broken pipe)" in run.stderr, run.stderr


def test_names_print_in_their_own_letters_where_the_output_takes_them(tmp_path, capsys, monkeypatch):
    """A Japanese name printed as \\u5199\\u771f…: valid JSON, unreadable to its reader."""
    import io
    import sys

    folder = tmp_path / "写真 📷"
    folder.mkdir()
    path = write_image(make_image(rows=8, cols=8), folder / "東京.png")
    assert main(["info", str(path)]) == 0
    line = capsys.readouterr().out
    assert "写真 📷/東京.png" in line and json.loads(line)["file"] == str(path)
    legacy = io.TextIOWrapper(io.BytesIO(), encoding="cp1252", errors="backslashreplace")
    monkeypatch.setattr(sys, "stdout", legacy)
    assert main(["info", str(path)]) == 0
    legacy.flush()
    assert json.loads(legacy.buffer.getvalue().decode("cp1252"))["file"] == str(path), "escaped, still JSON"
