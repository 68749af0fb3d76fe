"""Evaluate the learned denoiser against classic baselines, all computed in one run.

Usage::

    python -m enhance_core.training.eval_denoise                      # shipped weights
    python -m enhance_core.training.eval_denoise --checkpoint runs/denoise/ckpt.pt
    python -m enhance_core.training.eval_denoise --sigmas 25 --max-images 2 --methods ours bm3d

For each noise level (0-255 scale) and set, every clean image gets additive
Gaussian noise from a fixed seed, clipped to [0, 1] and quantized to 8 bits,
the way real files are stored. Every method sees the same noisy image and the
true noise level: ours (and ours with the noise map its learned estimator reads),
BM3D (``bm3d.bm3d`` gray, ``bm3d.bm3d_rgb`` color), non-local means
(scikit-image, fast mode, h = 0.8 sigma), wavelet BayesShrink (scikit-image,
YCbCr for color) and a bilateral filter (OpenCV, range sigma 2 sigma, spatial
sigma 3 px). Each method is warmed up on a small crop before it is timed.
PSNR and SSIM (Gaussian window 1.5, as in Wang et al. 2004) are
computed on outputs clipped to [0, 1]; seconds per megapixel is wall time.

Sets: ``gray`` = Set12; ``color`` = Set5 and the color images of Set14;
``live1`` = LIVE1 (color). None of them is in the training data (Train400,
CBSD432).

``--sets real`` scores real camera noise instead: the PolyU pairs of
``real_noise_polyu_canon`` (one noisy JPEG and the mean of many shots of the
same scene), never trained on. Methods there: ours in automatic mode (the
learned noise map), ours at each manual level of ``--real-levels`` (the best
single level for the set and the best level per image are reported), CBM3D
with sigma estimated from the image by the patch-PCA white-noise estimator
(``cbm3d_est``) and by our learned estimator (``cbm3d_ours_est``), and NLM
with our estimate. Each row also gives the tone shift: the mean brightness and
the darkest 5 % of pixels (5th percentile of luma) of the output minus the
reference's, in 8-bit levels. ``--sets real_gray`` scores the same pairs made
gray (their luma, as a camera's monochrome JPEG holds it), through the gray
path of every method.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from enhance_core.errors import EnhanceError
from enhance_core.training.baselines import Denoiser, baseline_methods
from enhance_core.training.data import default_data_dir, list_images, load_uint8
from enhance_core.training.real_noise import REAL_NOISE_DIR

SETS = {"gray": (("Set12", "L"),), "color": (("Set5", "RGB"), ("Set14", "RGB")), "live1": (("LIVE1", "RGB"),)}
METHODS = ("ours", "ours_auto", "bm3d", "nlm", "wavelet", "bilateral")
REAL_SETS = {"real": "RGB", "real_gray": "L"}
"""The real-noise sets and the mode their pairs are loaded in."""


def load_set(data: Path, name: str, max_images: int | None) -> list[tuple[str, np.ndarray]]:
    """Return (file name, float32 clean image) pairs of one evaluation set; color sets skip gray images."""
    pairs = []
    for folder, mode in SETS[name]:
        paths = list_images(data / folder)
        for path, image in zip(paths, load_uint8(paths, mode=mode)):
            if mode == "RGB" and np.array_equal(image[..., 0], image[..., 1]) \
                    and np.array_equal(image[..., 1], image[..., 2]):
                continue
            pairs.append((f"{folder}/{path.name}", image.astype(np.float32) / 255.0))
    return pairs[:max_images] if max_images else pairs


def add_noise(clean: np.ndarray, sigma: float, seed: tuple[int, ...]) -> np.ndarray:
    """Return ``clean`` plus Gaussian noise of ``sigma`` (0-255 scale), clipped and quantized to 8 bits."""
    noise = np.random.default_rng(seed).standard_normal(clean.shape).astype(np.float32) * (sigma / 255.0)
    return (np.round(np.clip(clean + noise, 0.0, 1.0) * 255.0) / 255.0).astype(np.float32)


def load_network(checkpoint: Path | None, model: str, device: str):
    """Return the denoiser network (a checkpoint's EMA weights, or the registered model) and where it came from."""
    if checkpoint is not None:
        return load_checkpoint_network(checkpoint, device)
    from enhance_core.learned.registry import load_model, weights_path

    return load_model(model, device=device), str(weights_path(model))


def learned_methods(checkpoint: Path | None, model: str, device: str | None,
                    noise_network=None) -> tuple[dict[str, Denoiser], str]:
    """Return our denoiser with the true and the estimated noise level, and a description of the weights.

    ``noise_network`` is a noise-level estimator to use instead of the shipped one.
    """
    from enhance_core.learned.denoise import SIGMA_MAX, run_denoiser
    from enhance_core.learned.engine import select_device
    from enhance_core.learned.noise_map import estimate_noise_map, level_for_denoising

    device = select_device(device)
    network, source = load_network(checkpoint, model, device)

    def ours(noisy: np.ndarray, sigma: float) -> np.ndarray:
        return run_denoiser(network, noisy, sigma=sigma, device=device)

    def ours_auto(noisy: np.ndarray, sigma: float) -> np.ndarray:
        level_map = estimate_noise_map(noisy, device=device, network=noise_network)
        return run_denoiser(network, noisy, sigma=np.minimum(level_for_denoising(level_map, noisy), SIGMA_MAX),
                            device=device)

    return {"ours": ours, "ours_auto": ours_auto}, f"{source} on {device}"


def load_noise_network(checkpoint: Path | None):
    """The noise-level estimator of a training checkpoint (EMA weights), or None for the shipped one."""
    if checkpoint is None:
        return None
    from enhance_core.training.export import network_from_checkpoint

    return network_from_checkpoint(checkpoint)


def load_checkpoint_network(path: Path, device: str):
    """Build the denoiser from a training checkpoint's config and EMA weights (``weights_only`` loading)."""
    import torch

    from enhance_core.training.export import load_checkpoint, network_from_checkpoint

    network = network_from_checkpoint(path)
    # Module.to takes memory_format at run time; torch's stubs do not list it.
    network = network.to(device, memory_format=torch.channels_last)  # type: ignore[call-overload]
    return network, f"{path} params_ema step {load_checkpoint(path)['step']}"


def score(clean: np.ndarray, output: np.ndarray) -> tuple[float, float]:
    """Return PSNR (dB) and SSIM of ``output`` clipped to [0, 1] against ``clean``."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    output = np.clip(output, 0.0, 1.0).astype(np.float32)
    psnr = peak_signal_noise_ratio(clean, output, data_range=1.0)
    ssim = structural_similarity(clean, output, data_range=1.0, channel_axis=-1, gaussian_weights=True,
                                 sigma=1.5, use_sample_covariance=False)
    return float(psnr), float(ssim)


def evaluate(methods: dict[str, Denoiser], sets: list[str], sigmas: list[float], *, data: Path,
             max_images: int | None, seed: int, log: Callable[[str], None]) -> list[dict]:
    """Run every method on every set and noise level; return one result row per (set, sigma, method)."""
    rows = []
    for set_index, set_name in enumerate(sets):
        images = load_set(data, set_name, max_images)
        megapixels = sum(img.shape[0] * img.shape[1] for _, img in images) / 1e6
        for sigma in sigmas:
            noisy = [add_noise(img, sigma, (seed, set_index, int(sigma * 10), i)) for i, (_, img) in enumerate(images)]
            for name, method in methods.items():
                psnrs, ssims, seconds = [], [], 0.0
                method(noisy[0][:64, :64], sigma)  # warm-up: load weights, start threads
                for (_, clean), noisy_image in zip(images, noisy):
                    start = time.perf_counter()
                    output = method(noisy_image, sigma)
                    seconds += time.perf_counter() - start
                    p, s = score(clean, output)
                    psnrs.append(p)
                    ssims.append(s)
                row = {"set": set_name, "sigma": sigma, "method": name, "images": len(images),
                       "psnr": round(float(np.mean(psnrs)), 3), "ssim": round(float(np.mean(ssims)), 4),
                       "s_per_mp": round(seconds / megapixels, 3)}
                rows.append(row)
                log(f"{set_name:6} {sigma:5.0f} {name:10} {row['psnr']:7.2f} {row['ssim']:7.4f} {row['s_per_mp']:9.2f}")
    return rows


def summarize(rows: list[dict]) -> list[str]:
    """Return lines comparing ours with BM3D: PSNR gain and speed ratio per set and noise level."""
    lines = []
    index = {(r["set"], r["sigma"], r["method"]): r for r in rows}
    for (set_name, sigma, method), row in index.items():
        reference = index.get((set_name, sigma, "bm3d"))
        if method != "ours" or reference is None:
            continue
        gain = row["psnr"] - reference["psnr"]
        ratio = reference["s_per_mp"] / max(row["s_per_mp"], 1e-9)
        verdict = "meets" if gain >= 0.5 and ratio >= 10 else "BELOW"
        lines.append(f"{set_name:6} sigma {sigma:4.0f}: ours - BM3D = {gain:+.2f} dB (target +0.50), "
                     f"{ratio:.1f}x faster (target 10x): {verdict} target")
    return lines


REAL_LEVELS = (2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0)


def tone_shift(output: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(mean, 5th percentile of luma) of ``output`` minus ``reference``'s, in 8-bit levels."""
    weights = np.array([0.299, 0.587, 0.114] if output.shape[2] == 3 else [1.0], np.float32)
    out_luma, ref_luma = np.clip(output, 0, 1) @ weights, reference @ weights
    return (255.0 * float(out_luma.mean() - ref_luma.mean()),
            255.0 * float(np.percentile(out_luma, 5) - np.percentile(ref_luma, 5)))


def evaluate_real(network, device: str, *, data: Path, max_images: int | None, levels: tuple[float, ...],
                  baselines: bool, noise_network=None, log: Callable[[str], None], mode: str = "RGB") -> dict:
    """Score ours (automatic and manual levels) and the baselines on the real noisy pairs; return the figures.

    ``mode`` ``"L"`` scores the pairs made gray.
    """
    from enhance_core.learned.denoise import SIGMA_MAX, run_denoiser
    from enhance_core.learned.noise_level import estimate_noise_sigma
    from enhance_core.learned.noise_map import estimate_noise_map, level_for_denoising, typical_level
    from enhance_core.training.real_noise import load_real_pairs

    pairs = load_real_pairs(data / REAL_NOISE_DIR, split="validation", mode=mode)
    pairs = pairs[::max(1, len(pairs) // max_images)][:max_images] if max_images else pairs
    if not pairs:
        raise SystemExit(f"error: no real noisy validation pairs in {data / REAL_NOISE_DIR}")
    others = baseline_methods() if baselines else {}
    scores: dict[str, list[tuple[float, float, float, float]]] = {}
    auto_levels = []
    for index, (noisy, clean) in enumerate(pairs):
        level_map = estimate_noise_map(noisy, device=device, network=noise_network)
        level_map = np.minimum(level_for_denoising(level_map, noisy), SIGMA_MAX)
        ours_level = typical_level(level_map)
        auto_levels.append(ours_level)
        outputs = {"ours_auto": run_denoiser(network, noisy, sigma=level_map, device=device)}
        for level in levels:
            outputs[f"ours_{level:g}"] = run_denoiser(network, noisy, sigma=level, device=device)
        if others:
            white = max(estimate_noise_sigma(noisy), 0.5)
            outputs["cbm3d_est"] = others["bm3d"](noisy, white)
            outputs["cbm3d_ours_est"] = others["bm3d"](noisy, max(ours_level, 0.5))
            outputs["nlm_ours_est"] = others["nlm"](noisy, max(ours_level, 0.5))
        outputs["input"] = noisy
        for name, output in outputs.items():
            scores.setdefault(name, []).append((*score(clean, output), *tone_shift(output, clean)))
        log(f"real {index + 1}/{len(pairs)}: estimated level {ours_level:.2f}, auto "
            f"{scores['ours_auto'][-1][0]:.2f} dB, input {scores['input'][-1][0]:.2f} dB")
    figures = {name: {"psnr": round(float(np.mean([v[0] for v in values])), 3),
                      "ssim": round(float(np.mean([v[1] for v in values])), 4),
                      "mean_shift": round(float(np.mean([v[2] for v in values])), 2),
                      "dark5_shift": round(float(np.mean([v[3] for v in values])), 2)}
               for name, values in scores.items()}
    manual = [f"ours_{level:g}" for level in levels]
    best = max(manual, key=lambda name: figures[name]["psnr"])
    oracle = np.mean([max(scores[name][i][0] for name in manual) for i in range(len(pairs))])
    return {"images": len(pairs), "gray": mode == "L", "figures": figures, "best_manual": best,
            "oracle_manual_psnr": round(float(oracle), 3),
            "auto_level_mean": round(float(np.mean(auto_levels)), 2)}


def print_real(result: dict) -> None:
    """The real-noise comparison as a table, with the targets of the issue."""
    figures = result["figures"]
    print(f"\nreal camera noise ({REAL_NOISE_DIR}, {result['images']} validation pairs"
          f"{' made gray' if result.get('gray') else ''} from other cameras than "
          f"the estimator trained on; mean automatic level "
          f"{result['auto_level_mean']})\n"
          f"{'method':16} {'PSNR':>7} {'SSIM':>7} {'mean shift':>11} {'dark 5% shift':>14}")
    for name, row in figures.items():
        print(f"{name:16} {row['psnr']:7.2f} {row['ssim']:7.4f} {row['mean_shift']:+11.2f} {row['dark5_shift']:+14.2f}")
    auto, best = figures["ours_auto"]["psnr"], figures[result["best_manual"]]["psnr"]
    print(f"\nbest single manual level: {result['best_manual']} ({best:.2f} dB); best level per image: "
          f"{result['oracle_manual_psnr']:.2f} dB; auto - best single = {auto - best:+.2f} dB (target >= -0.20)")
    if "cbm3d_est" in figures:
        print(f"auto - CBM3D(estimated sigma) = {auto - figures['cbm3d_est']['psnr']:+.2f} dB (target >= +1.00); "
              f"auto - CBM3D(our estimate) = {auto - figures['cbm3d_ours_est']['psnr']:+.2f} dB")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; prints the table and returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="score a training checkpoint's EMA weights instead")
    parser.add_argument("--model", default="denoise", help="registered model name (default: denoise)")
    parser.add_argument("--sigmas", type=float, nargs="+", default=[15.0, 25.0, 50.0])
    parser.add_argument("--sets", nargs="+", choices=sorted([*SETS, *REAL_SETS]), default=["gray", "color"])
    parser.add_argument("--real-levels", type=float, nargs="+", default=list(REAL_LEVELS),
                        help="manual levels to score on the real pairs (0-255 scale)")
    parser.add_argument("--noise-checkpoint", type=Path,
                        help="score a noise-level estimator training checkpoint instead of the shipped one")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--max-images", type=int, default=None, help="use only the first N images of each set")
    parser.add_argument("--data", type=Path, default=default_data_dir(),
                        help="folder holding Set12, Set5, Set14, LIVE1")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: automatic)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the rows and the summary to this JSON file")
    args = parser.parse_args(argv)
    if set(REAL_SETS) & set(args.sets):
        return run_real(args)
    methods: dict[str, Denoiser] = {}
    source = "not evaluated"
    if {"ours", "ours_auto"} & set(args.methods):
        try:
            learned, source = learned_methods(args.checkpoint, args.model, args.device,
                                              load_noise_network(args.noise_checkpoint))
        except EnhanceError as error:
            raise SystemExit(f"error: {error}") from None
        methods.update({k: v for k, v in learned.items() if k in args.methods})
    methods.update({k: v for k, v in baseline_methods().items() if k in args.methods})
    print(f"weights: {source}\n{'set':6} {'sigma':>5} {'method':10} {'PSNR':>7} {'SSIM':>7} {'s/MP':>9}", flush=True)
    rows = evaluate(methods, args.sets, args.sigmas, data=args.data, max_images=args.max_images, seed=args.seed,
                    log=lambda line: print(line, flush=True))
    summary = summarize(rows)
    print("\n".join(["", *summary]))
    if args.json:
        args.json.write_text(json.dumps({"weights": source, "seed": args.seed, "rows": rows, "summary": summary},
                                        indent=1))
    return 0


def run_real(args: argparse.Namespace) -> int:
    """``--sets real`` or ``real_gray``: the real-noise comparison (other sets are given separately)."""
    from enhance_core.learned.engine import select_device

    if len(args.sets) > 1:
        raise SystemExit(f"error: --sets {' / '.join(REAL_SETS)} runs alone; score the other sets in another run")
    try:
        device = select_device(args.device)
        network, source = load_network(args.checkpoint, args.model, device)
        noise_network = load_noise_network(args.noise_checkpoint)
    except EnhanceError as error:
        raise SystemExit(f"error: {error}") from None
    print(f"weights: {source}", flush=True)
    result = evaluate_real(network, device, data=args.data, max_images=args.max_images, levels=tuple(args.real_levels),
                           baselines=bool({"bm3d", "nlm"} & set(args.methods)), noise_network=noise_network,
                           log=lambda line: print(line, file=sys.stderr, flush=True), mode=REAL_SETS[args.sets[0]])
    print_real(result)
    if args.json:
        args.json.write_text(json.dumps({"weights": source, **result}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
