"""The shared training loop on a two-layer toy network: named loss parts, frozen layers, resume."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from enhance_core.training import loop


def toy_config(out_dir: Path, **changes) -> dict:
    """The loop's defaults for a few fast steps into ``out_dir``."""
    return {**loop.LOOP_DEFAULTS, "steps": 4, "warmup": 1, "lr": 1e-2, "log_every": 2, "eval_every": 4,
            "ckpt_every": 2, "out_dir": str(out_dir), **changes}


def toy_task(freeze_second: bool = False) -> loop.Task[nn.Sequential]:
    """Shrink the weights of two linear layers, each layer's sum of squares a named part of the loss."""

    def build(cfg: dict) -> nn.Sequential:
        model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
        model[1].requires_grad_(not freeze_second)
        return model

    def loss(model: nn.Sequential, batch: tuple) -> dict[str, torch.Tensor]:
        return {"first": model[0].weight.square().sum(), "second": model[1].weight.square().sum()}

    return loop.Task(build=build, make_batch=lambda rng: (), loss=loss,
                     validate=lambda model: {"weight_sum": float(model[0].weight.sum())})


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
    start = task.build({}).state_dict()
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
