"""``enhance-studio apply``: recipe or filter, exit codes, one-line errors, --list."""

from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from enhance_core.cli import main
from enhance_core.cli.apply import build_steps
from enhance_core.image import Image, ImageMeta
from enhance_core.io import read_image, write_image
from enhance_core.recipe import save_recipe
from enhance_core.render import Renderer
from enhance_core.stack import make_item

from .locked_folders import lock_folder


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("one.png", "two.png"):
        pixels = rng.random((40, 50, 3)).astype(np.float32)
        write_image(Image(pixels, meta=ImageMeta(bit_depth=16)), folder / name)
    return folder


def test_filter_with_settings(inputs, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["apply", "--filter", "levels", "--set", "black=0.2", "--set", "white=0.8",
                 "--jobs", "1", "-o", str(out), str(inputs)])
    assert code == 0
    captured = capsys.readouterr()
    assert "[2/2] ok" in captured.err and "2 of 2 file(s) written" in captured.out
    source, result = read_image(inputs / "one.png").pixels, read_image(out / "one.png").pixels
    np.testing.assert_allclose(result, np.clip((source - 0.2) / 0.6, 0, 1), atol=2 / 65535)


def test_a_setting_of_one_mode_chooses_that_mode() -> None:
    (denoise,) = build_steps(argparse.Namespace(recipe=None, filter=["denoise"], set=["sigma=25"]))
    assert (denoise.params.mode, denoise.params.sigma) == ("manual", 25.0)
    (stretch,) = build_steps(argparse.Namespace(recipe=None, filter=["contrast_stretch"], set=["low_percentile=2"]))
    assert (stretch.params.method, stretch.params.low_percentile) == ("percentile", 2.0)
    (default,) = build_steps(argparse.Namespace(recipe=None, filter=["denoise"], set=[]))
    assert default.params.mode == "auto"


def test_recipe_gives_what_the_editor_renders(inputs, tmp_path) -> None:
    steps = (make_item("gaussian_blur", {"sigma": 1.0}), make_item("saturation", {"saturation": 1.5}, opacity=0.5))
    recipe = save_recipe(steps, tmp_path / "look.json")
    assert main(["apply", "--recipe", str(recipe), "--jobs", "1", "-o", str(tmp_path / "out"),
                 str(inputs / "two.png")]) == 0
    image = read_image(inputs / "two.png")
    expected = Renderer().render(image, steps)
    np.testing.assert_allclose(read_image(tmp_path / "out" / "two.png").pixels, expected, atol=1 / 65535)


def test_a_recipe_from_before_grain_in_fills_says_its_fills_now_get_grain_and_how_to_keep_them_smooth(
        tmp_path, capsys) -> None:
    recipe = save_recipe((make_item("gamma"), make_item("restore")), tmp_path / "old.json")
    capsys.readouterr()
    build_steps(argparse.Namespace(recipe=recipe, filter=None, set=[]))
    assert capsys.readouterr().err == ""
    data = json.loads(recipe.read_text())
    del data["steps"][1]["params"]["grain"]
    recipe.write_text(json.dumps(data))
    build_steps(argparse.Namespace(recipe=recipe, filter=None, set=[]))
    note = capsys.readouterr().err
    assert note.startswith(f"note: recipe {recipe}, step 2 (Restore old photo (CNN)): it was saved before its 'grain' "
                           "setting existed and takes 0.6: every fill now gets film grain")
    assert 'set Grain in fills to 0 ("grain": 0 in the recipe)' in note


@pytest.mark.parametrize("argv, message", [
    (["--filter", "gausian_blur"], "unknown filter 'gausian_blur'; did you mean gaussian_blur"),
    (["--filter", "gamma", "--set", "gamma=99"], "'gamma'.*: 99 is outside the allowed range 0.05 to 10$"),
    (["--filter", "gamma", "--set", "gamma=10.0000001"], ": 10.0000001 is outside the allowed range 0.05 to 10$"),
    (["--filter", "gamma", "--set", "gamma"], "must look like PARAM=VALUE"),
    ([], "give --recipe R.json or --filter NAME"),
    (["--filter", "denoise", "--set", "mode=auto", "--set", "sigma=25"],
     "sigma is used only when mode=manual, not mode=auto; drop one of the two"),
    (["--filter", "gamma", "--min-psnr", "nan", "--reference-dir", "refs"], "--min-psnr must be a finite number"),
    (["--filter", "gamma", "--min-ssim", "2", "--reference-dir", "refs"], "--min-ssim must lie between 0 and 1"),
    (["--filter", "gamma", "--min-psnr", "40"], "--min-psnr is for the report of results scored against "
                                                "references; add --reference-dir DIR"),
    (["--filter", "gamma", "--report-dir", "r"], "--report-dir is for the report"),
    (["--filter", "gaussian_blur", "--filter", "gamma"], "--filter is given 2 times .*save the stack as a recipe"),
    (["--filter", "gamma", "--set", "gamma=2", "--set", "gamma=3"], "--set gives gamma twice \\(2 and 3\\)"),
])
def test_bad_arguments_exit_2_with_one_line(inputs, tmp_path, capsys, argv, message) -> None:
    code = main(["apply", *argv, "-o", str(tmp_path / "out"), str(inputs)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ")
    assert re.search(message, err[0])


@pytest.mark.parametrize("argv, message", [
    (["--filter", "gamma", "--quality", "300"], "quality must be an integer from 1 to 100, got 300"),
    (["--filter", "gamma", "--format", "jpg", "--bit-depth", "16"],
     "--bit-depth 16 does not go with --format jpg: JPEG holds 8-bit samples"),
    (["--filter", "gamma", "--bit-depth", "32"],
     r"one\.png keeps its format in the output: PNG holds 8 or 16-bit.*with --format tif$"),
    (["--filter", "denoise", "--device", "cuda"], "device 'cuda' is not available on this machine; use auto or cpu"),
    (["--filter", "gamma", "--mask", "MASK"], "mask.png: the name says PNG but the content is none of"),
])
def test_options_that_would_fail_every_file_are_refused_before_the_first(inputs, tmp_path, capsys, monkeypatch,
                                                                          argv, message) -> None:
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    out = tmp_path / "out"
    (tmp_path / "mask.png").write_text("not an image")
    argv = [str(tmp_path / "mask.png") if arg == "MASK" else arg for arg in argv]
    assert main(["apply", *argv, "-o", str(out), str(inputs)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0])
    assert not out.exists()


def test_a_malformed_limit_setting_is_refused_once_before_any_file(inputs, tmp_path, capsys, monkeypatch) -> None:
    """ENHANCE_MAX_PIXELS=abc failed every file of a batch, and the manifest kept them failed once it was mended."""
    monkeypatch.setenv("ENHANCE_MAX_PIXELS", "abc")
    assert main(["apply", "--filter", "negative", "-o", str(tmp_path / "out"), str(inputs)]) == 2
    assert 'error: ENHANCE_MAX_PIXELS="abc" is not an integer' in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    monkeypatch.delenv("ENHANCE_MAX_PIXELS")
    assert main(["apply", "--filter", "negative", "-o", str(tmp_path / "out"), str(inputs)]) == 0


def test_jobs_below_one_is_an_argument_error(inputs, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["apply", "--filter", "gamma", "--jobs", "0", "-o", str(tmp_path / "out"), str(inputs)])
    assert exit_info.value.code == 2
    assert "argument --jobs: must be at least 1, got 0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_jobs_past_the_system_s_process_limit_run_at_the_limit(inputs, tmp_path, capsys, monkeypatch) -> None:
    """Windows runs at most 61 worker processes; --jobs 64, or the default on a 64-core machine, crashed there."""
    from enhance_core import batch, batch_workers

    monkeypatch.setattr(batch_workers, "process_limit", lambda: 1)
    assert main(["apply", "--filter", "negative", "--jobs", "5", "-o", str(tmp_path / "out"), str(inputs)]) == 0
    err = capsys.readouterr().err
    assert "note: this system runs at most 1 worker processes; --jobs 5 runs 1" in err
    monkeypatch.setattr(batch_workers, "process_limit", lambda: 3)
    assert main(["apply", "--filter", "negative", "--jobs", "5", "-o", str(tmp_path / "out2"), str(inputs)]) == 0
    assert "note:" not in capsys.readouterr().err, "fewer files than the limit: nothing is cut"
    monkeypatch.undo()
    monkeypatch.setattr(batch_workers.sys, "platform", "win32")
    assert batch_workers.process_limit() == 61
    monkeypatch.undo()
    monkeypatch.setattr(batch, "process_limit", lambda: 61)
    monkeypatch.setattr(batch.os, "cpu_count", lambda: 64)
    from enhance_core.batch_tasks import FileTask

    tasks = [FileTask(tmp_path / f"in{index}.png", tmp_path / f"out{index}.png", ()) for index in range(70)]
    assert batch.default_jobs(tasks) == 61


def test_an_output_path_that_is_a_file_is_refused_and_left_alone(inputs, tmp_path, capsys) -> None:
    taken = tmp_path / "result.png"
    taken.write_bytes(b"the user's own file")
    assert main(["apply", "--filter", "negative", "-o", str(taken), str(inputs)]) == 2
    assert f"-o {taken} is a file, not a folder; name a folder for the results" in capsys.readouterr().err
    assert taken.read_bytes() == b"the user's own file"
    dangling = tmp_path / "gone"
    dangling.symlink_to(tmp_path / "nowhere")
    assert main(["apply", "--filter", "negative", "-o", str(dangling), str(inputs)]) == 2
    assert f"-o {dangling} is a link to nothing; name a folder for the results" in capsys.readouterr().err


def test_an_output_folder_inside_one_that_cannot_be_entered_is_refused_naming_it(inputs, tmp_path, capsys,
                                                                                  monkeypatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    lock_folder(monkeypatch, locked, listable=False)
    assert main(["apply", "--filter", "negative", "-o", str(locked / "res"), str(inputs)]) == 2
    assert capsys.readouterr().err == (f"error: -o {locked / 'res'}: permission denied: the folder {locked} cannot "
                                       "be entered; check the folder's permissions or name another folder for the "
                                       "results\n")


def test_a_folder_that_cannot_be_opened_is_left_out_with_a_note_or_refused_when_named(inputs, tmp_path, capsys,
                                                                                     monkeypatch) -> None:
    locked = inputs / "locked"
    locked.mkdir()
    (locked / "three.png").write_bytes((inputs / "one.png").read_bytes())
    lock_folder(monkeypatch, locked, listable=False)
    for extra in ([], ["-r"]):
        out = tmp_path / f"out{len(extra)}"
        assert main(["apply", "--filter", "negative", *extra, "-o", str(out), str(inputs)]) == len(extra), (
            "with -r, the files of the folder that cannot be opened were not processed: exit status 1")
        said = capsys.readouterr()
        assert "2 of 2 file(s) written" in said.out
        assert (f"left out 1 folder(s) that cannot be opened (permission denied; check their permissions): {locked}"
                in said.err)
        assert ("1 folder(s) could not be opened and their files were not processed" in said.out) is bool(extra)
    assert main(["apply", "--filter", "negative", "-o", str(tmp_path / "out"), str(locked)]) == 2
    assert capsys.readouterr().err == (f"error: input {str(locked)!r}: permission denied: the folder {locked} cannot "
                                       "be opened; check the folder's permissions\n")


@pytest.mark.parametrize(("name", "exclude"), [("private", ["--exclude", "private"]),
                                            ("private", ["--exclude", "PRIV*"]), ("lost+found", [])])
def test_a_folder_that_cannot_be_opened_but_is_meant_out_leaves_the_exit_status_0(inputs, tmp_path, capsys,
                                                                                  monkeypatch, name, exclude) -> None:
    """An excluded folder (or an ext4 disk's lost+found) made every run of apply -r exit 1."""
    locked = inputs / name
    locked.mkdir()
    lock_folder(monkeypatch, locked, listable=False)
    assert main(["apply", "--filter", "negative", "-r", *exclude, "-o", str(tmp_path / "out"), str(inputs)]) == 0
    said = capsys.readouterr()
    assert "2 of 2 file(s) written" in said.out and "cannot be opened" not in said.err + said.out


def test_files_of_an_input_folder_that_are_not_images_are_named_once(inputs, tmp_path, capsys) -> None:
    for name in ("notes.txt", "scan.xmp", "box.xml", "ledger.csv", ".DS_Store"):
        (inputs / name).write_text("sidecar")
    assert main(["apply", "--filter", "negative", "-o", str(tmp_path / "out"), str(inputs)]) == 0
    err = capsys.readouterr().err
    assert (f"left out 4 file(s) that are not images: {inputs / 'box.xml'}, {inputs / 'ledger.csv'}, "
            f"{inputs / 'notes.txt'} and 1 more") in err
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["one.png", "two.png"]
    again = ["apply", "--filter", "negative", "--overwrite", "-o", str(tmp_path / "out"), str(inputs / "one.png")]
    assert main(again) == 0
    assert "left out" not in capsys.readouterr().err, "a file named is taken or refused, never left out"
    (inputs / "box").mkdir()
    (inputs / "box" / "notes.txt").write_text("sidecar")
    (inputs / "ledger.csv").unlink()
    twice = ["apply", "--filter", "negative", "--overwrite", "-r", "--format", "tif", "--include", "*.png",
             "-o", str(inputs)]
    assert main([*twice, str(inputs), str(inputs)]) == 0, "the output folder may be the input's with another format"
    assert (inputs / "enhance-manifest.jsonl").exists()
    capsys.readouterr()
    assert main([*twice, str(inputs), str(inputs)]) == 0
    assert "that are not images" not in capsys.readouterr().err, "files --include leaves out are not named"
    everything = [{"--include": "--exclude", "*.png": "*.tif"}.get(argument, argument) for argument in twice]
    assert main([*everything, str(inputs), str(inputs)]) == 0
    err = capsys.readouterr().err
    assert (f"left out 4 file(s) that are not images: {inputs / 'box' / 'notes.txt'}, {inputs / 'box.xml'}, "
            f"{inputs / 'notes.txt'} and 1 more\n") in err, "once each, with their folder, the run's manifest not"


@pytest.mark.parametrize("named", ["folder", "glob"])
def test_a_batch_written_into_its_input_folder_runs_again_without_taking_its_results(inputs, capsys, named) -> None:
    """A glob of the output folder ('scans/*.png' -o scans) was refused although its results had another format."""
    spec = str(inputs) if named == "folder" else str(inputs / "*.png")
    command = ["apply", "--filter", "negative", "--format", "tif", "-o", str(inputs), spec]
    assert main(command) == 0
    written = {path.name: path.read_bytes() for path in inputs.glob("*.tif")}
    assert sorted(written) == ["one.tif", "two.tif"]
    capsys.readouterr()
    assert main(command) == 0, "a rerun (to finish an interrupted batch) takes the originals, not the results"
    captured = capsys.readouterr()
    assert "2 done in an earlier run" in captured.out
    if named == "folder":  # the glob matches no result
        assert f"left out the files that batches wrote in {inputs}, the output folder" in captured.err
    assert {path.name: path.read_bytes() for path in inputs.glob("*.tif")} == written


def test_output_folder_holding_the_inputs_is_refused(inputs, capsys) -> None:
    assert main(["apply", "--filter", "negative", "-o", str(inputs), str(inputs)]) == 2
    assert "would overwrite the input" in capsys.readouterr().err


def test_a_report_folder_that_would_replace_an_input_is_refused(inputs, tmp_path, capsys) -> None:
    (inputs / "best.png").write_bytes((inputs / "one.png").read_bytes())
    before = (inputs / "best.png").read_bytes()
    assert main(["apply", "--filter", "negative", "--reference-dir", str(inputs), "--report-dir", str(inputs),
                 "-o", str(tmp_path / "out"), str(inputs)]) == 2
    err = capsys.readouterr().err
    assert f"the report's best.png in {inputs} would overwrite the input {inputs / 'best.png'}" in err
    assert (inputs / "best.png").read_bytes() == before and not (tmp_path / "out").exists()


def test_a_report_folder_is_checked_before_any_file(inputs, tmp_path, capsys) -> None:
    references = tmp_path / "refs"
    references.mkdir()
    write_image(read_image(inputs / "one.png"), references / "one.png")
    (references / "worst.png").write_bytes(b"the user's own picture")
    run = ["apply", "--filter", "negative", "--reference-dir", str(references), "-o", str(tmp_path / "out"),
           str(inputs / "one.png")]
    assert main([*run, "--report-dir", str(references)]) == 2
    assert f"{references} holds worst.png, which no earlier report wrote" in capsys.readouterr().err
    assert (references / "worst.png").read_bytes() == b"the user's own picture"
    (tmp_path / "notes.txt").write_text("")
    assert main([*run, "--report-dir", str(tmp_path / "notes.txt" / "report")]) == 2
    assert "cannot be made: " in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert main([*run, "--report-dir", str(tmp_path / "report")]) == 0
    assert main([*run, "--report-dir", str(tmp_path / "report"), "--overwrite"]) == 0, "an earlier report is replaced"


def test_an_unavailable_device_in_the_environment_is_refused_before_any_file(inputs, tmp_path, capsys,
                                                                             monkeypatch) -> None:
    monkeypatch.setenv("ENHANCE_DEVICE", "nonsense")
    assert main(["apply", "--filter", "denoise", "-o", str(tmp_path / "out"), str(inputs)]) == 2
    assert "unknown device 'nonsense' (set by ENHANCE_DEVICE)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_bad_file_is_skipped_and_the_exit_status_is_1(inputs, tmp_path, capsys) -> None:
    (inputs / "bad.png").write_bytes(b"garbage")
    code = main(["apply", "--filter", "negative", "--jobs", "1", "-o", str(tmp_path / "out"), str(inputs)])
    captured = capsys.readouterr()
    assert code == 1 and "failed: " in captured.err and "bad.png" in captured.err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["enhance-manifest.jsonl", "one.png", "two.png"]


def test_the_report_line_counts_the_files_without_a_reference(inputs, tmp_path, capsys) -> None:
    references = tmp_path / "refs"
    references.mkdir()
    write_image(read_image(inputs / "one.png"), references / "one.png")
    assert main(["apply", "--filter", "gamma", "--jobs", "1", "--reference-dir", str(references),
                 "-o", str(tmp_path / "out"), str(inputs / "one.png"), str(inputs / "two.png")]) == 0
    assert "(1 scored, 1 without a reference, " in capsys.readouterr().out


def test_the_report_line_counts_the_files_not_scored_and_names_only_the_first_flagged(inputs, tmp_path, capsys,
                                                                                    monkeypatch) -> None:
    from enhance_core.cli import apply

    references = tmp_path / "refs"
    references.mkdir()
    write_image(read_image(inputs / "one.png"), references / "one.png")
    write_image(Image(np.zeros((40, 30, 3), np.float32)), references / "two.png")
    monkeypatch.setattr(apply, "FLAGGED_SHOWN", 0)
    assert main(["apply", "--filter", "gamma", "--set", "gamma=1.2", "--jobs", "1", "--reference-dir",
                 str(references), "--min-psnr", "99", "-o", str(tmp_path / "out"), str(inputs)]) == 0
    out = capsys.readouterr().out
    assert "(1 scored, 1 not scored (report.csv's note says why), 1 flagged " in out
    assert f"flagged: ... and 1 more, listed in {tmp_path / 'out' / 'report' / 'flagged.txt'}" in out


def test_reference_dir_writes_the_report(inputs, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["apply", "--filter", "gamma", "--set", "gamma=1.2", "--jobs", "1", "--reference-dir", str(inputs),
                 "--min-psnr", "99", "-o", str(out), str(inputs)]) == 0
    captured = capsys.readouterr().out
    assert "2 scored, 2 flagged" in captured and (out / "report" / "report.csv").exists()
    from enhance_core.batch_inputs import collect_tree
    from enhance_core.batch_manifest import REPORT_FILES

    assert sorted(path.name for path in (out / "report").iterdir()) == sorted(REPORT_FILES)
    assert sorted(path.name for path in collect_tree([tmp_path], recursive=True)) == ["one.png", "two.png"], \
        "a later walk takes neither the outputs nor the report's pictures"


def test_list_shows_every_filter_with_parameters(capsys) -> None:
    assert main(["apply", "--list"]) == 0
    text = capsys.readouterr().out
    assert "Tone:" in text and "clahe" in text and "clip_limit=2.0" in text and "fft_bandpass" in text
    assert "(Level; used when method=fixed)" in text
    lines = text.splitlines()
    columns = {line.index(" 0..0.99") for line in lines if line.lstrip().startswith(("left=", "top="))}
    assert len(columns) == 1 and columns == {next(line for line in lines if "aspect=free" in line).index(" free|")}
    assert any(line.split() == ["auto_crop=true", "true|false", "(Crop", "empty", "corners)"] for line in lines)
    saturation = lines.index(next(line for line in lines if line.startswith("  saturation ")))
    assert lines[saturation + 1] == ('      (renders as at revision 2: a recipe written by hand says "revision": '
                                     '2 in its step)')


def test_list_shows_an_open_ended_range(monkeypatch, capsys) -> None:
    """``param`` allows a number without a minimum or maximum; ``--list`` shows the side it has."""
    from dataclasses import dataclass

    from enhance_core.filters import registry
    from enhance_core.filters.base import FilterDef, param

    @dataclass(frozen=True)
    class OpenParams:
        gain: float = param(1.0, label="Gain", minimum=0.0)

    open_ended = FilterDef("open_gain", "Open gain", "Tone", OpenParams, lambda pixels, params, ctx: pixels,
                           description="Multiplies.")
    monkeypatch.setattr(registry, "filters_in_category", lambda category: [open_ended] if category == "Tone" else [])
    assert main(["apply", "--list"]) == 0
    assert any(line.split() == ["gain=1.0", "0..", "(Gain)"] for line in capsys.readouterr().out.splitlines())


def test_recursive_mirrors_the_tree_and_patterns_narrow_it(tmp_path, capsys) -> None:
    root = tmp_path / "archive"
    rng = np.random.default_rng(3)
    for name in ("a.png", "box/a.png", "box/deep/a.png", "box/deep/skip.png"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        write_image(Image(rng.random((12, 12, 3)).astype(np.float32)), root / name)
    out = root / "restored"
    argv = ["apply", "--filter", "negative", "--jobs", "1", "-r", "--exclude", "skip*", "-o", str(out), str(root)]
    assert main(argv) == 0
    assert "3 of 3 file(s) written" in capsys.readouterr().out
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [
        "a.png", "box/a.png", "box/deep/a.png"]
    assert main(["apply", "--filter", "negative", "-r", "--include", "*.tif", "-o", str(out), str(root)]) == 2
    assert "has no file that --include/--exclude select" in capsys.readouterr().err


def test_without_r_images_in_subfolders_are_named_as_left_out(tmp_path, capsys) -> None:
    rng = np.random.default_rng(4)
    for name in ("top/a.png", "top/Box 1/b.png", "only_below/Box/c.png"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        write_image(Image(rng.random((12, 12, 3)).astype(np.float32)), tmp_path / name)
    assert main(["apply", "--filter", "negative", "-o", str(tmp_path / "out"), str(tmp_path / "top")]) == 0
    said = capsys.readouterr()
    assert f"the subfolders of {tmp_path / 'top'} hold images too; pass -r to include them" in said.err
    assert "1 of 1 file(s) written" in said.out
    assert main(["apply", "--filter", "negative", "-o", str(tmp_path / "out2"), str(tmp_path / "only_below")]) == 2
    assert "matches no image file; the subfolders of" in capsys.readouterr().err
    assert main(["apply", "--filter", "negative", "-r", "--exclude", "b/*", "--exclude", "*b.png", "-o",
                 str(tmp_path / "out3"), str(tmp_path / "top")]) == 0
    said = capsys.readouterr()
    assert "pass -r" not in said.err and "1 of 1 file(s) written" in said.out
    assert "--exclude 'b/*' matched no file; patterns match the path from the folder given (for any depth: " \
           "'*/b/*')" in said.err and "--exclude '*b.png' matched" not in said.err
    (tmp_path / "top" / "linked").symlink_to(tmp_path / "only_below", target_is_directory=True)
    assert main(["apply", "--filter", "negative", "-r", "-o", str(tmp_path / "out4"), str(tmp_path / "top")]) == 0
    assert f"left out 1 linked folder(s), which -r does not follow: {tmp_path / 'top' / 'linked'}" in \
        capsys.readouterr().err


def test_progress_lines_give_speed_and_time_left_and_failures_are_grouped_by_cause(inputs, tmp_path, capsys) -> None:
    (inputs / "bad.png").write_bytes(b"garbage")
    (inputs / "worse.png").write_bytes(b"garbage")
    assert main(["apply", "--filter", "negative", "--jobs", "1", "-o", str(tmp_path / "out"), str(inputs)]) == 1
    captured = capsys.readouterr()
    ok = [line for line in captured.err.splitlines() if "] ok " in line]
    assert len(ok) == 2 and all(re.search(r" \| \d+ %, \d+\.\d\d MP/s, ETA (\d+:\d\d|–)$", line) for line in ok)
    causes = captured.out.split("failures by cause:\n")[1].splitlines()
    assert re.fullmatch(r" +2  .+", causes[0]) and "bad.png" not in causes[0] and "bad.png" in causes[1]


def test_quiet_prints_failures_a_progress_line_every_5_percent_and_the_summary(tmp_path, capsys) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(40):
        write_image(Image(np.full((8, 8, 3), index / 40, np.float32)), folder / f"scan{index:02d}.png")
    (folder / "scan07.png").write_bytes(b"garbage")
    assert main(["apply", "--filter", "negative", "--jobs", "1", "-q", "-o", str(tmp_path / "out"),
                 str(folder)]) == 1
    captured = capsys.readouterr()
    lines = captured.err.splitlines()[1:]
    failed = [line for line in lines if "failed: " in line]
    assert len(failed) == 1 and failed[0].startswith("[8/40] failed: ") and "scan07.png" in failed[0]
    progress = [line for line in lines if "failed: " not in line]
    assert [line.split("]")[0] for line in progress] == [f"[{done}/40" for done in range(2, 41, 2) if done != 8], \
        "the failure's own line stands for the progress at 8"
    assert "done: 39 of 40 file(s) written" in captured.out


def test_a_glob_reaching_into_the_output_folder_says_its_files_lie_in_the_output_folder(tmp_path, capsys,
                                                                                       monkeypatch) -> None:
    (tmp_path / "out").mkdir()
    for index in range(3):
        write_image(Image(np.full((8, 8, 3), 0.3, np.float32)), tmp_path / "out" / f"a{index}.png")
    monkeypatch.chdir(tmp_path.parent)
    spec = f"{tmp_path.name}/*/*.png"
    assert main(["apply", "--filter", "negative", spec, "-o", f"{tmp_path.name}/out", "--format", "tif"]) == 2
    assert (f"its 3 file(s) lie in the output folder {tmp_path.name}/out, which a batch never takes as input"
            in capsys.readouterr().err)


def test_a_glob_of_the_output_folder_whose_results_would_replace_their_inputs_is_refused(tmp_path, capsys,
                                                                                       monkeypatch) -> None:
    for index in range(3):
        write_image(Image(np.full((8, 8, 3), 0.3, np.float32)), tmp_path / f"a{index}.png")
    monkeypatch.chdir(tmp_path.parent)
    assert main(["apply", "--filter", "negative", f"{tmp_path.name}/*.png", "-o", tmp_path.name, "--overwrite"]) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert main(["apply", "--filter", "negative", f"{tmp_path.name}/*", "-o", tmp_path.name, "--format", "tif"]) == 0
    capsys.readouterr()
    assert main(["apply", "--filter", "negative", f"{tmp_path.name}/*", "-o", tmp_path.name, "--format", "tif"]) == 0
    assert "3 done in an earlier run" in capsys.readouterr().out, "neither its results nor its manifest are taken"


def test_the_summary_offers_retry_failed_only_for_files_that_ran_and_failed(inputs, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    write_image(read_image(inputs / "one.png"), out / "one.png")
    assert main(["apply", "--filter", "negative", "--jobs", "1", "-o", str(out), str(inputs)]) == 1
    summary = capsys.readouterr().out
    assert "1 failed" in summary and "--retry-failed" not in summary, "an existing output is no failure to retry"


def test_a_file_name_with_a_line_break_keeps_its_progress_line_whole(tmp_path, capsys) -> None:
    """Printed as it is, a name with a line break split the "ok" line in two (and could fake a line of its own)."""
    write_image(Image(np.full((8, 8, 3), 0.3, np.float32)), tmp_path / "x\n[2of2] ok forged.png")
    assert main(["apply", "--filter", "negative", "-o", str(tmp_path / "out"), str(tmp_path / "x*")]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[1].startswith("[1/1] ok ") and "x\\n[2of2] ok forged.png ->" in lines[1]


def test_batch_progress_counts_only_files_run_here() -> None:
    from enhance_core.cli.progress import BatchProgress, format_duration

    now = [0.0]
    progress = BatchProgress(10, clock=lambda: now[0])
    assert progress.update(ran=False) == "10 %"
    now[0] = 4.0
    assert progress.update(ran=True, megapixels=12.0) == "20 %, 3.00 MP/s, ETA –"
    now[0] = 5.0
    assert progress.update(ran=True, megapixels=3.0) == "30 %, 3.00 MP/s, ETA 0:07", "from the pace since the first"
    now[0] = 0.0
    wave = BatchProgress(100, workers=8, clock=lambda: now[0])
    now[0] = 10.0
    lines = [wave.update(ran=True) for _ in range(8)]
    assert lines[1].endswith("ETA –") and lines[7].endswith("ETA –"), "the first wave says nothing of the pace"
    now[0] = 20.0
    assert wave.update(ran=True).endswith("ETA 1:54"), "then the pace since the first file: 10 s for 8 files"
    assert format_duration(3725) == "1:02:05"


def test_a_multi_page_tiff_says_that_only_its_first_page_is_in_the_output(tmp_path, capsys) -> None:
    import tifffile

    folder = tmp_path / "in"
    folder.mkdir()
    with tifffile.TiffWriter(folder / "front_back.tif") as writer:
        for value in (1000, 2000):
            writer.write(np.full((20, 30), value, np.uint16), photometric="minisblack")
    tifffile.imwrite(folder / "single.tif", np.full((20, 30), 1000, np.uint16))
    assert main(["apply", "--filter", "negative", "--jobs", "1", "-o", str(tmp_path / "out"), str(folder)]) == 0
    captured = capsys.readouterr()
    assert "page 1 of 2 only: the other pages are not in the output" in captured.err
    assert ("note: 1 file(s) hold more pages than the one read; their outputs hold that page only: "
            f"{folder / 'front_back.tif'}") in captured.out.splitlines()
    assert main(["apply", "--filter", "negative", "-q", "--overwrite", "-o", str(tmp_path / "out"), str(folder)]) == 0
    assert str(folder / "front_back.tif") in capsys.readouterr().out, "with -q too, which prints no file's line"


def test_a_scan_with_a_thumbnail_page_is_not_said_to_lose_pages(tmp_path, capsys) -> None:
    import tifffile

    folder = tmp_path / "in"
    folder.mkdir()
    with tifffile.TiffWriter(folder / "scan.tif") as writer:
        writer.write(np.full((20, 30), 1000, np.uint16), photometric="minisblack")
        writer.write(np.full((5, 8), 1000, np.uint16), photometric="minisblack", subfiletype=1)
    assert main(["apply", "--filter", "negative", "--jobs", "1", "-o", str(tmp_path / "out"), str(folder)]) == 0
    captured = capsys.readouterr()
    assert "[1/1] ok" in captured.err and "page" not in captured.err + captured.out


def test_a_dicom_series_without_a_window_step_is_written_as_its_values(tmp_path, capsys) -> None:
    import json

    import pydicom
    from PIL import Image as PILImage

    from tests.core.dicom_fixtures import write_series

    paths = write_series(tmp_path / "ct series", [0.0, 1.0], names=["a.dcm", "b.dcm"])
    out = tmp_path / "out"
    assert main(["apply", "--filter", "median_blur", "--set", "size=1", str(tmp_path / "ct series"), "-o",
                 str(out), "--format", "png"]) == 0
    for path in paths:
        with PILImage.open(out / f"{path.stem}.png") as png:
            described, codes = json.loads(png.info["Description"]), np.asarray(png).astype(np.int64)
        dataset = pydicom.dcmread(path)
        hounsfield = pydicom.pixels.apply_modality_lut(dataset.pixel_array, dataset)
        np.testing.assert_array_equal(described["offset"] + described["scale"] * codes, hounsfield)
        assert described["unit"] == "HU" and described["deidentified"]
    capsys.readouterr()
    assert main(["apply", "--filter", "median_blur", str(tmp_path / "ct series"), "-o", str(tmp_path / "jpg"),
                 "--format", "jpg"]) == 1
    assert "add a window_level step to the recipe for an 8-bit picture" in capsys.readouterr().out
    assert main(["apply", "--filter", "window_level", "--set", "center=40", "--set", "width=400",
                 str(tmp_path / "ct series"), "-o", str(tmp_path / "jpg"), "--format", "jpg"]) == 0


@pytest.mark.parametrize("recursive", [["-r"], []])
def test_an_original_in_an_output_folder_inside_the_inputs_is_never_replaced(inputs, capsys, recursive) -> None:
    original = inputs / "sub" / "one.png"
    original.parent.mkdir()
    original.write_bytes((inputs / "two.png").read_bytes())
    before = original.read_bytes()
    for extra in ([], ["--overwrite"]):
        assert main(["apply", "--filter", "negative", *recursive, *extra, "-o", str(inputs / "sub"), str(inputs)]) == 2
        assert "which no earlier run of this batch wrote (an original?)" in capsys.readouterr().err
        assert not (inputs / "sub" / "enhance-manifest.jsonl").exists(), "a refused run leaves no manifest"
    assert original.read_bytes() == before
    out = inputs / "out"
    assert main(["apply", "--filter", "negative", *recursive, "-o", str(out), str(inputs)]) == 0
    assert main(["apply", "--filter", "negative", *recursive, "--overwrite", "-o", str(out), str(inputs)]) == 0, \
        "outputs an earlier run wrote may be replaced"


def test_a_fill_of_painted_holes_without_a_mask_is_refused_before_any_file(inputs, tmp_path, capsys) -> None:
    assert main(["apply", "--filter", "hole_fill", "-o", str(tmp_path / "out"), str(inputs)]) == 2
    assert "error: --filter hole_fill fills its painted holes, but has no mask: pass --mask FILE" in \
        capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    recipe = save_recipe((make_item("gamma"), make_item("hole_fill", {"source": "mask"})), tmp_path / "holes.json")
    assert main(["apply", "--recipe", str(recipe), "-o", str(tmp_path / "out"), str(inputs)]) == 2
    assert (f"error: recipe {recipe}, step 2 (Hole fill (CNN)) fills its painted holes, but has no mask: pass --mask"
            in capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_what_reading_a_file_warned_about_is_on_its_line_and_convert_says_it(tmp_path, capsys) -> None:
    """A damaged JPEG that opens (restart markers keep the rest) must not become a clean-looking output unsaid."""
    from PIL import Image as PILImage

    folder = tmp_path / "in"
    folder.mkdir()
    out = io.BytesIO()
    pixels = np.random.default_rng(1).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    PILImage.fromarray(pixels).save(out, format="JPEG", quality=90, restart_marker_rows=1)
    data = out.getvalue()
    interval = data.index(b"\xff\xd0")
    (folder / "scan.jpg").write_bytes(data[:interval + 100] + data[interval + 150:])
    assert main(["apply", "--filter", "negative", "--jobs", "1", "-o", str(tmp_path / "out"), str(folder)]) == 0
    assert "read: the JPEG data is damaged (Corrupt JPEG data: " in capsys.readouterr().err
    assert main(["convert", str(folder / "scan.jpg"), str(tmp_path / "scan.png")]) == 0
    assert f"warning: {folder / 'scan.jpg'}: the JPEG data is damaged" in capsys.readouterr().err


def test_ctrl_c_before_the_batch_began_says_nothing_was_written(inputs, tmp_path, capsys, monkeypatch) -> None:
    import enhance_core.batch as batch

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "plan_batch", interrupted)
    assert main(["apply", "--filter", "negative", "-o", str(tmp_path / "out"), str(inputs)]) == 130
    assert "interrupted before any file was processed: nothing was written" in capsys.readouterr().err


def test_ctrl_c_while_the_report_is_written_says_the_files_are(inputs, tmp_path, capsys, monkeypatch) -> None:
    import enhance_core.batch_report as batch_report

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_report, "write_report", interrupted)
    assert main(["apply", "--filter", "negative", "--jobs", "1", "--reference-dir", str(inputs), "-o",
                 str(tmp_path / "out"), str(inputs)]) == 130
    err = capsys.readouterr().err
    assert "interrupted while writing the report: the files above are written" in err and "nothing" not in err


def test_window_level_without_a_centre_or_width_shows_each_dicom_through_its_own_window(tmp_path, capsys) -> None:
    """The editor opens a CT through its header window and curve; the parameters' defaults (0.5, 1) made it two
    levels, and a rerun into the same folder kept those as done."""
    import pydicom
    from pydicom.data import get_testdata_file

    from enhance_core.medical.windows import default_window_params

    dataset = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    dataset.WindowCenter, dataset.WindowWidth, dataset.VOILUTFunction = 40, 400, "SIGMOID"
    source = tmp_path / "in" / "ct.dcm"
    source.parent.mkdir()
    dataset.save_as(source)
    opened = default_window_params(read_image(source))
    assert opened["function"] == "sigmoid"
    out = tmp_path / "out"
    assert main(["apply", "--filter", "window_level", "--set", "center=0.5", "--set", "width=1", str(source),
                 "-o", str(out)]) == 0
    assert len(np.unique(read_image(out / "ct.png").pixels)) == 2
    capsys.readouterr()
    assert main(["apply", "--filter", "window_level", str(source), "-o", str(out)]) == 1, "not taken for done"
    assert "pass --overwrite to make it again" in capsys.readouterr().err
    assert main(["apply", "--filter", "window_level", str(source), "-o", str(out), "--overwrite"]) == 0
    assert main(["apply", "--filter", "window_level", *(f"--set={name}={value}" for name, value in opened.items()),
                 str(source), "-o", str(tmp_path / "given")]) == 0
    own, given = (read_image(folder / "ct.png").pixels for folder in (out, tmp_path / "given"))
    np.testing.assert_array_equal(own, given)
    assert len(np.unique(own)) > 100
    assert main(["apply", "--filter", "window_level", "--set", "function=linear", str(source), "-o", str(out),
                 "--overwrite"]) == 0
    assert not np.array_equal(read_image(out / "ct.png").pixels, own), "a curve given is kept"
    capsys.readouterr()


def test_pictures_of_a_folder_in_formats_not_read_are_named_with_what_to_do(inputs, tmp_path, capsys) -> None:
    """A folder's GIF scans were said to be "not images", with no hint to convert them (an audit of uncommon
    files; the file named alone gets the reader's own clear error)."""
    from PIL import Image as PILImage

    PILImage.new("RGB", (8, 6), "gray").save(inputs / "scan.gif")
    PILImage.new("RGB", (8, 6), "gray").save(inputs / "card.GIF")
    (inputs / "notes.txt").write_text("sidecar")
    assert main(["apply", "--filter", "negative", "-o", str(tmp_path / "out"), str(inputs)]) == 0
    err = capsys.readouterr().err
    assert (f"left out 2 GIF picture(s), a format this program does not read: {inputs / 'card.GIF'}, "
            f"{inputs / 'scan.gif'}; convert them to PNG or TIFF to include them\n") in err
    assert f"left out 1 file(s) that are not images: {inputs / 'notes.txt'}\n" in err


def test_a_stop_after_the_batch_ended_does_not_say_nothing_was_written(inputs, tmp_path, capsys, monkeypatch) -> None:
    """A SIGTERM as the summary was printed said "before any file was processed: nothing was written" of a batch
    that had written every file (a review)."""
    from enhance_core.cli import apply

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(apply, "done_summary", stopped)
    assert main(["apply", "--filter", "negative", "-o", str(tmp_path / "out"), str(inputs)]) == 130
    err = capsys.readouterr().err
    assert "interrupted after the batch ended: every file is processed" in err and "nothing was written" not in err
    assert sorted(path.name for path in (tmp_path / "out").glob("*.png")) == ["one.png", "two.png"]


def test_with_q_the_note_on_pages_left_out_names_every_such_file(tmp_path, capsys) -> None:
    """Under -q the note named five files and pointed to lines -q does not print for the others (a review)."""
    import tifffile

    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(7):
        with tifffile.TiffWriter(folder / f"two_{index}.tif") as writer:
            for value in (1000, 2000):
                writer.write(np.full((8, 10), value, np.uint16), photometric="minisblack")
    assert main(["apply", "--filter", "negative", "-q", "--jobs", "1", "-o", str(tmp_path / "out"), str(folder)]) == 0
    note = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("note: 7 file(s)"))
    assert all(str(folder / f"two_{index}.tif") in note for index in range(7)) and "lines say" not in note


def test_names_in_either_unicode_form_pair_and_match(tmp_path, capsys) -> None:
    """A scan named on a Mac ("Cafe" and a combining accent) found no mask or reference named on a keyboard
    ("Caf" and "é"), and --include 'Café*' typed on a keyboard selected nothing."""
    import unicodedata

    mac, keyboard = unicodedata.normalize("NFD", "Café"), unicodedata.normalize("NFC", "Café")
    for folder in ("in", "masks", "refs"):
        (tmp_path / folder).mkdir()
    pixels = np.full((24, 32, 3), 0.4, np.float32)
    write_image(Image(pixels, meta=ImageMeta(bit_depth=8)), tmp_path / "in" / f"{mac}.png")
    write_image(Image(pixels, meta=ImageMeta(bit_depth=8)), tmp_path / "refs" / f"{keyboard}.png")
    mask = np.zeros((24, 32, 1), np.float32)
    mask[8:12, 8:20] = 1.0
    write_image(Image(mask, meta=ImageMeta(bit_depth=8)), tmp_path / "masks" / f"{keyboard}.png")
    assert main(["apply", "--filter", "hole_fill", "--mask-dir", str(tmp_path / "masks"),
                 "--reference-dir", str(tmp_path / "refs"), "--include", f"{keyboard}*", "-o", str(tmp_path / "out"),
                 str(tmp_path / "in")]) == 0
    assert "1 scored" in capsys.readouterr().out


def test_a_filter_name_is_taken_in_any_case(inputs, tmp_path) -> None:
    from enhance_core.filters.registry import FILTERS

    assert all(name == name.lower() for name in FILTERS), "--filter lowers what is typed"
    assert main(["apply", "--filter", "NEGATIVE", "-o", str(tmp_path / "out"), str(inputs)]) == 0


def test_of_two_masks_that_differ_in_unicode_form_alone_the_one_written_as_the_scan_is_taken(tmp_path, capsys) -> None:
    """Both forms in one mask folder stopped the whole batch, naming two files that printed alike."""
    import unicodedata

    mac, keyboard = unicodedata.normalize("NFD", "Café"), unicodedata.normalize("NFC", "Café")
    for folder in ("in", "masks"):
        (tmp_path / folder).mkdir()
    scan = Image(np.full((24, 32, 3), 0.4, np.float32), meta=ImageMeta(bit_depth=8))
    write_image(scan, tmp_path / "in" / f"{mac}.png")
    for name, rows in ((mac, slice(8, 12)), (keyboard, slice(16, 24))):
        mask = np.zeros((24, 32, 1), np.float32)
        mask[rows, 8:20] = 1.0
        write_image(Image(mask, meta=ImageMeta(bit_depth=8)), tmp_path / "masks" / f"{name}.png")
    assert main(["apply", "--filter", "hole_fill", "--mask-dir", str(tmp_path / "masks"), "-o", str(tmp_path / "out"),
                 str(tmp_path / "in")]) == 0
    assert "fills 6.25 % of the picture" in capsys.readouterr().err, "the mask named as the scan is"


def test_quiet_still_says_once_what_the_files_lines_would_have_said(tmp_path, capsys) -> None:
    """A quiet batch of JPEGs written as PNG lost every caption and credit with nothing said (a helper)."""
    from tests.core.io_fixtures import iptc_records

    folder = tmp_path / "in"
    folder.mkdir()
    for index in range(3):
        write_image(Image(np.full((8, 8, 3), 0.5, np.float32), meta=ImageMeta(iptc=iptc_records())),
                    folder / f"scan{index}.jpg")
    write_image(Image(np.full((8, 8, 3), 0.5, np.float32)), folder / "plain.jpg")
    assert main(["apply", "--filter", "negative", "--jobs", "1", "-q", "--format", "png", "-o",
                 str(tmp_path / "out"), str(folder)]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and notes[0].startswith(f"note: 3 file(s) (first {folder / 'scan0.jpg'}): PNG holds no IPTC")


def test_quiet_counts_notes_that_differ_only_in_their_figures_as_one() -> None:
    """Each file's "fills 0.05 % of the picture" counted apart and crowded out the caption each lost (a review)."""
    from pathlib import Path

    from enhance_core.batch import FileResult
    from enhance_core.cli.apply import quiet_notes

    results = [FileResult(Path(f"scan{index:02d}.jpg"), Path(f"out/scan{index:02d}.png"),
                          step_notes=(f"Hole fill (CNN): fills 0.{index:02d} % of the picture",)
                          + (("PNG holds no IPTC: the caption is left out",) if index == 11 else ()))
               for index in range(12)]
    assert quiet_notes(results) == ["note: 12 file(s) (first scan00.jpg): Hole fill (CNN): fills 0.00 % of the picture",
                                    "note: 1 file(s) (first scan11.jpg): PNG holds no IPTC: the caption is left out"]
    twice = FileResult(Path("a.jpg"), Path("out/a.png"), step_notes=("Fill 1: fills 0.05 %", "Fill 2: fills 0.30 %"))
    assert quiet_notes([twice]) == ["note: 1 file(s) (first a.jpg): Fill 1: fills 0.05 %"], "one file, counted once"


def test_the_readme_s_hand_written_recipe_runs_without_a_note(tmp_path, capsys) -> None:
    """A CLI user could write a recipe only by trial and error, and a hand-written Saturation step was told it
    renders differently since it was saved (a helper)."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    recipe = re.search(r"### Recipe files\n.*?```json\n(.*?)```", readme, re.S)[1]
    (tmp_path / "hand.json").write_text(recipe, encoding="utf-8")
    source = write_image(Image(np.random.default_rng(2).random((40, 48, 3)).astype(np.float32)), tmp_path / "in.png")
    assert main(["apply", "--recipe", str(tmp_path / "hand.json"), "-o", str(tmp_path / "out"), str(source)]) == 0
    printed = capsys.readouterr()
    assert "note:" not in printed.out + printed.err and (tmp_path / "out" / "in.png").exists()


def test_a_file_past_the_time_limit_is_stopped_and_counted_as_failed(inputs, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    slow = ["apply", "--filter", "bilateral", "--set", "sigma_space=20", "--jobs", "1", "-o", str(out)]
    assert main([*slow, "--time-limit", "0.000001", str(inputs / "one.png")]) == 1
    captured = capsys.readouterr()
    assert "stopped after the --time-limit of 1e-06 s; give it more time" in captured.err
    assert not (out / "one.png").exists()
    assert main([*slow, "--time-limit", "600", "--retry-failed", str(inputs / "one.png")]) == 0
    assert (out / "one.png").exists()
    for bad in ("0", "-2", "nan", "inf"):
        assert main([*slow, "--time-limit", bad, str(inputs / "two.png")]) == 2
        assert "--time-limit must be a number of seconds above 0" in capsys.readouterr().err
