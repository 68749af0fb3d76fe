"""Batch processing: inputs, output planning, masks, failures, parallel workers and the report."""

from __future__ import annotations

import csv
import glob
import os
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest

from enhance_core.batch import FileResult, load_mask_file, output_suffix, plan_batch, run_batch
from enhance_core.batch_inputs import collect_inputs, collect_tree
from enhance_core.batch_manifest import MANIFEST_NAME
from enhance_core.batch_report import write_report
from enhance_core.batch_workers import BatchInterrupted
from enhance_core.errors import ImageWriteError, ParameterError
from enhance_core.image import Image, ImageMeta
from enhance_core.io import read_image, write_image
from enhance_core.stack import make_item

from .locked_folders import lock_folder


def photo(seed: int, rows: int = 48, cols: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:cols] / 16.0
    base = 0.5 + 0.3 * np.sin(xx + seed) * np.cos(yy)
    return np.clip(base[:, :, None] + rng.normal(0, 0.02, (rows, cols, 3)), 0, 1).astype(np.float32)


def save(path, pixels: np.ndarray, bit_depth: int = 8):
    return write_image(Image(pixels, meta=ImageMeta(bit_depth=bit_depth)), path)


@pytest.fixture
def folder(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    save(inputs / "a.png", photo(0), bit_depth=16)
    save(inputs / "b.jpg", photo(1))
    save(inputs / "c.tif", photo(2), bit_depth=16)
    return inputs


def test_collect_inputs_from_files_folders_and_globs(folder) -> None:
    assert [p.name for p in collect_inputs([folder])] == ["a.png", "b.jpg", "c.tif"]
    assert [p.name for p in collect_inputs([str(folder / "*.png"), folder / "a.png"])] == ["a.png"]
    with pytest.raises(ParameterError, match="nothing.png.*matches no image"):
        collect_inputs([folder / "nothing.png"])


def test_a_glob_matches_file_names_in_any_case(tmp_path) -> None:
    shoot = tmp_path / "Shoot"
    shoot.mkdir()
    save(shoot / "IMG_0001.JPG", photo(0))
    save(shoot / "b.jpg", photo(1))
    save(shoot / "c.png", photo(2))
    assert [p.name for p in collect_inputs([str(shoot / "*.jpg")])] == ["IMG_0001.JPG", "b.jpg"]
    assert [p.name for p in collect_inputs([str(shoot / "img_*")])] == ["IMG_0001.JPG"]
    save(shoot / "scan[1].JPG", photo(3))
    save(shoot / "open[2.JPG", photo(4))
    assert [p.name for p in collect_inputs([str(shoot / f"{glob.escape('scan[')}*.jpg")])] == ["scan[1].JPG"]
    assert [p.name for p in collect_inputs([str(shoot / "open[*.jpg")])] == ["open[2.JPG"], "an unclosed [ is itself"
    assert [p.name for p in collect_inputs([str(shoot / "IMG_[0-9]*.jpg")])] == ["IMG_0001.JPG"]
    with pytest.raises(ParameterError, match="matches no image"):
        collect_inputs([str(tmp_path / "shoot" / "*.jpg")]), "folders keep the file system's case"


def test_a_folder_s_dicom_files_named_without_an_image_suffix_are_taken(tmp_path) -> None:
    from tests.core.dicom_fixtures import write_series

    write_series(tmp_path / "study", [0.0, 1.0, 2.0], names=["IM0001", "IM0002", "1.2.840.10008.5"])
    (tmp_path / "study" / "notes.txt").write_text("index")
    (tmp_path / "study" / "README").write_text("not a slice")
    report = pydicom.dcmread(tmp_path / "study" / "IM0002")
    report.file_meta.MediaStorageSOPClassUID = report.SOPClassUID = pydicom.uid.BasicTextSRStorage
    for keyword in ("Rows", "Columns", "PixelData"):
        delattr(report, keyword)
    report.save_as(tmp_path / "study" / "DICOMDIR")
    report.save_as(tmp_path / "study" / "SR0001")
    left_out: list = []
    tree = collect_tree([tmp_path / "study"], left_out=left_out)
    assert sorted(path.name for path in tree) == ["1.2.840.10008.5", "IM0001", "IM0002"]
    assert sorted(path.name for path in left_out) == ["DICOMDIR", "README", "SR0001", "notes.txt"]
    tasks = plan_batch(list(tree), (make_item("negative"),), tmp_path / "out")
    results = run_batch(tasks, jobs=1)
    assert all(result.error is None for result in results)
    assert sorted(path.name for path in (tmp_path / "out").glob("*.png")) == ["1.2.840.10008.png", "IM0001.png",
                                                                               "IM0002.png"]


def test_outputs_keep_names_and_never_replace_inputs(folder, tmp_path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    save(other / "a.png", photo(3))
    steps = (make_item("negative"),)
    tasks = plan_batch([folder / "a.png", other / "a.png", folder / "b.jpg"], steps, tmp_path / "out")
    assert [t.output.name for t in tasks] == ["a-in.png", "a-other.png", "b.jpg"]
    with pytest.raises(ParameterError, match="would overwrite the input"):
        plan_batch([folder / "a.png"], steps, folder)
    assert output_suffix(folder / "scan.dcm", None) == ".png"
    assert output_suffix(folder / "a.png", "tif") == ".tif"
    with pytest.raises(ParameterError, match="cannot write '.gif'"):
        output_suffix(folder / "a.png", "gif")


def test_outputs_never_replace_a_mask_or_a_reference(folder, tmp_path) -> None:
    masks, truth = tmp_path / "masks", tmp_path / "truth"
    for where in (masks, truth):
        where.mkdir()
        save(where / "a.png", photo(5))
    steps = (make_item("negative"),)
    with pytest.raises(ParameterError, match=f"the output {masks / 'a.png'} would overwrite the mask"):
        plan_batch([folder / "a.png"], steps, masks, mask_dir=masks, overwrite=True)
    with pytest.raises(ParameterError, match="would overwrite the mask"):
        plan_batch([folder / "a.png"], steps, masks, mask_file=masks / "a.png", overwrite=True)
    with pytest.raises(ParameterError, match=f"would overwrite the reference {truth / 'a.png'}"):
        plan_batch([folder / "a.png"], steps, truth, reference_dir=truth, overwrite=True)


def test_a_relative_output_folder_never_replaces_a_mask_or_a_reference(folder, tmp_path, monkeypatch) -> None:
    for where in ("masks", "truth"):
        (tmp_path / where).mkdir()
        save(tmp_path / where / "a.png", photo(5))
    monkeypatch.chdir(tmp_path)
    steps = (make_item("negative"),)
    with pytest.raises(ParameterError, match="would overwrite the mask"):
        plan_batch([folder / "a.png"], steps, Path("masks"), mask_dir=tmp_path / "masks", overwrite=True)
    with pytest.raises(ParameterError, match="would overwrite the mask"):
        plan_batch([folder / "a.png"], steps, tmp_path / "masks", mask_dir=Path("masks"), overwrite=True)
    with pytest.raises(ParameterError, match="would overwrite the reference"):
        plan_batch([folder / "a.png"], steps, Path("truth"), reference_dir=Path("truth"), overwrite=True)


def test_ctrl_c_while_a_result_is_recorded_counts_the_files_written(folder, tmp_path) -> None:
    tasks = plan_batch(collect_inputs([folder]), (make_item("negative"),), tmp_path / "out")

    def on_result(result: FileResult, done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(BatchInterrupted) as caught:
        run_batch(tasks, jobs=1, on_result=on_result)
    finished = [result for result in caught.value.results if result is not None]
    assert [result.output.name for result in finished if result.output is not None] == ["a.png", "b.jpg"]
    assert caught.value.running == [] and caught.value.not_started == [2]


def test_a_mask_file_larger_than_the_image_keeps_its_thin_strokes(tmp_path) -> None:
    painted = np.zeros((1000, 1000), np.float32)
    for row in range(0, 1000, 100):
        painted[row:row + 3] = 1.0
    save(tmp_path / "mask.png", painted[:, :, None])
    raster, size = load_mask_file(tmp_path / "mask.png", rows=100, cols=100)
    assert size == (1000, 1000)
    assert np.count_nonzero(raster.max(axis=1) > 0.2) == 10, "each 3-px stroke keeps its row"
    assert raster.sum() == pytest.approx(painted.sum() / 100, rel=0.01)


def test_batch_keeps_format_and_depth_and_skips_bad_files(folder, tmp_path) -> None:
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out"
    out.mkdir()
    tasks = plan_batch(collect_inputs([folder]), (make_item("negative"),), out)
    seen = []
    results = run_batch(tasks, jobs=1, on_result=lambda r, done, total: seen.append((done, total)))
    assert seen[-1] == (4, 4)
    failed = [r for r in results if r.error]
    assert len(failed) == 1 and "broken.png" in failed[0].error
    a = read_image(out / "a.png")
    assert a.meta.bit_depth == 16 and read_image(out / "c.tif").meta.bit_depth == 16
    assert read_image(out / "b.jpg").meta.format == "JPEG"
    np.testing.assert_allclose(a.pixels, 1 - read_image(folder / "a.png").pixels, atol=1 / 65535)
    again = run_batch(plan_batch([folder / "a.png"], (make_item("gamma"),), out), jobs=1)
    assert "already exists" in again[0].error and "--overwrite" in again[0].error
    replaced = run_batch(plan_batch([folder / "a.png"], (make_item("gamma"),), out, overwrite=True), jobs=1)
    assert replaced[0].error is None


def test_mask_file_and_mask_dir(folder, tmp_path) -> None:
    from enhance_core.batch_report import failure_causes

    mask = np.zeros((48, 64, 1), np.float32)
    mask[:, 32:] = 1.0
    save(tmp_path / "half.png", mask)
    steps = (make_item("negative"),)
    out = tmp_path / "out"
    out.mkdir()
    (done,) = run_batch(plan_batch([folder / "a.png"], steps, out, mask_file=tmp_path / "half.png"), jobs=1)
    source, result = read_image(folder / "a.png").pixels, read_image(out / "a.png").pixels
    np.testing.assert_allclose(result[:, :32], source[:, :32], atol=1 / 65535)
    np.testing.assert_allclose(result[:, 33:], 1 - source[:, 33:], atol=1 / 65535)
    assert done.step_notes == ()
    save(tmp_path / "small.png", mask[::2, ::2])
    (stretched,) = run_batch(plan_batch([folder / "a.png"], steps, out, mask_file=tmp_path / "small.png",
                                        overwrite=True), jobs=1)
    assert stretched.step_notes == ("mask small.png is 32x24: stretched to the image's 64x48",)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_text("not an image")
    (broken,) = run_batch(plan_batch([folder / "a.png"], steps, out, mask_dir=tmp_path / "broken",
                                     overwrite=True), jobs=1)
    assert broken.error.startswith(f"{folder / 'a.png'}: mask {tmp_path / 'broken' / 'a.png'}: the name says PNG")
    assert failure_causes([broken])[0][0].startswith("mask <file>: the name says PNG"), "not the photo's fault"
    masks = tmp_path / "masks"
    masks.mkdir()
    save(masks / "b.png", mask)
    (tmp_path / "paired").mkdir()
    paired = run_batch(plan_batch(collect_inputs([folder]), steps, tmp_path / "paired", mask_dir=masks),
                       jobs=1, mask_required=True)
    assert [r.error is None for r in paired] == [False, True, False]
    assert "no mask with the stem 'a'" in paired[0].error
    save(masks / "b.tif", mask)
    with pytest.raises(ParameterError, match=r"mask folder .* holds 2 files for the stem 'b' \(b\.png, b\.tif\)"):
        plan_batch(collect_inputs([folder]), steps, tmp_path / "again", mask_dir=masks)


def test_a_mask_file_or_folder_that_cannot_be_opened_is_refused_naming_the_folder(folder, tmp_path,
                                                                                 monkeypatch) -> None:
    locked = tmp_path / "locked"
    (locked / "masks").mkdir(parents=True)
    lock_folder(monkeypatch, locked, listable=False)
    steps = (make_item("negative"),)
    reason = f"permission denied: the folder {locked} cannot be entered; check the folder's permissions"
    with pytest.raises(ParameterError) as caught:
        plan_batch([folder / "a.png"], steps, tmp_path / "out", mask_file=locked / "half.png")
    assert str(caught.value) == f"mask file {locked / 'half.png'}: {reason}"
    with pytest.raises(ParameterError) as caught:
        plan_batch([folder / "a.png"], steps, tmp_path / "out", mask_dir=locked / "masks")
    assert str(caught.value) == f"mask folder {locked / 'masks'}: {reason}"
    with pytest.raises(ParameterError) as caught:
        plan_batch([folder / "a.png"], steps, tmp_path / "out", reference_dir=locked)
    assert str(caught.value) == (f"reference folder {locked}: permission denied: it cannot be opened; check the "
                                 "folder's permissions")


def test_inputs_that_share_a_stem_are_refused_when_paired_by_stem(folder, tmp_path) -> None:
    save(folder / "b.png", photo(3))
    save(folder / "C.png", photo(4))
    steps = (make_item("negative"),)
    (tmp_path / "masks").mkdir()
    inputs = collect_inputs([folder])
    for option in ({"mask_dir": tmp_path / "masks"}, {"reference_dir": tmp_path / "masks"}):
        with pytest.raises(ParameterError, match=r"2 inputs share a stem with another in their folder.*b\.jpg and "
                                                 r".*b\.png.*rename"):
            plan_batch(inputs, steps, tmp_path / "out", **option)
    apart = [path for path in inputs if path.name != "b.png"]
    assert len(plan_batch(apart, steps, tmp_path / "out", mask_dir=tmp_path / "masks")) == 4, \
        "C.png and c.tif pair with masks of their own stems"
    assert [t.output.name for t in plan_batch(inputs, steps, tmp_path / "out")] == [
        "C.png", "a.png", "b.jpg", "b.png", "c.tif"]


def test_a_mirrored_tree_pairs_references_and_masks_in_the_same_subfolder(tmp_path) -> None:
    """Every box of an archive has its scan_0001: a reference tree of the same shape scores each."""
    archive, references = tmp_path / "archive", tmp_path / "truth"
    for box, seed in (("box1", 1), ("box2", 2)):
        for folder in (archive / box, references / box):
            folder.mkdir(parents=True)
            save(folder / "scan_0001.png", photo(seed))
    save(references / "scan_0001.png", photo(7))
    tree = collect_tree([archive], recursive=True)
    tasks = plan_batch(list(tree), (make_item("negative"),), tmp_path / "out", subfolders=tree,
                       reference_dir=references, mask_dir=references)
    assert [(task.reference, task.mask) for task in tasks] == [
        (references / box / "scan_0001.png",) * 2 for box in ("box1", "box2")]
    flat = plan_batch(collect_inputs([archive / "box1"]), (make_item("negative"),), tmp_path / "flat",
                      reference_dir=references)
    assert flat[0].reference == references / "scan_0001.png", "without -r the reference folder's own files"


def test_with_a_mirrored_tree_a_flat_mask_folder_still_pairs_and_a_shared_flat_mask_is_refused(tmp_path) -> None:
    """detect-dust writes a flat mask folder; apply -r --mask-dir takes it when no subfolder mirrors the input."""
    archive, masks = tmp_path / "archive", tmp_path / "masks"
    for folder in (archive / "box1", archive / "box2", masks):
        folder.mkdir(parents=True)
    save(archive / "box1" / "a.png", photo(1))
    save(archive / "box2" / "b.png", photo(2))
    for stem in ("a", "b"):
        save(masks / f"{stem}.png", photo(3))
    tree = collect_tree([archive], recursive=True)
    tasks = plan_batch(list(tree), (make_item("negative"),), tmp_path / "out", subfolders=tree, mask_dir=masks)
    assert [task.mask for task in tasks] == [masks / "a.png", masks / "b.png"]
    save(archive / "box2" / "a.png", photo(4))
    tree = collect_tree([archive], recursive=True)
    with pytest.raises(ParameterError, match=r"box1/a\.png and .*box2/a\.png would both be paired with the mask "
                                             r".*masks/a\.png; give each subfolder its own"):
        plan_batch(list(tree), (make_item("negative"),), tmp_path / "out", subfolders=tree, mask_dir=masks)


def test_parallel_workers_give_the_same_files(folder, tmp_path) -> None:
    steps = (make_item("gaussian_blur", {"sigma": 1.5}),)
    for jobs, name in ((1, "serial"), (2, "parallel")):
        (tmp_path / name).mkdir()
        results = run_batch(plan_batch(collect_inputs([folder]), steps, tmp_path / name), jobs=jobs)
        assert all(r.error is None for r in results)
    for file in ("a.png", "b.jpg", "c.tif"):
        np.testing.assert_array_equal(read_image(tmp_path / "serial" / file).pixels,
                                      read_image(tmp_path / "parallel" / file).pixels)


def test_reference_report(folder, tmp_path) -> None:
    references = tmp_path / "ref"
    references.mkdir()
    save(references / "a.png", photo(0), bit_depth=16)
    save(references / "b.png", photo(9))
    out = tmp_path / "out"
    out.mkdir()
    tasks = plan_batch(collect_inputs([folder]), (make_item("gaussian_blur", {"sigma": 0.5}),), out,
                       reference_dir=references)
    results = run_batch(tasks, jobs=1)
    assert results[0].metrics["psnr"] > 35 and results[1].metrics["psnr"] < 25 and results[2].metrics is None
    summary = write_report(results, out / "report", min_psnr=30.0, min_ssim=0.5)
    assert summary.scored == 2 and [p.name for p in summary.flagged] == ["b.jpg"]
    rows = list(csv.DictReader((out / "report" / "report.csv").read_text(encoding="utf-8").splitlines()))
    assert [r["flagged"] for r in rows] == ["", "yes", ""]
    assert float(rows[0]["ssim"]) > 0.9 and rows[2]["psnr_db"] == ""
    assert rows[2]["note"] == "no reference of this name in the reference folder: not scored" and rows[0]["note"] == ""
    for name in ("metric_histograms.png", "best.png", "worst.png"):
        picture = cv2.imread(str(out / "report" / name))
        assert picture is not None and picture.shape[0] > 100 and picture.std() > 10
    assert (out / "report" / "flagged.txt").read_text().strip().endswith("b.jpg")


def test_batch_keeps_exif(tmp_path) -> None:
    from PIL import Image as PILImage

    exif = PILImage.Exif()
    exif[0x010F] = "TestCam"
    source = tmp_path / "cam.jpg"
    write_image(Image(photo(4), meta=ImageMeta(bit_depth=8, exif=exif.tobytes())), source)
    out = tmp_path / "out"
    out.mkdir()
    assert run_batch(plan_batch([source], (make_item("exposure", {"stops": 0.5}),), out), jobs=1)[0].error is None
    with PILImage.open(out / "cam.jpg") as written:
        assert written.getexif().get(0x010F) == "TestCam"


def test_a_report_file_that_cannot_be_written_is_named(tmp_path) -> None:
    report = tmp_path / "report"
    (report / "report.csv").mkdir(parents=True)
    results = [FileResult(tmp_path / "a.png", tmp_path / "out" / "a.png")]
    with pytest.raises(ImageWriteError, match="report.csv.*could not write the report file"):
        write_report(results, report)
    assert sorted(p.name for p in report.iterdir()) == ["report.csv"]


@pytest.fixture
def collection(tmp_path):
    """A nested collection: the same names in several folders, a hidden folder and a file that is no image."""
    root = tmp_path / "archive"
    for folder in ("", "box1", "box1/sleeve", "box2", ".thumbs"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(("a.png", "box1/a.png", "box1/sleeve/a.png", "box1/sleeve/b.jpg", "box2/A.TIF",
                                  ".thumbs/a.png")):
        save(root / name, photo(index, 16, 20))
    (root / "box2" / "notes.txt").write_text("not an image")
    return root


def test_a_recursive_collection_mirrors_its_tree(collection, tmp_path) -> None:
    assert [p.name for p in collect_inputs([collection])] == ["a.png"]
    tree = collect_tree([collection], recursive=True)
    assert [p.relative_to(collection).as_posix() for p in tree] == [
        "a.png", "box1/a.png", "box1/sleeve/a.png", "box1/sleeve/b.jpg", "box2/A.TIF"]
    out = tmp_path / "out"
    tasks = plan_batch(list(tree), (make_item("negative"),), out, subfolders=tree)
    assert [t.output.relative_to(out).as_posix() for t in tasks] == [
        "a.png", "box1/a.png", "box1/sleeve/a.png", "box1/sleeve/b.jpg", "box2/A.TIF"]
    assert all(r.error is None for r in run_batch(tasks, jobs=1))
    for task in tasks[:3]:
        np.testing.assert_allclose(read_image(task.output).pixels, 1 - read_image(task.source).pixels, atol=1 / 255)


def test_a_recursive_walk_leaves_out_what_windows_marks_hidden_or_system(collection, monkeypatch) -> None:
    """On a drive's root, ``apply -r`` processed the recycle bin ($RECYCLE.BIN, marked hidden and system there)."""
    import os
    import stat
    from types import SimpleNamespace

    from enhance_core import paths

    (collection / "$RECYCLE.BIN" / "S-1-5-21").mkdir(parents=True)
    save(collection / "$RECYCLE.BIN" / "S-1-5-21" / "$R8K2Q1X.png", photo(7, 16, 20))
    save(collection / "box1" / "Thumbs.png", photo(8, 16, 20))
    marked = {"$RECYCLE.BIN": stat.FILE_ATTRIBUTE_HIDDEN | stat.FILE_ATTRIBUTE_SYSTEM,
              "Thumbs.png": stat.FILE_ATTRIBUTE_HIDDEN}
    real_stat = os.stat

    def windows_stat(path, *args, **kwargs):
        found = real_stat(path, *args, **kwargs)
        return SimpleNamespace(st_mode=found.st_mode, st_file_attributes=marked.get(Path(path).name, 0))

    monkeypatch.setattr(paths.sys, "platform", "win32")
    monkeypatch.setattr(paths.os, "stat", windows_stat)
    tree = collect_tree([collection], recursive=True)
    monkeypatch.undo()
    assert [p.relative_to(collection).as_posix() for p in tree] == [
        "a.png", "box1/a.png", "box1/sleeve/a.png", "box1/sleeve/b.jpg", "box2/A.TIF"]


def test_a_recursive_walk_leaves_out_the_output_folder_inside_it(collection) -> None:
    out = collection / "restored"
    (out / "box1").mkdir(parents=True)
    save(out / "box1" / "a.png", photo(9, 16, 20))
    tree = collect_tree([collection], recursive=True, skip=out)
    assert not [p for p in tree if out in p.parents]
    assert len(collect_tree([collection], recursive=True)) == 6
    globbed = collect_tree([str(collection / "**" / "*.png")], recursive=True, skip=out)
    assert not [p for p in globbed if out in p.parents], "a glob leaves the output folder out too"


@pytest.mark.parametrize("listable", [True, False])
def test_a_subfolder_that_cannot_be_opened_is_left_out_with_a_note(collection, monkeypatch, listable) -> None:
    lock_folder(monkeypatch, collection / "box1", listable=listable)
    note = f"left out 1 folder(s) that cannot be opened (permission denied; check their permissions): " \
           f"{collection / 'box1'}"
    notes: list[str] = []
    tree = collect_tree([collection], recursive=True, notes=notes)
    assert [p.relative_to(collection).as_posix() for p in tree] == ["a.png", "box2/A.TIF"]
    assert notes == [note]
    hint = f"the subfolders of {collection} hold images too; pass -r to include them"
    notes.clear()
    assert list(collect_tree([collection], notes=notes)) == [collection / "a.png"]
    assert notes == [hint]
    notes.clear()
    (collection / "box2" / "A.TIF").unlink()
    assert list(collect_tree([collection], notes=notes)) == [collection / "a.png"]
    assert notes == [hint if listable else note], "without -r, a folder is named when nothing else says to pass -r"


def test_an_input_folder_that_cannot_be_opened_is_refused_naming_it(collection, monkeypatch) -> None:
    lock_folder(monkeypatch, collection / "box1", listable=False)
    for recursive in (False, True):
        with pytest.raises(ParameterError) as caught:
            collect_tree([collection / "box1"], recursive=recursive)
        assert str(caught.value) == (f"input {str(collection / 'box1')!r}: permission denied: the folder "
                                     f"{collection / 'box1'} cannot be opened; check the folder's permissions")
    for spec in (collection / "box1" / "sleeve", collection / "box1" / "*.png"):
        with pytest.raises(ParameterError) as caught:
            collect_tree([spec])
        assert str(caught.value) == (f"input {str(spec)!r}: permission denied: the folder {collection / 'box1'} "
                                     "cannot be entered; check the folder's permissions")


def test_include_and_exclude_patterns(collection) -> None:
    def names(**patterns) -> list[str]:
        return [p.relative_to(collection).as_posix() for p in collect_tree([collection], recursive=True, **patterns)]

    assert names(include=["*.png"]) == ["a.png", "box1/a.png", "box1/sleeve/a.png"]
    assert names(include=["*.tif"]) == ["box2/A.TIF"], "patterns ignore case"
    assert names(exclude=["box1/*"]) == ["a.png", "box2/A.TIF"]
    assert names(include=["*.png", "*.jpg"], exclude=["sleeve/*", "box1/sleeve/*"]) == ["a.png", "box1/a.png"]
    with pytest.raises(ParameterError, match="archive'? has no file that --include/--exclude select"):
        collect_tree([collection], recursive=True, include=["*.dng"])
    tree = collect_tree([str(collection / "box1" / "**" / "*.png")], recursive=True)
    assert [str(folder) for folder in tree.values()] == [".", "sleeve"], "a glob mirrors from its fixed folders"
    assert names(exclude=["sleeve"]) == ["a.png", "box1/a.png", "box2/A.TIF"], "a folder's name, at any depth"
    with pytest.raises(ParameterError, match="has no file that --include/--exclude select"):
        names(include=["sleeve"])  # an include pattern is about files, not the folders they lie in


def wrote(folder, *names: str) -> None:
    """Record in ``folder``'s manifest that a batch wrote ``names`` there."""
    from enhance_core.batch_manifest import DONE, Manifest

    manifest = Manifest.open(folder)
    manifest.append([manifest.entry(folder / name, folder / name, "recipe", DONE) for name in names])
    manifest.close()


def test_a_recursive_walk_leaves_out_what_earlier_batches_wrote_and_takes_the_originals_beside_it(collection) -> None:
    earlier = collection / "box1" / "restored 2025"
    (earlier / "sub").mkdir(parents=True)
    for name in ("a.png", "sub/b.png", "original.png"):
        save(earlier / name, photo(9, 16, 20))
    wrote(earlier, "a.png", "sub/b.png")
    notes: list[str] = []
    tree = collect_tree([collection], recursive=True, notes=notes)
    assert [p for p in tree if earlier in p.parents] == [earlier / "original.png"]
    assert notes == [f"left out 1 output folder(s) of earlier batches (the files their {MANIFEST_NAME} lists): "
                     f"{earlier}"]
    (earlier / "original.png").unlink()
    only = collection.parent / "only_outputs"
    only.mkdir()
    earlier.rename(only / "restored")
    with pytest.raises(ParameterError, match=r"only_outputs'? matches no image file; its subfolder\(s\) .*restored "
                                             r"hold the outputs of earlier batches .* name one as the input"):
        collect_tree([only], recursive=True)
    assert len(collect_tree([only / "restored"], recursive=True)) == 2, "named, an output folder is taken again"


def test_an_empty_manifest_hides_no_original_and_a_glob_leaves_out_earlier_outputs(tmp_path) -> None:
    tree = tmp_path / "tree"
    (tree / "res").mkdir(parents=True)
    save(tree / "res" / "keep_me.png", photo(1, 8, 8))
    (tree / "res" / MANIFEST_NAME).write_text("")  # a refused run's
    assert list(collect_tree([tree], recursive=True)) == [tree / "res" / "keep_me.png"]
    save(tree / "res" / "made.png", photo(2, 8, 8))
    wrote(tree / "res", "made.png")
    assert list(collect_tree([str(tree / "**" / "*.png")], recursive=True)) == [tree / "res" / "keep_me.png"]


def test_outputs_never_collide_in_a_mirrored_tree(tmp_path) -> None:
    root = tmp_path / "in"
    (root / "b.png").mkdir(parents=True)
    for name in ("a.png", "a.tif", "b.tif", "b.png/c.png"):
        save(root / name, photo(0, 8, 8))
    tree = collect_tree([root], recursive=True)
    tasks = plan_batch(list(tree), (make_item("negative"),), tmp_path / "out", format_suffix="png", subfolders=tree)
    assert [t.output.relative_to(tmp_path / "out").as_posix() for t in tasks] == [
        "a-png.png", "a-tif.png", "b.png/c.png", "b-2.png"]


def test_a_new_scan_of_a_stem_leaves_the_other_scans_output_names_as_they_were(tmp_path) -> None:
    for name in ("a.jpg", "a.tif"):
        save(tmp_path / name, photo(0, 8, 8))
    steps = (make_item("negative"),)
    first = plan_batch([tmp_path / "a.jpg", tmp_path / "a.tif"], steps, tmp_path / "out", format_suffix="png")
    save(tmp_path / "a.bmp", photo(1, 8, 8))
    second = plan_batch([tmp_path / n for n in ("a.bmp", "a.jpg", "a.tif")], steps, tmp_path / "out",
                        format_suffix="png")
    assert [t.output.name for t in first] == ["a-jpg.png", "a-tif.png"]
    assert [t.output.name for t in second] == ["a-bmp.png", "a-jpg.png", "a-tif.png"]


def test_names_that_differ_only_in_unicode_form_get_outputs_macos_keeps_apart(tmp_path) -> None:
    for folder, name in (("box1", "caf\u00e9.png"), ("box2", "cafe\u0301.png")):  # é composed, and e + accent
        (tmp_path / folder).mkdir()
        save(tmp_path / folder / name, photo(0, 8, 8))
    tasks = plan_batch([tmp_path / "box1" / "caf\u00e9.png", tmp_path / "box2" / "cafe\u0301.png"],
                       (make_item("negative"),), tmp_path / "out")
    assert [task.output.name for task in tasks] == ["caf\u00e9-box1.png", "cafe\u0301-box2.png"]


def test_an_output_name_of_exactly_255_bytes_is_kept_whole(tmp_path) -> None:
    name = "é" * 125 + "x.png"
    save(tmp_path / name, photo(0, 8, 8))
    (task,) = plan_batch([tmp_path / name], (make_item("negative"),), tmp_path / "out")
    assert task.output.name == name and len(name.encode()) == 255


def test_an_output_name_longer_than_a_file_system_takes_is_cut_short_and_written(tmp_path) -> None:
    names = ("é" * 125 + "x.png", "é" * 125 + "y.png")  # 255 bytes each, the most a name may hold
    for folder in ("scans_2019", "scans_2020"):
        (tmp_path / folder).mkdir()
        for name in names:
            save(tmp_path / folder / name, photo(0, 8, 8))
    inputs = [tmp_path / folder / name for folder in ("scans_2019", "scans_2020") for name in names]
    results = run_batch(plan_batch(inputs, (make_item("negative"),), tmp_path / "out", format_suffix="webp"), jobs=1)
    outputs = [result.output.name for result in results]
    assert all(result.error is None for result in results)
    assert len(set(outputs)) == 4 and all(len(name.encode()) <= 255 and name.endswith(".webp") for name in outputs)
    assert sorted(path.name for path in (tmp_path / "out").glob("*.webp")) == sorted(outputs)


def test_failures_are_grouped_by_cause(tmp_path) -> None:
    from enhance_core.batch_report import failure_causes, format_failures

    def failed(name: str, reason: str) -> FileResult:
        return FileResult(tmp_path / name, None, f"{tmp_path / name}: {reason}")

    results = [failed("a.png", "not a PNG"), FileResult(tmp_path / "ok.png", tmp_path / "out.png"),
               failed("b.png", "not a PNG"), failed("c.tif", f"mask {tmp_path / 'm.png'} is 3x4 but ..."),
               FileResult(tmp_path / "d.tif", None, f"{tmp_path / 'out' / 'd.png'}: the PNG encoder failed")]
    assert failure_causes(results) == [("not a PNG", [tmp_path / "a.png", tmp_path / "b.png"]),
                                       ("mask <file> is 3x4 but ...", [tmp_path / "c.tif"]),
                                       ("the PNG encoder failed", [tmp_path / "d.tif"])]
    assert format_failures(results, examples=1).splitlines()[:3] == [
        "     2  not a PNG", f"        {tmp_path / 'a.png'}", "        ... and 1 more"]
    assert format_failures(results[1:2]) == ""
    cut = [failed(f"{name}.tif", f"TIFF strip 3 ends at byte {size:,} but the file holds {size - 17:,} bytes")
           for name, size in (("d", 40_960), ("e", 1_048_576))]
    assert failure_causes(cut) == [("TIFF strip 3 ends at byte 40,960 but the file holds 40,943 bytes (the numbers "
                                    "differ from file to file)", [tmp_path / "d.tif", tmp_path / "e.tif"])]
    magic = [failed("f.png", "first bytes: 6e 6f 74 20 61 6e 20 69"), failed("g.png", "image is 640x480")]
    assert [cause for cause, _ in failure_causes(magic)] == ["first bytes: 6e 6f 74 20 61 6e 20 69",
                                                             "image is 640x480"], "one file's numbers stay"
    damaged = [failed(f"{name}.jpg", f"not a known format; first bytes: {first}")
               for name, first in (("h", "9a 00 13 ff 2c 41 00 07"), ("i", "11 22 33 44 55 66 77 88"))]
    assert failure_causes(damaged) == [("not a known format; first bytes: 9a 00 13 ff 2c 41 00 07 (the first bytes "
                                        "differ from file to file)", [tmp_path / "h.jpg", tmp_path / "i.jpg"])]


def test_failures_about_outputs_with_spaces_in_their_names_group_with_the_others(tmp_path) -> None:
    from enhance_core.batch_report import failure_causes

    def exists(name: str) -> FileResult:
        output = tmp_path / "out" / f"{name}.png"
        return FileResult(tmp_path / f"{name.removesuffix('-2')}.jpg", None,
                          f"{output} already exists; pass --skip-existing")

    def nested(folder: str, name: str) -> FileResult:
        source = tmp_path / "in" / folder / f"{name}.jpg"
        return FileResult(source, None, f"{tmp_path / 'out' / folder / name}.png already exists; pass --skip-existing")

    results = [exists("a"), exists("café 1952 (scan)"), exists("b c"), exists("b c-2"),
               nested("Summer 2019", "d"), nested("Summer 2019 b", "Summer 2019"), nested("x/y z", "e f")]
    assert failure_causes(results) == [("<file> already exists; pass --skip-existing",
                                        [result.source for result in results])]
    report = FileResult(tmp_path / "no image.dcm", None, f"{tmp_path / 'no image.dcm'}: this DICOM object holds "
                        "no image (Basic Text SR Storage)")
    assert failure_causes([report])[0][0] == "this DICOM object holds no image (Basic Text SR Storage)"


def test_a_resized_batch_is_scored_as_written(tmp_path) -> None:
    from enhance_core.export_size import apply_output_size, parse_output_size

    source = save(tmp_path / "in.png", photo(3, 96, 128))
    half = parse_output_size("50%")
    written_size = tmp_path / "ref_written"
    written_size.mkdir()
    expected = apply_output_size(read_image(source), half)
    save(written_size / "in.png", expected.pixels)
    source_size = tmp_path / "ref_source"
    source_size.mkdir()
    save(source_size / "in.png", photo(3, 96, 128))
    for references, note in ((written_size, ""), (source_size, "scored at 128x96, before --resize to 64x48")):
        out = tmp_path / f"out_{references.name}"
        out.mkdir()
        result, = run_batch(plan_batch([source], (make_item("exposure", {"stops": 0.0}),), out,
                                       reference_dir=references, size=half), jobs=1)
        assert result.error is None and result.metrics["psnr"] > 40
        assert result.note.startswith(note) if note else result.note == ""
    crop = make_item("crop", {"left": 0.25, "right": 0.25, "top": 0.25, "bottom": 0.25})
    out = tmp_path / "out_crop"
    out.mkdir()
    result, = run_batch(plan_batch([source], (crop,), out, reference_dir=source_size,
                                   size=parse_output_size("200%")), jobs=1)
    assert read_image(out / "in.png").pixels.shape[:2] == (96, 128), "cropped to half, written at the source's size"
    assert result.metrics["psnr"] > 40 and result.note.startswith("scored at 64x48, before --resize to 128x96")


def test_a_gray_result_is_scored_against_a_color_reference(tmp_path) -> None:
    gray = photo(5)[:, :, :1]
    source = save(tmp_path / "in.png", gray)
    references = tmp_path / "ref"
    references.mkdir()
    save(references / "in.png", np.repeat(gray, 3, axis=2))
    out = tmp_path / "out"
    out.mkdir()
    result, = run_batch(plan_batch([source], (make_item("exposure", {"stops": 0.0}),), out,
                                   reference_dir=references), jobs=1)
    assert result.note == "" and result.metrics["psnr"] > 40


@pytest.mark.parametrize("steps", [(make_item("exposure", {"stops": 0.0}),),
                                   (make_item("crop", {"left": 0.25}), make_item("exposure", {"stops": 0.0}))])
def test_a_cut_out_is_scored_on_what_shows_whatever_lies_under_its_transparent_part(tmp_path, steps) -> None:
    rng = np.random.default_rng(8)
    pixels, alpha = rng.random((48, 64, 3)).astype(np.float32), np.ones((48, 64), np.float32)
    alpha[:, 40:] = 0.0
    source = write_image(Image(pixels, alpha, ImageMeta()), tmp_path / "cut.png")
    references = tmp_path / "ref"
    references.mkdir()
    repainted = pixels.copy()
    repainted[:, 40:] = 0.0  # another writer keeps black there
    write_image(Image(repainted, alpha, ImageMeta()), references / "cut.png")
    out = tmp_path / "out"
    out.mkdir()
    result, = run_batch(plan_batch([source], steps, out, reference_dir=references), jobs=1)
    assert result.note == "" and result.metrics["mse"] == 0.0


def test_a_fill_of_mask_files_says_how_much_each_mask_fills(folder, tmp_path) -> None:
    half, blank = np.zeros((48, 64, 1), np.float32), np.zeros((48, 64, 1), np.float32)
    half[:, 32:] = 1.0
    save(tmp_path / "half.png", half)
    save(tmp_path / "blank.png", blank)
    steps = (make_item("hole_fill", {"source": "mask"}),)
    said = {}
    for name in ("half", "blank"):
        (tmp_path / name).mkdir()
        (result,) = run_batch(plan_batch([folder / "a.png"], steps, tmp_path / name,
                                         mask_file=tmp_path / f"{name}.png"), jobs=1)
        said[name] = result.step_notes
    assert said["half"] == ("Hole fill (CNN): fills 50.00 % of the picture",)
    assert said["blank"] == ("Hole fill (CNN): the mask marks no pixel: nothing is filled (is it the right mask "
                             "file?)",)


@pytest.mark.skipif(os.name == "nt", reason="file names are bytes on POSIX only")
def test_a_file_name_that_is_not_utf8_is_processed_and_recorded_under_its_own_bytes(tmp_path, capsys) -> None:
    from enhance_core.cli import main

    (tmp_path / "in").mkdir()
    name = os.fsdecode(b"caf\xe9.png")  # Latin-1, as old archives unpack on Linux
    save(tmp_path / "in" / name, photo(0, 24, 24))
    out = tmp_path / "out"
    for _ in range(2):  # the second run reads the manifest back and finds the file done
        assert main(["apply", "--filter", "negative", "--skip-existing", "-o", str(out), str(tmp_path / "in")]) == 0
    assert sorted(os.listdir(os.fsencode(out))) == sorted([b"caf\xe9.png", os.fsencode(MANIFEST_NAME)])
    assert "1 done in an earlier run" in capsys.readouterr().out
    (tmp_path / "ref").mkdir()
    save(tmp_path / "ref" / name, photo(1, 24, 24))
    assert main(["apply", "--filter", "negative", "--overwrite", "-o", str(out), "--reference-dir",
                 str(tmp_path / "ref"), "--min-psnr", "99", str(tmp_path / "in")]) == 0
    report = out / "report"
    assert b"caf\xe9.png" in (report / "report.csv").read_bytes()  # the name's own bytes, as the file system has it
    assert (report / "flagged.txt").read_bytes().endswith(b"caf\xe9.png\n")
    assert main(["apply", "--filter", "negative", "--overwrite", "-o", str(out), "--reference-dir",
                 str(tmp_path / "ref"), str(tmp_path / "in")]) == 0, "the same batch again replaces its own report"


def test_an_input_keeps_the_output_name_an_earlier_run_gave_it_whatever_joins_the_batch(tmp_path, capsys) -> None:
    from enhance_core.cli import main

    save(tmp_path / "a.jpg", photo(0, 8, 8))
    out = tmp_path / "out"
    assert main(["apply", "--filter", "negative", "--format", "png", "-o", str(out), str(tmp_path / "a.jpg")]) == 0
    save(tmp_path / "a.tif", photo(1, 8, 8))
    tasks = plan_batch([tmp_path / "a.jpg", tmp_path / "a.tif"], (make_item("negative"),), out, format_suffix="png")
    assert [task.output.name for task in tasks] == ["a.png", "a-tif.png"]
    both = [str(tmp_path / "a.jpg"), str(tmp_path / "a.tif")]
    for suffix in ("tif", "png"):  # a run in another format between: each format keeps its own names
        assert main(["apply", "--filter", "negative", "--format", suffix, "-o", str(out), *both]) == 0
    assert sorted(path.name for path in out.glob("*.png")) == ["a-tif.png", "a.png"]


def test_a_file_reached_through_a_link_too_keeps_its_own_name_and_hidden_files_are_left_out(tmp_path) -> None:
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    save(root / "sub" / "real.png", photo(0, 8, 8))
    (root / "a_link.png").symlink_to(root / "sub" / "real.png")
    (root / "sub" / "._real.png").write_bytes(b"\x00\x05\x16\x07AppleDouble")
    tree = collect_tree([root], recursive=True)
    assert [(path.relative_to(root).as_posix(), str(place)) for path, place in tree.items()] == [("sub/real.png",
                                                                                                 "sub")]


def test_a_worker_keeps_an_output_that_appeared_after_planning(tmp_path) -> None:
    from enhance_core.batch import process_file
    from enhance_core.batch_tasks import FileTask
    from enhance_core.io import write_image
    from enhance_core.stack import make_item

    from .io_fixtures import make_image

    source = write_image(make_image(), tmp_path / "a.png")
    (tmp_path / "out").mkdir()
    output = write_image(make_image(bit_depth=16), tmp_path / "out" / "a.png")  # a second run's, or the user's
    before = output.read_bytes()
    result = process_file(FileTask(source, output, (make_item("negative"),)))
    assert result.error and "already exists" in result.error
    assert output.read_bytes() == before


@pytest.mark.parametrize("error", [MemoryError("Unable to allocate 1.68 GiB for an array"),
                                   RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: not enough "
                                                "memory: you tried to allocate 1803550720 bytes.")])
def test_a_file_that_runs_out_of_memory_is_named_with_what_to_do(tmp_path, monkeypatch, error) -> None:
    """A 150 MP scan's denoise failed after minutes with "unexpected MemoryError: Unable to allocate ...". """
    from enhance_core import batch
    from enhance_core.batch_tasks import FileTask
    from enhance_core.io import write_image
    from enhance_core.stack import make_item

    from .io_fixtures import make_image

    def short_of_memory(*args, **kwargs):
        raise error

    monkeypatch.setattr(batch, "render_image", short_of_memory)
    source = write_image(make_image(), tmp_path / "scan.png")
    result = batch.process_file(FileTask(source, tmp_path / "out" / "scan.png", (make_item("negative"),)))
    assert result.error == (f"{source}: not enough memory to process it; close other programs, run fewer files at "
                            "once (--jobs 1), or process a smaller copy")


def test_the_default_worker_count_fits_the_largest_scans_into_the_memory_available(tmp_path, monkeypatch) -> None:
    """Eight 100-megapixel scans at once need about 25 GB: one worker per core is not always what fits."""
    from enhance_core import batch
    from enhance_core.batch_tasks import FileTask
    from enhance_core.io import write_image
    from enhance_core.stack import make_item

    from .io_fixtures import make_image

    tasks = [FileTask(write_image(make_image(), tmp_path / f"{name}.png"), tmp_path / "out" / f"{name}.png",
                      (make_item("clahe"),)) for name in "abcd"]
    pixels = batch.largest_pixels([task.source for task in tasks])
    assert pixels == make_image().rows * make_image().cols
    monkeypatch.setattr(batch.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(batch, "available_memory", lambda: 10 * batch.BYTES_PER_PIXEL * pixels)
    assert batch.default_jobs(tasks) == 4, "one per core, as many as there are files"
    monkeypatch.setattr(batch, "available_memory", lambda: int(2.5 * batch.BYTES_PER_PIXEL * pixels))
    assert batch.default_jobs(tasks) == 2
    monkeypatch.setattr(batch, "available_memory", lambda: batch.BYTES_PER_PIXEL * pixels // 2)
    assert batch.default_jobs(tasks) == 1


def test_a_camera_raw_is_sized_by_its_file_not_by_the_preview_pillow_reads(tmp_path) -> None:
    from enhance_core import batch
    from enhance_core.io import write_image

    from .io_fixtures import make_image

    preview = write_image(make_image(), tmp_path / "preview.tif")
    raw = preview.rename(tmp_path / "IMG_0001.dng")  # a DNG's first IFD is a small preview, as Pillow reads it
    with open(raw, "ab") as data:
        data.write(bytes(400_000))  # the sensor data after it
    assert batch.largest_pixels([raw]) == raw.stat().st_size



def scored_as_jpeg(source: Path, tmp_path: Path, step, *, quality: int) -> FileResult:
    """``source`` through ``step``, written as JPEG (over any earlier output) and scored against the 96 x 128 photo
    of seed 3 in ``tmp_path / "ref"``."""
    references, out = tmp_path / "ref", tmp_path / "out"
    if not references.exists():
        references.mkdir()
        save(references / "in.png", photo(3, 96, 128))
    out.mkdir(exist_ok=True)
    result, = run_batch(plan_batch([source], (step,), out, reference_dir=references, format_suffix="jpg",
                                   quality=quality, overwrite=True), jobs=1)
    return result


def test_the_file_written_is_scored_with_its_jpeg_loss(tmp_path) -> None:
    """The report's figures are those of the JPEG in its output column, not of the result before it was encoded."""
    from enhance_core.metrics import compare_images

    source = save(tmp_path / "in.png", photo(3, 96, 128))
    result = scored_as_jpeg(source, tmp_path, make_item("gaussian_blur", {"sigma": 1.0}), quality=40)
    written = read_image(result.output)
    expected = compare_images(written.pixels, read_image(tmp_path / "ref" / "in.png").pixels)
    assert result.output.suffix == ".jpg" and result.metrics["psnr"] == pytest.approx(expected["psnr"], abs=1e-6)
    assert result.metrics["ssim"] == pytest.approx(expected["ssim"], abs=1e-6)


def test_a_transparent_result_written_as_jpeg_is_scored_as_written_and_the_note_says_so(tmp_path) -> None:
    alpha = np.ones((96, 128), np.float32)
    alpha[:, :40] = 0.0
    source = tmp_path / "in.png"
    write_image(Image(photo(3, 96, 128), alpha, ImageMeta(bit_depth=8)), source)
    result = scored_as_jpeg(source, tmp_path, make_item("exposure", {"stops": 0.0}), quality=95)
    assert result.metrics["psnr"] < 20, "the white where the picture was transparent is in the file"
    assert result.note == ("the file written holds no transparency: it is scored as written, its transparent parts "
                           "over white")
    write_image(Image(photo(3, 96, 128), np.ones((96, 128), np.float32), ImageMeta(bit_depth=8)), source)
    result = scored_as_jpeg(source, tmp_path, make_item("exposure", {"stops": 0.0}), quality=95)
    assert result.metrics["psnr"] > 30 and result.note == "", "an alpha channel opaque everywhere: nothing to say"
