"""Window presets as documented, user presets on disk, automatic and header windows."""

from __future__ import annotations

import codecs
import json

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from enhance_core.errors import ParameterError, PresetError
from enhance_core.filters.base import RenderContext
from enhance_core.filters.point import WindowLevelParams, apply_window_level
from enhance_core.image import Image, ImageMeta
from enhance_core.io import read_image
from enhance_core.medical import auto_window, builtin_presets, find_preset, header_window, load_user_presets
from enhance_core.medical.presets import (WindowPreset, add_user_preset, presets_for, remove_user_preset,
                                          save_user_presets)

DOCUMENTED_CT = {"brain": (40, 80), "subdural": (75, 215), "stroke": (40, 40), "temporal_bone": (600, 2800),
                 "lung": (-600, 1500), "mediastinum": (50, 350), "soft_tissue": (50, 400), "liver": (30, 150),
                 "bone": (400, 1800)}


def hu_ramp() -> Image:
    """A CT-like image whose columns run from -3000 to 5191 HU in steps of 1 HU."""
    meta = ImageMeta(format="DICOM", bit_depth=13, unit="HU", value_offset=-3000.0, value_scale=8191.0, modality="CT")
    pixels = np.tile(np.linspace(0.0, 1.0, 8192, dtype=np.float32), (2, 1))[:, :, None]
    return Image(np.ascontiguousarray(pixels), None, meta)


def shown_at(image: Image, preset: WindowPreset, hu: float) -> float:
    """Display value (0..1) of the window/level step with ``preset`` at ``hu``."""
    ctx = RenderContext(value_offset=image.meta.value_offset, value_scale=image.meta.value_scale)
    out = apply_window_level(image.pixels, WindowLevelParams(center=preset.center, width=preset.width), ctx)
    column = int(round(hu + 3000.0))
    return float(out[0, column, 0])


def test_ct_presets_are_the_documented_values():
    presets = {preset.key: (preset.center, preset.width) for preset in builtin_presets("CT")}
    assert presets == DOCUMENTED_CT
    assert builtin_presets("MR") == ()


@pytest.mark.parametrize("name", sorted(DOCUMENTED_CT))
def test_presets_map_their_window_edges_to_black_mid_gray_and_white(name):
    image, preset = hu_ramp(), find_preset(name, "CT")
    low, high = preset.center - preset.width / 2, preset.center + preset.width / 2
    assert shown_at(image, preset, low) == pytest.approx(0.0, abs=1 / preset.width + 1e-6)
    assert shown_at(image, preset, preset.center) == pytest.approx(0.5, abs=1 / preset.width + 1e-6)
    assert shown_at(image, preset, high) == pytest.approx(1.0, abs=1 / preset.width + 1e-6)
    assert shown_at(image, preset, low - 50) == 0.0 and shown_at(image, preset, high + 50) == 1.0


def test_lung_window_on_real_ct_values():
    image = read_image(get_testdata_file("CT_small.dcm"))
    preset = find_preset("Lung", "CT")
    ctx = RenderContext(value_offset=image.meta.value_offset, value_scale=image.meta.value_scale)
    out = apply_window_level(image.pixels, WindowLevelParams(center=-600, width=1500), ctx)[:, :, 0]
    hu = image.to_physical(image.pixels[:, :, 0].astype(np.float64))
    expected = np.clip((hu - (preset.center - preset.width / 2)) / preset.width, 0, 1)
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_preset_names_ignore_case_and_punctuation_and_unknown_names_list_the_choices():
    assert find_preset("SOFT TISSUE", "CT").key == "soft_tissue"
    assert find_preset("abdomen", "ct").key == "soft_tissue"
    with pytest.raises(PresetError, match="no window preset 'lungz'.*lung, mediastinum"):
        find_preset("lungz", "CT")


def test_user_presets_round_trip_and_win_over_builtins(tmp_path):
    path = tmp_path / "config" / "window_presets.json"
    assert load_user_presets(path) == []
    add_user_preset(path, WindowPreset("My lung", -500, 1400, "CT"))
    add_user_preset(path, WindowPreset("Lung", -650, 1600, "CT"))
    add_user_preset(path, WindowPreset("My lung", -550, 1300, "CT"))
    loaded = load_user_presets(path)
    assert [(p.name, p.center, p.width) for p in loaded] == [("Lung", -650, 1600), ("My lung", -550, 1300)]
    assert find_preset("lung", "CT", loaded).center == -650
    assert find_preset("my_lung", "CT", loaded).width == 1300
    with pytest.raises(PresetError):
        find_preset("my lung", "MR", loaded)
    add_user_preset(path, WindowPreset("Soft", 50, 400))
    anywhere = load_user_presets(path)
    assert find_preset("soft", "CT", anywhere).width == 400 and find_preset("soft", "MR", anywhere).center == 50
    assert "Soft" in [preset.name for preset in presets_for("CT", anywhere)]


@pytest.mark.parametrize(("content", "words"), [
    ("{not json", "not valid JSON"),
    (json.dumps({"schema": "something else", "presets": []}), "not a window presets file"),
    (json.dumps({"schema": "enhance-studio.window-presets", "version": 9, "presets": []}), "version 9"),
    (json.dumps({"schema": "enhance-studio.window-presets", "version": True, "presets": []}), "version true"),
    (json.dumps({"schema": "enhance-studio.window-presets", "version": 1, "presets": [{"name": "x"}]}), "lacks"),
    (json.dumps({"schema": "enhance-studio.window-presets", "version": 1,
                 "presets": [{"name": "x", "center": 0, "width": -3}]}), "width above 0"),
    (json.dumps({"schema": "enhance-studio.window-presets", "version": 1,
                 "presets": [{"name": "x", "center": 1e15, "width": 400}]}),
     "center 1e+15 lies beyond ±1e+12, more than the window/level step takes"),
])
def test_a_bad_presets_file_names_itself_and_the_problem(tmp_path, content, words):
    path = tmp_path / "presets.json"
    path.write_text(content)
    with pytest.raises(PresetError) as caught:
        load_user_presets(path)
    assert str(path) in str(caught.value) and words in str(caught.value)


def test_a_presets_file_saved_with_a_utf8_byte_order_mark_loads(tmp_path):
    path = save_user_presets(tmp_path / "presets.json", [WindowPreset("Mine", 40, 400, "CT")])
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())
    assert [preset.name for preset in load_user_presets(path)] == ["Mine"]


def test_saving_never_leaves_a_half_written_file(tmp_path):
    path = save_user_presets(tmp_path / "p.json", [WindowPreset("A", 1, 2)])
    assert [item.name for item in tmp_path.iterdir()] == ["p.json"]
    assert json.loads(path.read_text())["presets"] == [{"name": "A", "modality": "", "center": 1, "width": 2}]


def test_auto_window_spans_the_percentiles_of_the_physical_values():
    image = hu_ramp()
    window = auto_window(image, low_percent=10, high_percent=90)
    assert window.center - window.width / 2 == pytest.approx(-3000 + 0.1 * 8191, abs=1.0)
    assert window.center + window.width / 2 == pytest.approx(-3000 + 0.9 * 8191, abs=1.0)
    ct = read_image(get_testdata_file("CT_small.dcm"))
    hu = ct.to_physical(ct.pixels[:, :, 0].astype(np.float64))
    auto = auto_window(ct)
    assert auto.center - auto.width / 2 == pytest.approx(np.percentile(hu, 0.5), abs=0.5)
    assert auto.center + auto.width / 2 == pytest.approx(np.percentile(hu, 99.5), abs=0.5)
    with pytest.raises(ParameterError, match="percentiles"):
        auto_window(image, low_percent=60, high_percent=40)


def test_header_window_is_the_files_first_window_else_the_value_range():
    with_windows = read_image(get_testdata_file("bad_sequence.dcm"))
    assert (header_window(with_windows).center, header_window(with_windows).width) == (40, 350)
    assert header_window(with_windows, 1).width == 1500
    ct = read_image(get_testdata_file("CT_small.dcm"))
    low, high = ct.meta.extra["value_range"]
    assert (header_window(ct).center, header_window(ct).width) == ((low + high) / 2, high - low)


def test_deleting_a_user_preset_keeps_the_others_and_unknown_names_are_refused(tmp_path):
    path = tmp_path / "config" / "window_presets.json"
    add_user_preset(path, WindowPreset("My lung", -500, 1400, "CT"))
    add_user_preset(path, WindowPreset("My lung", 300, 900, "MR"))
    add_user_preset(path, WindowPreset("Wide", 0, 4000, "CT"))
    left = remove_user_preset(path, "my LUNG", "ct")
    assert [(p.name, p.modality) for p in left] == [("My lung", "MR"), ("Wide", "CT")]
    assert load_user_presets(path) == left
    assert find_preset("lung", "CT", left).center == -600.0
    with pytest.raises(PresetError, match="no saved window preset 'My lung' for modality CT.*'Wide'"):
        remove_user_preset(path, "My lung", "CT")
    with pytest.raises(PresetError, match="built-in presets cannot be deleted"):
        remove_user_preset(path, "Bone", "CT")
    assert load_user_presets(path) == left


def test_a_presets_file_in_a_folder_that_cannot_be_entered_is_a_preset_error(tmp_path, monkeypatch):
    """It raised a bare PermissionError, an 'unexpected error' at every CT opened in the editor."""
    from tests.core.locked_folders import lock_folder

    config = tmp_path / "config"
    config.mkdir()
    lock_folder(monkeypatch, config)
    with pytest.raises(PresetError, match=r"window_presets.json: cannot read the window presets \(permission "
                                          f"denied: the folder {config} cannot be entered"):
        load_user_presets(config / "window_presets.json")


def test_presets_named_in_any_script_are_kept_apart_and_found_by_their_own_name(tmp_path):
    """Keeping only a-z and 0-9 made every Japanese name the same key: each save replaced the last, and any name,
    even one never saved, found the bone window."""
    path = tmp_path / "window_presets.json"
    for name, center, width in (("肺野", -600, 1500), ("縦隔", 50, 350), ("骨", 400, 1800), ("Hüfte", 300, 1500),
                                ("Häfte", 30, 150)):
        add_user_preset(path, WindowPreset(name, center, width, "CT"))
    saved = load_user_presets(path)
    assert [preset.name for preset in saved] == ["肺野", "縦隔", "骨", "Hüfte", "Häfte"]
    assert find_preset("肺野", "CT", saved).window.center == -600
    assert find_preset("Hu\u0308fte", "CT", saved).window.center == 300, "the same name as a Mac writes it"
    with pytest.raises(PresetError, match="no window preset '腹部'"):
        find_preset("腹部", "CT", saved)
    with pytest.raises(PresetError, match="a name with a letter or a digit"):
        add_user_preset(path, WindowPreset("—", 40, 400, "CT"))


def test_names_that_differ_by_a_vowel_mark_or_only_by_folding_stay_apart(tmp_path):
    """Thai and Hindi vowels are marks, which the key had made "_": saving ตีบ (stenosis) replaced ตับ (liver) and
    --preset ตับ exported with the stenosis window. Straße found Strasse, and deleting Strasse took both."""
    path = tmp_path / "window_presets.json"
    for name, center in (("ตับ", 60), ("ตีบ", 300), ("दिल", 40), ("दाल", 50)):
        add_user_preset(path, WindowPreset(name, center, 400, "CT"))
    saved = load_user_presets(path)
    assert [preset.name for preset in saved] == ["ตับ", "ตีบ", "दिल", "दाल"]
    assert find_preset("ตับ", "CT", saved).center == 60 and find_preset("दाल", "CT", saved).center == 50
    path.write_text(json.dumps({"schema": "enhance-studio.window-presets", "version": 1, "presets": [
        {"name": "Straße", "modality": "CT", "center": 4, "width": 100},
        {"name": "Strasse", "modality": "CT", "center": 5, "width": 100},
        {"name": "Schädel", "modality": "CT", "center": 35, "width": 90}]}))
    saved = load_user_presets(path)
    assert find_preset("Straße", "CT", saved).center == 4 and find_preset("Strasse", "CT", saved).center == 5
    assert find_preset("sch_del", "CT", saved).name == "Schädel", "the key earlier versions listed"
    assert [preset.name for preset in remove_user_preset(path, "Strasse", "CT")] == ["Straße", "Schädel"]


def test_a_user_preset_overrides_the_built_in_of_its_name_in_any_case():
    """Finding the very name first let the built-in "Lung" win over the user's "lung" (a review)."""
    user = [WindowPreset("lung", -500, 1200, "CT"), WindowPreset("Abdomen", 60, 360, "CT")]
    for name in ("Lung", "lung", "LUNG"):
        assert find_preset(name, "CT", user).center == -500
    for name in ("Abdomen", "abdomen"):
        assert find_preset(name, "CT", user).center == 60, "the name's own preset before its alias"
    assert find_preset("abdomen", "CT").name == "Soft tissue"

