"""The shared training loop on a two-layer toy network: named loss parts, frozen layers, resume, the checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from enhance_core.errors import ModelError
from enhance_core.learned import registry
from enhance_core.learned.weights import read_weights
from enhance_core.training import export, loop

CHECKPOINT_KEYS = {"arch", "args", "params", "params_ema", "optimizer", "rng", "torch_rng", "step", "config"}


class Toy(nn.Sequential):
    """Two linear layers of ``width`` features."""

    def __init__(self, width: int = 3) -> None:
        super().__init__(nn.Linear(width, width), nn.Linear(width, width))


@pytest.fixture(autouse=True)
def toy_arch(monkeypatch) -> None:
    """Make :class:`Toy` an architecture of the registry."""
    monkeypatch.setitem(registry.ARCHS, "Toy", Toy)


def toy_config(out_dir: Path, **changes) -> dict:
    """The loop's defaults for a few fast steps into ``out_dir``."""
    return {**loop.LOOP_DEFAULTS, "steps": 4, "warmup": 1, "lr": 1e-2, "log_every": 2, "eval_every": 4,
            "ckpt_every": 2, "out_dir": str(out_dir), **changes}


def toy_task(freeze_second: bool = False, arch: str = "Toy") -> loop.Task[Toy]:
    """Shrink the weights of two linear layers, each layer's sum of squares a named part of the loss."""

    def prepare(model: Toy, cfg: dict) -> None:
        model[1].requires_grad_(not freeze_second)

    def loss(model: Toy, batch: tuple) -> dict[str, torch.Tensor]:
        return {"first": model[0].weight.square().sum(), "second": model[1].weight.square().sum()}

    return loop.Task(arch=arch, make_batch=lambda rng: (), loss=loss,
                     validate=lambda model: {"weight_sum": float(model[0].weight.sum())}, prepare=prepare)


def logged_parts(out: str) -> list[dict[str, float]]:
    """The loss parts of each ``step N name value ... lr`` line."""
    words = [line.split()[2:] for line in out.splitlines() if line.startswith("step ")]
    return [{w[i]: float(w[i + 1]) for i in range(0, w.index("lr"), 2)} for w in words]


def test_named_loss_parts_are_logged_one_by_one_and_their_sum_trains(tmp_path, capsys):
    loop.run(toy_config(tmp_path), toy_task())
    first, last = logged_parts(capsys.readouterr().out)
    assert list(first) == ["first", "second"]
    assert last["first"] < first["first"] and last["second"] < first["second"]


def test_parameters_the_task_freezes_stay_as_built_and_out_of_the_optimizer(tmp_path, capsys):
    task = toy_task(freeze_second=True)
    torch.manual_seed(0)
    start = Toy().state_dict()
    loop.run(toy_config(tmp_path), task)
    first, last = logged_parts(capsys.readouterr().out)
    assert last["first"] < first["first"] and last["second"] == first["second"]
    ckpt = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    assert all(torch.equal(ckpt[key]["1.weight"], start["1.weight"]) for key in ("params", "params_ema"))
    assert not torch.equal(ckpt["params"]["0.weight"], start["0.weight"])
    assert len(ckpt["optimizer"]["param_groups"][0]["params"]) == 2


def test_a_checkpoint_without_the_torch_random_state_resumes(tmp_path, capsys):
    loop.run(toy_config(tmp_path, steps=2), toy_task())
    ckpt = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    del ckpt["torch_rng"]
    torch.save(ckpt, tmp_path / "ckpt.pt")
    loop.run(toy_config(tmp_path, steps=4), toy_task())
    assert "resumed at step 2" in capsys.readouterr().out
    steps = [json.loads(line)["step"] for line in (tmp_path / "val_log.jsonl").read_text().splitlines()]
    assert steps == [2, 4]


def test_a_checkpoint_names_its_network_which_evaluation_and_export_rebuild(tmp_path, monkeypatch, capsys):
    loop.run(toy_config(tmp_path / "run", width=4), toy_task())
    checkpoint_path = tmp_path / "run" / "ckpt.pt"
    ckpt = torch.load(checkpoint_path, weights_only=True)
    assert set(ckpt) == CHECKPOINT_KEYS and (ckpt["arch"], ckpt["args"]) == ("Toy", {"width": 4})
    assert [p.name for p in (tmp_path / "run").iterdir() if p.name.endswith(".part")] == []
    network = export.network_from_checkpoint(checkpoint_path)
    assert isinstance(network, Toy) and not network.training and network[0].in_features == 4
    assert all(torch.equal(network.state_dict()[key], value) for key, value in ckpt["params_ema"].items())
    path, _, spec = export.export_checkpoint(checkpoint_path, name="toy", folder=tmp_path / "models", fp16=False)
    assert (spec.arch, spec.args) == ("Toy", {"width": 4})
    assert json.loads(read_weights(path, sha256=spec.sha256)[1]["args"]) == {"width": 4}
    legacy = {key: value for key, value in ckpt.items() if key not in ("arch", "args")}
    torch.save(legacy, tmp_path / "legacy.pt")
    assert export.export_checkpoint(tmp_path / "legacy.pt", name="toy", folder=tmp_path / "legacy", fp16=False,
                                    arch="Toy")[2].args == {"width": 4}
    monkeypatch.setenv(registry.MODELS_ENV, str(tmp_path / "models"))
    monkeypatch.setitem(registry.MODELS, "toy", spec)
    registry.clear_cache()
    shipped = registry.load_model("toy")
    registry.clear_cache()
    assert all(torch.equal(shipped.state_dict()[key], value) for key, value in ckpt["params_ema"].items())


def test_build_names_unknown_architectures_and_arguments_that_do_not_fit(tmp_path):
    with pytest.raises(ModelError, match="unknown architecture 'Nope'; known: .*DenoiseUNet.*Toy"):
        registry.build("Nope", {})
    with pytest.raises(ModelError, match=r"cannot build Toy with args \{'depth': 2\}"):
        registry.build("Toy", {"depth": 2})
    with pytest.raises(SystemExit, match="cannot build the network: unknown architecture 'Nope'"):
        loop.run(toy_config(tmp_path), toy_task(arch="Nope"))
    assert registry.constructor_args("Toy", {"width": 5, "lr": 1.0}) == {"width": 5}
    assert registry.constructor_args("SuperResNet", {}) == {"channels": 3, "width": 32, "blocks": 4, "scales": [2, 4]}


def test_a_corrupt_or_foreign_checkpoint_is_named(tmp_path):
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="garbage.pt: not a readable training checkpoint"):
        export.network_from_checkpoint(tmp_path / "garbage.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ModelError, match="list.pt: holds a list, not a training checkpoint"):
        export.network_from_checkpoint(tmp_path / "list.pt")
    torch.save({"params": {}}, tmp_path / "foreign.pt")
    with pytest.raises(ModelError, match="foreign.pt: checkpoint lacks params_ema, config, step"):
        export.network_from_checkpoint(tmp_path / "foreign.pt")
    torch.save({"arch": "Nope", "args": {}, "params": {}, "params_ema": {}, "config": {}, "step": 1},
               tmp_path / "nope.pt")
    with pytest.raises(ModelError, match="unknown architecture 'Nope'"):
        export.network_from_checkpoint(tmp_path / "nope.pt")
