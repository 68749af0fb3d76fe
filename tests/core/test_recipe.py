"""Recipes: readable JSON with a schema version, masks inside and beside, strict errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from enhance_core.errors import ImageWriteError, ParameterError
from enhance_core.masks import Mask, Stroke
from enhance_core.filters.registry import FILTERS
from enhance_core.recipe import ADDED_PARAMS, SCHEMA, load_recipe, recipe_from_dict, recipe_to_dict, save_recipe
from enhance_core.stack import make_item


def sample_steps() -> tuple:
    raster = np.zeros((20, 30), np.float32)
    raster[5:15, 10:20] = 0.5
    painted = Mask(20, 30, raster=raster, feather=2.0).with_stroke(
        Stroke(points=((1.5, 2.25), (20.0, 10.0)), radius=3.0, hardness=0.4, opacity=0.8))
    return (
        make_item("gaussian_blur", {"sigma": 2.5}),
        make_item("levels", {"black": 0.05, "white": 0.9}, enabled=False, opacity=0.5),
        make_item("unsharp_mask", mask=Mask(20, 30).with_stroke(Stroke(((4, 4),), radius=2))),
        make_item("negative", mask=painted),
    )


def test_round_trip_keeps_every_step(tmp_path) -> None:
    steps = sample_steps()
    path = save_recipe(steps, tmp_path / "look.json")
    loaded = load_recipe(path)
    assert [(i.filter, i.params, i.enabled, i.opacity) for i in loaded] == \
        [(i.filter, i.params, i.enabled, i.opacity) for i in steps]
    assert loaded[2].mask == steps[2].mask
    assert loaded[3].mask.strokes == steps[3].mask.strokes
    np.testing.assert_allclose(loaded[3].mask.render(), steps[3].mask.render(), atol=1e-4)
    assert (tmp_path / "look.recipe.step4.mask.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["look.json", "look.recipe.step4.mask.png"]


def test_file_is_readable_json_with_schema_and_named_params(tmp_path) -> None:
    data = json.loads(save_recipe(sample_steps(), tmp_path / "r.json").read_text())
    assert data["schema"] == SCHEMA and data["version"] == 1
    assert data["steps"][0] == {"filter": "gaussian_blur", "params": {"sigma": 2.5}, "enabled": True,
                                "opacity": 1.0, "mask": None}
    assert data["steps"][3]["mask"]["raster"] == "r.recipe.step4.mask.png"
    assert data["steps"][2]["mask"]["strokes"][0]["points"] == [[4.0, 4.0]]


def recipe(*steps: dict) -> dict:
    return {"schema": SCHEMA, "version": 1, "steps": list(steps)}


@pytest.mark.parametrize("step, message", [
    ({"filter": "gausian_blur", "params": {"sigma": 1}},
     r"step 2: unknown filter 'gausian_blur'; did you mean gaussian_blur"),
    ({"filter": "gaussian_blur", "params": {}}, r"step 2: filter 'gaussian_blur': parameter 'sigma' is missing"),
    ({"filter": "gaussian_blur", "params": {"sigma": 900}}, r"step 2: .*'sigma'.*900.*outside"),
    ({"filter": "gaussian_blur", "params": {"sigma": 1, "size": 3}}, r"step 2: .*no parameter 'size'"),
    ({"filter": "box_blur", "params": {"size": 4.5}}, r"step 2: filter 'box_blur', parameter 'size': 4.5 must be a "
     r"whole number"),
    ({"filter": "colorize", "params": {}}, r"step 2: unknown filter 'colorize'.*\(if a newer Enhance Studio saved "
     r"the recipe, open it with that version or update this one\)$"),
    ({"filter": "denoise", "params": {"mode": "auto", "sigma": 25, "auto_strength": 1, "detail": 2}},
     r"step 2: filter 'denoise' has no parameter 'detail'; its parameters are: mode, sigma, auto_strength; if a "
     r"newer Enhance Studio saved the recipe, open it with that version or update this one$"),
    ({"filter": "gamma", "params": {"gamma": 1}, "opacity": 2}, r"step 2: opacity"),
    ({"filter": "gamma", "params": {"gamma": 1}, "blend": "x"}, r"step 2: unknown key 'blend'; allowed: .*; if a "
     r"newer Enhance Studio saved the recipe, open it with that version or update this one$"),
    ({"params": {}}, r"step 2: \"filter\" is missing"),
    ({"filter": "gamma"}, r"step 2: filter 'gamma': \"params\" is missing; a step gives every parameter of its "
     r"filter \(`enhance-studio apply --list` shows them and their defaults\)$"),
    ({"filter": "negative"}, r"step 2: filter 'negative': \"params\" is missing; a filter without parameters has "
     r"\"params\": \{\}$"),
    ({"filter": "gamma", "params": [2]}, r"step 2: filter 'gamma': \"params\" must be an object of parameter values, "
     r"got a list \[2\]$"),
    ({"filter": "rotate", "params": {"angle": 45}}, r"step 2: filter 'rotate', parameter 'angle' must be one of 90, "
     r"180, 270, got 45$"),
    ({"filter": "rotate", "params": {"angle": True}}, r"step 2: .*'angle' must be one of 90, 180, 270"),
])
def test_errors_name_the_step_and_the_problem(step: dict, message: str) -> None:
    good = {"filter": "negative", "params": {}}
    with pytest.raises(ParameterError, match=message):
        recipe_from_dict(recipe(good, step))


def test_a_number_that_names_a_choice_is_that_choice() -> None:
    """An angle of 90 (as `apply --list` shows it: a number) was refused with "must be one of 90, 180, 270 (a
    string), got 90"; on the command line, "90.0" was refused too (an audit of the messages)."""
    for angle in (90, 90.0, "90.0"):
        (step,) = recipe_from_dict(recipe({"filter": "rotate", "params": {"angle": angle}}))
        assert step.params.angle == "90"
    with pytest.raises(ParameterError, match="'angle' must be one of 90, 180, 270, got a number of about 401 digits"):
        recipe_from_dict(recipe({"filter": "rotate", "params": {"angle": 10**400}}))  # not an OverflowError


def test_a_step_without_enabled_opacity_or_mask_is_on_opaque_and_everywhere() -> None:
    (step,) = recipe_from_dict(recipe({"filter": "unsharp_mask", "params": {"sigma": 2.0, "amount": 1.0,
                                                                           "threshold": 0.0}}))
    assert (step.enabled, step.opacity, step.mask) == (True, 1.0, None)


def test_an_unknown_top_level_key_may_come_from_a_newer_version() -> None:
    with pytest.raises(ParameterError, match=r"^recipe: unknown key 'colour_space'; allowed: schema, version, steps; "
                                             r"if a newer Enhance Studio saved the recipe"):
        recipe_from_dict(dict(recipe(), colour_space="p3"))


def test_the_picture_a_mask_was_painted_on_round_trips_and_a_malformed_one_is_named() -> None:
    from enhance_core.masks import Picture

    mask = Mask(8, 8, (Stroke(((1, 1), (5, 5)), radius=1.0),), picture=Picture("scan 1.tif", "00ff"))
    (step,) = recipe_from_dict(recipe_to_dict([make_item("negative", mask=mask)]))
    assert step.mask.picture == Picture("scan 1.tif", "00ff") and step.mask == mask
    data = recipe_to_dict([make_item("negative", mask=mask)])
    data["steps"][0]["mask"]["picture"] = {"name": "scan 1.tif", "digest": 7}
    with pytest.raises(ParameterError, match=r"step 1.*picture: \"name\" and \"digest\" must be strings"):
        recipe_from_dict(data)


def test_schema_version_and_file_errors(tmp_path) -> None:
    with pytest.raises(ParameterError, match="not an Enhance Studio recipe"):
        recipe_from_dict({"steps": []})
    with pytest.raises(ParameterError, match="version 7, newer"):
        recipe_from_dict({"schema": SCHEMA, "version": 7, "steps": []})
    with pytest.raises(ParameterError, match="does not exist"):
        load_recipe(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{\"schema\": ")
    with pytest.raises(ParameterError, match="broken.json is not valid JSON.*line 1"):
        load_recipe(broken)


def test_missing_mask_raster_is_reported_with_the_step(tmp_path) -> None:
    path = save_recipe(sample_steps(), tmp_path / "r.json")
    (tmp_path / "r.recipe.step4.mask.png").unlink()
    with pytest.raises(ParameterError, match="step 4: .*r.recipe.step4.mask.png"):
        load_recipe(path)


def test_a_failed_save_keeps_the_previous_recipe(tmp_path, monkeypatch) -> None:
    path = save_recipe(sample_steps()[:1], tmp_path / "look.json")
    before = path.read_bytes()

    def full_disk(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("enhance_core.atomic.os.replace", full_disk)
    with pytest.raises(ImageWriteError, match="could not write the recipe: No space left on device; save it in a "
                                              "folder you may write in, or free space there"):
        save_recipe(sample_steps()[1:2], path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["look.json"]


def test_a_recipe_whose_json_cannot_be_written_leaves_its_masks_as_they_were(tmp_path, monkeypatch) -> None:
    from enhance_core import recipe as recipe_module

    path = save_recipe(sample_steps(), tmp_path / "look.json")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert "look.recipe.step4.mask.png" in before
    other = np.ones((20, 30), np.float32)
    steps = (*sample_steps()[:3], make_item("negative", mask=Mask(20, 30, raster=other)))

    def full_disk(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recipe_module, "write_text_atomic", full_disk)
    with pytest.raises(ImageWriteError, match="could not write the recipe: No space left"):
        save_recipe(steps, path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before, "the old recipe loads its old mask"


def test_a_recipe_saved_beside_a_project_of_its_name_leaves_the_project_s_masks_alone(tmp_path) -> None:
    from enhance_core.project import load_project, save_project
    from enhance_core.image import Image
    from enhance_core.io import write_image

    image = write_image(Image(np.full((20, 30, 3), 0.5, np.float32)), tmp_path / "photo.png")
    project = save_project(tmp_path / "photo.esproj", image=image, reference=None, steps=sample_steps())
    masked = load_project(project).steps[3].mask.raster.copy()
    other = np.ones((20, 30), np.float32)
    save_recipe((*sample_steps()[:3], make_item("negative", mask=Mask(20, 30, raster=other))), tmp_path / "photo.json")
    np.testing.assert_array_equal(load_project(project).steps[3].mask.raster, masked)
    assert load_recipe(tmp_path / "photo.json")[3].mask.raster.min() == 1.0


def test_a_copy_of_a_recipe_keeps_its_mask_when_the_original_is_saved_again(tmp_path) -> None:
    import shutil

    path = save_recipe(sample_steps(), tmp_path / "look.json")
    shutil.copyfile(path, tmp_path / "look copy.json")  # names look's mask file
    kept = load_recipe(tmp_path / "look copy.json")[3].mask.raster.copy()
    other = np.ones((20, 30), np.float32)
    save_recipe((*sample_steps()[:3], make_item("negative", mask=Mask(20, 30, raster=other))), path)
    np.testing.assert_array_equal(load_recipe(tmp_path / "look copy.json")[3].mask.raster, kept)
    assert load_recipe(path)[3].mask.raster.min() == 1.0


def test_a_copy_saved_by_notepad_keeps_its_mask_when_the_original_is_saved_again(tmp_path) -> None:
    path = save_recipe(sample_steps(), tmp_path / "look.json")
    copy = tmp_path / "look copy.json"  # Notepad writes UTF-8 with a byte-order mark and CRLF line ends
    copy.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    kept = load_recipe(copy)[3].mask.raster.copy()
    other = np.ones((20, 30), np.float32)
    save_recipe((*sample_steps()[:3], make_item("negative", mask=Mask(20, 30, raster=other))), path)
    np.testing.assert_array_equal(load_recipe(copy)[3].mask.raster, kept)


@pytest.mark.parametrize(("filter_name", "added"), sorted(ADDED_PARAMS))
def test_a_recipe_from_before_a_parameter_was_added_loads_with_the_earlier_behaviour(filter_name: str,
                                                                                      added: str) -> None:
    data = recipe_to_dict((make_item(filter_name),))
    del data["steps"][0]["params"][added]
    (step,) = recipe_from_dict(data)
    assert getattr(step.params, added) == ADDED_PARAMS[filter_name, added].value


@pytest.mark.parametrize(("filter_name", "added"), sorted(ADDED_PARAMS))
def test_loading_says_which_steps_render_differently_from_the_version_that_saved_them(filter_name: str,
                                                                                       added: str) -> None:
    data = recipe_to_dict((make_item("gamma"), make_item(filter_name)))
    notes: list[str] = []
    recipe_from_dict(data, source="recipe old.json", notes=notes)
    assert notes == []
    del data["steps"][1]["params"][added]
    recipe_from_dict(data, source="recipe old.json", notes=notes)
    if ADDED_PARAMS[filter_name, added].same_output:
        assert notes == []
    else:
        (note,) = notes
        assert note.startswith(f"recipe old.json, step 2 ({FILTERS[filter_name].label}): it was saved before its "
                               f"'{added}' setting existed and takes ")
        assert ADDED_PARAMS[filter_name, added].change in note


def test_every_parameter_a_recipe_may_lack_has_a_value_to_take() -> None:
    assert all(added.same_output or added.change for added in ADDED_PARAMS.values()), (
        "a parameter whose value for earlier recipes changes their output needs a change note")
    known = json.loads((Path(__file__).parent / "recipe_params.json").read_text())
    for name, definition in FILTERS.items():
        assert name in known, f"new filter {name!r}: add its parameters to tests/core/recipe_params.json"
        for spec in definition.specs:
            assert spec.name in known[name] or (name, spec.name) in ADDED_PARAMS, (
                f"{name}.{spec.name} is new: recipes saved before it lack it; give it the value that keeps their "
                f"behaviour in enhance_core.recipe.ADDED_PARAMS")


def test_the_picture_digest_tells_float_pictures_beyond_0_to_1_apart() -> None:
    from enhance_core.masks import picture_digest

    ramp = np.linspace(2, 300, 40 * 30, dtype=np.float32).reshape(30, 40, 1)
    assert picture_digest(ramp) != picture_digest(ramp * np.float32(0.9))
    assert picture_digest(ramp) == picture_digest(ramp.copy())


def test_a_digest_written_before_the_half_float_kind_still_names_its_picture() -> None:
    import hashlib

    from enhance_core.masks import Picture, picture_digest

    pixels = np.random.default_rng(3).random((30, 40, 3)).astype(np.float32)
    eight_bit = np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    legacy = hashlib.blake2b(eight_bit.tobytes() + repr(pixels.shape).encode(), digest_size=8).hexdigest()
    assert Picture("a.png", legacy).is_of(pixels) and not Picture("a.png", legacy).is_of(pixels * 0.5)
    assert Picture("a.png", picture_digest(pixels)).is_of(pixels) and picture_digest(pixels).startswith("f16:")


def test_a_step_s_opacity_comes_back_exactly(tmp_path) -> None:
    steps = (make_item("negative", opacity=0.37), make_item("gamma", {"gamma": 1.7}, opacity=0.123456))
    assert [item.opacity for item in load_recipe(save_recipe(steps, tmp_path / "o.json"))] == [0.37, 0.123456]


def test_a_recipe_saved_again_while_it_is_read_is_read_again(tmp_path, monkeypatch) -> None:
    """apply read the recipe, the editor saved it again (its previous mask file went with that save), and apply
    failed on a mask file that no longer existed."""
    import dataclasses

    from enhance_core import recipe

    def steps(value: float) -> tuple:
        return (dataclasses.replace(make_item("gaussian_blur"), mask=Mask(16, 16, raster=np.full((16, 16), value,
                                                                                                  np.float32))),)

    path = save_recipe(steps(0.0), tmp_path / "r.json")
    read_mask = recipe.load_mask_raster
    saved_again = []

    def saved_meanwhile(file: Path, **kwargs) -> np.ndarray:
        if not saved_again:
            saved_again.append(save_recipe(steps(1.0), path))
        return read_mask(file, **kwargs)

    monkeypatch.setattr(recipe, "load_mask_raster", saved_meanwhile)
    (step,) = load_recipe(path)
    assert saved_again and step.mask.raster.min() == 1.0, "the recipe as saved last"


def test_a_recipe_finds_its_mask_when_a_copy_changed_the_unicode_form_of_its_name(tmp_path) -> None:
    """Saved on a Mac, the recipe names its mask "re\\u0301cipe…"; a copy that writes names as one character left
    "could not read the mask file" naming a file the user could see."""
    import dataclasses
    import unicodedata

    mac = tmp_path / unicodedata.normalize("NFD", "récipé.json")
    step = dataclasses.replace(make_item("gaussian_blur"), mask=Mask(16, 16, raster=np.ones((16, 16), np.float32)))
    save_recipe((step,), mac)
    for file in list(tmp_path.iterdir()):
        file.rename(file.with_name(unicodedata.normalize("NFC", file.name)))
    (loaded,) = load_recipe(tmp_path / unicodedata.normalize("NFC", "récipé.json"))
    assert loaded.mask.raster.min() == 1.0
