"""Training configurations: the JSON file and ``--set`` overrides, and the messages for bad ones."""

from __future__ import annotations

import numpy as np
import pytest

from enhance_core.training import train_denoise, train_inpaint, train_lowlight
from enhance_core.training.config import load_config
from tests.learned.conftest import write_synthetic_dataset

DEFAULTS = {"steps": 100, "widths": [8, 16], "out_dir": "runs/x", "lr": 1e-3}


def test_overrides_are_json_and_plain_text_is_kept_for_string_keys(tmp_path):
    config_file = tmp_path / "c.json"
    config_file.write_text('{"steps": 200, "lr": 0.01}')
    config = load_config(DEFAULTS, str(config_file), ["widths=[4, 8, 16]", "out_dir=runs/my run", "steps=300"])
    assert config == {"steps": 300, "widths": [4, 8, 16], "out_dir": "runs/my run", "lr": 0.01}
    assert load_config(DEFAULTS, None, ['out_dir="runs/quoted"'])["out_dir"] == "runs/quoted"
    assert DEFAULTS["steps"] == 100


@pytest.mark.parametrize(("file_text", "overrides", "message"), [
    (None, ["steps=many"], r"steps=many: 'many' is not a JSON value; write it as JSON, like the default 100"),
    (None, ["steps"], r"--set 'steps' must look like KEY=VALUE"),
    (None, ["stpes=3"], r"unknown config key 'stpes'; known keys: steps, widths"),
    ('{"steps": 3,}', [], r"c\.json is not valid JSON"),
    ('[1, 2]', [], r"c\.json must hold a JSON object"),
    ('{"step": 3}', [], r"c\.json has unknown keys step; known keys"),
])
def test_bad_configs_name_the_key_value_or_file(tmp_path, file_text, overrides, message):
    path = None
    if file_text is not None:
        path = tmp_path / "c.json"
        path.write_text(file_text)
    with pytest.raises(SystemExit, match=message):
        load_config(DEFAULTS, str(path) if path else None, overrides)


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(SystemExit, match=r"cannot read config file .*nope\.json"):
        load_config(DEFAULTS, str(tmp_path / "nope.json"), [])


@pytest.mark.parametrize("trainer", [train_denoise, train_inpaint, train_lowlight])
def test_every_trainer_stops_on_a_bad_override_before_touching_data(trainer, tmp_path):
    with pytest.raises(SystemExit, match=r"'fast' is not a JSON value"):
        trainer.main(["--data", str(tmp_path / "no_data"), "--set", "steps=fast"])


def test_sigma_power_draws_low_noise_levels_more_often():
    images = [np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)]
    means = {}
    for power in (1.0, 3.0):
        cfg = dict(train_denoise.DEFAULTS, patch=8, batch=4000, sigma_range=[5.0, 65.0], sigma_power=power)
        _, _, sigma = train_denoise.make_batch(images, cfg, np.random.default_rng(1))
        levels = sigma.numpy().ravel() * 255
        assert levels.min() >= 5.0 and levels.max() <= 65.0
        means[power] = levels.mean()
    assert means[1.0] == pytest.approx(35.0, abs=1.0)
    assert means[3.0] == pytest.approx(5.0 + 60.0 / 4, abs=1.0)


@pytest.mark.parametrize("setting", ["real_fraction=1.5", "clean_fraction=-0.1", 'real_fraction="some"'])
def test_a_share_of_real_or_clean_crops_outside_0_to_1_is_refused(setting, tmp_path):
    with pytest.raises(SystemExit, match=r"_fraction=.*use a share of the colour crops from 0 to 1"):
        train_denoise.main(["--data", str(tmp_path / "no_data"), "--set", setting])


def test_real_crops_asked_for_without_real_pairs_stop_the_run(tmp_path):
    write_synthetic_dataset(tmp_path)
    with pytest.raises(SystemExit, match=r"real_fraction=0.3: no real training pairs in .*real_noise_polyu_canon"):
        train_denoise.main(["--data", str(tmp_path), "--set", "real_fraction=0.3", "--set", "steps=1",
                            "--set", f"out_dir={tmp_path / 'run'}"])
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("power", ["0", "-1", '"high"', "true"])
def test_a_sigma_power_that_is_not_above_zero_is_refused(power, tmp_path):
    with pytest.raises(SystemExit, match="sigma_power=.*use a number above 0"):
        train_denoise.main(["--data", str(tmp_path / "no_data"), "--set", f"sigma_power={power}"])


def test_real_crops_keep_noisy_reference_and_level_aligned():
    rng = np.random.default_rng(2)
    noisy = rng.random((40, 40, 3), dtype=np.float32)
    reference = noisy * 0.5
    level = noisy[..., :1] * 0.25
    stack = np.concatenate([noisy, reference, level], axis=2)
    images = [np.zeros((32, 32, 3), np.uint8)]
    cfg = dict(train_denoise.DEFAULTS, patch=16, batch=64, gray_fraction=0.0, real_fraction=0.5)
    clean, noisy_t, level_t = train_denoise.make_batch(images, cfg, np.random.default_rng(3), [stack])
    real = clean.flatten(1).amax(1) > 0.0
    assert 16 < int(real.sum()) < 48
    assert np.allclose(clean[real].numpy(), noisy_t[real].numpy() * 0.5)
    assert np.allclose(level_t[real].numpy(), noisy_t[real, :1].numpy() * 0.25)
    without = dict(cfg, real_fraction=0.0)
    assert float(train_denoise.make_batch(images, without, np.random.default_rng(3), [stack])[0].max()) == 0.0


def test_clean_crops_come_back_unchanged_with_their_estimated_level():
    rng = np.random.default_rng(4)
    photo = rng.random((40, 40, 3), dtype=np.float32) * 0.5 + 0.25
    stack = np.concatenate([photo, photo[..., :1] * 0.1], axis=2)
    images = [np.zeros((32, 32, 3), np.uint8)]
    cfg = dict(train_denoise.DEFAULTS, patch=16, batch=64, gray_fraction=0.0, clean_fraction=0.5)
    clean, noisy, level = train_denoise.make_batch(images, cfg, np.random.default_rng(5), None, [stack])
    still = clean.flatten(1).amin(1) >= 0.25
    assert 16 < int(still.sum()) < 48
    assert np.array_equal(clean[still].numpy(), noisy[still].numpy())
    assert np.allclose(level[still].numpy(), clean[still, :1].numpy() * 0.1)
