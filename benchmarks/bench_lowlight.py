"""Benchmark the low-light filter: seconds per megapixel on a 24-megapixel photo, against a classical baseline.

Usage::

    python benchmarks/bench_lowlight.py                      # shipped weights
    python benchmarks/bench_lowlight.py --checkpoint runs/lowlight/ckpt.pt --megapixels 24

1. The whole filter (:func:`enhance_low_light`, what the stack runs) on a
   synthetic dark photo of ``--megapixels`` megapixels: scikit-image's
   ``coffee`` (CC0) resized up, darkened to -3 EV with the evaluation camera's
   noise. Prints total seconds, seconds per megapixel (target: at most 0.5),
   the share spent judging the exposure, and peak resident memory.
2. Side by side on the same photo, alternating ``--repeats`` times (the
   machine is shared, so only runs close together compare): the filter as it
   is, and the filter without its colour steps (the functions of
   :mod:`enhance_core.learned.lowlight_color` that ``lowlight_ops`` calls, and
   their OpenCV twins in :mod:`enhance_core.learned.lowlight_cpu` that the CPU
   runs, replaced by identities, and no white point measured for the
   highlight shoulder), i.e. the behaviour before they were added;
   the filter in the tiles it used before its seams were fixed (512 px sharing 32 px);
   and, where the CPU computes bf16 natively, the filter with its denoiser in
   fp32 (before it ran under bf16 autocast); the best time of each and their cost.
3. On a 1-megapixel crop of the same image: ours against the classical
   gain + non-local means baseline of the evaluation, as a ratio.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path
from unittest import mock

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from enhance_core.learned import engine, lowlight_cpu, lowlight_ops  # noqa: E402
from enhance_core.learned.engine import cpu_has_fast_bf16  # noqa: E402
from enhance_core.learned.lowlight import enhance_low_light  # noqa: E402
from enhance_core.learned.lowlight_ops import estimate_gain  # noqa: E402
from enhance_core.training.eval_lowlight import gain_then_nlm, load_network  # noqa: E402
from enhance_core.training.synth_lowlight import EVAL_CAMERA, Darkening, darken_image  # noqa: E402

TARGET_S_PER_MP = 0.5
OLD_TILE, OLD_OVERLAP = 512, 32
"""The CPU's tile side and the pixels tiles shared before the seams were fixed (session 62)."""


def dark_photo(megapixels: float) -> np.ndarray:
    """Return a 3:2 float32 sRGB photo of ``megapixels`` megapixels darkened to -3 EV with camera noise."""
    from skimage import data

    rows = int((megapixels * 1e6 * 2 / 3) ** 0.5)
    cols = int(megapixels * 1e6 / rows)
    clean = cv2.resize(data.coffee(), (cols, rows), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    return darken_image(clean, Darkening(ev=-3.0, **EVAL_CAMERA), np.random.default_rng(0))


def timed(fn, *args, **kwargs) -> tuple[np.ndarray, float]:
    """Return ``fn(*args, **kwargs)`` and its wall time in seconds."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> int:
    """Run both measurements and print them; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="use a training checkpoint's EMA weights")
    parser.add_argument("--megapixels", type=float, default=24.0, help="size of the large photo")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs with and without the colour steps")
    args = parser.parse_args()
    import torch

    from enhance_core.learned.engine import describe_device, inference_mode

    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_network(args.checkpoint)
    photo = dark_photo(args.megapixels)
    megapixels = photo.shape[0] * photo.shape[1] / 1e6
    print(f"device: {describe_device('cpu')}; photo {photo.shape[1]}x{photo.shape[0]} ({megapixels:.1f} MP), -3 EV")
    enhance_low_light(photo[:256, :256], model=model, device="cpu")
    with inference_mode("cpu"):
        _, judge = timed(estimate_gain, model, photo, "cpu")
    _, total = timed(enhance_low_light, photo, model=model, device="cpu")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    verdict = "meets" if total / megapixels <= TARGET_S_PER_MP else "MISSES"
    print(f"whole filter: {total:.2f} s = {total / megapixels:.3f} s/MP ({verdict} the {TARGET_S_PER_MP} s/MP target); "
          f"judging the exposure {judge:.2f} s ({100 * judge / total:.0f}%); peak memory {peak:.0f} MB")

    with_colour, without_colour, in_fp32, small_tiles = [], [], [], []
    for _ in range(args.repeats):
        with_colour.append(timed(enhance_low_light, photo, model=model, device="cpu")[1])
        with mock.patch.multiple(lowlight_ops, CPU_TILE=OLD_TILE, TILE_OVERLAP=OLD_OVERLAP):
            small_tiles.append(timed(enhance_low_light, photo, model=model, device="cpu")[1])
        if cpu_has_fast_bf16():
            with mock.patch.object(engine, "cpu_has_fast_bf16", lambda: False):
                in_fp32.append(timed(enhance_low_light, photo, model=model, device="cpu")[1])
        with mock.patch.multiple(lowlight_ops, near_black_keep_t=lambda linear: None,
                                 neutralize_near_black_t=lambda srgb, keep: srgb,
                                 reduce_chroma_noise_t=lambda srgb, noise: srgb,
                                 block_highlights=lambda band, wb: None, white_point=lambda highlights: 1.0), \
                mock.patch.multiple(lowlight_cpu, near_black_keep_cv=lambda half, size: None,
                                    neutralize_near_black_cv=lambda srgb, keep: srgb,
                                    reduce_chroma_noise_cv=lambda srgb, noise: srgb):
            without_colour.append(timed(enhance_low_light, photo, model=model, device="cpu")[1])
    best, before = min(with_colour), min(without_colour)
    print(f"side by side (best of {args.repeats}): with the colour steps {best:.2f} s = {best / megapixels:.3f} s/MP, "
          f"without (the old behaviour) {before:.2f} s = {before / megapixels:.3f} s/MP; "
          f"colour steps cost {100 * (best - before) / before:+.0f}%")
    small = min(small_tiles)
    print(f"tiles of {OLD_TILE} px sharing {OLD_OVERLAP} px (before the seams were fixed): {small:.2f} s = "
          f"{small / megapixels:.3f} s/MP;"
          f" tiles of {lowlight_ops.CPU_TILE} sharing {lowlight_ops.TILE_OVERLAP} / those = {best / small:.2f}")
    if in_fp32:
        fp32 = min(in_fp32)
        print(f"denoiser in fp32 instead of bf16: {fp32:.2f} s = {fp32 / megapixels:.3f} s/MP; "
              f"bf16 / fp32 = {best / fp32:.2f}")

    crop = np.ascontiguousarray(photo[:1000, :1000])
    _, ours = timed(enhance_low_light, crop, model=model, device="cpu")
    _, classic = timed(gain_then_nlm, crop)
    print(f"1 MP crop: ours {ours:.2f} s, gain+NLM {classic:.2f} s, ours / gain+NLM = {ours / classic:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
