"""Turn a training checkpoint into shipped weights: ``models/<name>/<name>-<hash8>.safetensors``.

Usage::

    python -m enhance_core.training.export runs/denoise/ckpt.pt --name denoise \\
        [--metrics runs/denoise/eval.json] [--raw] [--fp32] [--models-dir models]

The EMA weights (``params_ema``) are exported unless ``--raw`` asks for the
raw ones; tensors are stored as fp16 (about half the size; they load as fp32)
unless ``--fp32``. The architecture and its constructor arguments are the
checkpoint's ``arch`` and ``args`` (the training loop stores them); ``--arch``
is only for checkpoints written before that, whose arguments are then read
from their config (the config keys equal the argument names).
The exporter writes the weights and their ``.sha256`` file atomically, prints
the hash and the :data:`enhance_core.learned.registry.MODELS` entry (with the
hash) that pins the file, and says whether the table already pins it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from enhance_core.errors import EnhanceError, ModelError
from enhance_core.learned.registry import ARCHS, MODELS, ModelSpec, build, constructor_args, models_dir
from enhance_core.learned.weights import FORMAT, FORMAT_VERSION, encode_weights, write_weights

FP16_MAX = 65504.0


def load_checkpoint(path: Path, *, arch: str | None = None) -> dict[str, Any]:
    """Load a training checkpoint without executing pickled code (``weights_only=True``).

    ``arch`` is for checkpoints written before they named their network: their
    ``args`` are then read from the config as the loop reads them. A
    checkpoint that names its network must name ``arch`` when it is given.

    Raises
    ------
    ModelError
        Missing or unreadable file, a key export or evaluation needs is missing, or ``arch`` contradicts it.
    """
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"{path}: checkpoint not found; train first or pass the right path") from None
    except Exception as error:  # torch raises UnpicklingError, RuntimeError... for bad files
        raise ModelError(f"{path}: not a readable training checkpoint ({type(error).__name__}); "
                         "give the ckpt.pt a training command wrote") from None
    if not isinstance(checkpoint, dict):
        raise ModelError(f"{path}: holds a {type(checkpoint).__name__}, not a training checkpoint; "
                         "give the ckpt.pt a training command wrote")
    missing = [key for key in ("params", "params_ema", "config", "step") if key not in checkpoint]
    if missing:
        raise ModelError(f"{path}: checkpoint lacks {', '.join(missing)}; is it from a training script here?")
    if arch is not None and "arch" not in checkpoint:
        checkpoint = {**checkpoint, "arch": arch, "args": constructor_args(arch, checkpoint["config"])}
    if arch is not None and checkpoint["arch"] != arch:
        raise ModelError(f"{path}: holds a {checkpoint['arch']}, not a {arch}; leave --arch out")
    missing = [key for key in ("arch", "args") if key not in checkpoint]
    if missing:
        raise ModelError(f"{path}: checkpoint lacks {', '.join(missing)}: it was written before checkpoints named "
                         "their network; export it with --arch (python -m enhance_core.training.export CKPT "
                         f"--name NAME --arch ARCH, ARCH one of {', '.join(ARCHS)})")
    return checkpoint


def _network(checkpoint: dict[str, Any], path: Path, which: str) -> torch.nn.Module:
    """Build the checkpoint's network and load its ``which`` weights (strict)."""
    arch, args = checkpoint["arch"], checkpoint["args"]
    network = build(arch, args)
    try:
        network.load_state_dict(checkpoint[which], strict=True)
    except RuntimeError as error:
        raise ModelError(f"{path}: weights do not fit {arch}({args}): {error}") from None
    return network


def network_from_checkpoint(path: Path) -> torch.nn.Module:
    """Build the network a training checkpoint names (``arch``, ``args``) and load its EMA weights (strict, no pickle).

    Evaluation commands score a checkpoint this way without exporting it or
    touching the model table.
    """
    return _network(load_checkpoint(path), path, "params_ema").eval().requires_grad_(False)


def export_checkpoint(
    checkpoint_path: Path,
    *,
    name: str,
    folder: Path,
    metrics: dict[str, Any] | None = None,
    raw: bool = False,
    fp16: bool = True,
    arch: str | None = None,
) -> tuple[Path, str, ModelSpec]:
    """Export a checkpoint's weights to ``folder/<name>/``; return the path, SHA-256 and registry entry.

    ``arch`` only serves checkpoints written before they named their network (see :func:`load_checkpoint`).
    """
    checkpoint = load_checkpoint(checkpoint_path, arch=arch)
    arch, args, config = checkpoint["arch"], checkpoint["args"], checkpoint["config"]
    which = "params" if raw else "params_ema"
    _network(checkpoint, checkpoint_path, which)
    state = checkpoint[which]
    tensors = {}
    for key, value in state.items():
        small = fp16 and value.is_floating_point() and float(value.abs().max()) < FP16_MAX
        tensors[key] = value.half() if small else value
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "arch": arch,
        "args": json.dumps(args),
        "training_config": json.dumps(config, sort_keys=True),
        "metrics": json.dumps(metrics or {}, sort_keys=True),
        "source": f"{checkpoint_path.name} {which} step {checkpoint['step']}",
    }
    path, digest = write_weights(folder / name, name, encode_weights(tensors, metadata))
    return path, digest, ModelSpec(arch=arch, args=args, weights=f"{name}/{path.name}", sha256=digest)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="training checkpoint (ckpt.pt)")
    parser.add_argument("--name", required=True, help="model name, the key in MODELS (e.g. denoise)")
    parser.add_argument("--arch", help="architecture in ARCHS, only for a checkpoint written before checkpoints "
                                       "named their network (newer ones hold it)")
    parser.add_argument("--metrics", type=Path, help="JSON file of measured metrics to store in the weights")
    parser.add_argument("--raw", action="store_true", help="export the raw weights instead of the EMA")
    parser.add_argument("--fp32", action="store_true", help="store fp32 tensors instead of fp16")
    parser.add_argument("--models-dir", type=Path, default=None, help="models folder (default: the registry's)")
    args = parser.parse_args(argv)
    try:
        metrics = json.loads(args.metrics.read_text()) if args.metrics else None
        path, digest, spec = export_checkpoint(args.checkpoint, name=args.name,
                                               folder=args.models_dir or models_dir(), metrics=metrics,
                                               raw=args.raw, fp16=not args.fp32, arch=args.arch)
    except (EnhanceError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    print(f"sha256 {digest}")
    print(f"MODELS entry: {args.name!r}: ModelSpec(arch={spec.arch!r}, args={spec.args!r}, weights={spec.weights!r}, "
          f"sha256={spec.sha256!r}),")
    current = MODELS.get(args.name)
    if current != spec:
        print("enhance_core/learned/registry.py does not pin this file yet; paste the entry above over the "
              f"{args.name!r} entry of MODELS (the loader trusts only the hash there, not the .sha256 file)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
