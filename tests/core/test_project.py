"""Project files, headless: image paths relative to the project, the stack with its masks, strict errors."""

from __future__ import annotations

import codecs
import json
import shutil

import numpy as np
import pytest

from enhance_core.errors import ImageWriteError, ParameterError
from enhance_core.masks import Mask
from enhance_core.project import SCHEMA, load_project, save_project
from enhance_core.stack import make_item


def masked_steps() -> tuple:
    raster = np.zeros((20, 30), np.float32)
    raster[4:12, 6:18] = 1.0
    return (make_item("gaussian_blur", {"sigma": 1.5}),
            make_item("negative", mask=Mask(20, 30, raster=raster), opacity=0.5))


def test_round_trip_after_moving_the_folder(tmp_path):
    folder = tmp_path / "work"
    (folder / "shots").mkdir(parents=True)
    image, reference = folder / "shots" / "a.png", folder / "b.png"
    path = save_project(folder / "edit.esproj", image=image, reference=reference, steps=masked_steps())
    data = json.loads(path.read_text(encoding="utf-8"))
    assert (data["schema"], data["image"], data["reference"]) == (SCHEMA, "shots/a.png", "b.png")
    assert data["recipe"]["steps"][1]["mask"]["raster"] == "edit.step2.mask.png"
    shutil.move(folder, tmp_path / "moved")
    project = load_project(tmp_path / "moved" / "edit.esproj")
    assert project.image == (tmp_path / "moved" / "shots" / "a.png").resolve()
    assert project.reference == (tmp_path / "moved" / "b.png").resolve()
    assert [(s.filter, s.params, s.opacity) for s in project.steps] == \
        [(s.filter, s.params, s.opacity) for s in masked_steps()]
    np.testing.assert_array_equal(project.steps[1].mask.raster, masked_steps()[1].mask.raster)


@pytest.mark.parametrize(("text", "message"), [
    ("{", "is not valid JSON"),
    (json.dumps({"schema": "enhance-studio.recipe", "version": 1}), "is not an Enhance Studio project"),
    (json.dumps({"schema": SCHEMA, "version": 9, "image": "a.png"}), "version 9.*update Enhance Studio"),
    (json.dumps({"schema": SCHEMA, "version": True, "image": "a.png"}), "version: true is not a whole number"),
    (json.dumps({"schema": SCHEMA, "version": "4", "image": "a.png"}), "version: \"4\" is not a whole number"),
    (json.dumps({"schema": SCHEMA, "image": "a.png"}), "\"version\" is missing"),
    (json.dumps({"schema": SCHEMA, "version": 4, "image": "a.png"}), "\"recipe\" is missing .*open an earlier copy"),
    (json.dumps({"schema": SCHEMA, "version": 1, "image": 3}), "\"image\" must be a file path"),
    ('{"schema": "enhance-studio.project", "version": 1, "image": "a.png", "recipe": ' + "[" * 100_000 + "]" * 100_000
     + "}", "nests lists or objects too deeply"),
    ('{"schema": "enhance-studio.project", "version": NaN}', "holds NaN"),
])
def test_bad_files_name_themselves(tmp_path, text, message):
    path = tmp_path / "bad.esproj"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ParameterError, match=message) as caught:
        load_project(path)
    assert str(path) in str(caught.value)


def test_a_project_saved_with_a_utf8_byte_order_mark_opens(tmp_path):
    path = save_project(tmp_path / "p.esproj", image=tmp_path / "a.png", reference=None, steps=(make_item("gamma"),))
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())
    assert [item.filter for item in load_project(path).steps] == ["gamma"]


def test_a_project_saved_before_grain_in_fills_warns_that_its_fills_now_get_grain(tmp_path):
    path = save_project(tmp_path / "p.esproj", image=tmp_path / "a.png", reference=None,
                        steps=(make_item("restore"),))
    assert load_project(path).warnings == ()
    data = json.loads(path.read_text())
    del data["recipe"]["steps"][0]["params"]["grain"]
    path.write_text(json.dumps(data))
    (warning,) = load_project(path).warnings
    assert warning.startswith(f"project {path}, step 1 (Restore old photo (CNN)): it was saved before its 'grain' "
                              "setting existed")


def test_a_failed_save_keeps_the_previous_project(tmp_path, monkeypatch):
    path = save_project(tmp_path / "p.esproj", image=tmp_path / "a.png", reference=None, steps=())
    before = path.read_bytes()

    def full_disk(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("enhance_core.atomic.os.replace", full_disk)
    with pytest.raises(ImageWriteError, match="could not write the project: No space left on device; save it in a "
                                              r"folder you may write in \(File ▸ Save As\), or free space there"):
        save_project(path, image=tmp_path / "other.png", reference=None, steps=masked_steps()[:1])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.esproj"]


@pytest.mark.parametrize("save", ["project", "recipe"])
def test_a_save_cut_off_as_its_file_is_written_leaves_the_one_on_disk_with_the_masks_it_names(tmp_path, monkeypatch,
                                                                                                save):
    """A kill after a save put the new project file in place but before its masks were: it opened with the
    previous save's masks, without a word (a crash-recovery audit)."""
    import enhance_core.project
    import enhance_core.recipe
    from enhance_core.recipe import load_recipe, save_recipe

    module, suffix = (enhance_core.project, ".esproj") if save == "project" else (enhance_core.recipe, ".json")

    def write(steps):
        if save == "project":
            return save_project(tmp_path / f"p{suffix}", image=tmp_path / "a.png", reference=None, steps=steps)
        return save_recipe(steps, tmp_path / f"p{suffix}")

    def masks(path):
        steps = load_project(path).steps if save == "project" else load_recipe(path)
        return [item.mask.raster for item in steps if item.mask is not None]

    first = masked_steps()
    second = (first[0], make_item("negative", mask=Mask(20, 30, raster=np.full((20, 30), 0.5, np.float32))))
    path = write(first)
    written = module.write_text_atomic
    at_the_json: list = []

    def watched(target, text):
        at_the_json.append((round(float(masks(path)[0].max()), 3), len(list(tmp_path.iterdir()))))
        written(target, text)
        at_the_json.append((round(float(masks(path)[0].max()), 3), len(list(tmp_path.iterdir()))))

    monkeypatch.setattr(module, "write_text_atomic", watched)
    write(second)
    assert at_the_json == [(1.0, 3), (0.5, 3)], ("the new masks are in place beside the old ones before the file "
                                                 "that names them: each file on disk finds its own masks")
    assert round(float(masks(path)[0].max()), 3) == 0.5 and len(list(tmp_path.iterdir())) == 2, "the old masks go after"

    def stopped(target, text):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "write_text_atomic", stopped)
    with pytest.raises(KeyboardInterrupt):
        write(first)
    assert round(float(masks(path)[0].max()), 3) == 0.5 and len(list(tmp_path.iterdir())) == 2, (
        "a save stopped before its file removes the masks it put in place")


def test_a_copy_of_a_project_keeps_its_masks_when_the_original_is_saved_again(tmp_path):
    image = tmp_path / "a.png"
    original = save_project(tmp_path / "p.esproj", image=image, reference=None, steps=masked_steps())
    copy = tmp_path / "p copy.esproj"
    shutil.copyfile(original, copy)  # a backup made in a file manager: it names p's mask file
    kept = load_project(copy).steps[1].mask.raster.copy()
    other = np.ones((20, 30), np.float32)
    steps = masked_steps()
    save_project(original, image=image, reference=None,
                 steps=(steps[0], make_item("negative", mask=Mask(20, 30, raster=other))))
    np.testing.assert_array_equal(load_project(copy).steps[1].mask.raster, kept)
    np.testing.assert_array_equal(load_project(original).steps[1].mask.raster, other)
    save_project(copy, image=image, reference=None, steps=(steps[0],))  # the copy's mask goes: the file it named
    assert not load_project(copy).steps[1:] and (tmp_path / "p.step2.mask.png").exists() is False
    np.testing.assert_array_equal(load_project(original).steps[1].mask.raster, other)


def test_a_project_never_replaces_or_removes_a_file_of_its_preview_s_or_masks_name(tmp_path):
    image = tmp_path / "holiday.jpg"
    image.write_bytes(b"the photo")
    photo, mask_named = tmp_path / "holiday.preview.png", tmp_path / "holiday.step2.mask.png"
    photo.write_bytes(b"another photo")
    mask_named.write_bytes(b"a third one")
    preview = np.full((20, 30, 3), 128, np.uint8)
    path = save_project(tmp_path / "holiday.esproj", image=image, reference=None, steps=masked_steps(),
                        preview=preview)
    assert photo.read_bytes() == b"another photo" and mask_named.read_bytes() == b"a third one"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert (data["preview"]["file"], data["recipe"]["steps"][1]["mask"]["raster"]) == \
        ("holiday.preview-2.png", "holiday.step2-2.mask.png")
    assert load_project(path).preview is not None
    save_project(path, image=image, reference=None, steps=masked_steps()[:1])  # no preview, no mask this time
    assert photo.read_bytes() == b"another photo" and mask_named.read_bytes() == b"a third one"
    assert not (tmp_path / "holiday.preview-2.png").exists() and not (tmp_path / "holiday.step2-2.mask.png").exists()


@pytest.mark.parametrize("damage", ["missing", "damaged"])
def test_a_project_whose_mask_file_is_gone_opens_with_that_step_off_and_says_so(tmp_path, damage):
    path = save_project(tmp_path / "p.esproj", image=tmp_path / "a.png", reference=None, steps=masked_steps())
    mask_file = tmp_path / "p.step2.mask.png"
    if damage == "missing":
        mask_file.unlink()
    else:
        mask_file.write_bytes(b"\x89PNG\r\n\x1a\n not a mask")
    project = load_project(path)
    blur, negative = project.steps
    assert blur.enabled and not negative.enabled and (negative.mask.raster is None)
    assert project.warnings[0].startswith("step 2 (Negative) opened switched off: ")
    assert "p.step2.mask.png" in project.warnings[0] and "paint or detect it again" in project.warnings[0]
    with pytest.raises(ParameterError, match="could not read the mask file|mask"):
        from enhance_core.recipe import load_recipe, save_recipe

        recipe = save_recipe(masked_steps(), tmp_path / "r.json")
        (tmp_path / "r.recipe.step2.mask.png").unlink()
        load_recipe(recipe)  # a recipe replayed on a batch still refuses: its masks are what it does


def test_a_save_that_writes_no_mask_reads_no_other_file_of_the_folder(tmp_path, monkeypatch):
    from enhance_core import sidecars

    (tmp_path / "IMG_0001.jpg.json").write_text("{}", encoding="utf-8")  # a photo service's sidecar
    read: list[str] = []
    monkeypatch.setattr(sidecars, "named_files", lambda path: read.append(path.name) or set())
    save_project(tmp_path / "p.esproj", image=tmp_path / "a.png", reference=None, steps=masked_steps()[:1])
    assert read == ["p.esproj"], "only its own previous save is read"


def test_a_save_beside_a_json_nested_too_deeply_to_read_goes_on(tmp_path):
    path = save_project(tmp_path / "p.esproj", image=tmp_path / "a.png", reference=None, steps=masked_steps())
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    save_project(path, image=tmp_path / "a.png", reference=None, steps=masked_steps())  # its mask file is read about
    assert json.loads(path.read_text(encoding="utf-8"))["recipe"]["steps"][1]["mask"]["raster"] == "p.step2-2.mask.png"
