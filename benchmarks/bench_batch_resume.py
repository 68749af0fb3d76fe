"""Start-up of a rerun into a full output folder: removing the partial files of N outputs in one folder.

Every ``apply`` run into an existing output folder first removes the hidden partial files an interrupted run may
have left (:func:`enhance_core.batch_workers.remove_partial_files`). It should grow with N, not N squared.

    python benchmarks/bench_batch_resume.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from enhance_core.batch_workers import remove_partial_files


def main() -> None:
    """Print the time to clear partial files for 1,000 to 16,000 outputs in one folder, and its growth."""
    previous = None
    for count in (1000, 2000, 4000, 8000, 16000):
        with tempfile.TemporaryDirectory() as folder:
            outputs = [Path(folder) / f"scan_{index:05d}.png" for index in range(count)]
            for output in outputs:
                output.touch()
            start = time.perf_counter()
            remove_partial_files(outputs)
            seconds = time.perf_counter() - start
        growth = "" if previous is None else f"  x{seconds / previous:.1f} for twice the files"
        print(f"{count:6d} outputs in one folder: {seconds * 1000:8.1f} ms{growth}")
        previous = max(seconds, 1e-6)


if __name__ == "__main__":
    main()
