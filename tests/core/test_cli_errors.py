"""The real entry point on bad input: one ``error:`` line, exit 2, no traceback, no hang."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENTRY = "import sys; from app.launcher import main; sys.exit(main())"


def run_entry(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``enhance-studio ARGS`` as a separate process with a timeout."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-c", ENTRY, *args], capture_output=True, text=True,
                          timeout=120, env=environment, stdin=subprocess.DEVNULL)


def assert_one_line_error(done: subprocess.CompletedProcess, *words: str) -> None:
    """Check exit status 2, nothing on stdout, and a single ``error:`` line on stderr."""
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for word in words:
        assert word in lines[0]


def test_bad_files_through_the_entry_point(tmp_path):
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    assert_one_line_error(run_entry("info", str(truncated)), str(truncated), "truncated")
    assert_one_line_error(run_entry("convert", str(tmp_path / "missing.tif"), str(tmp_path / "out.png")),
                          "missing.tif", "no such file")


def test_decompression_bomb_limit_from_the_environment(tmp_path):
    from PIL import Image as PILImage

    path = tmp_path / "wide.png"
    PILImage.new("L", (300, 200)).save(path)
    done = run_entry("info", str(path), env={"ENHANCE_MAX_PIXELS": "1000"})
    assert_one_line_error(done, "60,000 pixels, more than the limit of 1,000")


def test_a_folder_a_subcommand_may_not_enter_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    """dicom-export into a folder without search permission ended in a PermissionError traceback."""
    from enhance_core.cli import main
    from tests.core.dicom_fixtures import write_series
    from tests.core.locked_folders import lock_folder

    write_series(tmp_path / "series", [0.0, 1.0])
    locked = tmp_path / "locked"
    lock_folder(monkeypatch, locked)
    assert main(["dicom-export", str(tmp_path / "series"), "-o", str(locked)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {locked / 'slice_0001.png'}: permission denied; check that you may read it")
    assert "Traceback" not in err


def refuse_writing_in(monkeypatch, folder: Path) -> None:
    """Make ``folder`` one whose files may be looked at but where none may be made (``chmod 555``), as root too."""
    import tempfile

    real = tempfile.mkstemp

    def refused(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == folder:
            raise PermissionError(13, "Permission denied", str(dir))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refused)


@pytest.mark.parametrize("command", ["detect-dust", "dicom-export"])
def test_an_output_folder_that_cannot_be_written_in_stops_before_any_work(tmp_path, monkeypatch, capsys, command):
    """detect-dust ran the detector on every scan, then failed each; dicom-export failed slice by slice."""
    import numpy as np

    from enhance_core.cli import main
    from enhance_core.image import Image
    from enhance_core.io import write_image
    from tests.core.dicom_fixtures import write_series

    write_series(tmp_path / "series", [0.0, 1.0])
    write_image(Image(np.full((16, 16, 3), 0.5, np.float32)), tmp_path / "scan.png")
    out = tmp_path / "out"
    out.mkdir()
    refuse_writing_in(monkeypatch, out)
    source = str(tmp_path / ("scan.png" if command == "detect-dust" else "series"))
    assert main([command, source, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out}" in err and "Permission denied" in err and "failed" not in err
    assert err.count("\n") == 1 and list(out.iterdir()) == []


@pytest.mark.parametrize("command", ["apply", "detect-dust", "dicom-export"])
def test_an_output_folder_refused_after_it_was_made_is_removed_again(tmp_path, monkeypatch, capsys, command):
    """The folders made for a refused run stayed behind, empty (dicom-export: each series' folder made before)."""
    import numpy as np

    from enhance_core.cli import main
    from enhance_core.image import Image
    from enhance_core.io import write_image
    from tests.core.dicom_fixtures import write_series
    from tests.core.test_medical_study import make_study

    write_image(Image(np.full((16, 16, 3), 0.5, np.float32)), tmp_path / "scan.png")
    out = tmp_path / "new" / "out"
    source = [str(tmp_path / "scan.png")]
    if command == "apply":
        source = ["--filter", "negative", *source]
    elif command == "dicom-export":
        write_series(tmp_path / "series", [0.0, 1.0])
        source = [str(tmp_path / "series")]
    refuse_writing_in(monkeypatch, out)
    assert main([command, *source, "-o", str(out)]) == 2
    assert "Permission denied" in capsys.readouterr().err and not (tmp_path / "new").exists()
    if command == "dicom-export":
        study = make_study(tmp_path)
        refuse_writing_in(monkeypatch, out / "series_005_MR")
        assert main([command, str(study), "--all-series", "--full-range", "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert "series_005_MR" in err and "Permission denied" in err and not (tmp_path / "new").exists()


def test_a_refused_output_path_through_dot_dot_keeps_the_users_folder_and_leaves_none_made(tmp_path, monkeypatch,
                                                                                          capsys):
    """-o new/../keep: keep (the user's) was taken for a folder the run made, and removed; new stayed behind."""
    import numpy as np

    from enhance_core.cli import main
    from enhance_core.image import Image
    from enhance_core.io import write_image

    monkeypatch.chdir(tmp_path)
    write_image(Image(np.full((16, 16, 3), 0.5, np.float32)), tmp_path / "scan.png")
    (tmp_path / "keep").mkdir()
    refuse_writing_in(monkeypatch, Path("new/../keep"))
    assert main(["apply", "--filter", "negative", "scan.png", "-o", "new/../keep"]) == 2
    assert "Permission denied" in capsys.readouterr().err
    assert (tmp_path / "keep").is_dir() and not (tmp_path / "new").exists()


def test_a_finished_detect_dust_run_into_a_read_only_folder_runs_again_with_skip_existing(tmp_path, monkeypatch,
                                                                                         capsys):
    """The write probe refused it (exit 2) although it had nothing to write."""
    import numpy as np

    from enhance_core.cli import main
    from enhance_core.image import Image
    from enhance_core.io import write_image

    write_image(Image(np.full((16, 16, 3), 0.5, np.float32)), tmp_path / "scan.png")
    out = tmp_path / "masks"
    out.mkdir()
    write_image(Image(np.zeros((16, 16, 1), np.float32)), out / "scan.png")
    refuse_writing_in(monkeypatch, out)
    assert main(["detect-dust", str(tmp_path / "scan.png"), "--skip-existing", "-o", str(out)]) == 0
    assert "kept" in capsys.readouterr().err


def test_a_finished_dicom_export_into_a_read_only_folder_runs_again_with_skip_existing(tmp_path, monkeypatch,
                                                                                       capsys):
    from enhance_core.cli import main
    from tests.core.dicom_fixtures import write_series

    write_series(tmp_path / "series", [0.0, 10.0])
    out = tmp_path / "out"
    command = ["dicom-export", str(tmp_path / "series"), "-o", str(out), "--preset", "lung"]
    assert main(command) == 0
    refuse_writing_in(monkeypatch, out)
    assert main([*command, "--skip-existing"]) == 0
    assert "wrote 0 of 2 slices" in capsys.readouterr().out


def test_ctrl_c_while_the_commands_are_being_read_is_one_line(monkeypatch, capsys) -> None:
    """A Ctrl+C in the first tenth of a second, as the subcommands are imported, printed a traceback."""
    import enhance_core.cli as cli

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["info", "x.png"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


@pytest.mark.parametrize("command", [
    ["apply", "--filter", "negative", "", "-o", "out"], ["apply", "--filter", "negative", "in.png", "-o", ""],
    ["detect-dust", "", "-o", "masks"], ["dicom-export", "series", "-o", ""], ["info", ""],
    ["roi-stats", "", "--roi", "rect:0,0,4,4"], ["convert", "in.png", ""], ["metrics", "", "in.png"]])
def test_an_empty_path_is_refused_not_read_as_the_current_folder(command, tmp_path, monkeypatch, capsys):
    """An unset variable (-o "$OUT") wrote the results, a manifest or DICOM slices into the folder the command ran
    in; an empty input processed every image there."""
    import numpy as np

    from enhance_core.cli import main
    from enhance_core.image import Image
    from enhance_core.io import write_image
    from tests.core.dicom_fixtures import write_series

    monkeypatch.chdir(tmp_path)
    write_image(Image(np.full((8, 8, 3), 0.5, np.float32)), tmp_path / "in.png")
    write_series(tmp_path / "series", [0.0])
    before = sorted(path.name for path in tmp_path.iterdir())
    with pytest.raises(SystemExit) as stopped:
        main(command)
    assert stopped.value.code == 2
    assert "an empty path (an unset shell variable?): name a file or folder" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == before


@pytest.mark.parametrize("command", [
    ["dicom-export", "series", "-o", "L" * 300], ["dicom-export", "L" * 300, "-o", "out"],
    ["roi-stats", "L" * 300 + ".dcm", "--roi", "rect:0,0,4,4"],
    ["roi-stats", "series", "--roi", "rect:0,0,4,4", "-o", "L" * 300 + ".csv"]])
def test_a_name_too_long_for_the_file_system_is_one_line_not_a_traceback(command, tmp_path, monkeypatch, capsys):
    from enhance_core.cli import main
    from tests.core.dicom_fixtures import write_series

    monkeypatch.chdir(tmp_path)
    write_series(tmp_path / "series", [0.0])
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "is too long for the file system (30" in err and "bytes in UTF-8" in err and "choose a shorter one" in err


@pytest.mark.parametrize("command", [
    ["apply", "--filter", "negative", "--format", "", "in.png", "-o", "out"],
    ["dicom-export", "series", "-o", "out", "--preset", ""], ["dicom-export", "series", "-o", "out", "--window", " "],
    ["dicom-export", "series", "-o", "out", "--series", ""],
    ["roi-stats", "series", "--roi", "rect:0,0,4,4", "--series", ""]])
def test_an_empty_option_value_is_refused_not_taken_as_no_option(command, tmp_path, monkeypatch, capsys):
    """dicom-export --preset "" exported with the header window, apply --format "" kept the input's format."""
    import numpy as np

    from enhance_core.cli import main
    from enhance_core.image import Image
    from enhance_core.io import write_image
    from tests.core.dicom_fixtures import write_series

    monkeypatch.chdir(tmp_path)
    write_image(Image(np.full((8, 8, 3), 0.5, np.float32)), tmp_path / "in.png")
    write_series(tmp_path / "series", [0.0])
    with pytest.raises(SystemExit) as stopped:
        main(command)
    assert stopped.value.code == 2 and "an empty value (an unset shell variable?)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_presets_file_without_a_preset_is_refused(tmp_path, capsys):
    """It was not read at all, so a misspelt or missing file passed unnoticed."""
    from enhance_core.cli import main
    from tests.core.dicom_fixtures import write_series

    write_series(tmp_path / "series", [0.0])
    assert main(["dicom-export", str(tmp_path / "series"), "-o", str(tmp_path / "out"), "--presets-file",
                 str(tmp_path / "nosuch.json")]) == 2
    assert "is read for --preset NAME only; add --preset, or leave --presets-file out" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes as on POSIX")
@pytest.mark.parametrize(("command", "said"), [
    (["info", "in.png", "--page", "-1"], "argument --page: pages are numbered from 0, got -1"),
    (["apply", "--filter", "negative", "--resize", "-5%", "in.png", "-o", "out"], "--resize '-5%' is not a size"),
    (["apply", "--filter", "negative", "--mask", "masks", "in.png", "-o", "out"],
     "mask file masks is a folder; give --mask a mask image, or --mask-dir the folder"),
    (["apply", "--filter", "negative", "pipe.png", "-o", "out"],
     "input 'pipe.png' is not a regular file (a named pipe or a device)")])
def test_odd_values_are_told_for_what_they_are(command, said, tmp_path, monkeypatch, capsys):
    """Were: "page must be ...", argparse's "expected one argument", "does not exist" and "matches no image file"."""
    import numpy as np

    from enhance_core.cli import main
    from enhance_core.image import Image
    from enhance_core.io import write_image

    monkeypatch.chdir(tmp_path)
    write_image(Image(np.full((8, 8, 3), 0.5, np.float32)), tmp_path / "in.png")
    (tmp_path / "masks").mkdir()
    os.mkfifo(tmp_path / "pipe.png")
    try:
        status = main(command)
    except SystemExit as stopped:
        status = stopped.code
    assert status == 2 and said in capsys.readouterr().err
