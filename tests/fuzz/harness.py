"""Run mutated files through ``read_image`` in a memory-limited worker process, with a timeout per file.

:func:`run_fuzz` writes case after case (:mod:`mutate` applied to the
:mod:`seeds`) and hands each to one worker process (:mod:`worker`). A case
passes when it reads as a valid image or fails with an ImageReadError; it
fails when the worker answers with anything else, when one read grows
the worker's resident memory by more than the budget (checked every 5 ms
while it reads; it is killed at once), when it takes longer than the
timeout (killed and restarted), or when it dies (a crash of a native
decoder). Failing cases are copied to ``keep`` so they can be replayed.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .mutate import mutate
from .seeds import seed_files

WORKER = Path(__file__).with_name("worker.py")
PASSING = ("image", "typed")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_WATCH_SECONDS = 0.005
FUZZ_MAX_PIXELS = 4_000_000
"""The pixel limit the worker reads under: every refusal below it is the limits at work, every
allocation above what it allows is a failure of them."""


@dataclass
class Failure:
    """One case that did not give a valid image or a typed error."""

    case: int
    seed_name: str
    steps: str
    outcome: str
    detail: str
    kept: Path | None = None

    def __str__(self) -> str:
        return f"case {self.case} ({self.seed_name}: {self.steps}): {self.outcome}: {self.detail}"


@dataclass
class FuzzReport:
    """What a run found."""

    cases: int = 0
    seconds: float = 0.0
    outcomes: Counter = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    slowest: tuple[float, int, str] = (0.0, -1, "")

    def summary(self) -> str:
        """A few lines: counts per outcome, the slowest case and every failure."""
        lines = [f"{self.cases} cases in {self.seconds:.1f} s: "
                 + ", ".join(f"{name} {count}" for name, count in sorted(self.outcomes.items())),
                 f"slowest read: {self.slowest[0]:.3f} s (case {self.slowest[1]}, {self.slowest[2]})"]
        lines += [str(failure) for failure in self.failures]
        return "\n".join(lines)


class Worker:
    """One worker process: ask it to read a file, with a timeout; restart it after a hang or a crash."""

    def __init__(self, memory: int, reader: str | None, log: Path) -> None:
        self.memory, self.reader, self.log = memory, reader, log
        self.process: subprocess.Popen | None = None
        self.buffer: bytes | None = b""
        self.before = 0
        self.grown: int | None = None

    def start(self) -> None:
        """Start the process and wait until it has imported the readers."""
        env = dict(os.environ, ENHANCE_MAX_PIXELS=str(FUZZ_MAX_PIXELS), OMP_NUM_THREADS="1",
                   OPENBLAS_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(filter(None, [
                       str(WORKER.parents[2]), str(WORKER.parent), os.environ.get("PYTHONPATH", "")])))
        command = [sys.executable, str(WORKER), *([self.reader] if self.reader else [])]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env)
        self.buffer = b""
        if self._answer(120.0) is None:
            raise RuntimeError(f"the fuzz worker did not start; see {self.log}")

    def _resident(self) -> int:
        """Bytes of the worker's resident memory now (0 once it has ended)."""
        try:
            with open(f"/proc/{self.process.pid}/statm") as statm:
                return int(statm.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            return 0

    def stop(self) -> None:
        """End the process (killing it when it does not end by itself)."""
        if self.process is None:
            return
        self.process.stdin.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.process = None

    def ask(self, path: Path, timeout: float) -> dict:
        """Return the worker's answer for ``path``: its JSON, or an outcome ``hang`` or ``crash``."""
        if self.process is None:
            self.start()
        self.before = self._resident()
        try:
            self.process.stdin.write(f"{path}\n".encode())
            self.process.stdin.flush()
        except BrokenPipeError:
            return self._restart("crash", "the worker had died")
        answer = self._answer(timeout)
        if answer is not None:
            return answer
        if self.buffer is None:
            return self._restart("crash", f"the worker died with status {self.process.wait()}")
        if self.grown is not None:
            return self._restart("memory", f"resident memory grew by {self.grown >> 20} MiB, more than the "
                                 f"{self.memory >> 20} MiB budget")
        return self._restart("hang", f"no answer within {timeout:.0f} s")

    def _restart(self, outcome: str, detail: str) -> dict:
        self.process.kill()
        self.process.wait()
        self.process.stdin.close()
        self.process.stdout.close()
        self.process = None
        return {"outcome": outcome, "detail": detail, "seconds": 0.0}

    def _answer(self, timeout: float) -> dict | None:
        """Read one JSON line within ``timeout`` seconds, watching the worker's memory.

        None on timeout, on memory growth beyond the budget (``grown`` set) or
        at the end of output (``buffer`` None).
        """
        deadline = time.monotonic() + timeout
        self.grown = None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while b"\n" not in self.buffer:
                left = deadline - time.monotonic()
                if not selector.select(max(0.0, min(left, _WATCH_SECONDS))):
                    grown = self._resident() - self.before
                    if grown > self.memory:
                        self.grown = grown
                        return None
                    if left <= 0:
                        return None
                    continue
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    self.buffer = None
                    return None
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)


def run_fuzz(count: int, *, seed: int = 0, keep: Path | None = None, timeout: float = 10.0,
             memory: int = 1 << 30, reader: str | None = None, progress=None) -> FuzzReport:
    """Read ``count`` mutated files and report the outcomes.

    Parameters
    ----------
    count : int
        Number of cases; case ``n`` mutates seed ``n mod len(seeds)``.
    seed : int
        Seed of the mutations (case ``n`` of seed ``s`` is the same bytes every time).
    keep : Path, optional
        Folder that receives a copy of every failing case.
    timeout : float
        Seconds one read may take before it counts as a hang.
    memory : int
        Bytes of resident memory a read may add to what the worker holds after importing.
    reader : str, optional
        ``module:function`` to call instead of ``read_image`` (to test the harness itself).
    progress : callable, optional
        ``progress(done, report)`` after each case.
    """
    seeds = seed_files()
    names = sorted(seeds)
    report = FuzzReport()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="enhance-fuzz-") as folder:
        worker = Worker(memory, reader, Path(folder) / "worker.log")
        try:
            for case in range(count):
                name = names[case % len(names)]
                data, steps = mutate(seeds[name], name, seed, case)
                path = Path(folder) / f"case{case}{Path(name).suffix}"
                path.write_bytes(data)
                answer = worker.ask(path, timeout)
                report.cases += 1
                report.outcomes[answer["outcome"]] += 1
                if answer["seconds"] > report.slowest[0]:
                    report.slowest = (answer["seconds"], case, name)
                if answer["outcome"] not in PASSING:
                    kept = None
                    if keep is not None:
                        keep.mkdir(parents=True, exist_ok=True)
                        kept = Path(shutil.copy(path, keep / f"seed{seed}-case{case}-{name}"))
                    detail = f"{answer.get('type', '')} {answer.get('detail', '')}".strip()
                    report.failures.append(Failure(case, name, steps, answer["outcome"], detail, kept))
                path.unlink()
                if progress is not None:
                    progress(case + 1, report)
        finally:
            worker.stop()
    report.seconds = time.perf_counter() - start
    return report
