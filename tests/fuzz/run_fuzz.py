"""Long fuzz runs by hand: ``python -m tests.fuzz.run_fuzz --cases 10000 [--seed 1] [--keep DIR]``.

Prints progress every 500 cases and a summary (outcomes, slowest read, every
failing case with its mutation steps); failing cases are copied to ``--keep``
(default ``fuzz-failures``) to replay with ``enhance-studio info FILE``.
Exits 1 when any case failed. CI runs a few hundred cases through
``tests/fuzz/test_fuzz_readers.py`` (``ENHANCE_FUZZ_CASES`` changes the count).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .harness import run_fuzz


def main(argv: list[str] | None = None) -> int:
    """Run the fuzzer and print what it found; return 1 when a case failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="number of mutated files (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="mutation seed (default 1; CI uses 0)")
    parser.add_argument("--keep", type=Path, default=Path("fuzz-failures"), help="folder for failing cases")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a read counts as a hang")
    parser.add_argument("--memory-mb", type=int, default=1024, help="worker memory budget above its baseline")
    args = parser.parse_args(argv)

    def progress(done: int, report) -> None:
        if done % 500 == 0 or done == args.cases:
            print(f"[{done}/{args.cases}] {dict(report.outcomes)} failures: {len(report.failures)}", flush=True)

    report = run_fuzz(args.cases, seed=args.seed, keep=args.keep, timeout=args.timeout,
                      memory=args.memory_mb << 20, progress=progress)
    print(report.summary())
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
