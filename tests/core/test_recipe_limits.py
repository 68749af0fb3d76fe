"""Hostile recipes (issue 21): limits, strict JSON types, giant numbers and deep nesting give one-line errors."""

from __future__ import annotations

import codecs
import json
import os

import cv2
import numpy as np
import pytest

from enhance_core.errors import ParameterError
from enhance_core.masks import MAX_STROKE_POINTS, Mask, Stroke
from enhance_core.recipe import MAX_BYTES_ENV, MAX_RECIPE_STEPS, MAX_STEPS_ENV, SCHEMA, load_recipe
from enhance_core.validation import shown

GAMMA = {"filter": "gamma", "params": {"gamma": 1.0}, "enabled": True, "opacity": 1.0, "mask": None}


def masked(mask: dict) -> dict:
    """A gamma step with ``mask``."""
    return {**GAMMA, "mask": {"rows": 32, "cols": 40, "feather": 0, "strokes": [], "raster": None, **mask}}


def write(tmp_path, text: str, name: str = "r.json"):
    path = tmp_path / name
    path.write_text(text)
    return path


def write_recipe(tmp_path, *steps: dict, **top):
    return write(tmp_path, json.dumps({"schema": SCHEMA, "version": 1, "steps": list(steps), **top}))


def refused(path, pattern: str) -> str:
    """Load ``path``, expect a one-line ParameterError naming the file and matching ``pattern``."""
    with pytest.raises(ParameterError, match=pattern) as caught:
        load_recipe(path)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    return message


def test_40000_steps_are_refused_naming_the_limit_and_its_variable(tmp_path, monkeypatch) -> None:
    path = write_recipe(tmp_path, *[GAMMA] * 40_000)
    assert path.stat().st_size > 3_000_000
    refused(path, f"40,000 steps, more than the limit of {MAX_RECIPE_STEPS:,}.*{MAX_STEPS_ENV}")
    monkeypatch.setenv(MAX_STEPS_ENV, "50000")
    assert len(load_recipe(write_recipe(tmp_path, *[GAMMA] * (MAX_RECIPE_STEPS + 1)))) == MAX_RECIPE_STEPS + 1


def test_a_66_mb_recipe_is_refused_before_it_is_read(tmp_path, monkeypatch) -> None:
    path = tmp_path / "big.json"
    with open(path, "wb") as handle:
        handle.truncate(66 * 2**20)
    refused(path, f"69,206,016 bytes, more than the limit of 33,554,432 bytes.*{MAX_BYTES_ENV}")
    small = write_recipe(tmp_path, GAMMA)
    monkeypatch.setenv(MAX_BYTES_ENV, "50")
    refused(small, "more than the limit of 50 bytes")
    monkeypatch.setenv(MAX_BYTES_ENV, "lots")
    with pytest.raises(ParameterError, match="ENHANCE_MAX_RECIPE_BYTES='lots' is not a positive whole number"):
        load_recipe(small)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX thing")
def test_mask_rasters_are_read_once_and_within_the_pixel_limit(tmp_path, monkeypatch) -> None:
    cv2.imwrite(str(tmp_path / "m.png"), np.zeros((32, 40), np.uint8))
    path = write_recipe(tmp_path, *[masked({"raster": "m.png"})] * 20)
    rasters = {id(item.mask.raster) for item in load_recipe(path)}
    assert len(rasters) == 1, "twenty steps naming one raster file hold one array"
    monkeypatch.setenv("ENHANCE_MAX_PIXELS", "1000")
    refused(path, r"step 1: .*m\.png: the header claims 40 x 32 = 1,280 pixels, more than the limit of 1,000.*"
                  "ENHANCE_MAX_PIXELS")


def test_a_raster_shared_by_steps_of_two_sizes_and_a_truncated_one_say_what_is_wrong(tmp_path) -> None:
    cv2.imwrite(str(tmp_path / "m.png"), np.zeros((32, 40), np.uint8))
    other = masked({"raster": "m.png", "rows": 64, "cols": 80})
    refused(write_recipe(tmp_path, masked({"raster": "m.png"}), other),
            r"step 2: .*m\.png: mask is 40x32, expected 80x64")
    (tmp_path / "m.png").write_bytes((tmp_path / "m.png").read_bytes()[:60])
    refused(write_recipe(tmp_path, masked({"raster": "m.png"})), r"cannot be decoded \(truncated or damaged\?\)")


def test_a_mask_raster_that_is_a_fifo_is_refused_instead_of_blocking(tmp_path) -> None:
    os.mkfifo(tmp_path / "m.png")
    refused(write_recipe(tmp_path, masked({"raster": "m.png"})), r"m\.png: the mask is not a regular file")


def test_a_fifo_is_refused_instead_of_blocking(tmp_path) -> None:
    os.mkfifo(tmp_path / "f.json")
    refused(tmp_path / "f.json", "not a regular file")


@pytest.mark.parametrize("text, pattern", [
    ('{"schema": "%s", "version": 1, "steps": [{"filter": "gamma", "params": {"gamma": %s}}]}' % (SCHEMA, "9" * 400),
     "whole number of 400 digits"),
    ('{"schema": "%s", "version": 1, "steps": [{"filter": "gamma", "params": {"gamma": %s.5}}]}' % (SCHEMA, "9" * 400),
     "too large to be finite"),
    ('{"schema": "%s", "version": %s, "steps": []}' % (SCHEMA, "1" * 5000), "whole number of 5000 digits"),
    ('{"schema": "%s", "version": 1, "steps": %s%s}' % (SCHEMA, "[" * 100_000, "]" * 100_000), "too deeply"),
    ('{"schema": "%s", "version": 1, "steps": [{"filter": "gamma", "params": {"gamma": NaN}}]}' % SCHEMA,
     r"holds NaN, which is not a JSON number; use a finite number \(line 1, column 101\)"),
    ('{"schema": "%s", "version": 1, "steps": [{"filter": "gamma", "params": {"gamma": 1e400}}]}' % SCHEMA,
     "1e400, too large to be finite"),
    ('{"schema": "%s", "version": 1, "steps": [' % SCHEMA, "not valid JSON"),
    ('{"schema": "%s", "version": 1, "steps": [{"filter": "gaussian_blur", "params": {"sigma": 2, "sigma": 50}}]}'
     % SCHEMA, "gives the key 'sigma' twice in one object; keep the one you mean"),
])
def test_numbers_and_nesting_json_cannot_hold_are_refused(tmp_path, text: str, pattern: str) -> None:
    refused(write(tmp_path, text), pattern)


@pytest.mark.parametrize("step, pattern", [
    ({"filter": ["gamma"], "params": {"gamma": 1.0}}, r"step 1: \"filter\" must be a filter name \(a string\)"),
    ({"filter": "gamma", "params": {"gamma": 10**40}}, r"whole number of 41 digits"),
    ({"filter": "gamma", "params": {"gamma": "2"}}, r"'gamma': \"2\" is not a number"),
    ({"filter": "gamma", "params": {"gamma": True}}, r"'gamma': true is not a number"),
    ({"filter": "denoise", "params": {"mode": 1, "sigma": 25}}, r"'mode' must be one of auto, manual"),
    ({**GAMMA, "enabled": "no"}, r"enabled: \"no\" is not a boolean; use true or false"),
    ({**GAMMA, "opacity": True}, r"opacity: true is not a number"),
    (masked({"strokes": 5}), r"mask, strokes: expected a list, got a number 5"),
    (masked({"strokes": None}), r"mask, strokes: expected a list, got nothing \(or null\)"),
    (masked({"strokes": {"points": []}}), r"mask, strokes: expected a list, got an object \{\"points\": \[\]\}"),
    (masked({"feather": 1e300}), r"mask, feather: 1e\+300 is outside the allowed range 0 to 1000"),
    (masked({"strokes": [{"points": [[5, 5], [20, 20]], "radius": 3, "erase": "no"}]}),
     r"mask, stroke 1, erase: \"no\" is not a boolean"),
    (masked({"strokes": [{"points": [[5, 5]], "radius": 3, "size": 2}]}), r"stroke 1: unknown key 'size'"),
    (masked({"strokes": [{"points": [[5, "5"]], "radius": 3}]}), r"stroke 1, points: point 1 must be \[x, y\]"),
    (masked({"strokes": [{"points": [[5, 5]], "radius": 1e300}]}), r"stroke 1, radius: 1e\+300 is outside"),
    (masked({"strokes": [{"points": [[5, 5]], "radius": 3, "hardness": None}]}), r"hardness: null is not a number"),
    (masked({"rows": 32.5}), r"mask, rows: 32.5 is not a whole number"),
    (masked({"rows": 10**25}), r"mask, rows: .* is outside the allowed range"),
    (masked({"blur": 1}), r"mask: unknown key 'blur'"),
    (masked({"raster": "../secret.png"}), r"mask raster must be a file name beside the recipe"),
    ({**GAMMA, "mask": [1, 2]}, r"mask: expected an object"),
    (7, r"step 1: expected an object with filter, params"),
])
def test_wrong_types_and_ranges_give_one_line_naming_the_step_and_field(tmp_path, step, pattern: str) -> None:
    refused(write_recipe(tmp_path, step), pattern)


def test_top_level_keys_and_version_are_checked(tmp_path) -> None:
    refused(write_recipe(tmp_path, GAMMA, extra=1), "unknown key 'extra'")
    refused(write(tmp_path, json.dumps({"schema": SCHEMA, "version": "1", "steps": []})), 'version: "1" is not a whole')
    refused(write(tmp_path, json.dumps({"schema": SCHEMA, "version": 10**20, "steps": []})), "newer than this program")


def test_json_values_are_shown_as_json_spells_them(tmp_path) -> None:
    refused(write(tmp_path, json.dumps({"schema": SCHEMA, "version": True, "steps": []})),
            "version: true is not a whole number")
    refused(write(tmp_path, json.dumps({"schema": SCHEMA, "version": None, "steps": []})),
            "version: null is not a whole number")
    refused(write_recipe(tmp_path, {"filter": "tone_curve", "params": {"rgb": [[0, 0], [True, 1]]}}),
            "'rgb': true is not a number")
    assert shown([True, None, [False, {"a": None}], "x"]) == '[true, null, [false, {"a": null}], "x"]'
    assert shown("True") == '"True"' and shown(1.5) == "1.5" and shown("it's") == '"it\'s"'
    assert shown(list(range(12))) == "[... 12 entries]" and shown({str(k): k for k in range(9)}) == "{... 9 keys}"
    assert shown("café\u202e\x7f") == '"café\\u202e\\x7f"', "letters as they are, no control loose in a message"


def test_a_recipe_saved_with_a_utf8_byte_order_mark_loads(tmp_path) -> None:
    path = tmp_path / "notepad.json"
    path.write_bytes(codecs.BOM_UTF8 + json.dumps({"schema": SCHEMA, "version": 1, "steps": [GAMMA]}).encode())
    assert [item.filter for item in load_recipe(path)] == ["gamma"]
    path.write_bytes(codecs.BOM_UTF8 + b'{"schema": 3')
    refused(path, "line 1, column 13")


def test_a_stroke_of_200000_points_is_refused_with_the_fix(tmp_path) -> None:
    points = np.random.default_rng(0).random((200_000, 2)) * 30
    step = masked({"strokes": [{"points": points.round(2).tolist(), "radius": 3}]})
    refused(write_recipe(tmp_path, step), f"200,000 points, more than the limit of {MAX_STROKE_POINTS:,}; split it")
    with pytest.raises(ParameterError, match="split it into several strokes"):
        Stroke(points, 3.0)


def test_the_python_api_is_as_strict_as_the_json() -> None:
    with pytest.raises(ParameterError, match='stroke erase: "no" is not a boolean'):
        Stroke(((1, 2),), 3.0, erase="no")
    with pytest.raises(ParameterError, match="mask feather: 1e\\+300 is outside"):
        Mask(10, 10, feather=1e300)
    with pytest.raises(ParameterError, match="pairs of numbers"):
        Stroke((("1", "2"),), 3.0)
    with pytest.raises(ParameterError, match="finite"):
        Stroke(((1.0, float("nan")),), 3.0)
    assert Stroke(np.array([[1, 2]], np.int32), np.float32(3), erase=np.bool_(True)).erase is True


def test_a_valid_recipe_still_loads_and_booleans_read_correctly(tmp_path) -> None:
    step = masked({"strokes": [{"points": [[5, 5], [20, 20]], "radius": 3, "erase": False},
                               {"points": [[8, 8]], "radius": 2, "erase": True}]})
    (item,) = load_recipe(write_recipe(tmp_path, step))
    assert [s.erase for s in item.mask.strokes] == [False, True]


@pytest.mark.parametrize(("text", "where"), [
    ('{"note": "NaN and 1e400", "gamma":\r\n  NaN}', " (line 2, column 3)"),
    ('{"note": "a \\"quoted\\" NaN", "x": NaN}', " (line 1, column 35)"),
    ('{"NaN": 1, "x": -Infinity}', " (line 1, column 17)"),
    ('{"x": NaNx}', ""),
])
def test_a_refused_number_is_placed_outside_strings_or_not_at_all(text: str, where: str) -> None:
    from enhance_core.jsonfile import parse_json

    with pytest.raises(ParameterError) as caught:
        parse_json(text, source="recipe r.json")
    assert str(caught.value).endswith("use a finite number" + where)


@pytest.mark.timeout(30)
def test_placing_a_refused_number_in_a_damaged_file_takes_one_pass() -> None:
    """An unterminated string of escaped quotes after ``NaNx`` made the search quadratic: 35 s for 120 KB."""
    from enhance_core.jsonfile import parse_json

    for tail in ('\\"' * 1_000_000, '\\"' * 1_000_000 + "\\"):
        with pytest.raises(ParameterError, match="holds NaN"):
            parse_json('{"gamma": NaNx, "note": "' + tail, source="recipe r.json")
