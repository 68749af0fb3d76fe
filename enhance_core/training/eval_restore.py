"""Evaluate the restoration of damaged scans: the detector, the fill, and the two together.

Usage::

    python -m enhance_core.training.eval_restore                          # the shipped models
    python -m enhance_core.training.eval_restore --detector runs/detect/ckpt.pt --fill runs/fill/ckpt.pt
    python -m enhance_core.training.eval_restore --gray-detector runs/detect_gray3/ckpt.pt  # gray candidate
    python -m enhance_core.training.eval_restore --gray-detector runs/detect_gray_rigging/ckpt.pt \
        --gray-coarse-detector shipped   # a gray candidate at full resolution, the shipped coarse pass
    python -m enhance_core.training.eval_restore --sets LIVE1 --max-images 5 --no-sheet
    python -m enhance_core.training.eval_restore --seed 41000 --no-sheet  # another draw of the damage
    python -m enhance_core.training.eval_restore --real --no-sheet       # and the marks on real photos

Images: LIVE1 (color) and Set12 (gray), which neither the detector nor the
fill trains on (five of them are, or are gray copies of, Set14 pictures their
training validated on: LIVE1 monarch, Set12 05, 08, 09 and 11). Each gets drawn damage of known extent from a
fixed seed (:func:`enhance_core.training.damage_synth.damage_photo`: cracks,
film scratches, folds, dust, hairs, torn corners, stains, with ageing, grain,
blur and JPEG; drawn until it covers 2-6 % of the pixels, which the last piece can pass: 2.1-13.4 %
on seed 31000), and the same picture undamaged.
``--seed`` (default 31000) draws other damage over the same pictures, to see
how much the figures owe to one draw.
In one run, on the same images:

* **detection**: precision, recall and F1 with a 2-pixel tolerance
  (:mod:`enhance_core.restoration.scoring`) of the learned detector and of the
  classical one (:func:`enhance_core.restoration.dust.detect_dust_and_scratches`),
  and the share of pixels each marks on the undamaged pictures;
* **fill with the true mask** (every pixel the damage touched): PSNR inside
  the damage and over the whole image, and SSIM, of the learned fill, of the
  learned fill given the grain around it as the filters give it by default
  (:func:`enhance_core.learned.restore.add_matched_grain`), of OpenCV Telea
  and of Navier-Stokes;
* **detect + fill**: whole-image PSNR/SSIM of the learned fill of each
  detector's mask (grown as the filter grows it), next to the damaged input;
  and of the learned detector's mask with every missed damage pixel added
  (what its false marks alone cost) and with every mark farther than the
  tolerance from the damage removed before the mask grows (what its misses
  alone cost);
* seconds per megapixel of detection and fill;
* the learned detector's precision, recall, F1 and share marked on the
  undamaged pictures at each ``--sensitivities`` (the same probabilities,
  other thresholds), to choose the default;
* with ``--per-kind N``, its recall and precision per kind of damage: the
  first N colour images, each with one kind drawn on it at a time;
* with ``--real``, the share of pixels it marks on real photographs with no
  drawn damage (:data:`REAL_SETS`, 173 photos, each as it is and made gray).
  Most marks there are false; the old photos (``old_photos``, RNI6) also hold
  real damage, so theirs are partly true.

A contact sheet of ``old_photos`` (input, mask, result, and 1:1 crops) is
written under ``--out`` unless ``--no-sheet``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from enhance_core.errors import EnhanceError
from enhance_core.learned.damage import GRAY_COARSE_MODEL_NAME, damage_mask, damage_probability
from enhance_core.learned.inpaint import inpaint_masked
from enhance_core.learned.registry import load_model
from enhance_core.learned.restore import GRAIN_AMOUNT, add_matched_grain
from enhance_core.restoration.dust import detect_dust_and_scratches
from enhance_core.restoration.scoring import DetectionCounts, count_detections, within_tolerance
from enhance_core.training.damage_synth import DAMAGE_KINDS, damage_photo
from enhance_core.training.data import default_data_dir, list_images, load_uint8
from enhance_core.training.baselines import fill_navier_stokes, fill_telea, psnr, ssim_image
from enhance_core.training.export import network_from_checkpoint

SETS = {"LIVE1": "RGB", "Set12": "L"}
EVAL_SEED = 31_000
SCENE_GAP = 8
"""SICE numbers the exposures of one scene in a row (``3.jpg``, ``5.jpg`` and ``7.jpg`` are one hay field at three
exposures): a file whose number lies within this of a trained file's may show the same scene."""


def scenes_apart(paths: list[Path], *, trained: int, count: int, gap: int = SCENE_GAP) -> list[Path]:
    """The first ``count`` of ``paths`` (sorted) past the first ``trained``, which a detector trains on, whose
    number lies more than ``gap`` from every trained file's (stems that are no number are kept)."""
    numbers = {int(path.stem) for path in paths[:trained] if path.stem.isdigit()}
    apart = [path for path in paths[trained:]
             if not path.stem.isdigit() or all(abs(int(path.stem) - number) > gap for number in numbers)]
    return apart[:count]


REAL_SETS: dict[str, tuple[str, slice | Callable[[list[Path]], list[Path]], str]] = {
    "old_photos": ("old_photos", slice(None), ""), "RNI15": ("RNI15", slice(None), ""),
    "RNI6": ("RNI6", slice(None), ""), "LIME": ("lowlight_real/LIME", slice(None), ""),
    "DICM": ("lowlight_real/DICM", slice(0, 20), ""), "PolyU": ("real_noise_polyu_canon", slice(None), "_mean"),
    "SICE": ("SICE_unpaired", partial(scenes_apart, trained=800, count=60), "")}
"""Real photographs for ``--real``: folder, which of its sorted files, and the end their stem must have.
PolyU keeps its clean ``*_mean`` files; SICE's are 60 past the first 800 the detector trains on, of other
scenes than those (:func:`scenes_apart`)."""
COVERAGE = (0.02, 0.06)
PER_KIND_SEED = 77_000
PER_KIND_COVERAGE = (0.02, 0.05)
TOLERANCE = 2
"""Pixels within which a mark counts as on the damage (:func:`~enhance_core.restoration.scoring.count_detections`)."""


def as_shown(image: np.ndarray, gray: bool) -> np.ndarray:
    """A 3-channel sample as the file would hold it: gray images keep one channel."""
    return image.mean(axis=2, keepdims=True).astype(np.float32) if gray else image


@dataclass(frozen=True)
class StandIns:
    """Networks scored in place of the shipped detector weights (None keeps the shipped ones).

    As in :func:`~enhance_core.learned.damage.damage_probability`: ``network``
    stands in for the colour weights of both passes, and for the gray ones too
    unless ``gray_network`` is given; ``gray_coarse_network`` for the coarse
    pass's gray weights alone.
    """

    network: torch.nn.Module | None = None
    gray_network: torch.nn.Module | None = None
    gray_coarse_network: torch.nn.Module | None = None

    def probability(self, pixels: np.ndarray, device: str | None = "cpu") -> np.ndarray:
        """The damage probability of ``pixels`` with these weights in place (``device`` None: the best there is)."""
        return damage_probability(pixels, device=device, network=self.network, gray_network=self.gray_network,
                                  gray_coarse_network=self.gray_coarse_network)


def stand_ins_from_args(detector: Path | None, gray_detector: Path | None,
                        gray_coarse_detector: Path | None) -> StandIns:
    """Load the command line's checkpoints; ``gray_coarse_detector`` may also be ``shipped`` (the shipped file)."""
    if gray_coarse_detector is None:
        gray_coarse = None
    elif str(gray_coarse_detector) == "shipped":
        gray_coarse = load_model(GRAY_COARSE_MODEL_NAME, device="cpu")
    else:
        gray_coarse = network_from_checkpoint(gray_coarse_detector)
    return StandIns(network_from_checkpoint(detector) if detector else None,
                    network_from_checkpoint(gray_detector) if gray_detector else None, gray_coarse)


def evaluate(images: list[tuple[str, np.ndarray, bool]], detectors: StandIns, fill, *, threads: int,
             sensitivities: tuple[float, ...] = (), seed: int = EVAL_SEED) -> dict:
    """Run every method on every image, damaged from ``seed`` plus its index; return the averaged figures.

    ``detectors`` are the detector weights scored (``StandIns()``: the shipped ones).
    """
    torch.set_num_threads(threads)
    counts = {"ours": DetectionCounts(), "classical": DetectionCounts()}
    sweep = {s: DetectionCounts() for s in sensitivities}
    rows: dict[str, list[float]] = {}
    seconds = {"detect": 0.0, "fill": 0.0, "megapixels": 0.0}

    def add(key: str, value: float) -> None:
        rows.setdefault(key, []).append(value)

    for index, (name, image, gray) in enumerate(images):
        rng = np.random.default_rng(seed + index)
        clean_rgb = np.repeat(image, 3 // image.shape[2], axis=2).astype(np.float32) / 255.0
        sample = damage_photo(clean_rgb, rng, coverage=COVERAGE, damaged_fraction=1.0)
        twin = damage_photo(clean_rgb, np.random.default_rng(seed + index), damaged_fraction=0.0)
        damaged, clean = as_shown(sample.damaged, gray), as_shown(sample.clean, gray)
        footprint = sample.label | sample.ignore
        megapixels = damaged.shape[0] * damaged.shape[1] / 1e6
        seconds["megapixels"] += megapixels

        start = time.perf_counter()
        probability = detectors.probability(damaged)
        seconds["detect"] += time.perf_counter() - start
        ours_mask = damage_mask(probability, sensitivity=0.5, grow=0.0) > 0
        classical_mask = detect_dust_and_scratches(damaged) > 0
        ours_counts = count_detections(ours_mask, sample.label, ignore=sample.ignore, tolerance=TOLERANCE)
        counts["ours"] += ours_counts
        counts["classical"] += count_detections(classical_mask, sample.label, ignore=sample.ignore, tolerance=TOLERANCE)
        twin_probability = detectors.probability(as_shown(twin.damaged, gray))
        add("marked_clean_ours", 100 * float(np.mean(twin_probability > 0.5)))
        for level in sensitivities:
            sweep[level] += count_detections(damage_mask(probability, sensitivity=level, grow=0.0) > 0, sample.label,
                                             ignore=sample.ignore, tolerance=TOLERANCE)
            add(f"marked_clean_at_{level:g}", 100 * float(np.mean(damage_mask(twin_probability, sensitivity=level,
                                                                              grow=0.0))))
        add("marked_clean_classical", 100 * float(np.mean(detect_dust_and_scratches(as_shown(twin.damaged, gray)) > 0)))

        add("input_psnr", psnr(damaged, clean))
        add("input_ssim", ssim_image(damaged, clean))
        add("input_psnr_damage", psnr(damaged, clean, footprint))
        start = time.perf_counter()
        filled = inpaint_masked(damaged, footprint.astype(np.float32), device="cpu", network=fill)
        seconds["fill"] += time.perf_counter() - start
        grainy = add_matched_grain(filled, damaged, footprint, seed=index, amount=GRAIN_AMOUNT)
        for method, result in (("fill_ours", filled), ("fill_ours_grain", grainy),
                               ("fill_telea", fill_telea(damaged, footprint)),
                               ("fill_ns", fill_navier_stokes(damaged, footprint))):
            add(f"{method}_psnr_damage", psnr(result, clean, footprint))
            add(f"{method}_psnr", psnr(result, clean))
            add(f"{method}_ssim", ssim_image(result, clean))
        detected = damage_mask(probability, sensitivity=0.5, grow=1.5)
        for method, mask in (("detect_fill_ours", detected),
                             ("detect_fill_classical", classical_mask.astype(np.float32)),
                             ("detect_fill_ours_plus_missed", np.maximum(detected, footprint)),
                             ("detect_fill_ours_minus_false",
                              damage_mask(probability * within_tolerance(footprint, TOLERANCE), sensitivity=0.5,
                                          grow=1.5))):
            result = inpaint_masked(damaged, mask, device="cpu", network=fill)
            add(f"{method}_psnr", psnr(result, clean))
            add(f"{method}_ssim", ssim_image(result, clean))
        print(f"{name}: F1 ours {ours_counts.f1:.3f}, "
              f"damage {footprint.mean():.1%}, fill PSNR in damage ours {rows['fill_ours_psnr_damage'][-1]:.2f} "
              f"Telea {rows['fill_telea_psnr_damage'][-1]:.2f}, detect + fill {rows['detect_fill_ours_psnr'][-1]:.2f} "
              f"(true mask {rows['fill_ours_psnr'][-1]:.2f})", file=sys.stderr, flush=True)
    figures = {key: round(float(np.mean(values)), 4) for key, values in rows.items()}
    for name, count in counts.items():
        figures.update({f"{name}_precision": round(count.precision, 4), f"{name}_recall": round(count.recall, 4),
                        f"{name}_f1": round(count.f1, 4)})
    for level, count in sweep.items():
        figures.update({f"at_{level:g}_precision": round(count.precision, 4), f"at_{level:g}_recall":
                        round(count.recall, 4), f"at_{level:g}_f1": round(count.f1, 4)})
    figures["detect_s_per_mp"] = round(seconds["detect"] / seconds["megapixels"], 3)
    figures["fill_s_per_mp"] = round(seconds["fill"] / seconds["megapixels"], 3)
    figures["images"] = len(images)
    figures["seed"] = seed
    return figures


def score_per_kind(images: list[tuple[str, np.ndarray, bool]], detectors: StandIns, *,
                   count: int) -> dict[str, float]:
    """Recall and precision (probability 0.5, 2-px tolerance) per kind of damage on the first ``count`` colour images.

    Each image gets one kind at a time, drawn from seed ``PER_KIND_SEED`` plus its
    index over ``PER_KIND_COVERAGE`` of its pixels; returns ``kind_<kind>_recall``
    and ``kind_<kind>_precision``.
    """
    colour = [image for _, image, gray in images if not gray][:count]
    figures = {}
    for kind in DAMAGE_KINDS:
        counts = DetectionCounts()
        for index, image in enumerate(colour):
            sample = damage_photo(image.astype(np.float32) / 255.0, np.random.default_rng(PER_KIND_SEED + index),
                                  coverage=PER_KIND_COVERAGE, weights={kind: 1.0}, damaged_fraction=1.0)
            probability = detectors.probability(sample.damaged)
            counts += count_detections(damage_mask(probability, sensitivity=0.5, grow=0.0) > 0, sample.label,
                                       ignore=sample.ignore, tolerance=TOLERANCE)
        figures[f"kind_{kind}_recall"] = round(counts.recall, 4)
        figures[f"kind_{kind}_precision"] = round(counts.precision, 4)
    return figures


def score_real(data: Path, detectors: StandIns) -> dict[str, float]:
    """The share of pixels (%) marked at sensitivity 0.5 on the :data:`REAL_SETS` photos, as they are and made gray.

    Returns ``real_<set>_colour`` and ``real_<set>_gray`` (the mean over the
    set's photos), ``real_colour`` and ``real_gray`` (over all photos) and
    ``real_photos``.
    """
    figures: dict[str, float] = {}
    shares: dict[str, list[float]] = {"colour": [], "gray": []}
    for name, (folder, chosen, stem_end) in REAL_SETS.items():
        found = list_images(data / folder)
        paths = [p for p in (chosen(found) if callable(chosen) else found[chosen]) if p.stem.endswith(stem_end)]
        if not paths:
            raise FileNotFoundError(f"no photos in {data / folder} for --real")
        marked: dict[str, list[float]] = {"colour": [], "gray": []}
        for photo in load_uint8(paths, mode="RGB"):
            rgb = photo.astype(np.float32) / 255.0
            for look, pixels in (("colour", rgb), ("gray", rgb.mean(axis=2, keepdims=True))):
                marked[look].append(100 * float(np.mean(damage_mask(detectors.probability(pixels), grow=0.0))))
        for look, values in marked.items():
            figures[f"real_{name}_{look}"] = round(float(np.mean(values)), 4)
            shares[look] += values
    figures.update({f"real_{look}": round(float(np.mean(values)), 4) for look, values in shares.items()})
    figures["real_photos"] = len(shares["colour"])
    return figures


def print_table(figures: dict) -> None:
    """The comparison as three small tables on stdout."""
    f = figures
    print(f"\n{f['images']} images, drawn damage {COVERAGE[0]:.0%}-{COVERAGE[1]:.0%} of pixels, seed {f['seed']}")
    print("\ndetection (2-px tolerance)     precision  recall   F1     marked on undamaged")
    for name in ("ours", "classical"):
        print(f"  {name:<28} {f[f'{name}_precision']:.3f}      {f[f'{name}_recall']:.3f}    {f[f'{name}_f1']:.3f}"
              f"  {f[f'marked_clean_{name}']:.3f} %")
    for key in sorted(k for k in f if k.startswith("marked_clean_at_")):
        level = key.removeprefix("marked_clean_at_")
        label = f"ours, sensitivity {level}"
        print(f"  {label:<28} {f[f'at_{level}_precision']:.3f}      {f[f'at_{level}_recall']:.3f}    "
              f"{f[f'at_{level}_f1']:.3f}  {f[key]:.3f} %")
    print("\nfill with the true mask        PSNR in damage  PSNR image  SSIM")
    print(f"  {'damaged input':<28} {f['input_psnr_damage']:>8.2f}       "
          f"{f['input_psnr']:>8.2f}   {f['input_ssim']:.4f}")
    grain_label = f"ours + grain {GRAIN_AMOUNT:g} (filters)"
    for method, label in (("fill_ours", "ours (learned)"), ("fill_ours_grain", grain_label),
                          ("fill_telea", "OpenCV Telea"), ("fill_ns", "OpenCV Navier-Stokes")):
        print(f"  {label:<28} {f[f'{method}_psnr_damage']:>8.2f}       {f[f'{method}_psnr']:>8.2f}   "
              f"{f[f'{method}_ssim']:.4f}")
    print("\ndetect + fill (learned fill)   PSNR image  SSIM")
    for method, label in (("detect_fill_ours", "learned detector"), ("detect_fill_classical", "classical detector"),
                          ("detect_fill_ours_plus_missed", "learned, misses added"),
                          ("detect_fill_ours_minus_false", "learned, false marks removed")):
        print(f"  {label:<28} {f[f'{method}_psnr']:>8.2f}   {f[f'{method}_ssim']:.4f}")
    print("  (misses added: what the false marks alone cost; false marks removed: what the misses alone cost)")
    print(f"\nseconds per megapixel: detection {f['detect_s_per_mp']}, fill {f['fill_s_per_mp']}")
    kinds = [kind for kind in DAMAGE_KINDS if f"kind_{kind}_recall" in f]
    if kinds:
        print("\nper kind of damage, learned detector: recall (precision)")
        print("  " + ", ".join(f"{kind} {f[f'kind_{kind}_recall']:.2f} ({f[f'kind_{kind}_precision']:.2f})"
                               for kind in kinds))
    if "real_photos" in f:
        print(f"\nmarked on {f['real_photos']} real photos, no drawn damage (%): as they are / made gray")
        print("  " + ", ".join(f"{name} {f[f'real_{name}_colour']:.3f} / {f[f'real_{name}_gray']:.3f}"
                               for name in REAL_SETS))
        print(f"  all {f['real_colour']:.3f} / {f['real_gray']:.3f}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detector", type=Path,
                        help="detector training checkpoint, in place of the colour weights of both passes (the "
                             "full-resolution and the coarse one) and of the gray weights of both unless "
                             "--gray-detector is given (default: the shipped models)")
    parser.add_argument("--gray-detector", type=Path,
                        help="detector training checkpoint in place of the gray weights of both passes (default: "
                             "the shipped ones, or --detector)")
    parser.add_argument("--gray-coarse-detector", type=Path,
                        help="detector training checkpoint in place of the coarse pass's gray weights alone, or "
                             "'shipped' for the shipped ones (default: --gray-detector, or --detector)")
    parser.add_argument("--fill", type=Path, help="hole-fill training checkpoint (default: the shipped model)")
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, from {', '.join(SETS)}")
    parser.add_argument("--max-images", type=int, default=0, help="at most this many images per set (0: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=EVAL_SEED, help="seed of the drawn damage (image i: seed + i)")
    parser.add_argument("--out", type=Path, default=Path("runs/eval_restore"), help="folder for the figures and sheet")
    parser.add_argument("--no-sheet", action="store_true", help="skip the old_photos contact sheet")
    parser.add_argument("--sensitivities", type=float, nargs="*", default=[],
                        help="also score the learned detector at these sensitivities (0..1)")
    parser.add_argument("--per-kind", type=int, default=0, metavar="N",
                        help="also score the learned detector per kind of damage on the first N colour images")
    parser.add_argument("--real", action="store_true",
                        help="also give the share the learned detector marks on real photos with no drawn damage")
    args = parser.parse_args(argv)
    try:
        detectors = stand_ins_from_args(args.detector, args.gray_detector, args.gray_coarse_detector)
        fill = network_from_checkpoint(args.fill) if args.fill else None
        images = []
        for name in args.sets.split(","):
            if name not in SETS:
                raise SystemExit(f"error: unknown set {name!r}; choose from {', '.join(SETS)}")
            paths = list_images(args.data / name)[: args.max_images or None]
            images += [(f"{name}/{p.stem}", image, SETS[name] == "L")
                       for p, image in zip(paths, load_uint8(paths, mode=SETS[name]))]
        figures = evaluate(images, detectors, fill, threads=args.threads, sensitivities=tuple(args.sensitivities),
                           seed=args.seed)
        if args.per_kind:
            figures.update(score_per_kind(images, detectors, count=args.per_kind))
        if args.real:
            figures.update(score_real(args.data, detectors))
    except (EnhanceError, FileNotFoundError) as error:
        raise SystemExit(f"error: {error}") from None
    print_table(figures)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(figures, indent=2))
    if not args.no_sheet:
        from enhance_core.training.restore_sheets import write_old_photo_sheet

        for path in write_old_photo_sheet(args.data / "old_photos", args.out,
                                          detect=partial(detectors.probability, device=None), fill=fill):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
