"""Evaluate Ctrl+click damage marking: a user clicks the plainest pieces of damage the detector missed.

Usage::

    python -m enhance_core.training.eval_pick                    # LIVE1 and Set12, seed 31000, 3 and 10 clicks
    python -m enhance_core.training.eval_pick --seed 41000 --clicks 1 3 10

The pictures and their drawn damage are those of
:mod:`enhance_core.training.eval_restore` (the same seed draws the same
damage). The shipped detector marks each damaged picture (sensitivity 0.5,
grown 1.5 px, as the filter does). Of the damage it misses, the pieces (joined
missed pixels) a user would click are those at most 16 px wide that stand out
plainly somewhere (top-hat or black-hat contrast of 0.15 or more against a
15 px disk) where the clean picture under them is plain (its own contrast
there under 0.05); the user clicks the piece where it stands out most, the
pieces in order of how much squared error they leave. Each click goes through
:func:`enhance_core.restoration.pick.pick_damage` and
:func:`~enhance_core.restoration.pick.mark_strokes` as in the editor, and its
strokes are added to the detected mask. Printed: how much of each clicked
piece is covered, the share of picked pixels farther than 4 px from any
damage (marked picture), refused clicks, time per click, and whole-image
PSNR of the learned fill after 0 and each ``--clicks`` count of clicks per
picture, next to the fill of the true mask.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from enhance_core.errors import EnhanceError
from enhance_core.learned.damage import damage_mask
from enhance_core.learned.inpaint import inpaint_masked
from enhance_core.masks import Mask
from enhance_core.restoration.pick import LINE_WIDTH, mark_strokes, pick_damage, stand_out
from enhance_core.restoration.scoring import within_tolerance
from enhance_core.training.baselines import psnr
from enhance_core.training.damage_synth import damage_photo
from enhance_core.training.data import default_data_dir, list_images, load_uint8
from enhance_core.training.eval_restore import COVERAGE, EVAL_SEED, SETS, StandIns, as_shown

PLAIN_CONTRAST = 0.15
"""A piece is clicked where it stands out by at least this much..."""
PLAIN_PICTURE = 0.05
"""...and the clean picture under it stands out by less than this."""
WIDEST = 8
"""Pieces deeper than this (px from their edge: over 16 px wide, a torn corner or a stain) are painted, not clicked."""
FAR = 4
"""Picked pixels farther than this (px) from any damage count as marked picture."""


def _hat(plane: np.ndarray) -> np.ndarray:
    return np.maximum(stand_out(plane, LINE_WIDTH, True), stand_out(plane, LINE_WIDTH, False))


def clicks_for(damaged: np.ndarray, clean: np.ndarray, label: np.ndarray,
               detected: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """The clicks a user would make on the missed damage: (x, y, the piece clicked), costliest piece first."""
    error = np.abs(damaged - clean).max(axis=2)
    plain = _hat(damaged.mean(axis=2)) * (error > 0.1) * (_hat(clean.mean(axis=2)) < PLAIN_PICTURE)
    count, labels = cv2.connectedComponents((label & (detected < 0.5)).astype(np.uint8), connectivity=8)
    flat = labels.ravel().astype(np.intp)
    cost = np.bincount(flat, weights=(error**2).ravel(), minlength=count)
    shown = np.zeros(count)
    np.maximum.at(shown, flat, plain.ravel())
    depth = np.zeros(count)
    np.maximum.at(depth, flat, cv2.distanceTransform(label.astype(np.uint8), cv2.DIST_L2, 5).ravel())
    chosen = [piece for piece in np.argsort(-cost)
              if piece and shown[piece] >= PLAIN_CONTRAST and depth[piece] <= WIDEST]
    clicks = []
    for piece in chosen:
        ys, xs = np.nonzero(labels == piece)
        best = int(np.argmax(plain[ys, xs]))
        clicks.append((int(xs[best]), int(ys[best]), labels == piece))
    return clicks


def evaluate(images: list[tuple[str, np.ndarray, bool]], *, seed: int, counts: tuple[int, ...]) -> dict:
    """Click each picture's missed damage up to ``max(counts)`` times; return the figures."""
    detector = StandIns()
    psnrs: dict[str, list[float]] = {str(k): [] for k in (0, *counts)}
    psnrs["true"] = []
    made = refused = picked = far = 0
    covered = seconds = 0.0
    for index, (name, image, gray) in enumerate(images):
        clean_rgb = np.repeat(image, 3 // image.shape[2], axis=2).astype(np.float32) / 255.0
        sample = damage_photo(clean_rgb, np.random.default_rng(seed + index), coverage=COVERAGE, damaged_fraction=1.0)
        damaged, clean = as_shown(sample.damaged, gray), as_shown(sample.clean, gray)
        footprint = sample.label | sample.ignore
        near = within_tolerance(footprint, FAR)
        mask = damage_mask(detector.probability(damaged), sensitivity=0.5, grow=1.5)
        clicks = clicks_for(damaged, clean, sample.label, mask)
        psnrs["0"].append(psnr(inpaint_masked(damaged, mask, device="cpu"), clean))
        done = 0
        for count in counts:
            for x, y, piece in clicks[done:count]:
                start = time.perf_counter()
                try:
                    strokes = mark_strokes(pick_damage(damaged, x, y))
                except EnhanceError:
                    refused += 1
                    continue
                finally:
                    seconds += time.perf_counter() - start
                    made += 1
                marked = Mask(mask.shape[0], mask.shape[1], strokes).render() > 0.5
                covered += float(marked[piece].mean())
                picked += int(np.count_nonzero(marked))
                far += int(np.count_nonzero(marked & ~near))
                mask = np.maximum(mask, marked.astype(np.float32))
            done = max(done, count)
            psnrs[str(count)].append(psnr(inpaint_masked(damaged, mask, device="cpu"), clean))
        psnrs["true"].append(psnr(inpaint_masked(damaged, footprint.astype(np.float32), device="cpu"), clean))
        print(f"{name}: {len(clicks)} pieces to click, detect + fill "
              + ", ".join(f"{k} clicks {psnrs[str(k)][-1]:.2f}" for k in (0, *counts)), file=sys.stderr, flush=True)
    kept = max(1, made - refused)
    return {"images": len(images), "seed": seed, "clicks": made, "refused": refused,
            "covered": covered / kept, "far_share": far / max(1, picked), "ms_per_click": 1000 * seconds / max(1, made),
            **{f"psnr_{key}": float(np.mean(values)) for key, values in psnrs.items()}}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, from {', '.join(SETS)}")
    parser.add_argument("--max-images", type=int, default=0, help="at most this many images per set (0: all)")
    parser.add_argument("--seed", type=int, default=EVAL_SEED, help="seed of the drawn damage (image i: seed + i)")
    parser.add_argument("--clicks", type=int, nargs="+", default=[3, 10], help="clicks per picture to score")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    images = []
    for name in args.sets.split(","):
        if name not in SETS:
            raise SystemExit(f"error: unknown set {name!r}; choose from {', '.join(SETS)}")
        paths = list_images(args.data / name)[: args.max_images or None]
        if not paths:
            raise SystemExit(f"error: no images in {args.data / name}")
        images += [(f"{name}/{p.stem}", image, SETS[name] == "L")
                   for p, image in zip(paths, load_uint8(paths, mode=SETS[name]))]
    f = evaluate(images, seed=args.seed, counts=tuple(sorted(set(args.clicks))))
    print(f"\n{f['images']} images, seed {f['seed']}: {f['clicks']} clicks, {f['refused']} refused, "
          f"{f['ms_per_click']:.0f} ms per click")
    print(f"  clicked piece covered {f['covered']:.1%}; picked pixels farther than {FAR} px from any damage "
          f"{f['far_share']:.1%}")
    print("  detect + fill PSNR: " + ", ".join(f"{key.removeprefix('psnr_')} clicks {value:.2f}"
                                               for key, value in f.items() if key.startswith("psnr_")
                                               and key != "psnr_true")
          + f" (true mask {f['psnr_true']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
