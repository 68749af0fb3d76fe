"""The training loop every model shares: schedule, EMA, checkpoints, resume, logging, validation.

A model's training script supplies a :class:`Task` (which architecture of
:data:`~enhance_core.learned.registry.ARCHS` it trains, how to draw a batch,
compute the loss and validate) and a dict of config defaults; :func:`run` does
the rest, the same way for every model (after BasicSR):

* the network and its EMA copy are built by
  :func:`enhance_core.learned.registry.build` from the task's ``arch`` and the
  constructor arguments the config holds (``args``, found by
  :func:`~enhance_core.learned.registry.constructor_args`: the config keys
  equal the argument names), then handed to the task's optional ``prepare``;
* Adam over the parameters the task's network leaves trainable
  (``requires_grad``; a task freezes a part by turning it off), with a linear
  warm-up and a cosine decay to ``lr_min`` that stays at ``lr_min`` past
  ``steps``, and the gradient norm clipped to ``grad_clip`` when that is above 0;
* an exponential moving average (EMA) of the weights with a warm-up
  (``decay = min(ema, (1 + step) / (10 + step))``), which is what gets
  validated and exported;
* ``out_dir/ckpt.pt`` every ``ckpt_every`` steps, written atomically
  (:func:`enhance_core.atomic.atomic_write`) and read back with
  ``torch.load(weights_only=True)`` (no pickled code), holding ``arch`` and
  ``args`` (what :func:`~enhance_core.learned.registry.build` needs to make the
  network again: export and evaluation read them), ``params``, ``params_ema``,
  ``optimizer``, the random states ``rng`` and ``torch_rng``, ``step`` and the
  resolved ``config``; an interrupted run resumes from it;
* ``init``: start from an earlier ``ckpt.pt`` or shipped ``.safetensors``
  weights (hash-checked), loaded strictly unless the task says otherwise;
* a log line every ``log_every`` steps (the mean loss, or the mean of each
  named part when the task's loss has several) and a validation line (also
  appended to ``out_dir/val_log.jsonl``) every ``eval_every`` steps and at the end.

:func:`parse_config` is the shared command line: ``--config FILE``,
``--set KEY=VALUE`` overrides, ``--data DIR`` and ``--until STEP``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar, cast

import numpy as np
import torch
from torch import nn

from enhance_core.atomic import atomic_write
from enhance_core.errors import ModelError
from enhance_core.learned.registry import build, constructor_args
from enhance_core.training.checkpoints import load_init_state
from enhance_core.training.config import load_config
from enhance_core.training.data import default_data_dir

LOOP_DEFAULTS: dict[str, Any] = {
    "steps": 10000,
    "lr": 3e-4,
    "lr_min": 1e-6,
    "warmup": 300,
    "ema": 0.999,
    "grad_clip": 0.0,
    "bf16": False,
    "threads": 1,
    "seed": 0,
    "log_every": 50,
    "eval_every": 1000,
    "ckpt_every": 250,
    "out_dir": "runs/model",
    "init": "",
}
"""Config keys the loop itself reads; a model's defaults add its own (and may change these)."""


ModelT = TypeVar("ModelT", bound=nn.Module)


@dataclass
class Task(Generic[ModelT]):
    """What one model adds to the shared loop (generic in the network's class, which every callable takes).

    Attributes
    ----------
    arch : str
        Key of :data:`~enhance_core.learned.registry.ARCHS`; the loop builds it
        with the constructor arguments the resolved config holds.
    make_batch : callable
        ``make_batch(rng) -> tuple of tensors``: one training batch.
    loss : callable
        ``loss(model, batch) -> scalar tensor``, or a dict of named scalar parts
        whose sum is the loss (each part is logged by its name); run under
        autocast when ``bf16`` is set.
    validate : callable
        ``validate(model) -> dict`` of figures, called on the EMA network in eval
        mode without gradients.
    load_init : callable, optional
        ``load_init(model, state)`` puts ``init`` weights into the network;
        default: strict ``load_state_dict``.
    prepare : callable, optional
        ``prepare(model, cfg)`` changes a newly built network (and its EMA copy)
        in place: parameters it turns ``requires_grad`` off for are frozen (not
        in the optimizer); it may also set the memory format.
    """

    arch: str
    make_batch: Callable[[np.random.Generator], tuple]
    loss: Callable[[ModelT, tuple], torch.Tensor | dict[str, torch.Tensor]]
    validate: Callable[[ModelT], dict]
    load_init: Callable[[ModelT, dict], None] | None = None
    prepare: Callable[[ModelT, dict], None] | None = None

    def network(self, args: dict[str, Any], cfg: dict[str, Any]) -> ModelT:
        """Build ``arch`` with ``args`` and hand it to ``prepare``."""
        model = cast(ModelT, build(self.arch, args))
        if self.prepare is not None:
            self.prepare(model, cfg)
        return model


def channels_last(model: nn.Module, cfg: dict[str, Any]) -> None:
    """A :attr:`Task.prepare` that stores the network's weights channels-last (faster convolutions on the CPU)."""
    # Module.to takes memory_format at run time; torch's stubs do not list it.
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]


def parse_config(description: str, defaults: dict[str, Any], argv: list[str] | None = None
                 ) -> tuple[dict[str, Any], argparse.Namespace]:
    """Read ``--config``, ``--set``, ``--data`` and ``--until``; return the resolved config and the arguments."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="JSON config file (keys as in the script's defaults)")
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="folder holding the training data")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config key; the value is JSON (steps=4000, widths=[32,64]) or a plain path")
    parser.add_argument("--until", type=int, default=None, metavar="STEP",
                        help="stop after this step (with a checkpoint), keeping the learning-rate schedule of 'steps'")
    args = parser.parse_args(argv)
    return load_config({**LOOP_DEFAULTS, **defaults}, args.config, args.overrides), args


def learning_rate(cfg: dict[str, Any], step: int) -> float:
    """Linear warm-up to ``lr``, then a cosine to ``lr_min`` at ``steps``, then ``lr_min``."""
    if step < cfg["warmup"]:
        return cfg["lr"] * (step + 1) / cfg["warmup"]
    t = min(1.0, (step - cfg["warmup"]) / max(1, cfg["steps"] - cfg["warmup"]))
    return cfg["lr_min"] + 0.5 * (cfg["lr"] - cfg["lr_min"]) * (1 + math.cos(math.pi * t))


def _save(path: Path, arch: str, args: dict[str, Any], model: nn.Module, ema: nn.Module,
          opt: torch.optim.Optimizer, rng: np.random.Generator, step: int, cfg: dict[str, Any]) -> None:
    with atomic_write(path) as temp:
        torch.save({"arch": arch, "args": args, "params": model.state_dict(), "params_ema": ema.state_dict(),
                    "optimizer": opt.state_dict(), "rng": json.dumps(rng.bit_generator.state),
                    "torch_rng": torch.get_rng_state(), "step": step, "config": cfg}, temp)


def _resume(path: Path, model: nn.Module, ema: nn.Module, opt: torch.optim.Optimizer,
            rng: np.random.Generator) -> int:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(ckpt["params"])
        ema.load_state_dict(ckpt["params_ema"])
        opt.load_state_dict(ckpt["optimizer"])
        rng.bit_generator.state = json.loads(ckpt["rng"])
        if "torch_rng" in ckpt:  # absent from checkpoints of the loops before this one (low-light's)
            torch.set_rng_state(ckpt["torch_rng"])
        return int(ckpt["step"])
    except Exception as error:  # torch raises UnpicklingError, RuntimeError, KeyError... for bad or foreign files
        raise SystemExit(f"cannot resume from {path}: {type(error).__name__}: {error}; "
                         f"move it away to start afresh, or set another out_dir") from None


def run(cfg: dict[str, Any], task: Task[ModelT], *, until: int | None = None) -> Path:
    """Train ``task`` with config ``cfg`` (resuming from ``out_dir/ckpt.pt`` if there); return the checkpoint path."""
    torch.manual_seed(cfg["seed"])
    torch.set_num_threads(cfg["threads"])
    rng = np.random.default_rng(cfg["seed"])
    out_dir = Path(cfg["out_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(cfg, indent=2))
    try:
        args = constructor_args(task.arch, cfg)
        model, ema = task.network(args, cfg), task.network(args, cfg)
    except ModelError as error:
        raise SystemExit(f"cannot build the network: {error}") from None
    ema.requires_grad_(False)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg["lr"])
    ckpt_path = out_dir / "ckpt.pt"
    step = 0
    if ckpt_path.exists():
        step = _resume(ckpt_path, model, ema, opt, rng)
        print(f"resumed at step {step}", flush=True)
    else:
        if cfg["init"]:
            state = load_init_state(Path(cfg["init"]))
            try:
                (task.load_init or (lambda m, s: m.load_state_dict(s, strict=True)))(model, state)
            except (RuntimeError, ValueError) as error:
                raise SystemExit(f"cannot start from {cfg['init']}: {error}") from None
            print(f"initialized from {cfg['init']}", flush=True)
        ema.load_state_dict(model.state_dict())
    model.train()
    last = min(cfg["steps"], until or cfg["steps"])
    started = time.time()
    running: dict[str, float] = {}
    while step < last:
        batch = task.make_batch(rng)
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg, step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(cfg["bf16"])):
            loss = task.loss(model, batch)
        parts = loss if isinstance(loss, dict) else {"loss": loss}
        opt.zero_grad(set_to_none=True)
        torch.stack([part.float() for part in parts.values()]).sum().backward()
        if cfg["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        opt.step()
        decay = min(cfg["ema"], (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - decay)
        step += 1
        for name, part in parts.items():
            running[name] = running.get(name, 0.0) + part.item()
        if step % cfg["log_every"] == 0:
            seconds = (time.time() - started) / cfg["log_every"]
            means = " ".join(f"{name} {total / cfg['log_every']:.5f}" for name, total in running.items())
            print(f"step {step} {means} lr {learning_rate(cfg, step):.2e} {seconds:.2f}s/step", flush=True)
            started, running = time.time(), {}
        if step % cfg["ckpt_every"] == 0 or step == last:
            _save(ckpt_path, task.arch, args, model, ema, opt, rng, step, cfg)
        if step % cfg["eval_every"] == 0 or step == last:
            ema.eval()
            with torch.no_grad():
                line = {"step": step, **task.validate(ema)}
            print("val", json.dumps(line), flush=True)
            with open(out_dir / "val_log.jsonl", "a") as log:
                log.write(json.dumps(line) + "\n")
    print(f"done: {ckpt_path}", flush=True)
    return ckpt_path
