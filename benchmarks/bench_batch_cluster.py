"""Batch throughput of the local process pool and of a Dask ``LocalCluster`` (issue 23 item 3).

Run by hand (needs the cluster extra)::

    python benchmarks/bench_batch_cluster.py [--files 20] [--size 384] [--workers 1 2]

Writes ``--files`` random ``--size`` x ``--size`` RGB PNGs and runs one
classic denoise step (``tv_denoise``, deterministic) over them with
:func:`enhance_core.batch.run_batch`: the process pool with each count of
``--workers`` (1 runs in this process, with OpenCV's default threads; pool
and cluster workers use one each), then a ``LocalCluster`` of each count.
Printed per engine: the cluster's start-up seconds, the batch's wall
seconds, files per second, megapixels per second, and the scaling
efficiency, the throughput over that of the engine's 1-worker run times the
workers. Every engine's outputs are compared byte for byte with the first's.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from enhance_core.batch import plan_batch, run_batch
from enhance_core.batch_cluster import ClusterSpec, open_cluster
from enhance_core.image import Image
from enhance_core.io import write_image
from enhance_core.stack import make_item


def make_inputs(folder: Path, files: int, size: int) -> list[Path]:
    """``files`` random RGB PNGs of ``size`` x ``size`` pixels."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = [folder / f"scan{index:03d}.png" for index in range(files)]
    for path in paths:
        write_image(Image(rng.random((size, size, 3), dtype=np.float32)), path)
    return paths


def run_engine(inputs: list[Path], output: Path, workers: int, cluster: bool) -> tuple[float, float, float]:
    """Run the batch; return (start-up seconds, batch seconds, megapixels)."""
    tasks = plan_batch(inputs, (make_item("tv_denoise", {"weight": 0.1}),), output)
    output.mkdir()
    if not cluster:
        start = time.perf_counter()
        results = run_batch(tasks, jobs=workers)
        return 0.0, time.perf_counter() - start, sum(result.megapixels for result in results)
    start = time.perf_counter()
    with open_cluster(ClusterSpec(workers=workers)) as opened:
        opened.client.wait_for_workers(workers)
        started = time.perf_counter()
        results = run_batch(tasks, cluster=opened)
        seconds = time.perf_counter() - started
    if any(result.error for result in results):
        raise SystemExit(f"failed: {[result.error for result in results if result.error]}")
    return started - start, seconds, sum(result.megapixels for result in results)


def main() -> None:
    """Time each engine and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=20, help="images in the batch")
    parser.add_argument("--size", type=int, default=384, help="side of each image in pixels")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        inputs = make_inputs(Path(folder) / "in", args.files, args.size)
        print(f"{args.files} files of {args.size}x{args.size} RGB, tv_denoise; {', '.join(map(str, args.workers))} "
              "worker(s)")
        print(f"{'engine':16s} {'start s':>8s} {'batch s':>8s} {'files/s':>8s} {'MP/s':>7s} {'efficiency':>11s}")
        reference: dict[str, bytes] | None = None
        for cluster in (False, True):
            single = None
            for workers in args.workers:
                name = f"local:{workers}" if cluster else f"pool --jobs {workers}"
                output = Path(folder) / name.replace(" ", "").replace(":", "")
                startup, seconds, megapixels = run_engine(inputs, output, workers, cluster)
                rate = args.files / seconds
                if workers == 1:
                    single = rate
                efficiency = f"{rate / (workers * single):.0%}" if single is not None else "-"
                print(f"{name:16s} {startup:8.2f} {seconds:8.2f} {rate:8.2f} {megapixels / seconds:7.2f} "
                      f"{efficiency:>11s}", flush=True)
                written = {path.name: path.read_bytes() for path in sorted(output.glob("*.png"))}
                reference = written if reference is None else reference
                if written != reference:
                    raise SystemExit(f"{name}: outputs differ from the first engine's")
        print("outputs byte-identical across engines")


if __name__ == "__main__":
    main()
