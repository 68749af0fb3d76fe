"""``apply --cluster`` (issue 23 item 3): Dask gives the process pool's outputs, loses only a dead worker's file,
stops on Ctrl+C and resumes; a missing extra or a bad value is a clear error.

One 2-worker ``LocalCluster`` serves the module (it takes seconds to start); the command line reaches it as a
remote scheduler, ``tcp://...``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from enhance_core.batch import plan_batch, process_on_worker, run_batch
from enhance_core.batch_manifest import MANIFEST_NAME
from enhance_core.cli import main
from enhance_core.errors import ParameterError
from enhance_core.image import Image
from enhance_core.io import write_image
from enhance_core.recipe import save_recipe
from enhance_core.stack import make_item
from tests.core.test_batch_processes import children, wait_gone

distributed = pytest.importorskip("distributed")

from enhance_core import batch_cluster  # noqa: E402 - after the skip: it needs the extra at run time
from enhance_core.batch_cluster import ClusterSpec, check_cluster, open_cluster, parse_cluster  # noqa: E402

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
COMMAND = [sys.executable, "-c", "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
           "from enhance_core.cli import main; sys.exit(main(sys.argv[1:]))"]
"""``enhance-studio`` with Ctrl+C handled even when the test runner ignores SIGINT (a background job)."""


@pytest.fixture(scope="module")
def cluster():
    """A 2-worker local cluster for the module."""
    with open_cluster(ClusterSpec(workers=2)) as opened:
        yield opened


@pytest.fixture
def collection(tmp_path) -> Path:
    """12 small PNGs in 3 subfolders and one broken file."""
    root = tmp_path / "archive"
    rng = np.random.default_rng(3)
    for folder in ("a", "b", "b/deep"):
        (root / folder).mkdir(parents=True)
        for index in range(4):
            write_image(Image(rng.random((24, 32, 3), dtype=np.float32)), root / folder / f"scan{index}.png")
    (root / "b" / "broken.png").write_bytes(b"not an image")
    return root


def outputs(folder: Path) -> dict[str, bytes]:
    """Every image under ``folder`` by relative path, with its bytes."""
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*.png"))}


def test_the_cluster_writes_the_process_pools_bytes_and_reports_the_broken_file(collection, tmp_path, cluster,
                                                                                  capsys) -> None:
    apply = ["apply", "--filter", "gaussian_blur", "--set", "sigma=1.5", "-r"]
    assert main([*apply, "--jobs", "2", "-o", str(tmp_path / "pool"), str(collection)]) == 1
    pool = capsys.readouterr()
    address = cluster.client.scheduler.address
    assert main([*apply, "--cluster", address, "-o", str(tmp_path / "dask"), str(collection)]) == 1
    dask = capsys.readouterr()
    assert len(outputs(tmp_path / "pool")) == 12
    assert outputs(tmp_path / "dask") == outputs(tmp_path / "pool")
    assert f"on the Dask cluster {address} (2 worker(s)" in dask.err
    assert dask.out.replace("dask", "pool") == pool.out
    assert f"{collection / 'b' / 'broken.png'}:" in dask.err and "12 of 13 file(s) written" in dask.out
    assert main([*apply, "--cluster", address, "-o", str(tmp_path / "dask"), str(collection)]) == 1
    assert "0 of 13 file(s) written" in capsys.readouterr().out
    assert (tmp_path / "dask" / MANIFEST_NAME).is_file()


def test_a_worker_that_dies_loses_only_its_file(tmp_path, cluster) -> None:
    for name in ("one", "dies", "two"):
        write_image(Image(np.full((8, 8, 3), 0.25, np.float32)), tmp_path / f"{name}.png")
    tasks = plan_batch(sorted(tmp_path.glob("*.png")), (make_item("negative"),), tmp_path / "out")
    (tmp_path / "out").mkdir()

    def die_on_one(task, steps):
        if task.source.name == "dies.png":
            os._exit(1)
        return process_on_worker(task, steps)

    results = run_batch(tasks, cluster=cluster)
    assert all(result.error is None for result in results)
    for task in tasks:
        task.output.unlink()
    finished: dict[int, object] = {}
    batch_cluster.run_on_cluster(cluster, die_on_one, tasks, [0, 1, 2], finish=finished.__setitem__,
                                 died=lambda task, cause: f"{task.source.name}: {cause}")
    assert finished[0] == "dies.png: its worker died each time it was run (out of memory? the workers' logs say)"
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["one.png", "two.png"]
    cluster.client.wait_for_workers(2, timeout=30)


def slow_batch(folder: Path, seed: int) -> tuple[Path, Path, Path]:
    """40 noisy pictures, a recipe slow enough that a batch of them can be stopped part-way, and the output folder."""
    inputs = folder / "in"
    inputs.mkdir()
    rng = np.random.default_rng(seed)
    for index in range(40):
        write_image(Image(rng.random((160, 160, 3), dtype=np.float32)), inputs / f"img{index}.png")
    return inputs, save_recipe([make_item("tv_denoise", {"weight": 0.5})] * 2, folder / "slow.json"), folder / "out"


def test_ctrl_c_stops_the_cluster_and_the_same_command_finishes_the_rest(tmp_path, cluster) -> None:
    inputs, recipe, out = slow_batch(tmp_path, 0)
    process = subprocess.Popen([*COMMAND, "apply", "--recipe", str(recipe), "-o", str(out), "--cluster", "local:2",
                                str(inputs)], stderr=subprocess.PIPE, text=True, start_new_session=True)
    for line in process.stderr:
        if "] ok " in line:
            break
    workers = children(process.pid)
    os.killpg(process.pid, signal.SIGINT)
    rest = process.stderr.read()
    process.stderr.close()
    assert process.wait() == 130, rest
    assert "Traceback" not in rest
    assert rest.strip().splitlines()[-1].startswith("interrupted: ")
    wait_gone(workers)
    assert not list(out.glob(".*.part"))
    written = {path.name for path in out.glob("*.png")}
    assert 1 <= len(written) < 40, "enough files that a Ctrl+C after the first always leaves some"
    statuses = {json.loads(line)["status"] for line in (out / MANIFEST_NAME).read_text(encoding="utf-8").splitlines()}
    assert "stopped" not in statuses, "a remote worker may yet write a file it runs: it stays the batch's"
    address = cluster.client.scheduler.address
    again = [*COMMAND, "apply", "--recipe", str(recipe), "-o", str(out), "--cluster", address, str(inputs)]
    finished = subprocess.run(again, capture_output=True, text=True, timeout=120)
    # A file a worker renamed into place after the Ctrl+C is the batch's (the files running were recorded as
    # begun): the rerun writes it again instead of asking, as it did, for --skip-existing every night.
    assert finished.returncode == 0 and "already exists" not in finished.stderr, finished.stderr
    summary = re.search(rf"(\d+) of 40 file\(s\) written to {re.escape(str(out))}(?:, (\d+) done in an earlier run)?",
                        finished.stdout)
    assert summary, finished.stdout
    now, earlier = int(summary[1]), int(summary[2] or 0)
    assert now + earlier == 40 and len(written) - 2 <= earlier <= len(written)
    assert len(list(out.glob("*.png"))) == 40


def test_a_scheduler_lost_mid_run_stops_the_batch_and_the_same_command_finishes_it(tmp_path, cluster,
                                                                                    capsys) -> None:
    """Its files were recorded as failed ("the cluster cancelled it"), which a plain rerun did not run again. The
    outputs written since the batch began count as written; one a worker writes after the stop is asked about, as
    any file at the output of a file the batch did not see begin (a user's file there is never written over)."""
    import threading
    import time

    inputs, recipe, out = slow_batch(tmp_path, 1)
    command = ["apply", "--recipe", str(recipe), "-o", str(out), "--cluster", cluster.client.scheduler.address,
               "-q", str(inputs)]

    def restart_after_the_first_file() -> None:
        deadline = time.monotonic() + 60
        while not list(out.glob("*.png")) and time.monotonic() < deadline:
            time.sleep(0.02)
        cluster.client.restart()

    restarting = threading.Thread(target=restart_after_the_first_file)
    restarting.start()
    assert main(command) == 1
    restarting.join()
    err = capsys.readouterr().err
    assert "Traceback" not in err and " - ERROR - " not in err
    assert err.strip().splitlines()[-1].startswith(
        f"stopped: the Dask scheduler at {cluster.client.scheduler.address} was lost or restarted (start it again "
        "first): ")
    cluster.client.wait_for_workers(2, timeout=30)
    status = main(command)
    err = capsys.readouterr().err
    asked = err.count("already exists; pass --skip-existing")  # at most one a worker: written after the stop
    assert status == (1 if asked else 0) and asked <= 2 and "Traceback" not in err, err
    if asked:
        assert main([*command, "--skip-existing"]) == 0
    assert len(list(out.glob("*.png"))) == 40 and not list(out.glob(".*.part"))


def test_an_address_that_is_no_dask_scheduler_is_a_clear_error_in_time(tmp_path, monkeypatch, capsys) -> None:
    """A port that took the connection and said nothing held the batch (Ctrl+C too) for ever; one that answered
    something else printed Dask's traceback."""
    import socket
    import threading

    write_image(Image(np.zeros((8, 8, 3), np.float32)), tmp_path / "a.png")
    monkeypatch.setattr(batch_cluster, "ANSWER_SECONDS", 2)
    listeners = []

    def listen(answer: bytes) -> str:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        listeners.append(server)

        def serve() -> None:
            while True:
                try:
                    connection, _ = server.accept()
                except OSError:
                    return
                listeners.append(connection)
                if answer:
                    connection.sendall(answer)
                    connection.close()

        threading.Thread(target=serve, daemon=True).start()
        return f"tcp://127.0.0.1:{server.getsockname()[1]}"

    try:
        for answer, said in ((b"", "took the connection but gave no Dask scheduler's answer in 2 s"),
                             (b"SSH-2.0-OpenSSH_9.6\r\n" + b"x" * 5000, "does not answer as a Dask scheduler")):
            address = listen(answer)
            assert main(["apply", "--filter", "negative", "--cluster", address, "-o", str(tmp_path / "out"),
                         str(tmp_path / "a.png")]) == 2
            error = capsys.readouterr().err
            assert error.startswith(f"error: {address} {said}") and error.count("\n") == 1, error
    finally:
        for listener in listeners:
            listener.close()


def test_storage_the_workers_cannot_write_is_refused_before_any_work(tmp_path, cluster) -> None:
    with pytest.raises(ParameterError, match=r"2 of 2 Dask worker\(s\) cannot use .* output folder .*missing"):
        check_cluster(cluster, tmp_path / "missing", None)
    check_cluster(cluster, tmp_path, None)


def test_without_the_extra_the_error_names_it(tmp_path, monkeypatch, capsys) -> None:
    write_image(Image(np.zeros((8, 8, 3), np.float32)), tmp_path / "a.png")
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert main(["apply", "--filter", "negative", "--cluster", "local:2", "-o", str(tmp_path / "out"),
                 str(tmp_path / "a.png")]) == 2
    error = capsys.readouterr().err
    assert "--cluster needs Dask distributed" in error and "pip install 'enhance-studio[cluster]'" in error
    assert not (tmp_path / "out").exists()


def test_a_scheduler_out_of_reach_is_a_clear_error_and_leaves_no_folder(tmp_path, monkeypatch, capsys) -> None:
    import socket

    write_image(Image(np.zeros((8, 8, 3), np.float32)), tmp_path / "a.png")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setattr(batch_cluster, "CONNECT_SECONDS", 1)
    out = tmp_path / "new" / "out"
    assert main(["apply", "--filter", "negative", "--cluster", address, "-o", str(out), str(tmp_path / "a.png")]) == 2
    error = capsys.readouterr().err
    assert f"cannot reach the Dask scheduler at {address}" in error and "Traceback" not in error
    assert not out.exists()


def test_an_output_that_is_a_file_is_refused_before_the_scheduler_is_called(tmp_path, monkeypatch, capsys) -> None:
    def unreachable(spec):
        raise AssertionError("the scheduler was called before -o was checked")

    monkeypatch.setattr(batch_cluster, "open_cluster", unreachable)
    write_image(Image(np.zeros((8, 8, 3), np.float32)), tmp_path / "a.png")
    (tmp_path / "out").write_text("a file")
    assert main(["apply", "--filter", "negative", "--cluster", "tcp://127.0.0.1:1", "-o", str(tmp_path / "out"),
                 str(tmp_path / "a.png")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_a_cluster_refused_before_any_work_leaves_no_folder(tmp_path, cluster, monkeypatch, capsys) -> None:
    def refuse(*args: object) -> None:
        raise ParameterError("2 of 2 Dask worker(s) cannot use the batch's files")

    write_image(Image(np.zeros((8, 8, 3), np.float32)), tmp_path / "a.png")
    monkeypatch.setattr(batch_cluster, "check_cluster", refuse)
    (tmp_path / "kept").mkdir()
    out = tmp_path / "kept" / "new" / "out"
    assert main(["apply", "--filter", "negative", "--cluster", cluster.client.scheduler.address, "-o", str(out),
                 str(tmp_path / "a.png")]) == 2
    assert "cannot use the batch's files" in capsys.readouterr().err
    assert not (tmp_path / "kept" / "new").exists() and (tmp_path / "kept").is_dir()


@pytest.mark.parametrize("value", ["local:0", "local:two", "local", "tcp://scheduler", "scheduler:8786",
                                   "tcp://scheduler:99999", "http://scheduler:8786"])
def test_a_bad_cluster_value_is_a_clear_error(value, tmp_path, capsys) -> None:
    assert main(["apply", "--filter", "negative", "--cluster", value, "-o", str(tmp_path), "x.png"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: --cluster {value!r}") and "Traceback" not in error


def test_cluster_values(capsys) -> None:
    assert parse_cluster("local:3") == ClusterSpec(workers=3)
    assert parse_cluster(" tcp://10.0.0.5:8786 ") == ClusterSpec(address="tcp://10.0.0.5:8786")
    assert str(parse_cluster("tls://[::1]:8786")) == "tls://[::1]:8786"
    assert main(["apply", "--filter", "negative", "--cluster", "local:2", "--jobs", "2", "-o", "out", "x.png"]) == 2
    assert "--jobs sizes the local process pool" in capsys.readouterr().err


def test_a_scheduler_that_cannot_say_what_ran_has_no_file_recorded_as_begun() -> None:
    """All were counted begun, so the rerun wrote over a file the user had put at an output name never started."""
    class Gone:
        def processing(self):
            raise OSError("the scheduler is gone")

    class Future:
        key, status = "enhance-file-0-x", "cancelled"

    assert batch_cluster._started(Gone(), {Future(): 0}) == set()


def test_ctrl_c_while_an_address_is_asked_stops_at_once(tmp_path) -> None:
    """The wait for a silent port held Ctrl+C until its 20 s deadline, then ended as an error."""
    import socket
    import time

    write_image(Image(np.zeros((8, 8, 3), np.float32)), tmp_path / "a.png")
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"tcp://127.0.0.1:{silent.getsockname()[1]}"
        process = subprocess.Popen([*COMMAND, "apply", "--filter", "negative", "--cluster", address, "-o",
                                    str(tmp_path / "out"), str(tmp_path / "a.png")], stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        said = process.communicate(timeout=15)[1]
        assert process.returncode == 130 and time.monotonic() - sent < 5, said
    assert said.strip().splitlines()[-1].startswith("interrupted") and "Traceback" not in said



def test_an_output_written_between_two_looks_at_the_workers_counts_as_running(tmp_path) -> None:
    """Begun and ended between two looks, a file was called not started: 0 written though its output was there."""
    import time

    from enhance_core.batch import take_late_outputs
    from enhance_core.batch_tasks import FileTask

    old = tmp_path / "old.png"
    old.write_bytes(b"an output from before the batch")
    os.utime(old, (1.0, 1.0))
    started = time.time() - 1.0
    (tmp_path / "late.png").write_bytes(b"written by a worker")
    (tmp_path / "saved.png").write_bytes(b"the user's, there before the batch and saved again meanwhile")
    names = ("old", "late", "none", "saved")
    tasks = [FileTask(tmp_path / f"{name}.tif", tmp_path / f"{name}.png", ()) for name in names]
    interrupted = batch_cluster.BatchInterrupted([], [0, 1, 2, 3])
    take_late_outputs(interrupted, tasks, started, {0, 3})
    assert (interrupted.running, interrupted.not_started) == ([1], [0, 2, 3])


def test_a_result_cancelled_as_it_arrives_stops_the_batch_not_fails_the_file(tmp_path) -> None:
    """Cancelled by a restarting scheduler between its arrival and its reading, a file was recorded as failed ("its
    result was lost"), which a plain rerun then did not run again."""
    from enhance_core.batch_tasks import FileTask

    class FutureCancelledError(Exception):
        pass

    class Arrived:
        status = "finished"

        def result(self):
            self.status = "cancelled"
            raise FutureCancelledError("cancelled for reason: scheduler-restart")

    task = FileTask(tmp_path / "a.png", tmp_path / "out" / "a.png", ())
    assert batch_cluster._result(Arrived(), task, task, lambda task, cause: cause) is None
