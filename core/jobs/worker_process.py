"""What a local worker process does: warm up once, then train the jobs it is sent, one at a time.

Started by `core.jobs.local_executor` with the `spawn` method (never `fork` after TensorFlow is
imported). It imports TensorFlow and loads MNIST before the first job arrives, so a job's
first progress comes within a second of Start. Messages, all picklable tuples:

    inbox  (server → worker): ("job", JobRequest) | ("command", run_name, Command) | ("exit",)
    outbox (worker → server): ("ready", pid) | ("event", run_name, event) | ("error", run_name, message)
                              | ("idle", rss_mb) | ("retiring", rss_mb)

After each job the worker reports its resident memory; past `memory_limit_mb` it retires (exits)
so the memory goes back to the machine, and the executor starts a fresh one.
"""

from __future__ import annotations

import gc
import os
import queue
import sys
import threading
import time
import traceback

from core.config.train_config import ConfigError
from core.data.mnist import DatasetError
from core.jobs.executor import Command, JobRequest, obey
from core.runs.store import RunError
from core.training.control import TrainingControl

EXPECTED_ERRORS = (ConfigError, DatasetError, RunError)  # bad input or a full disk, not a bug
ORPHAN_CHECK_SECONDS = 0.5
WORKER_NICENESS = 5  # CPU priority below the server's, whose pages must answer while a worker trains


def resident_megabytes() -> float:
    """This process's resident set size (VmRSS), in MiB; 0 where /proc is missing."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class _Mailroom:
    """Reads the inbox on its own thread, so commands reach a training while it runs."""

    def __init__(self, inbox):
        self.inbox = inbox
        self.jobs: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._controls: dict[str, TrainingControl] = {}
        threading.Thread(target=self._read, name="worker-inbox", daemon=True).start()

    def _read(self) -> None:
        """Deliver each message; nothing a message holds may end this thread (Stop and time limits go through it)."""
        while True:
            try:
                message = self.inbox.get()
            except (EOFError, OSError):  # the server went away
                message = ("exit",)
            except Exception:  # a message that could not be unpickled: drop it, keep reading
                traceback.print_exc()
                continue
            try:
                if self._deliver(message):
                    return
            except Exception:  # a malformed message (never sent by the executor): the console keeps the details
                traceback.print_exc()

    def _deliver(self, message) -> bool:
        """Act on one inbox message; True when it told the worker to exit."""
        kind = message[0]
        if kind == "job":
            request: JobRequest = message[1]
            control = TrainingControl()  # made now: a Stop sent before training starts still counts
            with self._lock:
                self._controls[request.run_name] = control
            self.jobs.put((request, control))
        elif kind == "command":
            _, run_name, command = message
            with self._lock:
                control = self._controls.get(run_name)
            if control is not None:
                failed = obey(control, command)  # never raises: a failing command stops its job instead
                if failed:
                    print(f"worker {os.getpid()}: run {run_name!r}: {failed}", file=sys.stderr, flush=True)
        elif kind == "exit":
            self.jobs.put(None)
            return True
        return False

    def done(self, run_name: str) -> None:
        with self._lock:
            self._controls.pop(run_name, None)


def worker_main(inbox, outbox, mnist_path: str | None, memory_limit_mb: float, warm_models: tuple[str, ...] = ()) -> None:
    """The worker's whole life: warm up, report ready, train jobs until told to exit or retiring.

    `warm_models`: models whose Train-form defaults have their steps traced once ready, while no job waits, so their first
    run starts at once too (`core.training.compiled_models.warm_up`).
    """
    try:  # below the web server: the pages stay quick while both cores train
        os.nice(WORKER_NICENESS)
    except OSError:
        pass
    import core  # noqa: F401  (oneDNN on before TensorFlow loads)
    from core.jobs.quiet_tensorflow_start import import_tensorflow_quietly

    import_tensorflow_quietly()  # the warm-up: ~2-5 s paid here, not by the first job

    from core.data.mnist import load_mnist
    from core.runs.recorded_run import RecordedRun
    from core.config.train_form import build_config, default_values
    from core.data.splits import make_splits
    from core.training.compiled_models import CompiledModels, warm_up

    datasets: dict[str | None, object] = {}
    compiled_models = CompiledModels()  # the next run of a graph this worker traced skips tracing

    def mnist_for(path: str | None):
        if path not in datasets:
            datasets.clear()  # one dataset in memory at a time
            datasets[path] = load_mnist(path)
        return datasets[path]

    try:
        mnist_for(mnist_path)
    except DatasetError as error:  # each job that needs it reports the loader's message; the log says it once
        print(f"mnist-lab worker {os.getpid()}: {error}", file=sys.stderr, flush=True)
        warm_models = ()  # the warm-up would fail the same way, once per model
    except Exception:  # reported to the job that needs it, with the loader's own message
        traceback.print_exc()
        warm_models = ()
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), name="worker-orphan-watch", daemon=True).start()
    mailroom = _Mailroom(inbox)
    outbox.put(("ready", os.getpid()))
    for model_name in warm_models:
        if not mailroom.jobs.empty():  # a job came first: it goes ahead of the warm-up
            break
        try:
            config = build_config(default_values(model_name))  # as the Train form first offers it
            warm_up(compiled_models, config, make_splits(mnist_for(mnist_path), config))
        except Exception:  # never fatal: the model's first run traces its steps itself
            traceback.print_exc()
    while True:
        item = mailroom.jobs.get()
        if item is None:
            return
        request, control = item
        try:
            run = RecordedRun(request.config, runs_dir=request.runs_dir, name=request.run_name,
                              mnist=mnist_for(request.mnist_path), control=control,
                              supervisor_pid=request.supervisor_pid, compiled_models=compiled_models,
                              fork_from=request.fork_from, resume=request.resume)
            for event in run:
                outbox.put(("event", request.run_name, event))
        except EXPECTED_ERRORS as error:  # their messages name the problem and the fix
            outbox.put(("error", request.run_name, str(error)))
        except Exception as error:  # inside TensorFlow, or a bug: the console keeps the details
            outbox.put(("error", request.run_name, f"{type(error).__name__}: {error}"))
            traceback.print_exc()
        finally:
            mailroom.done(request.run_name)
            run = None  # the run's arrays and pipelines go with the collection below
        # A run's tf.data pipelines (and their copies of the images) sit in reference cycles with
        # the cached model's traced functions; without a collection here, a worker grew by ~300 MB
        # a run until it retired.
        gc.collect()
        rss = resident_megabytes()
        if memory_limit_mb and rss > memory_limit_mb:
            outbox.put(("retiring", rss))
            return
        outbox.put(("idle", rss))


def _exit_when_orphaned(parent_pid: int) -> None:
    """End this worker when the process that started it is gone (killed, crashed): never train for no one."""
    while os.getppid() == parent_pid:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(1)


def send_command(inbox, run_name: str, command: Command) -> None:
    inbox.put(("command", run_name, command))
