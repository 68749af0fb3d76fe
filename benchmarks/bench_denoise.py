"""Benchmark the learned denoiser: speed against BM3D, peak memory on 24 MP, tiled against whole.

Usage::

    python benchmarks/bench_denoise.py                    # shipped weights
    python benchmarks/bench_denoise.py --checkpoint runs/denoise/ckpt.pt --megapixels 24

1. Seconds per megapixel of ours and BM3D on the same noisy scikit-image
   samples (``astronaut`` color, ``camera`` gray, both CC0), sigma 25, and the
   ratio (target: ours at most 1/10 of BM3D's time). On a CPU that computes
   bf16 natively (AVX512-BF16 or AMX) ours runs under bf16 autocast; ours in
   fp32 (``ENHANCE_CPU_BF16=0``) is timed beside it, with the PSNR of both.
2. Peak resident memory of a child process that denoises a synthetic color
   image of ``--megapixels`` megapixels (target: < 2 GB for 24 MP), read with
   ``resource.getrusage`` so it counts torch's allocations too.
3. Tiled (the default CPU tile) against one whole-image pass on a 1024 x 1024
   crop: PSNR of each against the clean image, and their difference
   (target: within 0.05 dB).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from enhance_core.training.baselines import baseline_methods  # noqa: E402
from enhance_core.training.eval_denoise import add_noise, load_network  # noqa: E402

MEMORY_CHILD = """
import resource, sys, numpy as np
from pathlib import Path
from enhance_core.learned.denoise import run_denoiser
from enhance_core.training.eval_denoise import load_network
network = load_network(Path(sys.argv[2]) if sys.argv[2] else None, "denoise", "cpu")[0]
rows = int((float(sys.argv[1]) * 1e6 * 2 / 3) ** 0.5)
cols = int(float(sys.argv[1]) * 1e6 / rows)
r = np.arange(rows, dtype=np.float32)[:, None, None] / 97
c = np.arange(cols, dtype=np.float32)[None, :, None] / 89
image = (0.5 + 0.3 * np.sin(r + c * np.float32([1, 2, 3]))).astype(np.float32)
image += np.random.default_rng(0).standard_normal(image.shape, dtype=np.float32) * np.float32(25 / 255)
out = run_denoiser(network, image, sigma=25.0, device="cpu")
print(rows, cols, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def seconds_per_megapixel(fn, image: np.ndarray, sigma: float) -> float:
    """Return wall seconds per megapixel of ``fn(image, sigma)`` after one warm-up on a crop."""
    fn(image[:64, :64], sigma)
    start = time.perf_counter()
    fn(image, sigma)
    return (time.perf_counter() - start) / (image.shape[0] * image.shape[1] / 1e6)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR for a peak of 1, of ``a`` clipped to [0, 1]."""
    return float(10 * np.log10(1.0 / np.mean((np.clip(a, 0, 1).astype(np.float64) - b) ** 2)))


def main() -> int:
    """Run the three measurements and print them; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="use a training checkpoint's EMA weights")
    parser.add_argument("--megapixels", type=float, default=24.0, help="image size for the memory test (0 skips)")
    args = parser.parse_args()
    from skimage import data

    from enhance_core.learned.denoise import run_denoiser
    from enhance_core.learned.engine import CPU_BF16_ENV, describe_device, use_cpu_bf16

    network, source = load_network(args.checkpoint, "denoise", "cpu")
    bm3d = baseline_methods()["bm3d"]

    def ours(image: np.ndarray, sigma: float) -> np.ndarray:
        return run_denoiser(network, image, sigma=sigma, device="cpu")

    def ours_fp32(image: np.ndarray, sigma: float) -> np.ndarray:
        os.environ[CPU_BF16_ENV] = "0"
        try:
            return run_denoiser(network, image, sigma=sigma, device="cpu")
        finally:
            del os.environ[CPU_BF16_ENV]

    print(f"weights: {source}; device: {describe_device('cpu')}")
    samples = {"color astronaut": data.astronaut(), "gray camera": data.camera()[..., None]}
    for label, clean8 in samples.items():
        noisy = add_noise(clean8.astype(np.float32) / 255, 25.0, (0,))
        t_ours, t_bm3d = seconds_per_megapixel(ours, noisy, 25.0), seconds_per_megapixel(bm3d, noisy, 25.0)
        t_fp32 = seconds_per_megapixel(ours_fp32, noisy, 25.0)
        clean = clean8.astype(np.float32) / 255
        print(f"speed {label:16} ours {t_ours:6.2f} s/MP ({'bf16' if use_cpu_bf16() else 'fp32'})   "
              f"BM3D {t_bm3d:6.2f} s/MP   BM3D/ours {t_bm3d / t_ours:5.1f}x (target >= 10x)   "
              f"ours fp32 {t_fp32:6.2f} s/MP, fp32/ours {t_fp32 / t_ours:4.1f}x, PSNR ours "
              f"{psnr(ours(noisy, 25.0), clean):.3f} dB, fp32 {psnr(ours_fp32(noisy, 25.0), clean):.3f} dB")

    clean = np.tile(data.astronaut(), (2, 2, 1)).astype(np.float32) / 255
    noisy = add_noise(clean, 25.0, (1,))
    start = time.perf_counter()
    tiled = run_denoiser(network, noisy, sigma=25.0, device="cpu")
    t_tiled = time.perf_counter() - start
    start = time.perf_counter()
    whole = run_denoiser(network, noisy, sigma=25.0, device="cpu", tile=4096)
    t_whole = time.perf_counter() - start
    print(f"tiled vs whole 1024x1024: tiled {psnr(tiled, clean):.3f} dB in {t_tiled:.1f} s, whole "
          f"{psnr(whole, clean):.3f} dB in {t_whole:.1f} s, "
          f"difference {psnr(tiled, clean) - psnr(whole, clean):+.4f} dB "
          f"(target within 0.05), max |tiled-whole| {np.abs(tiled - whole).max() * 255:.3f}/255")

    if args.megapixels > 0:
        child = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(args.megapixels), str(args.checkpoint or "")],
                               capture_output=True, text=True, cwd=ROOT)
        if child.returncode != 0:
            print(child.stderr[-2000:])
            return 1
        rows, cols, peak = child.stdout.split()
        print(f"memory {rows}x{cols} color ({args.megapixels:g} MP): peak RSS {float(peak):.0f} MiB (target < 2048)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
