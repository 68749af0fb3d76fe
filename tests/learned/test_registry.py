"""Model registry and weight files: the tiny training run end to end, hash checks, no pickle."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from enhance_core.errors import ModelError
from enhance_core.learned import registry
from enhance_core.learned.denoise import denoise_image
from enhance_core.learned.registry import ModelSpec, load_model
from enhance_core.learned.weights import encode_weights, parse_metadata, sha256_path
from enhance_core.training import eval_denoise, eval_inpaint, eval_lowlight, export, train_denoise
from tests.learned.conftest import TINY_CONFIG, synthetic_rgb, write_synthetic_dataset


def test_tiny_training_exports_loads_and_denoises(tiny_model):
    assert tiny_model.name.startswith("denoise_tiny-") and sha256_path(tiny_model).exists()
    model = load_model("denoise_tiny", device="cpu")
    assert not model.training and load_model("denoise_tiny", device="cpu") is model
    noisy = synthetic_rgb(64, 80) + np.random.default_rng(0).normal(0, 0.1, (64, 80, 3)).astype(np.float32)
    out = denoise_image(noisy, sigma=25, device="cpu", model="denoise_tiny")
    assert out.shape == noisy.shape and out.dtype == np.float32 and np.isfinite(out).all()
    gray = denoise_image(noisy[..., :1], sigma=25, device="cpu", model="denoise_tiny")
    assert gray.shape == (64, 80, 1)


def test_tampered_weights_raise_model_error(tiny_model):
    data = bytearray(tiny_model.read_bytes())
    data[-10] ^= 0xFF
    tiny_model.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"SHA-256 is [0-9a-f]{64}, expected [0-9a-f]{64}.*Restore it"):
        load_model("denoise_tiny", device="cpu")


def replace_weights(path: Path, data: bytes) -> str:
    """Write ``data`` over the weights at ``path`` and a matching ``.sha256`` file, as an attacker would."""
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    sha256_path(path).write_text(f"{digest}  {path.name}\n")
    return digest


def pin(monkeypatch, digest: str) -> None:
    """Pin ``digest`` for the tiny model in MODELS (as pasting the exporter's line would)."""
    monkeypatch.setitem(registry.MODELS, "denoise_tiny", dataclasses.replace(registry.MODELS["denoise_tiny"],
                                                                            sha256=digest))


def test_replaced_weights_with_a_regenerated_hash_file_do_not_load(tiny_model):
    state = load_model("denoise_tiny", device="cpu").state_dict()
    registry.clear_cache()
    metadata = parse_metadata(tiny_model.read_bytes(), tiny_model)
    replace_weights(tiny_model, encode_weights({k: torch.zeros_like(v) for k, v in state.items()}, metadata))
    with pytest.raises(ModelError, match=r"SHA-256 is [0-9a-f]{64}, expected [0-9a-f]{64}.*Restore it"):
        load_model("denoise_tiny", device="cpu")


def test_the_hash_file_is_for_users_and_not_needed_to_load(tiny_model):
    sha256_path(tiny_model).write_text("0" * 64 + "  tampered\n")
    load_model("denoise_tiny", device="cpu")
    registry.clear_cache()
    sha256_path(tiny_model).unlink()
    load_model("denoise_tiny", device="cpu")


def test_every_shipped_model_is_pinned_in_the_table():
    for name, spec in registry.MODELS.items():
        path = registry.weights_path(name)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == spec.sha256, name
        assert sha256_path(path).read_text().split() == [spec.sha256, path.name], name
    with pytest.raises(ValueError, match="sha256 must be 64 lowercase hex digits"):
        ModelSpec("DenoiseUNet", {}, "denoise/x.safetensors", "aac92861")


@pytest.mark.parametrize("args, message", [(None, "metadata lacks args"), ("[1, 2]", "no constructor arguments"),
                                           ("{", "no constructor arguments")])
def test_metadata_without_arguments_is_a_model_error(tiny_model, monkeypatch, args, message):
    data = tiny_model.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    if args is None:
        del header["__metadata__"]["args"]
    else:
        header["__metadata__"]["args"] = args
    text = json.dumps(header).encode()
    pin(monkeypatch, replace_weights(tiny_model, struct.pack("<Q", len(text)) + text + data[8 + length:]))
    with pytest.raises(ModelError, match=message):
        load_model("denoise_tiny", device="cpu")


def test_pickle_is_never_executed(tiny_model, tmp_path, monkeypatch):
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (Path.touch, (marker,))

    pin(monkeypatch, replace_weights(tiny_model, pickle.dumps({"weights": Exploit()})))
    with pytest.raises(ModelError, match="not a safetensors file"):
        load_model("denoise_tiny", device="cpu")
    assert not marker.exists()


def test_weights_that_do_not_fit_raise_model_error(tiny_model, monkeypatch):
    spec = registry.MODELS["denoise_tiny"]
    monkeypatch.setitem(registry.MODELS, "denoise_tiny", dataclasses.replace(spec, args={**spec.args,
                                                                                          "widths": [8, 32]}))
    with pytest.raises(ModelError, match="registry expects"):
        load_model("denoise_tiny", device="cpu")


def test_unknown_model_lists_known_ones():
    with pytest.raises(ModelError, match="unknown model 'nope'; known models: .*denoise"):
        load_model("nope")


def test_export_command_prints_hash_and_entry(tiny_export, tmp_path, capsys):
    _, spec, tiny_checkpoint = tiny_export
    assert export.main([str(tiny_checkpoint), "--name", "denoise_tiny", "--models-dir", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    digest = (tmp_path / spec.weights).with_suffix(".safetensors.sha256").read_text().split()[0]
    assert f"sha256 {digest}" in printed and repr(spec.weights) in printed
    assert f"sha256={digest!r})," in printed and "paste the entry above" in printed
    assert export.main([str(tiny_checkpoint), "--name", "x", "--arch", "LowLightNet"]) == 2
    assert "holds a DenoiseUNet, not a LowLightNet; leave --arch out" in capsys.readouterr().err
    checkpoint = tmp_path / "ckpt.pt"
    torch.save({"params": {}, "params_ema": {}, "config": {}, "step": 0}, checkpoint)
    assert export.main([str(checkpoint), "--name", "x", "--models-dir", str(tmp_path)]) == 2
    assert "lacks arch, args: it was written before checkpoints named their network; export it with --arch" \
        in capsys.readouterr().err
    assert export.main([str(checkpoint), "--name", "x", "--arch", "DenoiseUNet", "--models-dir", str(tmp_path)]) == 2
    assert "do not fit DenoiseUNet" in capsys.readouterr().err
    assert export.main([str(tmp_path / "missing.pt"), "--name", "denoise"]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    assert export.main([str(tmp_path / "garbage.pt"), "--name", "denoise"]) == 2
    assert "not a readable training checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("module", [eval_denoise, eval_lowlight, eval_inpaint])
def test_evaluation_commands_name_a_missing_checkpoint(module, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--checkpoint", str(tmp_path / "missing.pt")])
    assert str(exit_info.value.code) == f"error: {tmp_path / 'missing.pt'}: checkpoint not found; " \
                                        "train first or pass the right path"
    assert list(tmp_path.iterdir()) == [], "nothing is left behind"


def test_denoise_run_fine_tunes_exported_weights_and_names_unfit_ones(tiny_export, tmp_path, capsys):
    folder, spec, _ = tiny_export
    exported = folder / spec.weights
    write_synthetic_dataset(tmp_path / "data")
    base = ["--config", str(TINY_CONFIG), "--data", str(tmp_path / "data"), "--set", "steps=3",
            "--set", "eval_every=3", "--set", f"init={exported}"]
    train_denoise.main([*base, "--set", f"out_dir={tmp_path / 'ft'}"])
    assert f"initialized from {exported}" in capsys.readouterr().out
    assert (tmp_path / "ft" / "ckpt.pt").is_file()
    with pytest.raises(SystemExit, match=f"cannot start from {exported}: its network differs"):
        train_denoise.main([*base, "--set", "widths=[8, 24]", "--set", f"out_dir={tmp_path / 'wide'}"])
    with pytest.raises(SystemExit, match="init checkpoint .*nope.safetensors not found.*git show"):
        train_denoise.main([*base, "--set", f"init={tmp_path / 'nope.safetensors'}",
                            "--set", f"out_dir={tmp_path / 'x'}"])


def test_denoise_training_resumes_without_unpickling_code(tiny_export, tmp_path, capsys):
    _, _, checkpoint = tiny_export
    run = tmp_path / "run"
    shutil.copytree(checkpoint.parent, run)
    assert isinstance(torch.load(run / "ckpt.pt", weights_only=True)["rng"], str)
    base = ["--config", str(TINY_CONFIG), "--data", str(checkpoint.parent.parent / "data"),
            "--set", "steps=31", "--set", "eval_every=31", "--set", "ckpt_every=31"]
    train_denoise.main([*base, "--set", f"out_dir={json.dumps(str(run))}"])
    assert "resumed at step 30" in capsys.readouterr().out
    assert torch.load(run / "ckpt.pt", weights_only=True)["step"] == 31
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (Path.touch, (marker,))

    hostile = tmp_path / "hostile"
    hostile.mkdir()
    torch.save({"params": Exploit()}, hostile / "ckpt.pt")
    with pytest.raises(SystemExit, match="cannot resume from .*UnpicklingError"):
        train_denoise.main([*base, "--set", f"out_dir={json.dumps(str(hostile))}"])
    assert not marker.exists()


def test_weights_missing_a_tensor_do_not_load(tiny_model, monkeypatch):
    from safetensors.torch import load

    from enhance_core.errors import ModelError
    from enhance_core.learned import registry
    from enhance_core.learned.weights import encode_weights, parse_metadata

    data = tiny_model.read_bytes()
    tensors = load(data)
    del tensors[sorted(tensors)[-1]]
    cut = encode_weights(tensors, parse_metadata(data, tiny_model))
    tiny_model.write_bytes(cut)
    monkeypatch.setitem(registry.MODELS, "denoise_tiny", dataclasses.replace(
        registry.MODELS["denoise_tiny"], sha256=hashlib.sha256(cut).hexdigest()))
    with pytest.raises(ModelError, match="weights do not fit"):
        registry.load_model("denoise_tiny", device="cpu")


def test_a_pinned_hash_that_differs_in_its_last_digit_is_refused(tiny_model, monkeypatch):
    from enhance_core.errors import ModelError
    from enhance_core.learned import registry

    actual = hashlib.sha256(tiny_model.read_bytes()).hexdigest()
    near = actual[:-1] + ("0" if actual[-1] != "0" else "1")
    monkeypatch.setitem(registry.MODELS, "denoise_tiny", dataclasses.replace(registry.MODELS["denoise_tiny"],
                                                                            sha256=near))
    with pytest.raises(ModelError, match="SHA-256 is"):
        registry.load_model("denoise_tiny", device="cpu")
