"""A filter renders the same settings as it did at its revision, and a recipe of an earlier revision says so."""

from __future__ import annotations

import json

import numpy as np
import pytest

from enhance_core.filters.registry import FILTERS
from enhance_core.errors import ParameterError
from enhance_core.recipe import (RENDER_CHANGES, load_recipe, recipe_from_dict, recipe_to_dict, render_revision,
                                 save_recipe)
from enhance_core.stack import make_item
from tests.core.render_references import (OVERRIDES, REFERENCES, changes, difference, second_setting, settings,
                                          stored)

UPDATE = "python -m tests.core.render_references"


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_each_filter_renders_as_at_its_revision(name: str) -> None:
    assert (REFERENCES / f"{name}.npz").exists(), f"new filter {name!r}: store its renders with {UPDATE}"
    assert stored(name)[0] == render_revision(name), f"{name}'s revision changed: store its new renders with {UPDATE}"
    assert not changes(name), (
        f"{name} renders differently ({changes(name)[0]}); if that is meant, say how in "
        f"enhance_core.recipe.RENDER_CHANGES[{name!r}] (loading an older recipe tells its users) and run {UPDATE}")


def test_the_second_setting_moves_every_parameter_off_its_default() -> None:
    unmoved = {name: [spec.name for spec in definition.specs if spec.name not in second_setting(definition)]
               for name, definition in FILTERS.items() if name not in OVERRIDES}
    assert not any(unmoved.values()), unmoved


def test_the_renders_are_compared_at_the_stored_settings_not_at_today_s_second_setting(monkeypatch) -> None:
    from tests.core import render_references

    monkeypatch.setattr(render_references, "second_setting", lambda definition: {"gamma": 3.0})
    assert stored("gamma")[1]["second"] != settings("gamma")["second"]
    assert changes("gamma") == [], "a setting added later, moved by the second setting, is no change of rendering"


def test_small_differences_pass_and_a_changed_render_is_told() -> None:
    base = np.full((20, 20, 3), 100, np.uint8)
    rounded = base.copy()
    rounded[::5] += 1
    assert difference(base, base) == "" and difference(base, rounded) == "", "a fifth of values rounded the other way"
    assert difference(base, base + 1).startswith("mean difference 1.000 levels, 0.00% of values")
    flipped = base.copy()
    flipped[0, 0, 0] = 255
    assert difference(base, flipped) == "", "an edge flipping on one pixel in 1200 values"
    assert difference(base, base + 3) == ("mean difference 3.000 levels, 100.00% of values more than 2 levels off, "
                                          "at most 3")
    assert difference(base, base[:5]) == "its size is (5, 20, 3), was (20, 20, 3)"


@pytest.fixture
def blur_changed(monkeypatch) -> None:
    monkeypatch.setitem(RENDER_CHANGES, "gaussian_blur", ("a small sigma uses the discrete kernel",))


def test_a_recipe_saved_at_an_earlier_revision_says_what_renders_differently(tmp_path, blur_changed) -> None:
    data = recipe_to_dict([make_item("gamma"), make_item("gaussian_blur"), make_item("negative"),
                           make_item("gaussian_blur")])
    assert "revision" not in data["steps"][0] and data["steps"][1]["revision"] == 2
    del data["steps"][1]["revision"], data["steps"][3]["revision"]
    notes: list[str] = []
    recipe_from_dict(data, source="recipe old.json", notes=notes)
    assert notes == ["recipe old.json, steps 2 and 4 (Gaussian blur): it renders differently since it was "
                     "saved: a small sigma uses the discrete kernel"]
    path = save_recipe([make_item("gaussian_blur")], tmp_path / "now.json")
    assert json.loads(path.read_text())["steps"][0]["revision"] == 2
    notes.clear()
    load_recipe(path, notes=notes)
    assert notes == []


@pytest.mark.parametrize(("numbers", "named"), [
    ([3], "step 3"), ([1, 4], "steps 1 and 4"), ([1, 2, 3, 5, 7, 8, 9], "steps 1-3, 5 and 7-9"),
    (list(range(1, 1001)), "steps 1-1000"), (list(range(1, 40, 2)), "steps 1, 3, 5, 7, 9, 11, 13, 15 and 12 more")])
def test_steps_sharing_a_change_are_named_in_runs(numbers: list[int], named: str) -> None:
    from enhance_core.recipe import _steps_named

    assert _steps_named(numbers) == named


def test_a_recipe_from_a_newer_revision_loads_and_says_this_version_renders_it_as_before() -> None:
    data = recipe_to_dict([make_item("gaussian_blur")])
    data["steps"][0]["revision"] = 3
    notes: list[str] = []
    (step,) = recipe_from_dict(data, source="recipe new.json", notes=notes)
    assert step.filter == "gaussian_blur"
    assert notes == ["recipe new.json, step 1 (Gaussian blur): it was saved by a newer Enhance Studio, whose "
                     "rendering of this filter (revision 3) differs from this version's (revision 1): update "
                     "Enhance Studio for the same picture"]


@pytest.mark.parametrize("revision", [0, 1.5, "2", True, None])
def test_a_bad_revision_is_named(revision) -> None:
    data = recipe_to_dict([make_item("gamma")])
    data["steps"][0]["revision"] = revision
    with pytest.raises(ParameterError, match=r"step 1: revision: .*(not a whole number|outside the allowed range)"):
        recipe_from_dict(data)


@pytest.mark.parametrize("command", ["apply", "dicom-export", "roi-stats"])
def test_every_subcommand_that_takes_a_recipe_says_what_renders_differently(tmp_path, capsys, command) -> None:
    from enhance_core.cli import main
    from tests.core.dicom_fixtures import write_series

    slices = write_series(tmp_path / "series", [0.0, 1.0])
    recipe = recipe_to_dict([make_item("gaussian_blur")])
    recipe["steps"][0]["revision"] = 2
    path = tmp_path / "newer.json"
    path.write_text(json.dumps(recipe))
    arguments = {"apply": ["-o", str(tmp_path / "out"), str(slices[0])],
                 "dicom-export": [str(tmp_path / "series"), "-o", str(tmp_path / "out")],
                 "roi-stats": [str(slices[0]), "--roi", "rect:2,2,8,8"]}[command]
    assert main([command, *arguments, "--recipe", str(path)]) == 0
    assert (f"note: recipe {path}, step 1 (Gaussian blur): it was saved by a newer Enhance Studio"
            in capsys.readouterr().err)
