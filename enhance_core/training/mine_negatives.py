"""Find where a damage detector marks undamaged training pictures: hard negatives for its next fine-tune.

Usage::

    python -m enhance_core.training.mine_negatives --out runs/mined/detect_negatives.npz
    python -m enhance_core.training.mine_negatives --detector runs/detect/ckpt.pt --out runs/mined/next.npz
    python -m enhance_core.training.mine_negatives --detector old/detect-4d8de45b.safetensors --out runs/mined/old.npz
    python -m enhance_core.training.mine_negatives --extra SICE_unpaired --extra-count 800 --out runs/mined/sice.npz
    python -m enhance_core.training.mine_negatives --detector runs/detect_grayonly/ckpt.pt --gray \
        --extra SICE_unpaired --extra-count 800 --out runs/mined/gray.npz
    python -m enhance_core.training.mine_negatives --detector runs/detect_gray2/ckpt.pt --gray \
        --extra SICE_unpaired --extra-count 800 --keep-coarse runs/mined/gray.npz --out runs/mined/gray3.npz

Each CBSD432 picture (followed, with ``--extra``, by the first
``--extra-count`` of another folder, as ``train_detect``'s ``extra_images``
appends them) is aged as training ages it, without damage and without
drawn hard negatives (:func:`enhance_core.training.damage_synth.damage_photo`
from a fixed seed), and the detector's fine pass looks at the whole of it.
Every pixel it marks (probability above 0.5) is a picture structure the
detector takes for damage: masts, rigging, poles, fences, wing veins. The
output file holds up to ``--max-points`` of those pixels per picture, as
an int32 array ``points`` of (picture, row, column) rows (pictures numbered in
the order of :func:`list_images`); ``train_detect`` centres a share
``mined_fraction`` of its crops on them. The detector's coarse pass
(:func:`enhance_core.learned.damage.torn_edges` of the
:func:`~enhance_core.learned.damage.coarse_probability` of the picture reduced to
:data:`~enhance_core.learned.damage.COARSE_SIDE`) also looks at each picture;
the int32 array ``coarse`` numbers those where it finds a torn edge (snow, a
pale wall, a bright floor at the border), and ``train_detect`` shows a share
``coarse_mined_fraction`` of its coarse-batch pictures from them;
``--keep-coarse`` adds those of an earlier file, so a later round still shows
the torn edges earlier weights imagined.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import cast

import numpy as np
import torch

from enhance_core.learned.archs.damage_unet import DamageUNet
from enhance_core.learned.damage import coarse_copy, coarse_probability, torn_edges
from enhance_core.errors import ModelError
from enhance_core.learned.registry import build, load_model
from enhance_core.learned.weights import metadata_args, read_expected_sha256, read_weights
from enhance_core.training.damage_synth import damage_photo
from enhance_core.training.data import default_data_dir, list_images, load_uint8
from enhance_core.training.export import network_from_checkpoint
from enhance_core.training.train_detect import load_mined, predict

MINE_SEED = 52_000


def mine(images: list[np.ndarray], model: torch.nn.Module, *, max_points: int = 2000,
         threshold: float = 0.5, gray_scan: float = 0.0) -> tuple[list[np.ndarray], list[int]]:
    """Return where the detector marks the undamaged scans of pictures: (points per picture, coarse pictures).

    The points are an (n, 2) int32 array of (row, col) pixels per picture that
    the full-resolution pass marks; the coarse pictures are the numbers of
    those where the coarse pass finds a torn edge.

    Parameters
    ----------
    images : list of ndarray
        uint8 (rows, cols, 3) clean training pictures.
    model : torch.nn.Module
        The detector (a ``DamageUNet``) in eval mode.
    max_points : int
        At most this many marked pixels per picture, drawn evenly at random.
    threshold : float
        Probability above which a pixel counts as marked.
    gray_scan : float
        Passed to :func:`~enhance_core.training.damage_synth.damage_photo`: 1 mines
        the gray scans of the pictures (for a detector of gray scans).
    """
    found = []
    coarse = []
    network = cast(DamageUNet, model)
    for index, image in enumerate(images):
        rng = np.random.default_rng(MINE_SEED + index)
        scan = damage_photo(image.astype(np.float32) / 255.0, rng, damaged_fraction=0.0, negatives=False,
                            gray_scan=gray_scan).damaged
        small = coarse_copy(scan)
        with torch.inference_mode():
            probability = predict(network, scan)
            if small is not None:
                reduced = coarse_probability(small, lambda image: predict(network, image))
                if torn_edges(reduced, scan.shape[:2]) is not None:
                    coarse.append(index)
        points = np.argwhere(probability > threshold).astype(np.int32)
        if len(points) > max_points:
            points = points[rng.choice(len(points), max_points, replace=False)]
        found.append(points)
    return found, coarse


def load_detector(path: Path | None, *, gray: bool = False) -> torch.nn.Module:
    """The detector to mine with: a training ``ckpt.pt``, exported ``.safetensors`` weights, or (None) the shipped one.

    Exported weights need their ``.sha256`` file beside them; their metadata
    names the network's size. With ``gray``, the shipped one is the gray
    weights, else the full-resolution colour weights.
    """
    if path is None:
        return load_model("detect_gray" if gray else "detect", device="cpu")
    if path.suffix != ".safetensors":
        return network_from_checkpoint(path)
    try:
        tensors, metadata = read_weights(path, sha256=read_expected_sha256(path))
        model = build("DamageUNet", metadata_args(metadata, path))
    except ModelError as error:
        raise SystemExit(f"cannot mine with {path}: {error}") from None
    model.load_state_dict(tensors, strict=True)
    return model.eval().requires_grad_(False)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector", type=Path,
                        help="detector training checkpoint or exported .safetensors (default: the shipped "
                             "colour weights, or with --gray the gray weights)")
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, required=True, help="the .npz file to write")
    parser.add_argument("--extra", help="a second folder of pictures under --data, as the config's extra_images")
    parser.add_argument("--extra-count", type=int, default=0, help="only its first N pictures, as extra_count (0: all)")
    parser.add_argument("--max-points", type=int, default=2000)
    parser.add_argument("--gray", action="store_true", help="mine the pictures' gray scans (a gray-scan detector)")
    parser.add_argument("--keep-coarse", default="",
                        help="an earlier mined file of the same pictures whose coarse pictures to keep as well")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = load_detector(args.detector, gray=args.gray)
    images = load_uint8(list_images(args.data / "CBSD432"), mode="RGB")
    if args.extra:
        images += load_uint8(list_images(args.data / args.extra)[:args.extra_count or None], mode="RGB")
    kept = load_mined(args.keep_coarse, len(images)).coarse
    found, coarse = mine(images, model, max_points=args.max_points, gray_scan=1.0 if args.gray else 0.0)
    found_coarse = len(coarse)
    coarse = sorted(set(coarse) | set(kept))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    points = np.concatenate([np.column_stack([np.full(len(p), i, np.int32), p]) for i, p in enumerate(found)])
    np.savez_compressed(args.out, points=points.reshape(-1, 3), coarse=np.array(coarse, np.int32))
    marked = sum(len(p) > 0 for p in found)
    print(f"{len(images)} pictures, {marked} with marks, {sum(len(p) for p in found)} points kept, "
          f"{found_coarse} with a torn edge in the coarse pass ({len(coarse)} coarse pictures with those kept from "
          f"{args.keep_coarse or 'no earlier file'}); wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
