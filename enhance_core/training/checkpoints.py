"""Starting weights for a training run: an earlier run's checkpoint or exported weights."""

from __future__ import annotations

from pathlib import Path

import torch

from enhance_core.errors import ModelError
from enhance_core.learned.weights import read_expected_sha256, read_weights


def load_init_state(path: Path) -> dict[str, torch.Tensor]:
    """Return the float32 weights a run starts from (``init`` in its config).

    Parameters
    ----------
    path : Path
        An earlier run's ``ckpt.pt`` (its EMA weights are used) or exported
        ``.safetensors`` weights with their ``.sha256`` file beside them (a
        shipped model, to fine-tune it further).

    Raises
    ------
    SystemExit
        The file is missing, unreadable or fails its hash check; the message
        names it and says what to give instead.
    """
    if not path.is_file():
        raise SystemExit(f"init checkpoint {path} not found; give the ckpt.pt of an earlier run "
                         f"or exported .safetensors weights (weights a later stage replaced are in git "
                         f"history: the model card's Recipe names the commit to `git show` them from)")
    if path.suffix == ".safetensors":
        try:
            tensors, _ = read_weights(path, sha256=read_expected_sha256(path))
        except ModelError as error:
            raise SystemExit(f"cannot start from {path}: {error}") from None
        return tensors
    try:
        return torch.load(path, map_location="cpu", weights_only=True)["params_ema"]
    except (OSError, RuntimeError, KeyError, TypeError) as error:
        raise SystemExit(f"cannot start from {path}: not a training checkpoint ({error!r}); give the ckpt.pt "
                         f"of an earlier run or exported .safetensors weights") from None
