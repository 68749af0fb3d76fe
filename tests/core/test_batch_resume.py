"""Resumable batches (issue 23): the manifest in the output folder, re-runs, --retry-failed, torn lines, the lock."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from enhance_core.batch_manifest import MANIFEST_NAME, Manifest
from enhance_core.cli import main
from enhance_core.errors import ParameterError
from enhance_core.image import Image
from enhance_core.io import write_image


@pytest.fixture
def folder(tmp_path):
    """Three small images and a broken one."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(5)
    for name in ("a.png", "b.png", "c.png"):
        write_image(Image(rng.random((12, 16, 3)).astype(np.float32)), inputs / name)
    (inputs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n torn off")
    return inputs


def apply(folder, out, *extra: str) -> int:
    return main(["apply", "--filter", "negative", "--jobs", "1", "-o", str(out), *extra, str(folder)])


def entries(out, *, started: bool = False) -> list[dict]:
    """The manifest's complete lines (a torn one left out), without the line each file gets as it starts unless
    ``started``."""
    lines = (out / MANIFEST_NAME).read_text(encoding="utf-8").splitlines()
    complete = [json.loads(line) for line in lines if line.endswith("}")]
    return [line for line in complete if started or line["status"] != "started"]


def test_the_manifest_records_each_file_and_a_rerun_does_nothing_twice(folder, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert apply(folder, out) == 1
    assert ("1 failed; once they are fixed, --retry-failed tries the 1 that failed again (a replaced input is tried "
            "without it)") in capsys.readouterr().out
    lines = entries(out)
    assert [(line["output"], line["status"]) for line in lines] == [
        ("a.png", "queued"), ("b.png", "queued"), ("broken.png", "queued"), ("c.png", "queued"),
        ("a.png", "done"), ("b.png", "done"), ("broken.png", "failed"), ("c.png", "done")]
    failed = lines[6]
    assert failed["input"] == str((folder / "broken.png").resolve()) and "broken.png" in failed["error"]
    assert failed["size"] == (folder / "broken.png").stat().st_size and len(failed["recipe"]) == 32
    capsys.readouterr()
    assert apply(folder, out) == 1
    assert ("done: 0 of 4 file(s) written to " + str(out) + ", 3 done in an earlier run, 1 failed (1 in an earlier "
            "run); once they are fixed, --retry-failed tries the 1 that failed again") in capsys.readouterr().out
    assert len(entries(out)) == 8, "nothing run, nothing recorded"
    assert apply(folder, out, "--retry-failed") == 1
    assert "0 of 4 file(s) written" in capsys.readouterr().out and entries(out)[-1]["status"] == "failed"
    write_image(Image(np.zeros((4, 4, 3), np.float32)), folder / "broken.png")
    (out / "b.png").unlink()
    assert apply(folder, out) == 0, "a changed input and a removed output are done again"
    assert "2 of 4 file(s) written" in capsys.readouterr().out


def test_the_summary_counts_every_file_retry_failed_tries_again(folder, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert apply(folder, out) == 1
    (folder / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n torn off too")
    capsys.readouterr()
    assert apply(folder, out) == 1
    assert ("2 failed (1 in an earlier run); once they are fixed, --retry-failed tries the 2 that failed again"
            in capsys.readouterr().out)


def test_another_recipe_does_not_replace_outputs_without_overwrite(folder, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    (folder / "broken.png").unlink()
    assert apply(folder, out) == 0
    other = ["apply", "--filter", "gamma", "--jobs", "1", "-o", str(out), str(folder)]
    assert main(other) == 1
    assert "a.png was made by an earlier run from the same input with another recipe" in capsys.readouterr().err
    assert main([*other, "--overwrite"]) == 0
    assert "3 of 3 file(s) written" in capsys.readouterr().out


def test_a_torn_last_line_is_skipped_and_its_file_done_again(folder, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    (folder / "broken.png").unlink()
    assert apply(folder, out) == 0
    manifest = out / MANIFEST_NAME
    text = manifest.read_bytes()
    manifest.write_bytes(text[:-40])
    capsys.readouterr()
    assert apply(folder, out) == 0, "the output of a queued file is this batch's: replaced without --overwrite"
    printed = capsys.readouterr()
    assert "1 unreadable line(s) skipped" in printed.err
    assert "1 of 3 file(s) written to " + str(out) + ", 2 done in an earlier run" in printed.out
    assert [line["status"] for line in entries(out)[-2:]] == ["queued", "done"]


@pytest.mark.parametrize("jobs", ("1", "2"))
def test_a_file_put_where_an_interrupted_run_only_queued_its_output_is_kept(folder, tmp_path, capsys, jobs) -> None:
    """An interrupted run queues every file and begins a few; the archivist then saved a file of their own at the
    output of one it never began, and the rerun replaced it without --overwrite (an archivist's walk-through)."""
    out = tmp_path / "out"
    (folder / "broken.png").unlink()
    assert main(["apply", "--filter", "negative", "--jobs", jobs, "-o", str(out), str(folder)]) == 0
    manifest = out / MANIFEST_NAME
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    assert [json.loads(line)["status"] for line in lines[:3]] == ["queued"] * 3
    assert "started" in {json.loads(line)["status"] for line in lines[3:]}, "the pool says which files it began"
    manifest.write_text("".join(lines[:3]), encoding="utf-8")  # ended before any file began
    for name in ("a.png", "c.png"):
        (out / name).unlink()
    (out / "b.png").write_bytes(b"the archivist's own file")
    capsys.readouterr()
    assert main(["apply", "--filter", "negative", "--jobs", jobs, "-o", str(out), str(folder)]) == 1
    assert (out / "b.png").read_bytes() == b"the archivist's own file"
    assert "b.png already exists" in capsys.readouterr().err
    assert (out / "a.png").exists() and (out / "c.png").exists()


def test_a_file_this_batch_was_writing_when_killed_stays_its_own_through_a_second_interruption(
        folder, tmp_path, capsys) -> None:
    """A kill -9 after a worker put b.png in place and before the run recorded it done leaves "started" last; the
    next run queued it and was stopped before it came back to it; the run after failed b.png for good with
    "already exists" (a batch walk-through)."""
    out = tmp_path / "out"
    (folder / "broken.png").unlink()
    assert apply(folder, out) == 0
    manifest = out / MANIFEST_NAME
    done = next(line for line in entries(out) if line["output"] == "b.png" and line["status"] == "done")
    written = (out / "b.png").read_bytes()
    with manifest.open("a", encoding="utf-8") as handle:
        for status in ("started", "queued"):  # killed while writing it; the next run queued it and was stopped
            handle.write(json.dumps({**done, "status": status}) + "\n")
    capsys.readouterr()
    assert apply(folder, out) == 0, capsys.readouterr().err
    assert entries(out)[-1]["output"] == "b.png" and entries(out)[-1]["status"] == "done"
    assert (out / "b.png").read_bytes() == written
    with manifest.open("a", encoding="utf-8") as handle:  # other work queued in between: the claim is gone
        handle.write(json.dumps({**done, "status": "queued", "recipe": "0" * 32}) + "\n")
        handle.write(json.dumps({**done, "status": "queued"}) + "\n")
    assert apply(folder, out) == 1
    assert "b.png already exists" in capsys.readouterr().err


def test_an_existing_output_not_in_the_manifest_is_kept(folder, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"the user's own file")
    assert apply(folder, out) == 1
    assert (out / "a.png").read_bytes() == b"the user's own file"
    assert [line["output"] for line in entries(out) if line["status"] == "queued"] == ["b.png", "broken.png", "c.png"]


def test_a_manifest_the_system_will_not_open_says_what_to_do(tmp_path, monkeypatch) -> None:
    import os

    from enhance_core.errors import ImageWriteError

    real_open = os.open

    def refusing(path, *args, **kwargs):
        if str(path).endswith(MANIFEST_NAME):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing)
    with pytest.raises(ImageWriteError, match=r"cannot open the batch manifest \(Permission denied\); make it "
                                              "writable, or choose another -o folder"):
        Manifest.open(tmp_path)


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="named pipes and links as on POSIX")
def test_a_manifest_that_is_a_link_or_a_pipe_is_refused_and_nothing_outside_is_written(folder, tmp_path,
                                                                                     capsys) -> None:
    """A link named like the manifest had the batch append its lines to the file it pointed to (anywhere); a
    named pipe hung the batch, and a link to /dev/zero read until memory ran out."""
    import os

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    kinds = {"link": lambda path: path.symlink_to(victim), "pipe": lambda path: os.mkfifo(path),
             "zero": lambda path: path.symlink_to("/dev/zero")}
    for kind, make in kinds.items():
        out = tmp_path / f"out_{kind}"
        out.mkdir()
        make(out / MANIFEST_NAME)
        assert apply(folder, out) == 2
        assert "is a link or not a plain file, where a batch keeps its manifest" in capsys.readouterr().err
        assert sorted(path.name for path in out.iterdir()) == [MANIFEST_NAME]
    assert victim.read_text() == "precious\n"
    os.mkfifo(folder / MANIFEST_NAME)  # an input folder's manifest is read to leave out what batches wrote there
    assert apply(folder, tmp_path / "out") == 1, "the broken scan fails; the batch neither hangs nor stops"


def test_one_run_at_a_time_per_output_folder(tmp_path) -> None:
    first = Manifest.open(tmp_path)
    try:
        with pytest.raises(ParameterError, match="another apply run is writing to .*choose another -o folder"):
            Manifest.open(tmp_path)
    finally:
        first.close()
    Manifest.open(tmp_path).close()


def test_one_run_at_a_time_where_the_system_locks_byte_ranges(tmp_path, monkeypatch) -> None:
    """Windows has no flock: two runs into one folder each took the other's lines for their own."""
    import os
    from types import SimpleNamespace

    from enhance_core import batch_manifest

    held: dict[tuple[int, int], int] = {}

    def locking(descriptor: int, mode: int, count: int) -> None:  # as the C runtime's _locking, by file and byte
        key = (os.fstat(descriptor).st_ino, os.lseek(descriptor, 0, os.SEEK_CUR))
        if mode == 1 and held.setdefault(key, descriptor) != descriptor:
            raise OSError(36, "Resource deadlock avoided")
        if mode == 0 and held.get(key) == descriptor:
            del held[key]

    monkeypatch.setattr(batch_manifest, "fcntl", None)
    monkeypatch.setattr(batch_manifest, "msvcrt", SimpleNamespace(locking=locking, LK_NBLCK=1, LK_UNLCK=0))
    source = tmp_path / "a.png"
    source.write_bytes(b"a scan")
    first = Manifest.open(tmp_path)
    first.append([first.entry(source, tmp_path / "a_out.png", "recipe", "queued")])
    try:
        with pytest.raises(ParameterError, match="another apply run is writing to .*choose another -o folder"):
            Manifest.open(tmp_path)
        assert list(held) == [(os.stat(tmp_path / MANIFEST_NAME).st_ino, batch_manifest.LOCK_OFFSET)]
    finally:
        first.close()
    assert held == {}
    second = Manifest.open(tmp_path)
    assert second.latest(source, "a_out.png").status == "queued", "the lines read back whole"
    second.close()


def test_a_second_run_leaves_the_running_batchs_partial_files_alone(folder, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    partial = out / ".a.png.k3x9q2zw.part"
    partial.write_bytes(b"being written by the first run")
    first = Manifest.open(out)
    try:
        assert apply(folder, out) == 2
    finally:
        first.close()
    assert "another apply run is writing" in capsys.readouterr().err
    assert partial.exists(), "the running batch's partial file is its own"


def test_overwrite_does_every_file_again_even_those_the_manifest_has_done(folder, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    (folder / "broken.png").unlink()
    assert apply(folder, out) == 0
    capsys.readouterr()
    assert apply(folder, out, "--overwrite") == 0
    assert "3 of 3 file(s) written" in capsys.readouterr().out


def test_a_model_update_makes_learned_steps_count_as_other_work(monkeypatch) -> None:
    from enhance_core.batch_manifest import steps_digest
    from enhance_core.learned import registry
    from enhance_core.stack import make_item

    learned, classic = (make_item("denoise", {}),), (make_item("negative", {}),)
    before = steps_digest(learned), steps_digest(classic)
    spec = registry.MODELS["denoise"]
    monkeypatch.setitem(registry.MODELS, "denoise", dataclasses.replace(spec, sha256="0" * 64))
    assert steps_digest(learned) != before[0] and steps_digest(classic) == before[1]


def test_only_an_added_parameter_that_renders_as_before_is_left_out_of_the_work_digest(monkeypatch) -> None:
    from enhance_core import recipe
    from enhance_core.batch_manifest import steps_digest
    from enhance_core.stack import make_item

    for (name, added), spec in recipe.ADDED_PARAMS.items():
        kept = recipe.without_added_defaults(name, {added: spec.value, "other": 1})
        assert kept == ({"other": 1} if spec.same_output else {added: spec.value, "other": 1}), (name, added)
    steps = (make_item("gamma"), make_item("gaussian_blur"))
    before = steps_digest(steps)
    monkeypatch.setitem(recipe.RENDER_CHANGES, "gaussian_blur", ("renders otherwise",))
    assert steps_digest(steps) != before, "files made before a filter renders otherwise are work again"


def test_an_added_parameter_at_its_earlier_value_leaves_finished_files_done(folder, tmp_path, capsys,
                                                                             monkeypatch) -> None:
    from enhance_core import recipe

    out = tmp_path / "out"
    (folder / "broken.png").unlink()
    steps = ["apply", "--filter", "window_level", "--set", "center=0.4", "--jobs", "1", "-o", str(out), str(folder)]
    older = {key: added for key, added in recipe.ADDED_PARAMS.items() if key != ("window_level", "function")}
    with monkeypatch.context() as before_the_curve:
        before_the_curve.setattr(recipe, "ADDED_PARAMS", older)
        real_to_dict = recipe.recipe_to_dict

        def as_written_then(steps, **kwargs):
            data = real_to_dict(steps, **kwargs)
            for step in data["steps"]:
                step["params"].pop("function", None)
            return data

        before_the_curve.setattr(recipe, "recipe_to_dict", as_written_then)
        assert main(steps) == 0
    capsys.readouterr()
    assert main(steps) == 0
    assert "3 done in an earlier run" in capsys.readouterr().out
    assert main([*steps[:5], "--set", "function=sigmoid", *steps[5:]]) == 1, "another curve is other work"


def twin_references(folder, tmp_path):
    """A reference folder holding a copy of each readable input (the broken one is removed from the inputs)."""
    (folder / "broken.png").unlink()
    references = tmp_path / "refs"
    references.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        (references / name).write_bytes((folder / name).read_bytes())
    return references


def test_a_resumed_run_reports_the_scores_the_earlier_run_recorded(folder, tmp_path, capsys) -> None:
    references = twin_references(folder, tmp_path)
    out = tmp_path / "out"
    assert apply(folder, out, "--reference-dir", str(references)) == 0
    first = (out / "report" / "report.csv").read_text(encoding="utf-8").splitlines()
    assert "(3 scored, " in capsys.readouterr().out
    assert {tuple(entry) for entry in entries(out) if entry["status"] == "done"} == {
        ("input", "size", "mtime_ns", "recipe", "output", "status", "seconds", "error", "reference", "metrics")}
    assert apply(folder, out, "--reference-dir", str(references)) == 0
    said = capsys.readouterr().out
    assert "0 of 3 file(s) written" in said and "(3 scored, " in said and "without a reference" not in said
    again = (out / "report" / "report.csv").read_text(encoding="utf-8").splitlines()
    assert [row.split(",")[3:6] for row in again] == [row.split(",")[3:6] for row in first], "the same scores"
    other = tmp_path / "other refs"
    other.mkdir()
    (other / "a.png").write_bytes((folder / "b.png").read_bytes())
    assert apply(folder, out, "--reference-dir", str(other)) == 0
    assert "(0 scored, 2 without a reference" in capsys.readouterr().out, "scores of another reference are not reused"


def test_scores_an_earlier_version_made_otherwise_are_not_reported_again(folder, tmp_path, capsys) -> None:
    """Scores of the result before it was encoded sat in the report beside scores of the files written."""
    references = twin_references(folder, tmp_path)
    out = tmp_path / "out"
    assert apply(folder, out, "--reference-dir", str(references)) == 0
    capsys.readouterr()
    lines = [json.loads(line) for line in (out / MANIFEST_NAME).read_text(encoding="utf-8").splitlines()]
    assert {line["metrics"]["scoring"] for line in lines if line.get("metrics")} == {2}
    for line in lines:
        if line.get("metrics") and line["input"].endswith("a.png"):
            del line["metrics"]["scoring"]  # as the version before it wrote them
    (out / MANIFEST_NAME).write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    assert apply(folder, out, "--reference-dir", str(references)) == 0
    assert "(2 scored, " in capsys.readouterr().out
    rows = (out / "report" / "report.csv").read_text(encoding="utf-8")
    assert "not scored: an earlier version scored it otherwise (before writing)" in rows


def test_a_manifest_line_written_before_scores_were_kept_still_reads(folder, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    line = {"input": str((folder / "a.png").resolve()), "size": 1, "mtime_ns": 2, "recipe": "r", "output": "a.png",
            "status": "done", "seconds": 0.5, "error": None}
    (out / MANIFEST_NAME).write_text(json.dumps(line) + "\n", encoding="utf-8")
    manifest = Manifest.open(out)
    try:
        assert manifest.unreadable == 0 and manifest.latest(folder / "a.png", "a.png").metrics is None
    finally:
        manifest.close()


def test_files_the_disk_refused_are_done_again_by_the_same_command(folder, tmp_path, capsys, monkeypatch) -> None:
    """A full disk or a read-only folder is the storage's failure, not the file's: no --retry-failed needed."""
    import errno
    from contextlib import contextmanager

    from enhance_core.io import writer

    @contextmanager
    def disk_full(path):
        raise OSError(errno.ENOSPC, "No space left on device")
        yield path

    out = tmp_path / "out"
    with monkeypatch.context() as patched:
        patched.setattr(writer, "atomic_write", disk_full)
        assert apply(folder, out) == 1
    captured = capsys.readouterr()
    assert "could not be written (No space left on device)" in captured.err
    assert ("4 failed (3 refused by the disk: the same command tries them again once it has room or permission)"
            in captured.out)
    assert [line["status"] for line in entries(out)[4:]] == ["queued", "queued", "failed", "queued"]
    assert apply(folder, out) == 1
    assert ("done: 3 of 4 file(s) written to " + str(out) + ", 1 failed (1 in an earlier run); once they are fixed, "
            "--retry-failed tries the 1 that failed again") in capsys.readouterr().out
    assert sorted(path.name for path in out.glob("*.png")) == ["a.png", "b.png", "c.png"]


def test_a_batch_stops_once_the_disk_has_refused_files_in_a_row(tmp_path, capsys, monkeypatch) -> None:
    import errno
    from contextlib import contextmanager

    from enhance_core.batch import STORAGE_STOP
    from enhance_core.io import writer

    inputs = tmp_path / "many"
    inputs.mkdir()
    for index in range(STORAGE_STOP + 4):
        write_image(Image(np.full((6, 8, 3), index / 20, np.float32)), inputs / f"{index:02d}.png")

    @contextmanager
    def disk_full(path):
        raise OSError(errno.ENOSPC, "No space left on device")
        yield path

    monkeypatch.setattr(writer, "atomic_write", disk_full)
    assert apply(inputs, tmp_path / "out") == 1
    said = capsys.readouterr().err.splitlines()[-1]
    assert said.startswith(f"stopped: the disk refused the last {STORAGE_STOP} files (the last: ")
    assert "No space left on device" in said and "0 file(s) written" in said and "4 not started" in said
    assert f"0 failed, {STORAGE_STOP} refused by the disk (queued for the next run)" in said
    statuses = [line["status"] for line in entries(tmp_path / "out")]
    assert statuses == ["queued"] * (STORAGE_STOP + 4 + STORAGE_STOP), "all queued, then the refused kept queued"


def test_an_output_of_an_input_that_changed_since_says_so(folder, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert apply(folder, out) == 1
    write_image(Image(np.zeros((12, 16, 3), np.float32)), folder / "a.png")
    capsys.readouterr()
    assert apply(folder, out) == 1
    assert (f"the output {out / 'a.png'} was made by an earlier run from this input before it changed (a new "
            "scan?); pass --overwrite to make it again") in capsys.readouterr().err


def test_a_manifest_a_full_disk_refused_closes_without_a_second_error(tmp_path) -> None:
    import errno
    import io

    from enhance_core.batch_manifest import DONE
    from enhance_core.errors import ImageWriteError

    class FullDisk(io.BytesIO):
        def flush(self) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        def fileno(self) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self) -> None:  # as a buffered file: closing flushes what it could not write
            self.flush()

    source = tmp_path / "a.png"
    source.write_bytes(b"x")
    manifest = Manifest.open(tmp_path)
    manifest._handle.close()
    manifest._handle = FullDisk()
    with pytest.raises(ImageWriteError, match="cannot write the batch manifest .*No space left on device"):
        manifest.append([manifest.entry(source, tmp_path / "out.png", "recipe", DONE)])
    manifest.close()
    manifest.close()


def test_a_manifest_that_holds_nothing_is_removed_when_closed(tmp_path) -> None:
    Manifest.open(tmp_path).close()
    assert not (tmp_path / MANIFEST_NAME).exists()


def test_the_default_quality_hashes_apart_from_an_asked_95() -> None:
    from enhance_core.batch_manifest import work_hash

    default = work_hash("steps", bit_depth=None, quality=None, mask=None)
    assert default != work_hash("steps", bit_depth=None, quality=95, mask=None), "--quality 95 is other work"
    assert default == work_hash("steps", bit_depth=None, quality=None, mask=None)


@pytest.mark.parametrize("extra", [[], ["--overwrite"]])
def test_a_file_a_run_was_ended_in_is_tried_after_the_others_and_said_so(folder, tmp_path, capsys, monkeypatch,
                                                                         extra) -> None:
    """The out-of-memory killer ends the whole process: every rerun began with the same file and never got past it."""
    from enhance_core import batch

    (folder / "broken.png").unlink()
    out = tmp_path / "out"
    real = batch.process_file

    def killed_on_a(task):
        if task.source.name == "a.png":
            raise SystemExit("killed")  # stands in for SIGKILL: nothing after it runs
        return real(task)

    monkeypatch.setattr(batch, "process_file", killed_on_a)
    with pytest.raises(SystemExit):
        apply(folder, out, *extra)
    assert [(line["output"], line["status"]) for line in entries(out, started=True)][-1] == ("a.png", "started")
    monkeypatch.setattr(batch, "process_file", real)
    order: list[str] = []
    monkeypatch.setattr(batch, "process_file", lambda task: order.append(task.source.name) or real(task))
    capsys.readouterr()
    assert apply(folder, out, *extra) == 0
    assert order == ["b.png", "c.png", "a.png"]
    assert f"a.png ({0.0:.1f} s; {batch.STOPPED_IN_NOTE})" in capsys.readouterr().err
    assert [line["status"] for line in entries(out) if line["output"] == "a.png"][-1] == "done"


def test_a_file_stopped_by_ctrl_c_is_queued_again_not_taken_for_one_the_system_ended_nor_for_ours(folder, tmp_path,
                                                                                                 monkeypatch):
    from enhance_core import batch

    (folder / "broken.png").unlink()
    out = tmp_path / "out"
    real = batch.process_file

    def interrupted_on_b(task):
        if task.source.name == "b.png":
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(batch, "process_file", interrupted_on_b)
    assert apply(folder, out) == 130
    assert [line["status"] for line in entries(out, started=True) if line["output"] == "b.png"][-1] == "stopped"
    monkeypatch.setattr(batch, "process_file", real)
    (out / "b.png").write_bytes(b"the archivist's own file")  # at the name of a file the run stopped unwritten
    assert apply(folder, out) == 1, "the README: a file where a stopped run had stopped a file needs --overwrite"
    assert (out / "b.png").read_bytes() == b"the archivist's own file"



def test_a_file_another_recipe_made_says_so_after_this_recipe_was_stopped_on_it(folder, tmp_path, monkeypatch,
                                                                               capsys) -> None:
    """The refusal said only "already exists ... (finishing an interrupted run)", and keeping the file left the
    first recipe's picture among the second's (a review)."""
    from enhance_core import batch

    (folder / "broken.png").unlink()
    out = tmp_path / "out"

    def run(name: str, *extra: str) -> int:
        return main(["apply", "--filter", name, "--jobs", "1", "-o", str(out), *extra, str(folder)])

    assert run("negative") == 0
    real = batch.process_file
    monkeypatch.setattr(batch, "process_file",
                        lambda task: (_ for _ in ()).throw(KeyboardInterrupt) if task.source.name == "b.png"
                        else real(task))
    assert run("gamma", "--overwrite") == 130
    monkeypatch.setattr(batch, "process_file", real)
    capsys.readouterr()
    assert run("gamma") == 1
    assert f"the output {out / 'b.png'} was made by an earlier run from the same input with another recipe" in \
        capsys.readouterr().err
