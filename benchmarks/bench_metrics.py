"""Speed of the live-GUI quality readouts on a 2-megapixel preview (run by hand).

    python benchmarks/bench_metrics.py [--repeat 5]

Prints the median wall time and process CPU time of our SSIM (per channel and
luminance), PSNR/MSE and histogram, and of scikit-image's SSIM under the same
conventions, plus the speed ratio, measured side by side in one run. The goal
for SSIM on a 2 MP preview is well under 100 ms on an idle desktop.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np
from skimage.metrics import structural_similarity as skimage_ssim

from enhance_core.histogram import compute_histogram
from enhance_core.metrics import compare_images, peak_signal_noise_ratio, structural_similarity


def measure(function: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Return the median (wall seconds, CPU seconds) of ``repeat`` calls after one warm-up call."""
    function()
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    """Time each readout on a synthetic 1200 x 1700 RGB preview and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:1200, 0:1700]
    reference = (0.5 + 0.4 * np.sin(rows / 40.0)[..., None] * np.cos(cols / 30.0)[..., None]
                 * np.ones(3)).astype(np.float32)
    result = np.clip(reference + rng.normal(0, 0.05, reference.shape), 0, 1).astype(np.float32)
    cases = {
        "ssim per channel (ours)": lambda: structural_similarity(result, reference),
        "ssim luminance (ours)": lambda: structural_similarity(result, reference, channels="luminance"),
        "psnr (ours)": lambda: peak_signal_noise_ratio(result, reference),
        "mse+psnr+ssim (compare_images)": lambda: compare_images(result, reference),
        "histogram rgb+luma, 8-bit grid": lambda: compute_histogram(result, bit_depth=8),
        "histogram rgb+luma, 16-bit grid": lambda: compute_histogram(result, bit_depth=16),
        "ssim per channel (skimage)": lambda: skimage_ssim(result, reference, data_range=1.0, channel_axis=-1,
                                                           gaussian_weights=True, sigma=1.5,
                                                           use_sample_covariance=False),
    }
    print(f"2 MP preview ({result.shape[1]}x{result.shape[0]} RGB float32), median of {args.repeat}")
    print(f"{'case':34s} {'wall ms':>9s} {'cpu ms':>9s}")
    timings = {}
    for name, function in cases.items():
        timings[name] = measure(function, args.repeat)
        print(f"{name:34s} {timings[name][0] * 1e3:9.1f} {timings[name][1] * 1e3:9.1f}")
    ours, theirs = timings["ssim per channel (ours)"], timings["ssim per channel (skimage)"]
    print(f"SSIM speed-up over skimage: {theirs[0] / ours[0]:.1f}x wall, {theirs[1] / ours[1]:.1f}x cpu")


if __name__ == "__main__":
    main()
