"""Batch throughput of ``enhance-studio apply`` next to the in-process engine (issue 20 item 5: within 1.25x).

Run by hand::

    python benchmarks/bench_batch_throughput.py [--small 100] [--small-size 512x384] [--large 5] [--large-mp 6]
                                                [--jobs 2] [--classic]

Writes two sets of 8-bit RGB PNGs into a temporary folder, ``--small`` of
``--small-size`` and ``--large`` of about ``--large-mp`` megapixels (3:2), each
a smooth picture plus Gaussian noise (sigma 15 of 255) so that a denoiser has
work, and a recipe with one learned step, Denoise (CNN) in automatic mode
(with ``--classic`` also a classic-only recipe: levels, saturation, unsharp
mask). Per recipe and set, in the same run:

* ``in-process``: :func:`enhance_core.io.read_image`,
  :func:`enhance_core.render.render_image` and :func:`enhance_core.io.write_image`
  in a loop in this process, the engine warmed first (the model loaded once,
  its seconds printed as ``warm-up``);
* ``CLI default``: ``enhance-studio apply --recipe R.json -o OUT FOLDER`` in a
  fresh process started as the ``enhance-studio`` script starts
  (``app.launcher.main``), with its default workers;
* ``CLI --jobs N``: the same with ``--jobs`` of each ``--jobs`` value;
* ``in-process 2nd``: the loop again after the CLI runs, so that a burst of
  load from other work on the machine shows as a gap between the two loops.

Printed per row: files, megapixels, wall seconds, MP/s, the wall time over
the faster in-process loop next to the 1.25x target, and where the time went: for
the in-process loop the seconds of reading and writing, for the CLI the sum
of the per-file seconds it reports (read, render, write in its workers),
the processes it used, and the rest, wall less that sum over the processes
(start-up, model load in each worker, manifest, pool), and the 1-minute
load average as it finished. Whether each
CLI run's outputs are byte-identical to the in-process ones is printed too.

A second line per CLI run splits its time into fixed and per-file parts:
``start`` is the wall time until the CLI printed its ``applying`` line
(interpreter, imports, plan, opening the manifest; torch is imported after
it, for the manifest's weights digest), ``1st`` the per-file seconds of the first file
finished (in one process that includes the model load and the first run of
each tile shape), and ``median`` the median per-file seconds next to the
in-process loop's median per file (read, render, write): equal medians
mean the gap is fixed cost, not per-file work.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import numpy as np
from PIL import Image as PILImage

from enhance_core.image import Image
from enhance_core.io import read_image, write_image
from enhance_core.recipe import save_recipe
from enhance_core.render import render_image
from enhance_core.stack import StackItem, make_item

REPO = Path(__file__).resolve().parents[1]
LAUNCH = "import sys; from app.launcher import main; sys.exit(main())"
TARGET = 1.25
FILE_SECONDS = re.compile(r"^\[\d+/\d+\] ok .* \((\d+(?:\.\d+)?) s[;)]", re.MULTILINE)


@dataclass
class CliRun:
    """One ``enhance-studio apply`` run: wall seconds, seconds to its ``applying`` line, per-file seconds
    (in the order the files finished) and its ``applying`` line."""

    wall: float
    start: float
    files: list[float]
    said: str


def write_photos(folder: Path, count: int, rows: int, cols: int, seed: int) -> list[Path]:
    """``count`` PNGs of ``rows`` x ``cols``: smooth colour gradients and waves plus noise of sigma 15/255."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32) / max(rows, cols)
    paths = []
    for index in range(count):
        phase = rng.uniform(0, 2 * np.pi, 3).astype(np.float32)
        smooth = np.stack([0.5 + 0.3 * np.sin(5 * x + phase[c]) * np.cos(4 * y - phase[c]) + 0.15 * (x - y)
                           for c in range(3)], axis=-1)
        noisy = smooth * 255 + rng.normal(0, 15, smooth.shape).astype(np.float32)
        path = folder / f"photo{index:03d}.png"
        PILImage.fromarray(np.clip(noisy + 0.5, 0, 255).astype(np.uint8)).save(path, compress_level=1)
        paths.append(path)
    return paths


def run_in_process(inputs: list[Path], steps: tuple[StackItem, ...],
                   output: Path) -> tuple[float, float, float, list[float]]:
    """Read, render and write every input here; return (wall seconds, I/O seconds, megapixels, per-file seconds)."""
    output.mkdir(parents=True)
    io_seconds = megapixels = 0.0
    per_file = []
    start = time.perf_counter()
    for path in inputs:
        began = time.perf_counter()
        image = read_image(path)
        read = time.perf_counter()
        result = render_image(image, steps)
        rendered = time.perf_counter()
        write_image(result, output / path.name)
        io_seconds += (read - began) + (time.perf_counter() - rendered)
        megapixels += image.rows * image.cols / 1e6
        per_file.append(time.perf_counter() - began)
    return time.perf_counter() - start, io_seconds, megapixels, per_file


def run_cli(folder: Path, recipe: Path, output: Path, jobs: int | None) -> CliRun:
    """Run ``enhance-studio apply`` on ``folder``, timing when it prints its ``applying`` line."""
    command = [sys.executable, "-c", LAUNCH, "apply", "--recipe", str(recipe), "-o", str(output), str(folder)]
    if jobs is not None:
        command += ["--jobs", str(jobs)]
    start = time.perf_counter()
    applying = None
    lines = []
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as process:
        assert process.stderr is not None
        for line in process.stderr:
            if applying is None and line.startswith("applying"):
                applying = time.perf_counter() - start
            lines.append(line)
    seconds = time.perf_counter() - start
    said = "".join(lines)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}:\n{said[-2000:]}")
    return CliRun(seconds, applying or 0.0, [float(value) for value in FILE_SECONDS.findall(said)],
                  next((line for line in lines if line.startswith("applying")), ""))


def same_outputs(first: Path, second: Path) -> bool:
    """Whether the PNGs of two output folders are byte-identical."""
    names = sorted(path.name for path in first.glob("*.png"))
    return names == sorted(path.name for path in second.glob("*.png")) and all(
        (first / name).read_bytes() == (second / name).read_bytes() for name in names)


def warm_up(steps: tuple[StackItem, ...]) -> float:
    """Render ``steps`` once on a small picture (loads any model); return the seconds."""
    start = time.perf_counter()
    render_image(Image(np.full((64, 64, 3), 0.5, dtype=np.float32)), steps)
    return time.perf_counter() - start


def parse_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` as (rows, cols)."""
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT (e.g. 512x384)")
    return int(height), int(width)


def main() -> None:
    """Time the in-process engine and the CLI on each set and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=100, help="files in the small set")
    parser.add_argument("--small-size", type=parse_size, default=(384, 512), help="WIDTHxHEIGHT of the small files")
    parser.add_argument("--large", type=int, default=5, help="files in the large set")
    parser.add_argument("--large-mp", type=float, default=6.0, help="megapixels of each large file (3:2)")
    parser.add_argument("--jobs", type=int, nargs="*", default=[os.cpu_count() or 1],
                        help="--jobs values of the CLI runs beside its default")
    parser.add_argument("--classic", action="store_true", help="also run a classic-only recipe")
    args = parser.parse_args()
    small_rows, small_cols = args.small_size
    large_cols = int(round((args.large_mp * 1e6 * 1.5) ** 0.5))
    recipes: dict[str, tuple[StackItem, ...]] = {"Denoise (CNN), auto": (make_item("denoise", {"mode": "auto"}),)}
    if args.classic:
        recipes["classic: levels, saturation, unsharp"] = (
            make_item("levels", {}), make_item("saturation", {}), make_item("unsharp_mask", {}))
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        sets = {f"{args.small} small": write_photos(root / "small", args.small, small_rows, small_cols, seed=0),
                f"{args.large} large": write_photos(root / "large", args.large, large_cols * 2 // 3, large_cols,
                                                    seed=1)}
        print(f"{sys.executable}; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the start; "
              f"small {small_cols}x{small_rows}, large {large_cols}x{large_cols * 2 // 3}")
        print(f"{'recipe / set':38s} {'engine':14s} {'files':>5s} {'MP':>7s} {'wall s':>7s} {'MP/s':>6s} "
              f"{'x in-proc':>9s} {'target':>6s}  where the time went")
        for number, (name, steps) in enumerate(recipes.items()):
            recipe = save_recipe(steps, root / f"recipe{number}.json")
            print(f"{name}: in-process warm-up (loads any model) {warm_up(steps):.2f} s", flush=True)
            for label, inputs in sets.items():
                base = root / f"out{number}" / label.replace(" ", "_")
                row = f"{name[:22] + ' / ' + label:38s}"
                splits: list[str] = []
                first, io_first, megapixels, files_first = run_in_process(inputs, steps, base / "inproc")
                runs = []
                for jobs in (None, *args.jobs):
                    engine = "CLI default" if jobs is None else f"CLI --jobs {jobs}"
                    output = base / engine.replace(" ", "_")
                    cli = run_cli(root / label.split()[1], recipe, output, jobs)
                    per_file = sum(cli.files)
                    said = cli.said
                    processes = int(said.split(" with ")[-1].split()[0]) if " with " in said else 1
                    runs.append((engine, cli.wall, f"files {per_file:.1f} s in {processes} process(es), rest "
                                 f"{cli.wall - per_file / processes:.1f} s; outputs "
                                 f"{'identical' if same_outputs(base / 'inproc', output) else 'DIFFER'}",
                                 os.getloadavg()[0]))
                    splits.append(f"{row} {engine:14s} start {cli.start:.2f} s, 1st {cli.files[0]:.2f} s, median "
                                  f"{median(cli.files):.2f} s per file")
                again, io_again, _, files_again = run_in_process(inputs, steps, base / "inproc_again")
                splits.append(f"{row} {'in-process':14s} median {median(files_first):.2f} s per file (1st loop), "
                              f"{median(files_again):.2f} s (2nd loop)")
                seconds = min(first, again)
                for engine, wall, went, load in [("in-process", first, f"read+write {io_first:.1f} s", None),
                                                 *runs, ("in-process 2nd", again, f"read+write {io_again:.1f} s",
                                                         None)]:
                    ratio = wall / seconds
                    verdict = "" if engine.startswith("in-") else "ok" if ratio <= TARGET else "missed"
                    load_now = f"; load {load:.1f}" if load is not None else ""
                    print(f"{row} {engine:14s} {len(inputs):5d} {megapixels:7.1f} {wall:7.1f} "
                          f"{megapixels / wall:6.2f} {ratio:9.2f} {verdict:>6s}  {went}{load_now}", flush=True)
                print("\n".join(splits), flush=True)
        print(f"load average {os.getloadavg()[0]:.2f} at the end (1 min)")


if __name__ == "__main__":
    main()
