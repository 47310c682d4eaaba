"""The default executor: long-lived, pre-warmed worker processes on this machine.

Each worker (`core.jobs.worker_process`) is a `spawn`ed process with TensorFlow imported and
MNIST loaded before its first job; the server process itself never imports TensorFlow for a
training. A watcher thread per worker routes its messages to the job it runs, and notices when
the process dies: the job's run is then marked `interrupted` (its finished epochs kept), the job
ends with `WorkerLost`, and a fresh worker takes the dead one's place. A worker whose memory grew
past `memory_limit_mb` after a job retires and is replaced the same way.

While a job runs, its watcher also reads the worker's resident size from /proc every
`MEMORY_CHECK_SECONDS`, from outside the worker (a worker that is swapping, or inside one huge
TensorFlow op, cannot police itself). A worker above `job_memory_limit_mb` is killed: its run is
marked `stopped` with the reason (`core.jobs.memory_cap.exceeded_reason`), its finished epochs kept,
the job ends with that `RunDone`, and a fresh worker takes the next job.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import queue
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from core.jobs.executor import Command, Executor, JobError, JobHandle, JobRequest, WorkerLost, events_until_done
from core.jobs import worker_process
from core.jobs.memory_cap import DEFAULT_JOB_MEMORY_LIMIT_MB, MemoryCapError, exceeded_reason
from core.jobs.memory_cap import job_memory_limit_mb as job_memory_limit
from core.jobs.worker_process import send_command, worker_main
from core.runs.lost_runs import mark_ended, mark_interrupted
from core.runs.store import METRICS_FILE, read_metrics, run_path
from core.training.events import STOPPED, EpochEnd, Progress, RunDone

WORKERS_ENV = "MNIST_LAB_MAX_CONCURRENT_TRAININGS"
DEFAULT_WORKERS = 1  # a 2-core CPU trains one model at full speed; two would each run at half
MEMORY_LIMIT_ENV = "MNIST_LAB_WORKER_MEMORY_LIMIT_MB"
WARM_MODELS_ENV = "MNIST_LAB_WORKER_WARM_MODELS"
DEFAULT_WARM_MODELS = "fast,lenet5"  # the Train page's first model (99% in one epoch), then the first write-up CNN
DEFAULT_MEMORY_LIMIT_MB = 1500  # a worker with TensorFlow holds ~600-700 MiB; a big CNN's run leaves more
WATCH_SECONDS = 0.2  # how often a watcher checks that its worker is alive
MEMORY_CHECK_SECONDS = 0.25  # how often a busy worker's resident size is read from /proc
MAX_FAILED_STARTS = 3  # workers in a row dying before they are ready: the executor gives up


def _env_number(name: str, default: float, cast=int):
    """`$name` as a non-negative number, else `default` (also for text that is not a number)."""
    try:
        return max(cast(os.environ.get(name, default)), 0)
    except ValueError:
        return default


def process_resident_megabytes(pid: int | None) -> float:
    """Process `pid`'s resident set size (VmRSS) in MiB; 0 when it is gone or /proc is missing."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def default_workers() -> int:
    return max(1, _env_number(WORKERS_ENV, DEFAULT_WORKERS))


_MAIN_SWAP = threading.Lock()


@contextmanager
def _worker_module_as_main():
    """Let `spawn` re-import `core.jobs.worker_process` in the child, not the parent's `__main__`.

    A spawned child first re-runs its parent's main module. Under Streamlit that is the page
    script (`sys.modules["__main__"]` is the running page), and re-running it in the child would
    start the dashboard, and a worker, again. For the moment of the start, the main module is the
    worker's own, which is safe to import.
    """
    with _MAIN_SWAP:
        parent_main = sys.modules.get("__main__")
        sys.modules["__main__"] = worker_process
        try:
            yield
        finally:
            sys.modules["__main__"] = parent_main


class _Worker:
    """One worker process, its two queues, and the job it runs now (if any)."""

    def __init__(self, context, mnist_path: str | None, memory_limit_mb: float, warm_models: tuple[str, ...] = ()):
        self.inbox = context.Queue()
        self.outbox = context.Queue()
        self.process = context.Process(
            target=worker_main, args=(self.inbox, self.outbox, mnist_path, memory_limit_mb, warm_models),
            name="mnist-lab-worker", daemon=True,
        )
        with _worker_module_as_main():
            self.process.start()
        self.ready = threading.Event()
        self.job: _LocalJob | None = None
        self.jobs_done = 0
        self.over_cap_mb: float | None = None  # the resident size it was killed at, for crossing the cap per job
        self.memory_checked = 0.0  # time.monotonic() of the last read of its resident size

    @property
    def pid(self) -> int | None:
        return self.process.pid


class _LocalJob(JobHandle):
    def __init__(self, worker: _Worker, request: JobRequest):
        self.worker = worker
        self.request = request
        self.queue: queue.Queue = queue.Queue()
        self.ended = False

    def events(self) -> Iterator[Progress | EpochEnd | RunDone]:
        return events_until_done(self.queue)

    def send(self, command: Command) -> None:
        if not self.ended:
            send_command(self.worker.inbox, self.request.run_name, command)


class LocalExecutor(Executor):
    """Run jobs in `workers` warm processes on this machine.

    Args:
        workers: processes, one job each at a time (default `$MNIST_LAB_MAX_CONCURRENT_TRAININGS`, else 1).
        mnist_path: the MNIST file workers load while warming up (None = the loader's search order).
        memory_limit_mb: a worker above this resident size after a job is replaced
            (default `$MNIST_LAB_WORKER_MEMORY_LIMIT_MB`, else 1500; 0 = never).
        job_memory_limit_mb: a worker above this resident size while it trains is killed and replaced, its
            job stopped with the reason (default `$MNIST_LAB_JOB_MEMORY_LIMIT_MB`, else 3000; 0 = never).
        warm_models: presets each worker traces once ready, while no job waits (default
            `$MNIST_LAB_WORKER_WARM_MODELS`, comma-separated, else fast and lenet5; empty = none).
    """

    name = "local"

    def __init__(self, workers: int | None = None, mnist_path: str | None = None, memory_limit_mb: float | None = None,
                 warm_models: tuple[str, ...] | None = None, job_memory_limit_mb: float | None = None):
        self._slots = workers or default_workers()
        self.mnist_path = None if mnist_path is None else str(mnist_path)
        if warm_models is None:
            warm_models = tuple(n.strip() for n in os.environ.get(WARM_MODELS_ENV, DEFAULT_WARM_MODELS).split(",") if n.strip())
        self.warm_models = warm_models
        self.memory_limit_mb = _env_number(MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT_MB, float) if memory_limit_mb is None else memory_limit_mb
        if job_memory_limit_mb is None:
            try:
                job_memory_limit_mb = job_memory_limit()
            except MemoryCapError:  # a bad setting: every Start says so and is refused; a job running anyway keeps the default cap
                job_memory_limit_mb = DEFAULT_JOB_MEMORY_LIMIT_MB
        self.job_memory_limit_mb = job_memory_limit_mb
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Condition()
        self._workers: list[_Worker] = []  # alive or warming, idle or busy
        self._idle: list[_Worker] = []
        self._closed = False
        self._failed_starts = 0  # workers in a row that died before they were ready
        self._broken: str | None = None  # why no more workers are started
        self.workers_started = 0  # for tests and benchmarks: replacements count too
        atexit.register(self.close)  # at interpreter exit no worker is replaced, and each is told to go
        for _ in range(self._slots):
            self._add_worker()

    @property
    def slots(self) -> int:
        return self._slots

    def worker_pids(self) -> list[int]:
        """The pids of the live workers, idle or busy (for tests and benchmarks)."""
        with self._lock:
            return [worker.pid for worker in self._workers if worker.process.is_alive()]

    def wait_until_warm(self, timeout: float | None = None) -> bool:
        """Block until every worker has warmed up; False if `timeout` passed first."""
        with self._lock:
            workers = list(self._workers)
        return all(worker.ready.wait(timeout) for worker in workers)

    def start(self, request: JobRequest) -> JobHandle:
        with self._lock:
            while not self._idle:
                if self._closed:
                    raise JobError("The executor was shut down; the server is stopping.")
                if self._broken:
                    raise JobError(f"Trainings cannot run: {self._broken}. Fix it and restart the server.")
                self._lock.wait()
            worker = self._idle.pop(0)
            if request.supervisor_pid is None:
                request = replace(request, supervisor_pid=os.getpid())
            job = worker.job = _LocalJob(worker, request)
        worker.inbox.put(("job", request))
        return job

    def close(self, grace_seconds: float = 5.0) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
            self._lock.notify_all()
        for worker in workers:
            try:
                worker.inbox.put(("exit",))
            except (OSError, ValueError):
                pass
        for worker in workers:
            worker.process.join(timeout=grace_seconds)
            if worker.process.is_alive():
                worker.process.kill()

    # --- workers ------------------------------------------------------------------------------

    def _add_worker(self) -> None:
        worker = _Worker(self._context, self.mnist_path, self.memory_limit_mb, self.warm_models)
        with self._lock:
            self._workers.append(worker)
            self._idle.append(worker)
            self.workers_started += 1
            self._lock.notify_all()
        threading.Thread(target=self._watch, args=(worker,), name=f"watch-worker-{worker.pid}", daemon=True).start()

    def _watch(self, worker: _Worker) -> None:
        """Route the worker's messages until it exits; then replace it, unless shutting down."""
        while True:
            self._police_memory(worker)
            try:
                message = worker.outbox.get(timeout=WATCH_SECONDS)
            except queue.Empty:
                if worker.process.is_alive():
                    continue
                try:  # it died: read what it said before dying
                    message = worker.outbox.get(timeout=WATCH_SECONDS)
                except queue.Empty:
                    self._lost(worker)
                    return
            except (EOFError, OSError):
                self._lost(worker)
                return
            kind = message[0]
            if kind == "ready":
                worker.ready.set()
            elif kind == "event":
                job = worker.job
                if job is not None and job.request.run_name == message[1]:
                    job.queue.put(message[2])
            elif kind == "error":
                job = worker.job
                if job is not None and job.request.run_name == message[1]:
                    job.ended = True
                    job.queue.put(JobError(message[2]))
            elif kind in ("idle", "retiring"):
                with self._lock:
                    if worker.job is not None:
                        worker.job.ended = True
                    worker.job = None
                    worker.jobs_done += 1
                    if kind == "idle":
                        self._idle.append(worker)
                        self._lock.notify_all()
                if kind == "retiring":
                    worker.process.join(timeout=30)
                    self._replace(worker)
                    return

    def _police_memory(self, worker: _Worker) -> None:
        """Kill a busy worker whose resident size crossed the cap per job (the watcher then ends its job)."""
        limit = self.job_memory_limit_mb
        now = time.monotonic()
        if not limit or worker.job is None or worker.over_cap_mb is not None or now - worker.memory_checked < MEMORY_CHECK_SECONDS:
            return
        worker.memory_checked = now
        resident = process_resident_megabytes(worker.pid)
        if resident > limit:
            worker.over_cap_mb = resident
            worker.process.kill()

    def _lost(self, worker: _Worker) -> None:
        """The worker died: end its job as interrupted, and start a fresh worker in its place."""
        with self._lock:
            job, worker.job = worker.job, None
            if worker in self._idle:
                self._idle.remove(worker)
        self._replace(worker)  # first: whoever hears of the loss finds the fresh worker already starting
        if job is not None and not job.ended and worker.over_cap_mb is not None:
            job.ended = True
            job.queue.put(self._stopped_at_cap(job.request, worker.over_cap_mb))
        elif job is not None and not job.ended:
            job.ended = True
            code = worker.process.exitcode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exited with status {code}"
            try:
                mark_interrupted(job.request.runs_dir, job.request.run_name, f"its worker process ({worker.pid}) {how}")
            except Exception:  # still end the job: with its worker gone, the run reads back as interrupted anyway
                pass
            job.queue.put(WorkerLost(f"The training's worker process died ({how}); its finished epochs are kept."))

    def _stopped_at_cap(self, request: JobRequest, resident_mb: float) -> RunDone:
        """Mark the run of a worker killed at the cap `stopped`, keeping its epochs, and say so as its end."""
        reason = exceeded_reason(resident_mb, self.job_memory_limit_mb)
        folder = run_path(request.runs_dir, request.run_name)  # a name the worker already accepted
        try:
            mark_ended(request.runs_dir, request.run_name, STOPPED, reason)
        except Exception:  # still end the job: with its worker gone, the run reads back as interrupted anyway
            pass
        epochs, _ = read_metrics(folder / METRICS_FILE)
        return RunDone(STOPPED, f"{reason}; {len(epochs)} finished epoch(s) kept", len(epochs), None, None, str(folder),
                       request.run_name)

    def _replace(self, worker: _Worker) -> None:
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
            if worker.ready.is_set():
                self._failed_starts = 0
            else:  # it died warming up: a crash loop must end, not spawn forever
                self._failed_starts += 1
                if self._failed_starts >= MAX_FAILED_STARTS:
                    self._broken = (f"{MAX_FAILED_STARTS} training workers in a row died while starting "
                                    f"(last exit status {worker.process.exitcode}); the server log says why")
                    self._lock.notify_all()
            stop = self._closed or self._broken
        if not stop:
            self._add_worker()
