"""The explicit table of shipped models and their safe, cached loading.

This module imports ``torch``; the learned filters import it inside their
functions, so the GUI starts without loading torch.

Adding a model takes three lines: import its ``nn.Module`` class, add it to
:data:`ARCHS`, and add a :class:`ModelSpec` to :data:`MODELS`. The weights
live in ``models/<name>/`` next to their ``.sha256`` file and ``MODEL_CARD.md``.
Set ``ENHANCE_MODELS_DIR`` to load from another models folder.

The expected SHA-256 of every file is pinned here, in :data:`MODELS`, and
nothing else is trusted: the ``.sha256`` file beside the weights is for users
(``sha256sum -c``) and is never read when loading, so weights replaced along
with a regenerated ``.sha256`` file do not load.

Updating a model after a new export::

    python -m enhance_core.training.export runs/denoise/ckpt.pt --name denoise

prints the ``MODELS entry:`` line, with the new file name and ``sha256=``;
paste it over the model's entry below (and update its model card). A test
checks that every entry's file is present and has the pinned hash.
"""

from __future__ import annotations

import inspect
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from enhance_core.errors import ModelError
from enhance_core.learned.archs.damage_unet import DamageUNet
from enhance_core.learned.archs.denoise_unet import DenoiseUNet
from enhance_core.learned.archs.inpaint_unet import InpaintUNet
from enhance_core.learned.archs.lowlight_net import LowLightNet
from enhance_core.learned.archs.noise_level_net import NoiseLevelNet
from enhance_core.learned.archs.super_res_net import SuperResNet
from enhance_core.learned.weights import MODELS_ENV, metadata_args, read_weights

ARCHS: dict[str, type[nn.Module]] = {
    "DamageUNet": DamageUNet,
    "DenoiseUNet": DenoiseUNet,
    "InpaintUNet": InpaintUNet,
    "LowLightNet": LowLightNet,
    "NoiseLevelNet": NoiseLevelNet,
    "SuperResNet": SuperResNet,
}
"""Architecture name (as stored in the weights' metadata) -> ``nn.Module`` class."""


def _arch_class(arch: str) -> type[nn.Module]:
    try:
        return ARCHS[arch]
    except KeyError:
        raise ModelError(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)}") from None


def build(arch: str, args: dict[str, Any]) -> nn.Module:
    """Return a new ``ARCHS[arch](**args)`` (fresh weights, training mode): how every network here is made.

    Raises
    ------
    ModelError
        ``arch`` is not in :data:`ARCHS`, or its constructor rejects ``args``.
    """
    network_class = _arch_class(arch)
    try:
        return network_class(**args)
    except (TypeError, ValueError) as error:
        raise ModelError(f"cannot build {arch} with args {args}: {error}") from None


def constructor_args(arch: str, config: dict[str, Any]) -> dict[str, Any]:
    """Return every constructor argument of ``ARCHS[arch]``: from ``config`` where present, else its default.

    A training config names the arguments by their parameter names; tuples
    become lists, as JSON and the weights' metadata hold them.

    Raises
    ------
    ModelError
        ``arch`` is unknown, or ``config`` lacks an argument that has no default.
    """
    args = {}
    for name, parameter in inspect.signature(_arch_class(arch).__init__).parameters.items():
        if name == "self":
            continue
        value = config.get(name, parameter.default)
        if value is inspect.Parameter.empty:
            raise ModelError(f"the training config has no {name!r}, which {arch} needs")
        args[name] = list(value) if isinstance(value, tuple) else value
    return args


@dataclass(frozen=True)
class ModelSpec:
    """One shipped model.

    Attributes
    ----------
    arch : str
        Key of :data:`ARCHS`.
    args : dict
        Constructor arguments; the weights' metadata must hold the same.
    weights : str
        Weights file relative to the models folder (``denoise/denoise-1a2b3c4d.safetensors``).
    sha256 : str
        The file's SHA-256 (64 lowercase hex digits), as the exporter printed it.
    """

    arch: str
    args: dict[str, Any]
    weights: str
    sha256: str

    def __post_init__(self) -> None:
        if len(self.sha256) != 64 or any(ch not in "0123456789abcdef" for ch in self.sha256):
            raise ValueError(f"ModelSpec for {self.weights!r}: sha256 must be 64 lowercase hex digits, got "
                             f"{self.sha256!r}; paste the line the exporter printed")


MODELS: dict[str, ModelSpec] = {
    "denoise": ModelSpec(
        arch="DenoiseUNet",
        args={"channels": 3, "widths": [64, 128, 256], "blocks": [1, 2, 2]},
        weights="denoise/denoise-4332c4aa.safetensors",
        sha256="4332c4aaf24b51f1c5c707f860421312e985b044836d9887c9d7707fdc830622",
    ),
    "inpaint": ModelSpec(
        arch="InpaintUNet",
        args={"channels": 3, "widths": [32, 64, 128, 256], "blocks": [1, 1, 2, 2]},
        weights="inpaint/inpaint-fef6b120.safetensors",
        sha256="fef6b1206441eaee7c46ae75eca0060ff05595c1eb20209c492bf0f93081021b",
    ),
    "noise_level": ModelSpec(
        arch="NoiseLevelNet",
        args={"channels": 3, "width": 16, "depth": 5},
        weights="noise_level/noise_level-bf9b8bb8.safetensors",
        sha256="bf9b8bb8ae598e68a40663344f6d796113a3fe924f44ddb1493f35f99c669de4",
    ),
    "lowlight": ModelSpec(
        arch="LowLightNet",
        args={"exposure_width": 24, "denoise_widths": [48, 96, 192], "denoise_blocks": [1, 2, 2], "small_side": 128},
        weights="lowlight/lowlight-7c035617.safetensors",
        sha256="7c0356175b7603c945ab45cfff2e24f5e2ca651c167dacfcb6e33209277a9f76",
    ),
    "detect": ModelSpec(
        arch="DamageUNet",
        args={"channels": 3, "widths": [16, 32, 64, 128, 256], "blocks": [1, 1, 2, 2, 1]},
        weights="detect/detect-ea97185b.safetensors",
        sha256="ea97185bd7800a38fa7f4ed95a6037d67063426bf4afe4939465597e62f9409a",
    ),
    "detect_coarse": ModelSpec(
        arch="DamageUNet",
        args={"channels": 3, "widths": [16, 32, 64, 128], "blocks": [1, 1, 2, 2]},
        weights="detect/detect-3295542e.safetensors",
        sha256="3295542e78de0ed7603a105acf3ce150c8a50b2ae67d76674cd14253488a8e1d",
    ),
    "detect_gray": ModelSpec(
        arch="DamageUNet",
        args={"channels": 3, "widths": [16, 32, 64, 128], "blocks": [1, 1, 2, 2]},
        weights="detect/detect_gray-80c42808.safetensors",
        sha256="80c42808b37b1ca4c18835c51882a736f71c1ac0af7ae4a2bf7fe9ec746d6e5e",
    ),
    "detect_gray_coarse": ModelSpec(
        arch="DamageUNet",
        args={"channels": 3, "widths": [16, 32, 64, 128], "blocks": [1, 1, 2, 2]},
        weights="detect/detect_gray-51e2aac3.safetensors",
        sha256="51e2aac39af2ea3dd4c9ed1292e4bf6d7c48700b9c3594fc16da5ebd0188ae02",
    ),
    "super_res": ModelSpec(
        arch="SuperResNet",
        args={"channels": 3, "width": 32, "blocks": 4, "scales": [2, 4]},
        weights="super_res/super_res-1052a0c9.safetensors",
        sha256="1052a0c9a6b6b631b0ccabd8c37c0a3ab15d0860866f1af42ccf0acb7651a306",
    ),
    "super_res_sharp": ModelSpec(
        arch="SuperResNet",
        args={"channels": 3, "width": 32, "blocks": 4, "scales": [2, 4]},
        weights="super_res/super_res_sharp-6a9718b7.safetensors",
        sha256="6a9718b7e042ba4e73475afd6872bfe1b22edf0a9cd4cdaacac01fe600f3d5a7",
    ),
}
"""Model name -> :class:`ModelSpec`."""

_CACHE: dict[tuple[str, str, str], nn.Module] = {}
_LOCK = threading.Lock()


def models_dir() -> Path:
    """Return the models folder: ``$ENHANCE_MODELS_DIR``, else ``enhance_core/models`` of an installed copy (the
    wheel holds them there), else ``models/`` at the root of a checkout."""
    override = os.environ.get(MODELS_ENV)
    if override:
        return Path(override)
    installed = Path(__file__).resolve().parents[1] / "models"
    return installed if installed.is_dir() else Path(__file__).resolve().parents[2] / "models"


def weights_path(name: str) -> Path:
    """Return the weights file of model ``name``; raises :class:`ModelError` for unknown names."""
    return models_dir() / get_spec(name).weights


def get_spec(name: str) -> ModelSpec:
    """Return the :class:`ModelSpec` of model ``name``."""
    try:
        return MODELS[name]
    except KeyError:
        raise ModelError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}") from None


def load_model(name: str, *, device: str = "cpu") -> nn.Module:
    """Return model ``name`` in eval mode on ``device``, loading it once per device.

    The weights' SHA-256 must match the one pinned in :data:`MODELS`, the
    metadata must name the same architecture and arguments,
    and every tensor must match a parameter of the network (strict keys). The
    file is safetensors, so loading never executes code. Tensors stored as fp16
    load as fp32.

    Raises
    ------
    ModelError
        Unknown name, missing or corrupt file, or weights that do not fit the network.
    """
    path = weights_path(name)
    key = (name, device, str(path))
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _build(get_spec(name), path).to(device)
        return _CACHE[key]


def clear_cache() -> None:
    """Forget every loaded model (after the models folder changed, and in tests)."""
    with _LOCK:
        _CACHE.clear()


def _build(spec: ModelSpec, path: Path) -> nn.Module:
    """Check and load ``path`` into a new network described by ``spec``."""
    tensors, metadata = read_weights(path, sha256=spec.sha256)
    stored_args = metadata_args(metadata, path)
    if metadata["arch"] != spec.arch or stored_args != spec.args:
        raise ModelError(f"{path}: holds {metadata['arch']}({stored_args}) but the registry expects "
                         f"{spec.arch}({spec.args}); export the weights again or fix MODELS")
    try:
        return inference_network(spec, tensors)
    except ModelError as error:
        raise ModelError(f"{path}: {error}; export the weights again") from None


def inference_network(spec: ModelSpec, tensors: dict[str, torch.Tensor], *, device: str = "cpu") -> nn.Module:
    """A new ``spec`` network holding ``tensors`` (strict keys), ready to run: eval mode, no gradients, channels-last.

    Raises
    ------
    ModelError
        The architecture or its arguments are unknown, or the tensors do not fit it.
    """
    model = build(spec.arch, spec.args)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as error:
        raise ModelError(f"weights do not fit {spec.arch}: {error}") from None
    model.eval().requires_grad_(False)
    # Module.to takes memory_format at run time; torch's stubs do not list it.
    return model.to(device, memory_format=torch.channels_last)  # type: ignore[call-overload]
