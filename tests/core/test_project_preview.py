"""The preview saved with a project: round trip, stale or damaged previews ignored, old projects without one."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

from enhance_core.project import (PREVIEW_PIXELS, VERSION, load_project, preview_file_name, read_saved_preview,
                                  save_project)
from enhance_core.stack import make_item


@pytest.fixture()
def photo(tmp_path):
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), np.full((60, 90, 3), 100, np.uint8))
    return path


def result_pixels(rows: int = 60, cols: int = 90) -> np.ndarray:
    pixels = np.zeros((rows, cols, 3), np.uint8)
    pixels[..., 0] = 200  # red, to catch a BGR/RGB swap
    pixels[: rows // 2, :, 2] = 50
    return pixels


def saved(tmp_path, photo, preview=None):
    steps = (make_item("gaussian_blur", {"sigma": 1.5}),)
    return save_project(tmp_path / "edit.esproj", image=photo, reference=None, steps=steps,
                        preview=result_pixels() if preview is None else preview)


def test_round_trip(tmp_path, photo):
    path = saved(tmp_path, photo)
    assert (tmp_path / preview_file_name(path)).is_file()
    assert json.loads(path.read_text(encoding="utf-8"))["version"] == VERSION
    pixels, warning = read_saved_preview(load_project(path))
    assert warning == ""
    np.testing.assert_array_equal(pixels, result_pixels())


def test_large_preview_is_shrunk(tmp_path, photo):
    path = saved(tmp_path, photo, preview=result_pixels(1200, 1800))
    pixels, _ = read_saved_preview(load_project(path))
    assert pixels.shape[0] * pixels.shape[1] <= PREVIEW_PIXELS
    assert pixels.shape[1] / pixels.shape[0] == pytest.approx(1.5, rel=0.01)


def test_gray_preview(tmp_path, photo):
    path = saved(tmp_path, photo, preview=np.full((30, 40), 77, np.uint8))
    pixels, _ = read_saved_preview(load_project(path))
    assert pixels.shape == (30, 40) and pixels.max() == 77


def test_a_preview_with_transparency_keeps_it(tmp_path, photo):
    preview = np.dstack([result_pixels(), np.full((60, 90), 255, np.uint8)])
    preview[:10, :10, 3] = 0
    pixels, _ = read_saved_preview(load_project(saved(tmp_path, photo, preview=preview)))
    np.testing.assert_array_equal(pixels, preview)


def test_changed_source_hides_the_preview(tmp_path, photo):
    path = saved(tmp_path, photo)
    stat = photo.stat()
    os.utime(photo, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    assert read_saved_preview(load_project(path)) == (None, "")


def test_edited_stack_hides_the_preview(tmp_path, photo):
    path = saved(tmp_path, photo)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["recipe"]["steps"][0]["params"]["sigma"] = 3.0
    path.write_text(json.dumps(data), encoding="utf-8")
    project = load_project(path)
    assert project.preview is None and project.steps[0].params.sigma == 3.0


@pytest.mark.parametrize("damage", ["missing", "truncated", "replaced"])
def test_missing_or_damaged_preview_is_ignored_with_a_warning(tmp_path, photo, damage):
    path = saved(tmp_path, photo)
    preview = tmp_path / preview_file_name(path)
    if damage == "missing":
        preview.unlink()
    elif damage == "truncated":
        preview.write_bytes(preview.read_bytes()[:40])
    else:
        cv2.imwrite(str(preview), np.zeros((60, 90, 3), np.uint8))
    project = load_project(path)
    pixels, warning = read_saved_preview(project)
    assert pixels is None and preview.name in warning and "ignored" in warning
    assert len(project.steps) == 1


def test_version_1_project_without_a_preview_opens(tmp_path, photo):
    path = tmp_path / "old.esproj"
    path.write_text(json.dumps({"schema": "enhance-studio.project", "version": 1, "image": "photo.png",
                                "reference": None, "recipe": {"schema": "enhance-studio.recipe", "version": 1,
                                                              "steps": []}}), encoding="utf-8")
    project = load_project(path)
    assert project.image == photo.resolve() and project.preview is None
    assert read_saved_preview(project) == (None, "")


def test_saving_without_a_preview_removes_the_old_one(tmp_path, photo):
    path = saved(tmp_path, photo)
    save_project(path, image=photo, reference=None, steps=())
    assert not (tmp_path / preview_file_name(path)).exists()
    assert "preview" not in json.loads(path.read_text(encoding="utf-8"))


def test_missing_image_saves_the_project_without_a_preview(tmp_path):
    path = save_project(tmp_path / "edit.esproj", image=tmp_path / "gone.png", reference=None, steps=(),
                        preview=result_pixels())
    assert load_project(path).preview is None and not (tmp_path / preview_file_name(path)).exists()


def test_a_save_that_fails_leaves_the_saved_preview_as_it_was(tmp_path, photo, monkeypatch):
    from enhance_core import project as project_module
    from enhance_core.errors import ImageWriteError

    path = saved(tmp_path, photo)
    before = (tmp_path / preview_file_name(path)).read_bytes()

    def full_disk(target, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(project_module, "write_text_atomic", full_disk)
    with pytest.raises(ImageWriteError, match="No space left"):
        saved(tmp_path, photo, preview=np.full((60, 90, 3), 7, np.uint8))
    assert (tmp_path / preview_file_name(path)).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edit.esproj", "edit.preview.png", "photo.png"]
    pixels, warning = read_saved_preview(load_project(path))
    assert warning == "" and pixels is not None, "the old project still shows its preview"
