"""Batch process hygiene (issue 21): kill -9 leaves no worker and no file, Ctrl+C summarizes, re-runs finish.

Linux: workers die by the kernel's parent-death signal and a janitor removes their partial files; the pipe
they watch (the portable way) is tested on its own.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import textwrap
import threading
from multiprocessing import Pipe
from pathlib import Path

import numpy as np
import pytest

from enhance_core import batch as batch_module
from enhance_core import batch_workers
from enhance_core.batch import plan_batch, run_batch
from enhance_core.batch_manifest import MANIFEST_NAME
from enhance_core.batch_tasks import FileTask
from enhance_core.batch_workers import BatchInterrupted, partial_files, remove_partial_files
from enhance_core.cli import main
from enhance_core.image import Image
from enhance_core.io import write_image
from enhance_core.recipe import save_recipe
from enhance_core.stack import make_item

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and uses pidfd")
COMMAND = [sys.executable, "-c", "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
           "from enhance_core.cli import main; sys.exit(main(sys.argv[1:]))"]
"""``enhance-studio`` with Ctrl+C handled even when the test runner was started with SIGINT ignored (a
background job), which its children would inherit."""
SLOW_STEPS = 2
"""tv_denoise steps per file: a few tenths of a second per file, so the kill lands while both workers are busy."""
FILES = 40
"""Enough inputs that files remain unstarted when the signal lands, however fast the machine (with 5, a CI
machine once finished the whole batch between the first file and the Ctrl+C)."""


@pytest.fixture
def batch(tmp_path) -> tuple[Path, Path, Path]:
    """``FILES`` inputs, a slow recipe and an output folder."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(0)
    for index in range(FILES):
        write_image(Image(rng.random((160, 160, 3), dtype=np.float32)), inputs / f"img{index}.png")
    recipe = save_recipe([make_item("tv_denoise", {"weight": 0.5})] * SLOW_STEPS, tmp_path / "slow.json")
    return inputs, recipe, tmp_path / "out"


def start(batch, *extra: str) -> subprocess.Popen:
    """Start ``apply`` with two workers in its own process group; return once the first file is written."""
    inputs, recipe, out = batch
    process = subprocess.Popen([*COMMAND, "apply", "--recipe", str(recipe), "-o", str(out), "--jobs", "2",
                                *extra, str(inputs)], stderr=subprocess.PIPE, text=True, start_new_session=True)
    for line in process.stderr:
        if "] ok " in line:
            return process
    pytest.fail(f"apply ended before writing a file (status {process.wait()})")


def children(pid: int) -> list[int]:
    """Process ids of the children of ``pid`` (Linux)."""
    tasks = Path(f"/proc/{pid}/task")
    return [int(child) for task in tasks.iterdir() for child in (task / "children").read_text().split()]


def wait_gone(pids: list[int], timeout: float = 10.0) -> None:
    """Block until every process in ``pids`` has exited (pidfd: no polling)."""
    for pid in pids:
        try:
            handle = os.pidfd_open(pid)
        except ProcessLookupError:
            continue
        try:
            assert select.select([handle], [], [], timeout)[0], f"process {pid} still runs {timeout} s later"
        finally:
            os.close(handle)


def test_kill_9_of_apply_stops_its_workers_and_a_rerun_finishes(batch, capsys) -> None:
    inputs, _, out = batch
    process = start(batch)
    workers = children(process.pid)
    assert len(workers) >= 2
    process.kill()
    process.wait()
    process.stderr.close()
    written = sorted(name for name in os.listdir(out) if name.endswith(".png"))
    wait_gone(workers)
    left = sorted(name for name in os.listdir(out) if name != MANIFEST_NAME)
    assert not [name for name in left if name.endswith(".part")], "the janitor left a partial file"
    assert left == written, "a worker wrote after its parent was killed"
    assert len(written) < FILES
    stale = out / ".img4.png.a1b2c3d4.part"
    stale.write_bytes(b"left by a killed run")
    (out / ".notes.txt.a1b2c3d4.part").write_bytes(b"not ours")
    finish = ["apply", "--filter", "negative", "-o", str(out), "--jobs", "1", str(inputs)]
    assert main([*finish, "--skip-existing"]) == 0
    printed = capsys.readouterr()
    assert "removed 1 partial file(s) an interrupted run left" in printed.err
    assert f"{FILES - len(written)} of {FILES} file(s) written to {out}, {len(written)} kept" in printed.out
    assert sorted(os.listdir(out)) == [".notes.txt.a1b2c3d4.part", MANIFEST_NAME] + sorted(
        f"img{i}.png" for i in range(FILES))
    assert main(finish) == 1
    assert "was made by an earlier run from the same input with another recipe" in capsys.readouterr().err


def test_ctrl_c_ends_the_batch_with_a_summary_and_no_worker_left(batch) -> None:
    process = start(batch)
    workers = children(process.pid)
    os.killpg(process.pid, signal.SIGINT)
    rest = process.stderr.read()
    process.stderr.close()
    assert process.wait() == 130
    wait_gone(workers)
    assert "Traceback" not in rest
    summary = rest.strip().splitlines()[-1]
    assert summary.startswith("interrupted: ") and "not started; run the same command again to finish" in summary
    written = [name for name in os.listdir(batch[2]) if name.endswith(".png")]
    assert f"interrupted: {len(written)} file(s) written" in summary
    assert not list(batch[2].glob(".*.part"))


@pytest.mark.parametrize("group", [False, True], ids=["parent", "process group"])
def test_sigterm_ends_the_batch_as_ctrl_c_does(batch, group) -> None:
    process = start(batch)
    workers = children(process.pid)
    if group:  # a service stopping, kill -- -PGID: the workers get it too
        os.killpg(process.pid, signal.SIGTERM)
    else:  # kill PID, a scheduler's time limit, timeout
        process.terminate()
    rest = process.stderr.read()
    process.stderr.close()
    assert process.wait() == 143
    wait_gone(workers)
    assert "Traceback" not in rest and "leaked" not in rest
    summary = rest.strip().splitlines()[-1]
    written = [name for name in os.listdir(batch[2]) if name.endswith(".png")]
    assert summary.startswith(f"stopped by SIGTERM: {len(written)} file(s) written")
    assert "run the same command again to finish" in summary
    assert not list(batch[2].glob(".*.part"))


def test_a_group_sigterm_while_the_workers_start_counts_every_file(batch) -> None:
    """Killed while still starting, two workers broke the pool as the parent stopped: the summary left out the two
    files handed to them, and the next run said an earlier run had ended on them for want of memory (a review)."""
    inputs, recipe, out = batch
    process = subprocess.Popen([*COMMAND, "apply", "--recipe", str(recipe), "-o", str(out), "--jobs", "2",
                                str(inputs)], stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while len(children(process.pid)) < 3 and time.monotonic() < deadline:  # the janitor and two starting workers
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGTERM)
    rest = process.stderr.read()
    process.stderr.close()
    assert process.wait() == 143, rest
    counts = re.search(r"(\d+) file\(s\) written .*?(\d+) failed, (\d+) stopped before writing, (\d+) not started",
                       rest)
    assert counts is not None and sum(int(count) for count in counts.groups()) == FILES, rest


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_a_ctrl_c_while_workers_start_is_held_not_lost() -> None:
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with batch_workers.sigint_held():
                signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
                reached_the_end_of_the_window = True
        assert reached_the_end_of_the_window, "the Ctrl+C interrupted the start of a worker"
        assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_a_ctrl_c_another_thread_takes_is_held_too() -> None:
    """A terminal's Ctrl+C may land on any thread that does not block it (numpy's, started before the window): it
    interrupted a worker's start mid-way, which then died with "EOFError: Ran out of input"."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    go, sent = threading.Event(), threading.Event()

    def other_thread() -> None:
        go.wait(10)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        sent.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            with batch_workers.sigint_held():
                go.set()
                sent.wait(10)
                time.sleep(0.05)  # the main thread runs the Python handler here
                reached_the_end_of_the_window = True
        assert reached_the_end_of_the_window, "the Ctrl+C interrupted the window"
    finally:
        thread.join()
        signal.signal(signal.SIGINT, previous)


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_a_sigterm_stops_a_background_batch_whose_ctrl_c_is_ignored(monkeypatch) -> None:
    """A script's `apply ... &` starts with Ctrl+C ignored; the window's handler took the SIGTERM turned into Ctrl+C
    for itself, and `kill PID` left the batch to finish every file and exit 0."""
    from enhance_core.cli.stopping import terminate_as_interrupt

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with terminate_as_interrupt():
            with pytest.raises(KeyboardInterrupt):
                with batch_workers.sigint_held():
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(0.05)
        def too_many_open_files() -> None:
            raise OSError(24, os.strerror(24))

        monkeypatch.setattr(batch_workers.resource_tracker, "ensure_running", too_many_open_files)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with pytest.raises(OSError):
            with batch_workers.sigint_held():
                pass
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "a failed start leaves Ctrl+C alone"
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")
def test_the_first_process_a_run_starts_keeps_ctrl_c_held() -> None:
    """multiprocessing starts its resource tracker with the first process and unblocks Ctrl+C after it: begun
    inside the window, the janitor then started unguarded and printed a traceback on a Ctrl+C 0.3 s in."""
    script = textwrap.dedent("""
        import signal
        from multiprocessing import get_context
        from enhance_core.batch_workers import sigint_held
        if __name__ == "__main__":
            with sigint_held():
                process = get_context("spawn").Process(target=print)
                process.start()
                print(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, set()))
            process.join()
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.split()[:1] == ["True"], done.stderr


def test_where_signals_cannot_be_masked_a_ctrl_c_while_the_pool_is_waited_on_stops_the_batch(monkeypatch) -> None:
    monkeypatch.delattr(signal, "pthread_sigmask", raising=False)  # as on Windows
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with batch_workers.sigint_held():
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.05)  # the handler runs here, on the main thread
                reached_the_end_of_the_window = True
        assert reached_the_end_of_the_window, "the Ctrl+C interrupted the window"
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        with batch_workers.sigint_held():
            pass  # no Ctrl+C, nothing raised
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_worker_removes_its_partial_file_and_exits_when_the_parent_goes(tmp_path) -> None:
    target = tmp_path / "result.png"
    script = textwrap.dedent(f"""
        import os
        import threading
        from multiprocessing import Pipe
        from pathlib import Path
        from enhance_core import batch_workers
        reader, writer = Pipe(duplex=False)
        target = Path({str(target)!r})
        started = threading.Event()

        def task(_):
            Path({str(tmp_path / '.result.png.x_y_z_12.part')!r}).write_bytes(b"half")
            started.set()
            threading.Event().wait()

        threading.Thread(target=batch_workers._run_one, args=(task, None, target), daemon=True).start()
        started.wait()
        batch_workers._start_worker(reader, os.getppid(), 1)
        writer.close()
        threading.Event().wait()
    """)
    finished = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert finished.returncode == 1, finished.stderr
    assert not list(tmp_path.iterdir())


def test_the_janitor_removes_partial_files_once_the_parent_is_gone(tmp_path) -> None:
    outputs = [tmp_path / "a.png", tmp_path / "b.png"]
    partial = tmp_path / ".a.png.k1ll3d_x.part"
    parent = subprocess.Popen(["cat"], stdin=subprocess.PIPE)
    reader, writer = Pipe(duplex=False)
    janitor = threading.Thread(target=batch_workers._janitor, args=(reader, parent.pid, outputs))
    janitor.start()
    partial.write_bytes(b"half")
    writer.close()
    assert janitor.is_alive() and partial.exists(), "it waits for the parent to exit"
    parent.kill()
    parent.wait()
    parent.stdin.close()
    janitor.join(30)
    assert not janitor.is_alive() and not partial.exists()
    partial.write_bytes(b"a later run's")
    reader, writer = Pipe(duplex=False)
    writer.send_bytes(batch_workers.DONE)
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        batch_workers._janitor(reader, os.getpid(), outputs)
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    assert partial.exists(), "a pool that ended normally leaves the folder alone"


def test_only_our_partial_files_are_removed(tmp_path) -> None:
    ours = [tmp_path / ".a.png.abcd_123.part", tmp_path / ".a.png.zzzzzzzz.part"]
    theirs = [tmp_path / ".a.png.part", tmp_path / ".b.png.abcd1234.part", tmp_path / "a.png.abcd1234.part",
              tmp_path / ".a.png.ABCD1234.part", tmp_path / "a.png"]
    for path in ours + theirs:
        path.write_bytes(b"x")
    assert sorted(partial_files(tmp_path / "a.png")) == sorted(ours)
    assert remove_partial_files([tmp_path / "a.png", tmp_path / "missing" / "c.png"]) == 2
    assert sorted(tmp_path.iterdir()) == sorted(theirs)
    (tmp_path / "sub").mkdir()
    more = [tmp_path / ".c.png.abcd1234.part", tmp_path / "sub" / ".a.png.abcd1234.part",
            tmp_path / "sub" / ".d.png.abcd1234.part"]
    for path in more:
        path.write_bytes(b"x")
    outputs = [tmp_path / "c.png", tmp_path / "sub" / "a.png", tmp_path / "sub" / "d.png", tmp_path / "e.png"]
    assert remove_partial_files(outputs) == 3, "outputs of several folders"
    assert sorted(tmp_path.rglob("*")) == sorted([*theirs, tmp_path / "sub"])


def test_a_read_only_partial_file_is_removed_where_the_system_refuses_to_remove_read_only_files(
        tmp_path, monkeypatch) -> None:
    """An older run left it read-only on Windows, which refuses to remove such a file: every later batch into the
    folder stopped with "permission denied"."""
    import stat

    partial = tmp_path / ".a.png.abcd1234.part"
    partial.write_bytes(b"half")
    partial.chmod(0o444)
    real_unlink = os.unlink

    def windows_unlink(path, *args, **kwargs) -> None:
        if not os.stat(path).st_mode & stat.S_IWRITE:
            raise PermissionError(13, "Access is denied", str(path))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(batch_workers.sys, "platform", "win32")
    monkeypatch.setattr(os, "unlink", windows_unlink)
    removed = remove_partial_files([tmp_path / "a.png"])
    monkeypatch.undo()
    assert removed == 1 and list(tmp_path.iterdir()) == []


def test_partial_files_of_many_outputs_list_each_folder_once(tmp_path, monkeypatch) -> None:
    """Listing the folder once per output made a rerun into 24,000 outputs sit silent for minutes (a helper)."""
    import enhance_core.batch_workers as workers

    listed = []
    real = os.scandir
    monkeypatch.setattr(workers.os, "scandir", lambda path: listed.append(path) or real(path))
    (tmp_path / "sub").mkdir()
    outputs = [tmp_path / f"{index}.png" for index in range(50)] + [tmp_path / "sub" / "a.png"]
    (tmp_path / ".7.png.abcd1234.part").write_bytes(b"x")
    assert remove_partial_files(outputs) == 1
    assert sorted(map(str, listed)) == sorted([str(tmp_path), str(tmp_path / "sub")])


def test_ctrl_c_in_a_one_process_batch_reports_what_finished(tmp_path, monkeypatch) -> None:
    rng = np.random.default_rng(1)
    for index in range(3):
        write_image(Image(rng.random((16, 16, 3), dtype=np.float32)), tmp_path / f"p{index}.png")
    tasks = plan_batch(sorted(tmp_path.glob("p*.png")), (make_item("negative"),), tmp_path / "out")
    (tmp_path / "out").mkdir()
    real = batch_module.process_file
    calls = []

    def interrupt_second(task):
        calls.append(task)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(batch_module, "process_file", interrupt_second)
    with pytest.raises(BatchInterrupted) as caught:
        run_batch(tasks, jobs=1)
    assert (caught.value.running, caught.value.not_started) == ([1], [2])
    assert caught.value.results[0].output == tasks[0].output and caught.value.results[1:] == [None, None]
    monkeypatch.undo()
    assert main(["apply", "--filter", "negative", "-o", str(tmp_path / "out"), "--skip-existing", "--jobs", "1",
                 *map(str, sorted(tmp_path.glob("p*.png")))]) == 0


def test_an_output_renamed_into_place_as_ctrl_c_comes_counts_as_written(tmp_path, monkeypatch) -> None:
    for index in range(3):
        write_image(Image(np.full((8, 8, 3), 0.5, np.float32)), tmp_path / f"q{index}.png")
    tasks = plan_batch(sorted(tmp_path.glob("q*.png")), (make_item("negative"),), tmp_path / "out")
    (tmp_path / "out").mkdir()

    def interrupted_pool(fn, pool_tasks, pending, jobs, **options):
        write_image(Image(np.zeros((8, 8, 3), np.float32)), pool_tasks[0].output)
        raise BatchInterrupted([0, 1], [2])

    monkeypatch.setattr(batch_module, "run_pool", interrupted_pool)
    with pytest.raises(BatchInterrupted) as caught:
        run_batch(tasks, jobs=2)
    assert caught.value.running == [1] and caught.value.not_started == [2]
    assert caught.value.results[0].output == tasks[0].output and caught.value.results[1:] == [None, None]


def test_an_output_written_before_its_scoring_as_ctrl_c_comes_is_done_again_and_scored(tmp_path, monkeypatch,
                                                                                       capsys) -> None:
    references = tmp_path / "refs"
    references.mkdir()
    for index in range(3):
        write_image(Image(np.full((16, 16, 3), 0.5, np.float32)), tmp_path / f"q{index}.png")
        write_image(Image(np.full((16, 16, 3), 0.5, np.float32)), references / f"q{index}.png")
    command = ["apply", "--filter", "negative", "-o", str(tmp_path / "out"), "--reference-dir", str(references),
               "--jobs", "2", *map(str, sorted(tmp_path.glob("q*.png")))]

    def interrupted_pool(fn, pool_tasks, pending, jobs, **options):
        write_image(Image(np.zeros((16, 16, 3), np.float32)), pool_tasks[0].output)
        raise BatchInterrupted([0, 1], [2])

    monkeypatch.setattr(batch_module, "run_pool", interrupted_pool)
    assert main(command) == 130
    lines = (tmp_path / "out" / MANIFEST_NAME).read_text(encoding="utf-8").splitlines()
    assert not [line for line in lines if '"status": "done"' in line], "written but not scored: not done"
    monkeypatch.undo()
    capsys.readouterr()
    assert main(command) == 0
    assert "(3 scored," in capsys.readouterr().out


def test_kill_9_then_the_same_command_finishes_only_the_rest(batch, capsys) -> None:
    inputs, recipe, out = batch
    process = start(batch)
    for line in process.stderr:
        if "] ok " in line:
            break
    process.kill()
    process.wait()
    process.stderr.close()
    lines = (out / MANIFEST_NAME).read_text(encoding="utf-8").splitlines()
    done = {json.loads(line)["output"] for line in lines if line.endswith("}") and '"status": "done"' in line}
    assert len(done) >= 2 and len(done) < FILES
    before = {name: (out / name).stat().st_mtime_ns for name in done}
    assert main(["apply", "--recipe", str(recipe), "-o", str(out), "--jobs", "2", str(inputs)]) == 0
    printed = capsys.readouterr()
    assert f"{FILES - len(done)} of {FILES} file(s) written to {out}, {len(done)} done in an earlier run" in printed.out
    assert {name: (out / name).stat().st_mtime_ns for name in done} == before, "a finished file was done again"
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME] + sorted(f"img{i}.png" for i in range(FILES))


def _torch_threads(_task) -> int:
    import torch

    return torch.get_num_threads()


def test_workers_share_the_cpus_among_their_torch_threads(monkeypatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert [batch_workers.worker_threads(jobs) for jobs in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    monkeypatch.undo()
    results: dict[int, int] = {}
    batch_workers.run_pool(_torch_threads, [0, 1], [0, 1], 2, finish=results.__setitem__, died=lambda task: None,
                           target=lambda task: None)
    assert set(results.values()) == {batch_workers.worker_threads(2)}


def _double(task: int) -> int:
    return 2 * task


def _double_or_die(task: int) -> int:
    if task == 13:
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's out-of-memory killer would
    threading.Event().wait(0.2)  # the other worker is still busy when the first one dies
    return 2 * task


def test_only_the_file_whose_worker_dies_alone_fails_and_the_others_finish() -> None:
    results: dict[int, object] = {}
    tasks = [1, 13, 2, 3, 4]
    batch_workers.run_pool(_double_or_die, tasks, list(range(len(tasks))), 2, finish=results.__setitem__,
                           died=lambda task: f"died on {task}", target=lambda task: None)
    assert results == {0: 2, 1: "died on 13", 2: 4, 3: 6, 4: 8}


def _write_once_or_die(task: tuple[int, str, bool]) -> object:
    """Write ``out<number>`` (refused when it exists, unless the task may replace it); 13 dies once the other wrote."""
    number, folder, overwrite = task
    output = Path(folder, f"out{number}.png")
    if number == 13:
        threading.Event().wait(0.3)
        os.kill(os.getpid(), signal.SIGKILL)
    if output.exists() and not overwrite:
        return "already exists"
    output.write_bytes(b"written")
    threading.Event().wait(0.6)  # still running when the other worker dies
    return number


def test_a_file_whose_pool_broke_after_it_wrote_its_output_runs_again_as_the_batch_says(tmp_path) -> None:
    """Its rerun alone was refused: "the output ... already exists" (its own, written before the pool broke)."""
    results: dict[int, object] = {}
    tasks = [(1, str(tmp_path), False), (13, str(tmp_path), False)]
    batch_workers.run_pool(_write_once_or_die, tasks, [0, 1], 2, finish=results.__setitem__, died=lambda task: "died",
                           target=lambda task: None, again=lambda task: (task[0], task[1], True))
    assert results == {0: 1, 1: "died"}


def test_a_rerun_replaces_the_output_its_first_run_wrote_whatever_its_time(tmp_path) -> None:
    """A FAT disk's 2-second times (or a file server's clock) put the batch's own output before the batch began."""
    import dataclasses

    output = tmp_path / "out.png"
    task = FileTask(tmp_path / "in.png", output, ())
    assert batch_module.rerun_task(task) == task, "no output: nothing to replace"
    output.write_bytes(b"this batch's")
    os.utime(output, (time.time() - 2, time.time() - 2))
    assert batch_module.rerun_task(task) == dataclasses.replace(task, overwrite=True)


def _write_part_then_die(task: tuple[int, str]) -> int:
    number, folder = task
    Path(folder, f".out{number}.png.abcd1234.part").write_bytes(b"half a file")
    if number == 13:
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Event().wait(0.2)
    Path(folder, f".out{number}.png.abcd1234.part").unlink()
    return number


def test_the_partial_files_of_a_worker_that_died_are_removed_in_the_same_run(tmp_path) -> None:
    results: dict[int, object] = {}
    tasks = [(1, str(tmp_path)), (13, str(tmp_path)), (2, str(tmp_path))]
    batch_workers.run_pool(_write_part_then_die, tasks, [0, 1, 2], 2, finish=results.__setitem__,
                           died=lambda task: "died", target=lambda task: tmp_path / f"out{task[0]}.png")
    assert results == {0: 1, 1: "died", 2: 2}
    assert list(tmp_path.iterdir()) == [], "no partial file waits for the next run"


def test_the_pool_ends_cleanly_when_its_janitor_could_not_start(monkeypatch) -> None:
    from multiprocessing import Pipe

    reader, writer = Pipe(duplex=False)
    reader.close()

    class Gone:
        def join(self) -> None:
            pass

    monkeypatch.setattr(batch_workers, "_start_janitor", lambda context, outputs: (Gone(), writer))
    results: dict[int, int] = {}
    batch_workers.run_pool(_double, [3, 4], [0, 1], 2, finish=results.__setitem__, died=lambda task: None,
                           target=lambda task: None)
    assert results == {0: 6, 1: 8}


_KEPT_MODELS: list[object] = []
"""In a worker: every model :func:`_render_and_name_models` saw, kept alive so that no id is reused."""


def _render_and_name_models(task) -> tuple[int, str | None, int, int]:
    """Worker: process one file with a learned step; return the process id, the error and the ids of its models."""
    from enhance_core.learned.registry import load_model

    result = batch_module.process_file(task)
    models = [load_model(name) for name in ("denoise", "noise_level")]
    _KEPT_MODELS.extend(models)
    return os.getpid(), result.error, id(models[0]), id(models[1])


def test_batch_workers_load_each_model_once_and_reuse_it_across_files(tmp_path) -> None:
    rng = np.random.default_rng(2)
    for index in range(4):
        write_image(Image(rng.random((32, 48, 3), dtype=np.float32)), tmp_path / f"n{index}.png")
    tasks = plan_batch(sorted(tmp_path.glob("n*.png")), (make_item("denoise", {"mode": "auto"}),), tmp_path / "out")
    (tmp_path / "out").mkdir()
    results: dict[int, tuple[int, str | None, int, int]] = {}
    batch_workers.run_pool(_render_and_name_models, tasks, [0, 1, 2, 3], 2, finish=results.__setitem__,
                           died=lambda task: None, target=lambda task: task.output)
    assert sorted(results) == [0, 1, 2, 3] and all(error is None for _, error, _, _ in results.values())
    models_by_worker: dict[int, set[tuple[int, int]]] = {}
    for pid, _, denoise, noise_level in results.values():
        models_by_worker.setdefault(pid, set()).add((denoise, noise_level))
    assert all(len(models) == 1 for models in models_by_worker.values()), models_by_worker
    assert len(results) > len(models_by_worker), "no worker ran two files, so nothing was reused"


def test_the_janitor_starts_without_numpy_or_opencv() -> None:
    code = "import sys, enhance_core.batch_workers; print(sorted({'cv2', 'numpy', 'torch'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", "the janitor process imports enhance_core.batch_workers alone"
