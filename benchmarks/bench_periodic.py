"""Periodic noise removal on real photographs: what it leaves alone, what it takes out, and its speed.

First, over 201 real photos (Set14, Set5, classic5, LIVE1, old_photos, RNI15, RNI6, LIME, the first 30 of DICM,
the first 60 of CBSD432 and the first 20 PolyU files of ``../shared/data``), which ones the filter at its defaults
changes, and how much. Then, for each photo of ``LIVE1`` and ``old_photos``, the PSNR against the photo of a copy
with 5.3 px stripes added (amplitude 0.06, slanted), before and after the filter. Then the time on a 24 MP
picture with one pattern, at the default peak height and at the lowest (6 dB, where tens of thousands of peaks
are found and the 24 strongest removed).

    python benchmarks/bench_periodic.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from enhance_core.filters.base import RenderContext
from enhance_core.filters.registry import get_filter
from enhance_core.io import read_image


def _psnr(first: np.ndarray, second: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean(np.square(first - second))))


def _stripes(shape: tuple[int, ...], period: float, amplitude: float) -> np.ndarray:
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    wave = amplitude * np.sin(2 * np.pi * (rows * np.cos(0.5) + cols * np.sin(0.5)) / period)
    return wave[:, :, None].astype(np.float32)


_WIDE = (("Set14", 99), ("Set5", 99), ("classic5", 99), ("LIVE1", 99), ("old_photos", 99), ("RNI15", 99),
         ("RNI6", 99), ("lowlight_real/LIME", 99), ("lowlight_real/DICM", 30), ("CBSD432", 60),
         ("real_noise_polyu_canon", 20))
"""Folders of the left-alone count, and how many of each folder's pictures (in name order)."""


def _wide_set(data: Path) -> list[Path]:
    """The pictures of :data:`_WIDE` under ``data``."""
    found = []
    for folder, count in _WIDE:
        pictures = [path for path in sorted((data / folder).glob("*.*"))
                    if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".tif")]
        found += pictures[:count]
    return found


def main() -> None:
    """Print the photos changed and the count left alone, one line per striped photo, then the 24 MP timing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    definition = get_filter("periodic_noise")
    params = definition.make_params({})
    wide = _wide_set(args.data)
    untouched = 0
    for path in wide:
        pixels = read_image(path).pixels
        notes: list[str] = []
        out = definition.apply(pixels, params, RenderContext(note=notes.append))
        if np.array_equal(out, pixels):
            untouched += 1
        else:
            print(f"changed {path.relative_to(args.data)}: {_psnr(out, pixels):.1f} dB from the input; {notes[0]}")
    print(f"{untouched} of {len(wide)} real photos left bit-identical")
    photos = sorted((args.data / "LIVE1").glob("*.png")) + sorted((args.data / "old_photos").glob("*.png"))
    gains = []
    for path in photos:
        pixels = read_image(path).pixels
        striped = np.clip(pixels + _stripes(pixels.shape, 5.3, 0.06), 0.0, 1.0)
        cleaned = definition.apply(striped, params, RenderContext())
        before, after = _psnr(striped, pixels), _psnr(cleaned, pixels)
        gains.append(after - before)
        print(f"{path.parent.name}/{path.name:24s} striped {before:5.1f} dB -> {after:5.1f} dB")
    if photos:
        print(f"stripes removed by {min(gains):.1f} to {max(gains):.1f} dB on {len(photos)} photos")
    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.random((4000, 6000, 3), dtype=np.float32), (0, 0), 3.0)
    big += _stripes(big.shape, 5.0, 0.03)
    start = time.perf_counter()
    definition.apply(big, params, RenderContext())
    print(f"24 MP RGB, one pattern: {time.perf_counter() - start:.1f} s")
    notes = []
    start = time.perf_counter()
    definition.apply(big, definition.make_params({"height": 6.0}), RenderContext(note=notes.append))
    print(f"24 MP RGB, one pattern, peak height 6 dB: {time.perf_counter() - start:.1f} s ({'; '.join(notes)})")


if __name__ == "__main__":
    main()
