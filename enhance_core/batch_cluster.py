"""Run a batch on a Dask distributed cluster (``enhance-studio apply --cluster``).

:func:`parse_cluster` reads ``local:N`` (a ``LocalCluster`` of N worker
processes with one thread each, started for the run) or ``tcp://HOST:PORT``
(a running scheduler); :func:`open_cluster` starts or connects to it and
closes it at the end. Dask is the optional ``cluster`` extra, imported only
here and only when a cluster is asked for.

:func:`run_on_cluster` submits one task per file, the same function the
process pool runs (:func:`enhance_core.batch.process_file`). The steps are
sent once, as a task of their own that every file's task depends on (Dask
copies its result to the workers that need it, and makes it again should
every worker holding it die); each file's task has absolute paths, so
workers whose working folder differs read and write the same files.
Workers keep their learned models loaded between files as the pool's
processes do. Results come back to this process, which records them as the
pool's (manifest, progress, report), with the paths as this process named
them.

A worker that dies costs only the file it was running: Dask runs it again
on another worker (``local:N`` allows one more try; a scheduler you started
keeps its own ``distributed.scheduler.allowed-failures``, 3 by default),
then the file is reported as failed. ``local:N`` gives each worker one file
at a time (``worker-saturation`` 1.0), so a death blames no file waiting
behind the one that was running. A finished file whose result died with
its worker before this process fetched it is run again too (its output is
written again, the same: the run decided before submitting that it may
write it). Ctrl+C cancels what is left, closes the client (and the local
cluster, whose workers stop at once), removes partial files and raises
:class:`BatchInterrupted`; a worker of a remote cluster finishes the file
it is writing, whole (outputs are renamed into place), and the manifest
lets the same command finish the rest.
"""

from __future__ import annotations

import dataclasses
import logging
import pickle
import re
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from enhance_core.batch_workers import (POLL_SECONDS, BatchInterrupted, StopBatch, ignore_sigint,
                                        remove_partial_files, sigint_held, stop_reason)
from enhance_core.errors import ParameterError

if TYPE_CHECKING:
    from enhance_core.batch_tasks import FileResult, FileTask

EXTRA = "pip install 'enhance-studio[cluster]'"
"""How to install what ``--cluster`` needs."""
CONNECT_SECONDS = 10
"""How long to try to reach a scheduler."""
ANSWER_SECONDS = 20
"""How long a scheduler reached may take to answer as one."""
SEEN_SECONDS = 1.0
"""How often a run asks the scheduler which files its workers are processing: those are the batch's own outputs if
they appear after a stop (a remote worker finishes what it began; a lost scheduler cannot say any more)."""
WORKER_WAIT_SECONDS = 30
"""How long to wait for a scheduler's first worker."""
LOCAL_ALLOWED_FAILURES = 1
"""Times a ``local:N`` cluster runs a file again after its worker died (Dask's ``allowed-failures``)."""
_LOCAL = re.compile(r"local:(?P<workers>\d+)")
_ADDRESS = re.compile(r"(?P<scheme>tcp|tls)://(?P<host>[^\s:/]+|\[[0-9a-fA-F:.]+\]):(?P<port>\d+)")


@dataclass(frozen=True)
class ClusterSpec:
    """What ``--cluster`` asked for: ``workers`` local processes, or a scheduler's ``address``."""

    workers: int = 0
    address: str = ""

    def __str__(self) -> str:
        return f"local:{self.workers}" if self.address == "" else self.address


@dataclass
class Cluster:
    """An open cluster: its client, what it is (for messages) and how to close it (idempotent)."""

    client: Any
    spec: ClusterSpec
    close: Callable[[], None]

    @property
    def workers(self) -> int:
        """The workers connected now."""
        return len(self.client.scheduler_info(n_workers=-1).get("workers", {}))

    @property
    def dashboard(self) -> str | None:
        """The address of Dask's dashboard, when it has one."""
        return self.client.dashboard_link or None


def parse_cluster(text: str) -> ClusterSpec:
    """Read a ``--cluster`` value: ``local:N`` (N >= 1) or ``tcp://HOST:PORT`` (``tls://`` too)."""
    value = text.strip()
    if (local := _LOCAL.fullmatch(value)) is not None:
        workers = int(local["workers"])
        if workers < 1:
            raise ParameterError(f"--cluster {text!r}: a local cluster needs at least 1 worker (local:2, say)")
        return ClusterSpec(workers=workers)
    if (address := _ADDRESS.fullmatch(value)) is not None:
        if not 1 <= int(address["port"]) <= 65535:
            raise ParameterError(f"--cluster {text!r}: the port must be 1-65535 (a Dask scheduler listens on 8786)")
        return ClusterSpec(address=value)
    raise ParameterError(f"--cluster {text!r} is neither local:N (N worker processes on this machine) nor "
                         "tcp://HOST:PORT (a running Dask scheduler, e.g. tcp://10.0.0.5:8786)")


def import_distributed() -> Any:
    """The ``distributed`` package; a clear error naming the extra when it is not installed."""
    try:
        import distributed
    except ImportError as error:
        raise ParameterError(f"--cluster needs Dask distributed, which cannot be imported ({error}); install it "
                             f"with {EXTRA}") from None
    return distributed


@contextmanager
def open_cluster(spec: ClusterSpec) -> Iterator[Cluster]:
    """Start the local cluster or connect to the scheduler; close both when the block ends.

    Ctrl+C is held while the local cluster starts and raised once it can be
    closed, and its workers ignore it (this process stops them); while a
    remote scheduler is asked, Ctrl+C stops the wait at once, and its
    workers are left as they are.
    """
    distributed = import_distributed()
    import dask

    with ExitStack() as stack:
        if spec.address == "":
            with sigint_held():
                with dask.config.set({"distributed.scheduler.allowed-failures": LOCAL_ALLOWED_FAILURES,
                                      "distributed.scheduler.worker-saturation": 1.0}):
                    local = distributed.LocalCluster(n_workers=spec.workers, threads_per_worker=1, processes=True,
                                                     dashboard_address=":0", silence_logs=logging.CRITICAL)
                stack.callback(local.close)
                client = distributed.Client(local)
                stack.callback(client.close)
                client.register_plugin(_ignoring_ctrl_c(distributed), name="enhance-ignore-ctrl-c")
        else:
            for name in ["distributed", *(name for name in logging.root.manager.loggerDict
                                           if name.startswith("distributed."))]:
                quiet = logging.getLogger(name)  # a scheduler lost mid-run: the summary says so, in a line
                stack.callback(quiet.setLevel, quiet.level)  # after the client's close, which logs it again
                quiet.setLevel(logging.CRITICAL)
            client = _connect(distributed, spec.address)
            stack.callback(client.close)
        yield Cluster(client, spec, stack.close)


def _connect(distributed: Any, address: str) -> Any:
    """A client of the scheduler at ``address``, or a clear error within :data:`ANSWER_SECONDS`.

    Dask's own timeout covers reaching the address, not its answer: a port that takes the connection and
    says nothing (a dashboard, a proxy) held the batch for ever, and one that answers something else (SSH)
    raised from deep in Dask's decoding.

    Raises
    ------
    ParameterError
        The address cannot be reached, does not answer in time, or does not answer as a Dask scheduler.
    """
    answer: SimpleQueue[Any] = SimpleQueue()

    def connect() -> None:
        try:
            answer.put(distributed.Client(address, timeout=CONNECT_SECONDS))
        except BaseException as error:  # noqa: BLE001 - whatever it is, the main thread reports it
            answer.put(error)

    threading.Thread(target=connect, name="dask-connect", daemon=True).start()
    try:
        client = answer.get(timeout=ANSWER_SECONDS)
    except Empty:
        raise ParameterError(f"{address} took the connection but gave no Dask scheduler's answer in {ANSWER_SECONDS} "
                             "s; check --cluster (a scheduler listens on 8786, its dashboard on 8787)") from None
    if isinstance(client, (OSError, TimeoutError)):
        raise ParameterError(f"cannot reach the Dask scheduler at {address} ({client}); start it with "
                             "`dask scheduler` or check --cluster")
    if isinstance(client, BaseException):
        raise ParameterError(f"{address} does not answer as a Dask scheduler ({type(client).__name__}); check "
                             "--cluster (a scheduler listens on 8786)")
    return client


def _ignoring_ctrl_c(distributed: Any) -> Any:
    """A worker plugin: the worker (started now or restarted later) ignores Ctrl+C."""

    class IgnoreCtrlC(distributed.WorkerPlugin):
        def setup(self, worker: Any) -> None:
            ignore_sigint()

    return IgnoreCtrlC()


def check_cluster(cluster: Cluster, output: Path, sample: Path | None) -> None:
    """Before any work: every worker can write ``output`` and read ``sample`` (an input).

    Raises
    ------
    ParameterError
        No worker joined in :data:`WORKER_WAIT_SECONDS`, or a worker cannot
        write the output folder or read the input (not on storage it shares).
    """
    try:
        cluster.client.wait_for_workers(1, timeout=WORKER_WAIT_SECONDS)
    except TimeoutError:
        raise ParameterError(f"no Dask worker joined {cluster.spec} in {WORKER_WAIT_SECONDS} s; start workers "
                             f"with `dask worker {cluster.spec}`") from None
    from enhance_core.batch_tasks import storage_refusal

    answers = cluster.client.run(storage_refusal, str(output.absolute()),
                                 None if sample is None else str(sample.absolute()))
    refused = {worker: answer for worker, answer in answers.items() if answer is not None}
    if refused:
        worker, answer = sorted(refused.items())[0]
        raise ParameterError(f"{len(refused)} of {len(answers)} Dask worker(s) cannot use the batch's files "
                             f"(worker {worker}: {answer}); put inputs and -o on storage every worker shares, "
                             "at the same path, writable by the workers")


def run_on_cluster(cluster: Cluster, fn: Callable[[FileTask, Any], FileResult], tasks: Sequence[FileTask],
                   pending: list[int], *, finish: Callable[[int, FileResult], None],
                   died: Callable[[FileTask, str], FileResult]) -> None:
    """Run ``fn(task, steps)`` on the cluster for each pending task; ``finish(i, result)`` here as each ends.

    ``fn`` gets the task with absolute paths and no steps, and the steps
    (sent once). A task that raised or whose worker died gets
    ``died(task, cause)``.

    Raises
    ------
    BatchInterrupted
        Ctrl+C: the futures are cancelled, the cluster closed and the partial
        files of the files that were running removed.
    """
    client = cluster.client
    running: dict[Any, int] = {}
    sent = {index: _absolute(tasks[index]) for index in pending}
    arrived: SimpleQueue[Any] = SimpleQueue()
    seen: set[str] = set()  # keys the workers were seen processing
    try:
        with sigint_held():
            groups: dict[tuple[int, ...], list[int]] = {}
            for index in pending:
                groups.setdefault(tuple(map(id, tasks[index].steps)), []).append(index)
            batch = uuid.uuid4().hex[:8]
            for indices in groups.values():
                steps = client.submit(pickle.loads, pickle.dumps(tasks[indices[0]].steps), pure=False,
                                      key=f"enhance-steps-{indices[0]}-{batch}")
                futures = client.map(fn, [sent[index] for index in indices], steps=steps, retries=1, pure=False,
                                     key=[f"enhance-file-{index}-{batch}" for index in indices])
                for index, future in zip(indices, futures):
                    running[future] = index
                    future.add_done_callback(arrived.put)
        looked = time.monotonic()
        while running:
            with sigint_held():
                if time.monotonic() - looked >= SEEN_SECONDS:
                    seen |= _processing(client)
                    looked = time.monotonic()
                try:
                    done = [arrived.get(timeout=POLL_SECONDS)]
                except Empty:
                    continue
                while not arrived.empty():
                    done.append(arrived.get())
                for future in done:
                    index = running[future]
                    result = _result(future, tasks[index], sent[index], died)
                    if result is None:  # cancelled, not by this client: its scheduler was lost or restarted
                        raise StopBatch(f"the Dask scheduler at {cluster.spec} was lost or restarted (start it "
                                        "again first)")
                    del running[future]
                    finish(index, result)
    except KeyboardInterrupt as stop:
        started = _started(client, running) | seen
        client.cancel(list(running))
        cluster.close()
        remove_partial_files(tasks[index].output for index in running.values())
        stopped = sorted(index for future, index in running.items() if future.key in started)
        raise BatchInterrupted(stopped, sorted(index for index in running.values() if index not in stopped),
                               reason=stop_reason(stop)) from None


def _processing(client: Any) -> set[str]:
    """Keys the workers are processing; none when the scheduler cannot say (gone)."""
    try:
        return {key for keys in client.processing().values() for key in keys}
    except Exception:  # noqa: BLE001 - a scheduler already gone: no file is known to have begun
        return set()


def _started(client: Any, running: dict[Any, int]) -> set[str]:
    """Keys of ``running`` that workers are processing or had finished. Only those are recorded as begun, whose
    outputs a rerun writes over: a file the user put at the output name of one not begun is asked about."""
    return _processing(client) | {future.key for future in running if future.status not in ("pending", "cancelled")}


def _result(future: Any, task: FileTask, sent: FileTask,
            died: Callable[[FileTask, str], FileResult]) -> FileResult | None:
    """The result of a finished future, with this process's paths; a failure of the task itself via ``died``;
    None when the cluster cancelled it (as it arrived, too: a scheduler restarting)."""
    if future.status == "cancelled":
        return None
    if future.status != "finished":
        error = future.exception()
        if type(error).__name__ == "KilledWorker":
            cause = "its worker died each time it was run (out of memory? the workers' logs say)"
        else:
            cause = f"the task failed: {type(error).__name__}" + (f": {error}" if str(error) else "")
        return died(task, cause)
    try:
        result: FileResult = future.result()
    except Exception as error:  # noqa: BLE001 - a result lost with its worker and not made again
        if future.status == "cancelled" or "Cancelled" in type(error).__name__:
            return None
        return died(task, f"its result was lost: {type(error).__name__}: {error}")
    return dataclasses.replace(
        result, source=task.source, reference=task.reference,
        output=task.output if result.output == sent.output else result.output,
        error=None if result.error is None else result.error.replace(str(sent.source), str(task.source)))


def _absolute(task: FileTask) -> FileTask:
    """The task as a worker gets it: absolute paths, no steps (they come once), may write its output."""
    return dataclasses.replace(task, steps=(), overwrite=True, source=task.source.absolute(),
                               output=task.output.absolute(), mask=None if task.mask is None else task.mask.absolute(),
                               reference=None if task.reference is None else task.reference.absolute())
