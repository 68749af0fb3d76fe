"""Evaluate the low-light filter against classical baselines, and draw a contact sheet of real photos.

Usage::

    python -m enhance_core.training.eval_lowlight                       # shipped weights
    python -m enhance_core.training.eval_lowlight --checkpoint runs/lowlight/ckpt.pt
    python -m enhance_core.training.eval_lowlight --limit 8 --evs -2 -4 # quicker

Held-out pairs: the color photographs of LIVE1, Set5 and Set14 (none of them
in the training set; Set14's gray images, its copy of LIVE1's monarch and the
``ppt3`` screenshot are left out), darkened by
:func:`enhance_core.training.synth_lowlight.darken_image` at each exposure
with the fixed evaluation camera (:data:`EVAL_CAMERA`) and fixed seeds. At
the ``--lamp-evs`` exposures the same pictures also hold one to three light
sources (:func:`enhance_core.training.synth_lowlight.random_lamps`, fixed
seeds) that clip in the dark photo, as lamps in a night scene do; their
reference has them too.

Scored, in the same run, on the same pairs:

* ``HE``: global histogram equalization of L* (CIELAB), a* and b* kept;
* ``CLAHE``: contrast-limited adaptive equalization of L* (skimage defaults);
* ``gain``: one gain in linear light taking the median luminance to 18% grey;
* ``gain+NLM``: that gain, then non-local means (skimage, fast mode, 5x5
  patches, 13x13 search, ``h = 0.6 sigma`` with sigma estimated from the
  image; 0.6 was the best of 0.6/0.8/1.0/1.2 on held-out CBSD432 images);
* ``ours``: :func:`enhance_core.learned.lowlight.enhance_low_light` at its
  defaults, i.e. exactly what the ``low_light`` filter gives a user.

It prints PSNR and SSIM per exposure, our margin over the best baseline and
our seconds per megapixel; then the near-black neutrality of every method
(:func:`enhance_core.training.lowlight_measures.near_black_chroma`: mean
chroma and tint, 0-255, of the pixels dark and neutral in the reference);
then, on the real low-light photos (LIME, DICM, LOL eval15; no reference),
per folder the mean RGB of the darkest 10 % before and after, their chroma
and tint, and where the mean luminance lands. It optionally writes the
figures as JSON, and writes a contact sheet of the darkest real photos, whole
and at 1:1 (:mod:`enhance_core.training.contact_sheet`), to the path it
prints. The sheet holds research images: keep it out of the repository.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from skimage import color, exposure
from skimage.metrics import structural_similarity
from skimage.restoration import denoise_nl_means, estimate_sigma

from enhance_core.errors import EnhanceError
from enhance_core.learned.lowlight import enhance_low_light
from enhance_core.learned.lowlight_ops import linear_to_srgb, srgb_to_linear
from enhance_core.training.contact_sheet import write_contact_sheet
from enhance_core.training.data import default_data_dir, list_images, load_uint8
from enhance_core.training.lowlight_measures import near_black_chroma, real_photo_figures, summarize_real
from enhance_core.training.synth_lowlight import (EVAL_CAMERA, Darkening, darken_image, darken_through_camera,
                                                  lit_reference, random_lamps)

LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
MID_GREY = 0.18
NLM_H = 0.6
SET14_SKIP = {"bridge", "man", "monarch", "ppt3"}
METHODS = ("HE", "CLAHE", "gain", "gain+NLM", "ours")


def evaluation_images(data: Path, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """Return (name, uint8 RGB) held-out color photographs: LIVE1, Set5, Set14 minus gray/duplicate/screenshot."""
    paths = list_images(data / "LIVE1") + list_images(data / "Set5")
    paths += [p for p in list_images(data / "Set14") if p.stem not in SET14_SKIP]
    paths = paths[:limit] if limit else paths
    return [(f"{p.parent.name}/{p.stem}", image) for p, image in zip(paths, load_uint8(paths, mode="RGB"))]


def equalize_lightness(srgb: np.ndarray, adaptive: bool) -> np.ndarray:
    """Equalize the L* channel globally (HE) or with CLAHE, keeping a* and b*."""
    lab = color.rgb2lab(srgb)
    lightness = lab[..., 0] / 100.0
    lab[..., 0] = 100.0 * (exposure.equalize_adapthist(lightness) if adaptive else exposure.equalize_hist(lightness))
    return np.clip(color.lab2rgb(lab), 0.0, 1.0).astype(np.float32)


def auto_gain(srgb: np.ndarray) -> np.ndarray:
    """Scale linear light so that the median luminance becomes 18% grey; clip; back to sRGB."""
    linear = srgb_to_linear(srgb)
    median = float(np.median(linear @ LUMA))
    return linear_to_srgb(np.clip(linear * (MID_GREY / max(median, 1e-4)), 0.0, 1.0))


def gain_then_nlm(srgb: np.ndarray) -> np.ndarray:
    """:func:`auto_gain` followed by non-local means with an estimated noise level."""
    bright = auto_gain(srgb)
    sigma = float(estimate_sigma(bright, channel_axis=-1, average_sigmas=True))
    return denoise_nl_means(bright, h=NLM_H * sigma, sigma=sigma, fast_mode=True, patch_size=5, patch_distance=6,
                            channel_axis=-1).astype(np.float32)


def score(result: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    """Return (PSNR dB, SSIM) of ``result`` against ``clean``, both in [0, 1]."""
    result = np.clip(result, 0.0, 1.0)
    mse = float(np.mean((result - clean) ** 2))
    ssim = structural_similarity(clean, result, channel_axis=2, data_range=1.0)
    return 10.0 * np.log10(1.0 / max(mse, 1e-10)), float(ssim)


KINDS = ("plain", "lamps", "camera")
"""Test conditions besides the exposure: plain darkening, light sources in the frame, the whole camera pipeline."""


def held_out_pair(clean: np.ndarray, ev: float, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return (dark input, reference) for one held-out picture at ``ev``.

    ``kind`` is ``"plain"`` (:func:`darken_image`), ``"lamps"`` (with light sources in the frame, in the
    reference too) or ``"camera"`` (:func:`darken_through_camera`: demosaiced, colour-matrixed, JPEG noise).
    """
    darkening = Darkening(ev=float(ev), **EVAL_CAMERA)
    if kind == "camera":
        even = clean[: clean.shape[0] // 2 * 2, : clean.shape[1] // 2 * 2]
        return darken_through_camera(even, darkening, rng), even
    if kind == "plain":
        return darken_image(clean, darkening, rng), clean
    light = random_lamps(clean.shape[:2], rng)
    return darken_image(clean, darkening, rng, lamps=light), lit_reference(clean, darkening, light)


def condition_label(ev: float, kind: str) -> str:
    """Row label of one test condition: ``-3 EV``, ``-3 EV lamps`` or ``-3 EV camera``."""
    return f"{ev:+.0f} EV" + ("" if kind == "plain" else f" {kind}")


def evaluate(model, images: list, conditions: list[tuple[float, str]], seed: int = 6) -> tuple[dict, dict, float]:
    """Score every method in every (exposure, kind) condition (kinds: :data:`KINDS`).

    Returns ({label: {method: (psnr, ssim)}}, {label: {method: (chroma, tint, pixels)}}, our seconds per megapixel);
    the second pools :func:`near_black_chroma` over the pictures, ``"reference"`` included.
    """
    results, neutrality, seconds, megapixels = {}, {}, 0.0, 0.0
    for ev, kind in conditions:
        label = condition_label(ev, kind)
        scores: dict[str, list] = {m: [] for m in METHODS}
        chroma: dict[str, list] = {m: [] for m in ("reference", *METHODS)}
        for index, (_, image) in enumerate(images):
            clean = image.astype(np.float32) / 255.0
            extra = [KINDS.index(kind)] if kind != "plain" else []
            rng = np.random.default_rng([seed, index, int(round(-ev * 10)), *extra])
            dark, reference = held_out_pair(clean, ev, kind, rng)
            start = time.perf_counter()
            ours = enhance_low_light(dark, model=model, device="cpu")
            seconds += time.perf_counter() - start
            megapixels += dark.shape[0] * dark.shape[1] / 1e6
            outputs = {"HE": equalize_lightness(dark, False), "CLAHE": equalize_lightness(dark, True),
                       "gain": auto_gain(dark), "gain+NLM": gain_then_nlm(dark), "ours": ours}
            for method, output in {"reference": reference, **outputs}.items():
                chroma[method].append(near_black_chroma(output, reference))
            for method, output in outputs.items():
                scores[method].append(score(output, reference))
        results[label] = {m: tuple(float(x) for x in np.mean(v, axis=0)) for m, v in scores.items()}
        neutrality[label] = {m: pooled_chroma(v) for m, v in chroma.items()}
        print_row(label, results[label], len(images))
    return results, neutrality, seconds / max(megapixels, 1e-9)


def pooled_chroma(per_picture: list[tuple[float, float, int]]) -> tuple[float, float, int]:
    """Pool (chroma, tint, count) over pictures, weighting each by its count of dark neutral pixels."""
    counts = np.array([n for _, _, n in per_picture], np.float64)
    if counts.sum() == 0:
        return float("nan"), float("nan"), 0
    weights = counts / counts.sum()

    def pick(k: int) -> float:
        return float(sum(w * v[k] for w, v in zip(weights, per_picture) if v[2]))

    return pick(0), pick(1), int(counts.sum())


def print_row(label: str, row: dict, count: int) -> None:
    """Print one condition's PSNR/SSIM per method and our margin over the best baseline."""
    best = max(row[m][0] for m in METHODS if m != "ours")
    cells = "  ".join(f"{m} {row[m][0]:6.2f}/{row[m][1]:.3f}" for m in METHODS)
    print(f"{label:12s} ({count} images)  {cells}  margin {row['ours'][0] - best:+.2f} dB", flush=True)


def print_neutrality(neutrality: dict) -> None:
    """Print the near-black chroma / tint of every method per condition."""
    print("near black: chroma / tint (0-255) of the pixels dark and neutral in the reference", flush=True)
    for label, row in neutrality.items():
        cells = "  ".join(f"{m} {c:5.2f}/{t:4.2f}" for m, (c, t, _) in row.items())
        print(f"{label:12s} ({row['ours'][2]} px)  {cells}", flush=True)


def print_real(summary: dict) -> None:
    """Print the real-photo figures per folder."""
    def rgb(v: Any) -> str:
        return "/".join(f"{x:.1f}" for x in v) if isinstance(v, list) else "-"

    print("real photos (strength 1), 0-255: darkest 10 % mean RGB in -> out, chroma/tint in -> out", flush=True)
    for folder, f in summary.items():
        print(f"  {folder:15s} ({f['photos']:2d})  {rgb(f['darkest_in'])} -> {rgb(f['darkest_out'])}  "
              f"{f['chroma_in']:.2f}/{f['tint_in']:.2f} -> {f['chroma_out']:.2f}/{f['tint_out']:.2f}", flush=True)
    print("black (region mean <= 4 levels in every channel): mean RGB in -> out, tint in -> out, chroma out",
          flush=True)
    for folder, f in summary.items():
        print(f"  {folder:15s} ({f['black_photos']:2d})  {rgb(f['black_in'])} -> {rgb(f['black_out'])}  "
              f"tint {f['black_tint_in']:.2f} -> {f['black_tint_out']:.2f}  chroma {f['black_chroma_out']:.2f}",
              flush=True)
    print("exposure: mean luma in -> out (range); output median in stops from 18 % grey (range)", flush=True)
    for folder, f in summary.items():
        print(f"  {folder:15s}  {f['mean_luma_in']:.1f} -> {f['mean_luma_out']:.1f} "
              f"({f['mean_luma_out_range'][0]:.0f}..{f['mean_luma_out_range'][1]:.0f})  "
              f"key {f['key_out']:+.2f} ({f['key_out_range'][0]:+.1f}..{f['key_out_range'][1]:+.1f})", flush=True)
    print("highlights: % of pixels with a channel at 255, in -> out (range of out)", flush=True)
    for folder, f in summary.items():
        print(f"  {folder:15s}  {f['clipped_in']:.2f} -> {f['clipped_out']:.2f} "
              f"({f['clipped_out_range'][0]:.2f}..{f['clipped_out_range'][1]:.2f})", flush=True)


def load_network(checkpoint: Path | None):
    """Return the shipped model, or the EMA weights of a training checkpoint."""
    if checkpoint is None:
        from enhance_core.learned.registry import load_model

        return load_model("lowlight", device="cpu")
    from enhance_core.training.export import network_from_checkpoint

    return network_from_checkpoint(checkpoint)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="training checkpoint to score instead of the shipped weights")
    parser.add_argument("--data", type=Path, default=default_data_dir(),
                        help="folder holding LIVE1, Set5, Set14, lowlight_real")
    parser.add_argument("--evs", type=float, nargs="+", default=[-1, -2, -3, -4], help="exposures in stops")
    parser.add_argument("--lamp-evs", type=float, nargs="*", default=[-3],
                        help="exposures at which the pictures also hold clipped light sources (none: skip)")
    parser.add_argument("--camera-evs", type=float, nargs="*", default=[-3],
                        help="exposures at which the noise comes from the whole camera pipeline (none: skip)")
    parser.add_argument("--limit", type=int, default=0, help="score only the first N images (0: all)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--sheet", type=Path, default=Path("runs/lowlight/contact_sheet.png"),
                        help="contact sheet path (keep it out of the repository)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
    try:
        model = load_network(args.checkpoint)
    except EnhanceError as error:
        raise SystemExit(f"error: {error}") from None
    images = evaluation_images(args.data, args.limit or None)
    print(f"camera: shot {EVAL_CAMERA['shot']:g}, read {EVAL_CAMERA['read']:.2e}; PSNR dB / SSIM", flush=True)
    conditions = ([(ev, "plain") for ev in args.evs] + [(ev, "lamps") for ev in args.lamp_evs]
                  + [(ev, "camera") for ev in args.camera_evs])
    results, neutrality, s_per_mp = evaluate(model, images, conditions)
    print(f"ours: {s_per_mp:.3f} s/MP on these images (whole filter, CPU)", flush=True)
    print_neutrality(neutrality)
    real = {folder: summarize_real(figures)
            for folder, figures in real_photo_figures(model, args.data / "lowlight_real").items()}
    print_real(real)
    if args.json:
        payload = {"camera": EVAL_CAMERA, "images": [n for n, _ in images], "s_per_mp": s_per_mp,
                   "results": {label: {m: {"psnr": p, "ssim": s} for m, (p, s) in row.items()}
                               for label, row in results.items()},
                   "near_black": {label: {m: {"chroma": c, "tint": t, "pixels": n} for m, (c, t, n) in row.items()}
                                  for label, row in neutrality.items()},
                   "real_photos": real}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2))
    sheet = write_contact_sheet(model, args.data / "lowlight_real", args.sheet)
    print(f"contact sheet: {sheet}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
