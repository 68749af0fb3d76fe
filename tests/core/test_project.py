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
    (json.dumps({"schema": SCHEMA, "version": True, "image": "a.png"}), "has version true; this program reads"),
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


def test_a_failed_save_keeps_the_previous_project(tmp_path, monkeypatch):
    path = save_project(tmp_path / "p.esproj", image=tmp_path / "a.png", reference=None, steps=())
    before = path.read_bytes()

    def full_disk(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("enhance_core.atomic.os.replace", full_disk)
    with pytest.raises(ImageWriteError, match="could not write the project: No space left"):
        save_project(path, image=tmp_path / "other.png", reference=None, steps=masked_steps()[:1])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.esproj"]
