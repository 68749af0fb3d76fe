"""The threads one picture's work may use: one in each batch worker, whatever OpenCV answers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import cv2

from enhance_core.threads import limit_threads, thread_count


def test_a_limit_holds_where_opencv_reports_every_cpu(monkeypatch):
    """On macOS OpenCV's GCD backend ignores setNumThreads and getNumThreads answers the CPUs: batch workers gave
    every FFT all the cores."""
    try:
        limit_threads(1)
        monkeypatch.setattr(cv2, "getNumThreads", lambda: 8)
        assert thread_count() == 1
        limit_threads(None)
        assert thread_count() == 8
    finally:
        monkeypatch.undo()
        limit_threads(None)
    assert thread_count() == max(1, cv2.getNumThreads())


def test_batch_worker_processes_limit_themselves_to_one_thread():
    """Checked in a process of its own, with OpenCV answering every CPU as on macOS."""
    script = textwrap.dedent("""
        import os
        from multiprocessing import Pipe
        import cv2
        from enhance_core import batch_workers
        from enhance_core.threads import thread_count
        cv2.getNumThreads = lambda: 8
        reader, writer = Pipe(duplex=False)
        batch_workers._start_worker(reader, os.getppid(), 1)
        print(thread_count())
    """)
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert finished.stdout.split() == ["1"], finished.stderr


def test_a_dask_worker_limits_itself_to_one_thread_per_file(monkeypatch, tmp_path):
    from enhance_core import batch
    from enhance_core.batch_tasks import FileTask

    monkeypatch.setattr(cv2, "getNumThreads", lambda: 8)
    monkeypatch.setattr(batch, "process_file", lambda task: thread_count())
    try:
        assert batch.process_on_worker(FileTask(tmp_path / "a.png", tmp_path / "b.png", ()), ()) == 1
    finally:
        monkeypatch.undo()
        limit_threads(None)


def test_the_ffts_of_the_blur_and_the_frequency_filters_use_the_limit(monkeypatch):
    import numpy as np
    import scipy.fft

    from enhance_core.blur import gaussian
    from enhance_core.filters.base import RenderContext
    from enhance_core.filters.registry import get_filter

    asked: list[int] = []
    for name in ("rfft", "irfft", "rfft2", "irfft2"):
        real = getattr(scipy.fft, name)
        def spy(values, *args, real=real, **kwargs):
            if np.ndim(values) > 1:  # a picture's, not the 1-D kernel's
                asked.append(kwargs.get("workers"))
            return real(values, *args, **kwargs)

        monkeypatch.setattr(scipy.fft, name, spy)
    pixels = np.random.default_rng(0).random((64, 80, 3), dtype=np.float32)
    lowpass = get_filter("fft_lowpass")
    try:
        limit_threads(3)
        gaussian(pixels, 40.0)
        lowpass.apply(pixels, lowpass.default_params(), RenderContext())
    finally:
        limit_threads(None)
    assert len(asked) > 4 and set(asked) == {3}
