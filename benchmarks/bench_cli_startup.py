"""Start-up time of the ``enhance-studio`` command line (issue 20: under 0.5 s for ``--help`` and ``apply --list``).

Run by hand::

    python benchmarks/bench_cli_startup.py [--repeat 5]

Each command runs ``--repeat`` times in a fresh Python process, started as the
``enhance-studio`` script starts (``app.launcher.main``): ``--help``,
``apply --list``, and ``apply --filter gamma`` on one 64 x 64 PNG (a point
filter: the time is start-up and I/O, not filtering). Printed per command:
the median and the fastest wall time in seconds, and the median above the
floor, ``python -c pass``, which is measured the same way in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

REPO = Path(__file__).resolve().parents[1]
LAUNCH = "import sys; from app.launcher import main; sys.exit(main())"


def wall_times(command: list[str], repeat: int) -> list[float]:
    """Wall seconds of ``repeat`` runs of ``command`` in the repository (each must exit 0)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    """Time each command and print a table of medians next to the floor."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        picture = Path(folder) / "small.png"
        rng = np.random.default_rng(0)
        PILImage.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(picture)
        cli = [sys.executable, "-c", LAUNCH]
        cases = {
            "python -c pass (floor)": [sys.executable, "-c", "pass"],
            "--help": cli + ["--help"],
            "apply --list": cli + ["apply", "--list"],
            "apply --filter gamma, 1 PNG": cli + ["apply", "--filter", "gamma", "--set", "gamma=0.8", "--overwrite",
                                                  "-o", str(Path(folder) / "out"), str(picture)],
        }
        print(f"{sys.executable}, median of {args.repeat} runs each")
        print(f"{'command':30s} {'median s':>9s} {'fastest s':>10s} {'above floor':>12s}")
        floor = None
        for name, command in cases.items():
            times = wall_times(command, args.repeat)
            median = statistics.median(times)
            floor = median if floor is None else floor
            print(f"{name:30s} {median:9.3f} {min(times):10.3f} {median - floor:12.3f}")


if __name__ == "__main__":
    main()
