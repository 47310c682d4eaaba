"""The `ray` executor: each job trains as a task on an existing Ray cluster; its run folder lands here.

Chosen with `MNIST_LAB_EXECUTOR=ray` (or `--executor ray`); the cluster's address comes from
`$RAY_ADDRESS` (e.g. `10.0.0.5:6379`, or `auto` for a cluster started on this machine with
`ray start`). Ray is optional (`requirements-ray.txt`): only this module imports it, and only
`core.jobs.executors` imports this module, when the ray executor is asked for.

No shared filesystem is assumed. The project's `core` package travels with the connection (Ray's
`py_modules`), and this machine's MNIST with the jobs (through Ray's object store, once per file),
so a node needs only the Python packages of `requirements-ray.txt`. On its node a task trains with
`RecordedRun` into a temporary runs directory of its own, and streams its events back through a
`ray.util.queue.Queue`; this side mirrors them into `JobRequest.runs_dir` as they arrive
(`core.runs.run_mirror.RunMirror`: config and status at the start, a metrics line per epoch, the
batch-level points).
A fork's parent checkpoint (its config, `keras_state.npz` and `training_state.json`), and a resumed run's
record (cut back here to its last kept checkpoint first) with the few checkpoint files its training reads
(`core.runs.continuations.resume_shipping`: the state of the checkpoint it resumes from, the best epoch's
weights, the weights of checkpoints still without predictions), travel with the task as bytes and are
placed in the node's scratch runs directory, so a fork or a resume trains on any node; the views' files of
the other kept checkpoints stay here, and come back only where the node added to them.
When the run ends, the node ships its finished files (model, NumPy model, predictions,
TensorBoard logs, the point files) back as the task's result, and they are written here atomically, the status
last. Commands travel the other way through a second queue, which a thread in the task reads and
applies to the run's `TrainingControl`. Both queues are actors with no CPU of their own, placed
on this machine's node, so they outlive the loss of the node that trains; a job that ended
cleanly leaves its pair to the next job (an actor is a process: starting one costs ~1 s of CPU),
and every message names its run.

A node lost mid-job (its machine down, its raylet killed) ends the job with `WorkerLost`, and the
local run is marked `interrupted` with the epochs that had arrived. A task is never retried: a
retry would train the run again from scratch under the same name.

Each job reserves `cpus_per_job` CPUs (default 1, `$MNIST_LAB_RAY_CPUS_PER_JOB`) and its TensorFlow
uses that many threads, so jobs sharing a node do not fight over its cores; `resources` (default
`$MNIST_LAB_RAY_RESOURCES`, JSON) adds Ray custom resources to every job, which places jobs on the
nodes started with them (e.g. `ray start ... --resources='{"gpu_box": 1}'` and
`resources={"gpu_box": 0.01}`).
"""

from __future__ import annotations

import json
import math
import os
import queue
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import replace

import ray
from ray.exceptions import RayError, RayTaskError, RuntimeEnvSetupError, TaskCancelledError
from ray.util.queue import Empty, Queue
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

import core
from core.data.mnist import candidate_paths
from core.jobs.executor import Command, Executor, JobError, JobHandle, JobRequest, WorkerLost, events_until_done, obey
from core.runs.continuations import (
    check_fork, continuation_files, cut_back_to, place_files, resume_epoch, resume_shipping,
)
from core.runs.lost_runs import mark_interrupted
from core.runs.run_mirror import RunMirror, returned_files
from core.runs.store import RunError, run_path
from core.training.events import EpochEnd, Progress, RunDone

ADDRESS_ENV = "RAY_ADDRESS"
CPUS_PER_JOB_ENV = "MNIST_LAB_RAY_CPUS_PER_JOB"
RESOURCES_ENV = "MNIST_LAB_RAY_RESOURCES"
SLOTS_ENV = "MNIST_LAB_RAY_SLOTS"
POLL_SECONDS = 0.5  # how often a quiet job checks whether its task is still alive
COMMAND_SECONDS = 5.0  # the longest `send` waits for the command queue
CLOSE_SECONDS = 10.0
MAX_IDLE_QUEUES = 8  # queue pairs kept for the next jobs (each queue's actor is a process of ~100 MB)
REUSE_AFTER_SECONDS = 2 * POLL_SECONDS  # an ended task's command reader gives up its wait within POLL_SECONDS


def _env_json(name: str) -> dict:
    text = os.environ.get(name, "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, (int, float)) and v > 0 for v in value.values()):
        raise JobError(f"${name} must be a JSON object of Ray resources and positive amounts, "
                       f'e.g. {name}=\'{{"node2": 0.01}}\'. Received: {text!r}')
    return {str(k): float(v) for k, v in value.items()}


def _env_positive(name: str, default: float, cast=float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = cast(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise JobError(f"${name} must be a positive number. Received: {text!r}")
    return value


# --- on the node --------------------------------------------------------------------------------

_datasets: dict[str, object] = {}  # per Ray worker process (workers are reused): the MNIST last sent
_compiled: list = []  # per Ray worker process: its CompiledModels, so a repeated graph skips tracing


def _node_mnist(request: JobRequest, shipped: list):
    """The dataset this machine sent (`[ref, key, label]`), loaded once per worker; else the node's own."""
    from core.data.mnist import load_mnist, read_mnist_file

    if not shipped:
        return load_mnist(request.mnist_path, download=False)
    ref, key, label = shipped
    if key not in _datasets:
        data = ray.get(ref)
        with tempfile.NamedTemporaryFile(suffix=".npz") as file:
            file.write(data)
            file.flush()
            mnist = read_mnist_file(file.name)
        _datasets.clear()
        _datasets[key] = replace(mnist, path=label)
    return _datasets[key]


def _limit_tensorflow_threads() -> None:
    """Use as many threads as the CPUs Ray granted this task (set once per worker process)."""
    import tensorflow as tf

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU") or 1
    threads = max(1, int(cpus))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # a reused worker: TensorFlow already runs with the threads set first
        pass


def _obey(commands: Queue, run_name: str, control, finished: threading.Event) -> None:
    """Apply the commands for `run_name` that arrive until the training is over."""
    while not finished.is_set():
        try:
            addressee, command = commands.get(timeout=POLL_SECONDS)
            if addressee != run_name:  # never expected: a queue is reused only once its last reader left
                continue
        except Empty:
            continue
        except Exception:  # the queue's actor went away (the job is over on the other side)
            if finished.wait(POLL_SECONDS):
                return
            continue
        failed = obey(control, command)  # never raises: a failing command stops the job, with the reason in its run
        if failed:
            print(f"run {run_name!r}: {failed}", file=sys.stderr, flush=True)


def _where(scratch: str) -> dict:
    context = ray.get_runtime_context()
    return {"executor": "ray", "node_id": context.get_node_id(), "node_ip": ray.util.get_node_ip_address(),
            "hostname": socket.gethostname(), "pid": os.getpid(), "scratch_dir": scratch}


@ray.remote(max_retries=0)
def _train_on_node(request: JobRequest, shipped: list, events: Queue, commands: Queue, carried: dict | None = None,
                   elsewhere: dict | None = None) -> dict:
    """Train `request` on this node into a scratch runs directory, stream its events, return its files.

    `carried`: run name → the files a fork or a resume needs of it (`continuation_files`), placed in the
    scratch runs directory first: a fork's parent's checkpoint, or a resumed run's record and the few
    checkpoint files training reads. `elsewhere`: a resume's kept checkpoints as they lie on the submitting
    machine (`ResumeShipping.elsewhere`), for its disk budget.

    Messages on `events`, each led by the run's name: ("recording", where) once the run folder
    exists, ("event", event) for each event (a `RunDone` last), or ("error", message). Commands
    arrive on `commands` as (run name, Command). Returns `{"files": {...}, "checkpoints": [...]}` (the run's
    files, but those that came with the task unchanged; its kept checkpoints' epochs, None if unknown), with
    an `"error"` too when the training failed.
    """
    from core.runs.recorded_run import RecordedRun
    from core.training.compiled_models import CompiledModels
    from core.training.control import TrainingControl

    control = TrainingControl()  # made now: a Stop sent before training starts still counts
    finished = threading.Event()
    threading.Thread(target=_obey, args=(commands, request.run_name, control, finished), name="ray-job-commands",
                     daemon=True).start()
    scratch = tempfile.mkdtemp(prefix="mnist-lab-ray-")
    folder = run = None
    came = (carried or {}).get(request.run_name, {})  # a resume's own files: shipped back only if changed

    def result(**more) -> dict:
        files = returned_files(folder, came) if folder else {}
        kept = run.checkpoints.written if run is not None and run.checkpoints is not None else None
        return {"files": files, "checkpoints": kept, **more}

    try:
        _limit_tensorflow_threads()
        if not _compiled:
            _compiled.append(CompiledModels())
        for name, files in (carried or {}).items():
            place_files(run_path(scratch, name), files)
        run = RecordedRun(request.config, runs_dir=scratch, name=request.run_name,
                          mnist=_node_mnist(request, shipped), control=control, compiled_models=_compiled[0],
                          fork_from=request.fork_from, resume=request.resume, checkpoints_elsewhere=elsewhere)
        folder = run.writer.path
        events.put((request.run_name, "recording", _where(scratch)))
        for event in run:
            events.put((request.run_name, "event", event))
        run.wait_for_feature_files()  # the map and statistics travel back with the run's other files
        return result()
    except Exception as error:  # ConfigError, DatasetError, RunError, errors inside TensorFlow
        message = str(error) or type(error).__name__
        if not isinstance(error, (ValueError, RuntimeError, OSError)):
            message = f"{type(error).__name__}: {message}"
        traceback.print_exc()  # the node's worker log keeps the details; the page shows the message
        events.put((request.run_name, "error", message))
        return result(error=message)
    finally:
        finished.set()
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)


# --- on this machine ----------------------------------------------------------------------------


class _Connection:
    """This process's one connection to the cluster, shared by its executors: made by the first
    that finds none, left by the last one to close. An executor that left on its own while another
    still used it would pull the connection from under that one's threads (a ray.get in flight on a
    shut-down core worker is a SIGSEGV), and the other's next Ray call would silently reconnect."""

    lock = threading.Lock()
    users = 0
    made_here = False

    @classmethod
    def join(cls, address: str | None, runtime_env: dict | None) -> None:
        with cls.lock:
            if not ray.is_initialized():
                address = address or os.environ.get(ADDRESS_ENV)
                if not address:
                    raise JobError(f"The ray executor needs a running Ray cluster: set ${ADDRESS_ENV} to its head's "
                                   f"address (e.g. {ADDRESS_ENV}=10.0.0.5:6379), or use MNIST_LAB_EXECUTOR=local.")
                try:
                    ray.init(address=address, runtime_env=runtime_env, logging_level="warning")
                except Exception as error:  # ConnectionError, an auth failure, a bad address
                    raise JobError(f"Cannot connect to the Ray cluster at {address!r} (${ADDRESS_ENV}): "
                                   f"{type(error).__name__}: {error}") from None
                cls.made_here, cls.users = True, 0
            cls.users += 1

    @classmethod
    def leave(cls) -> None:
        with cls.lock:
            cls.users = max(0, cls.users - 1)
            if cls.users == 0 and cls.made_here and ray.is_initialized():
                ray.shutdown()
                cls.made_here = False


def _end_queues(pair) -> None:
    if not ray.is_initialized():  # the connection is gone, and the queues with it: never reconnect for them
        return
    for actor_queue in pair:
        try:
            actor_queue.shutdown(force=True)
        except Exception:
            pass


class _RayJob(JobHandle):
    """One job: its task, its two queues, and the thread that mirrors its run folder here."""

    def __init__(self, executor: RayExecutor, request: JobRequest, task, events: Queue, commands: Queue,
                 resumed_from: int | None = None):
        self.executor = executor
        self.request = request
        self.resumed_from = resumed_from  # a resume: the epoch the run goes on from (its folder here is reopened)
        self.task = task
        self._events = events
        self._commands = commands
        self._out: queue.Queue = queue.Queue()
        self._mirror: RunMirror | None = None
        self.node: dict | None = None  # where it trains, once it started recording
        self.ended = False
        self._clean_end = False  # the task said how it ended (and has returned): its queues may serve another job
        self._thread = threading.Thread(target=self._follow, name=f"ray-job-{request.run_name}", daemon=True)

    # --- JobHandle ---

    def events(self) -> Iterator[Progress | EpochEnd | RunDone]:
        return events_until_done(self._out)

    def send(self, command: Command) -> None:
        if self.ended:
            return
        try:
            self._commands.put((self.request.run_name, command), timeout=COMMAND_SECONDS)
        except Exception:  # the job ended meanwhile, or its queue is gone: nothing left to steer
            pass

    # --- the mirror ---

    def _follow(self) -> None:
        try:
            self._relay()
        except WorkerLost as error:  # the run is already marked interrupted
            self._out.put(error)
        except Exception as error:  # JobError, or a Ray error nobody foresaw: the run (if any) is marked failed
            if not isinstance(error, JobError):
                traceback.print_exc()
                error = JobError(f"The Ray job failed ({type(error).__name__}: {error}).")
            if self._mirror is not None and not self._mirror.ended:
                self._mirror.fail_from(str(error), self._origin())
            self._out.put(error)
        finally:
            self.ended = True
            self.executor._forget(self, reuse_queues=self._clean_end)

    def _relay(self) -> None:
        while True:
            try:
                addressee, kind, payload = self._events.get(timeout=POLL_SECONDS)
            except Empty:  # (Ray raises it as a RayTaskError that is also an Empty: this clause first)
                if not ray.wait([self.task], timeout=0)[0]:
                    continue
                try:  # the task is over: whatever it said before ending is in the queue already
                    addressee, kind, payload = self._events.get_nowait()
                except Empty:
                    self._ended_without_word()
            except RayError:  # the queue's actor died: its node did, so look at how the task ended
                self._ended_without_word()
            if addressee != self.request.run_name:  # never expected: queues are drained before reuse
                continue
            if kind == "recording":
                self.node = payload
                try:
                    self._mirror = RunMirror(self.request.config, self.request.runs_dir, self.request.run_name,
                                             resumed_from=self.resumed_from)
                    if self.request.fork_from is not None:
                        self._mirror.record_parent(*self.request.fork_from)
                except (RunError, OSError) as error:
                    self._cancel()
                    raise JobError(str(error)) from None
            elif kind == "event":
                if isinstance(payload, RunDone):
                    self._out.put(self._finish(payload))
                    return
                self._write(lambda: self._mirror.record(payload))
                self._out.put(payload)
            elif kind == "error":
                result = self._result()
                files, kept = result.get("files", {}), result.get("checkpoints")
                self._clean_end = True
                if self._mirror is not None:
                    self._write(lambda: self._mirror.write_files(files, kept))  # what the node wrote before failing
                    self._mirror.fail_from(payload, self._origin())
                raise JobError(payload)

    def _finish(self, done: RunDone) -> RunDone:
        result = self._result()
        self._clean_end = True
        self._write(lambda: self._mirror.finish_from(result["files"], self._origin(), result.get("checkpoints")))
        return replace(done, run_dir=str(self._mirror.path), name=self._mirror.name)

    def _write(self, write) -> None:
        try:
            write()
        except OSError as error:  # disk full, runs directory removed or made read-only mid-run
            problem = error.strerror or str(error)
            self._cancel()
            self._mirror.fail(f"the run could not be written ({problem})")
            raise JobError(
                f"Run {self.request.run_name!r} could not be written ({problem}). Free disk space or make the runs "
                "directory writable, then train again; the epochs already written are kept."
            ) from None
        except RunError as error:
            self._cancel()
            self._mirror.fail(str(error))
            raise JobError(str(error)) from None

    def _result(self) -> dict:
        """The task's return value (its files), or the loss/failure it ended with, raised."""
        try:
            return ray.get(self.task)
        except RayError as error:
            self._raise_for(error)

    def _ended_without_word(self) -> None:
        self._result()
        raise JobError("The Ray task ended without reporting how its training ended.")

    def _raise_for(self, error: RayError) -> None:
        if isinstance(error, RuntimeEnvSetupError):
            self._fail(f"Ray could not set up the job's environment on its node: {error}")
        if isinstance(error, RayTaskError):  # it raised outside the training (e.g. an import failed on the node)
            self._fail(f"The Ray task failed on its node: {error}")
        # NodeDiedError, WorkerCrashedError, ObjectLostError...: the node or its worker went away
        where = self._where_words()
        if isinstance(error, TaskCancelledError):
            why = f"its Ray task on node {where} was cancelled (the executor was closed)"
        else:
            why = f"its Ray node {where} was lost ({type(error).__name__})"
        try:
            mark_interrupted(self.request.runs_dir, self.request.run_name, why)
        except Exception:  # still end the job: a run whose owner stops reads back as interrupted anyway
            pass
        raise WorkerLost(f"The training stopped: {why}; its finished epochs are kept.")

    def _fail(self, message: str) -> None:
        if self._mirror is not None:
            self._mirror.fail_from(message, self._origin())
        raise JobError(message)

    def _cancel(self) -> None:
        try:
            ray.cancel(self.task, force=True)
        except Exception:
            pass

    def _origin(self) -> dict | None:
        if self.node is None:
            return None
        return {key: self.node[key] for key in ("executor", "node_id", "node_ip", "hostname")}

    def _where_words(self) -> str:
        if self.node is None:
            return "(not yet known)"
        return f"{self.node['node_ip']} ({self.node['hostname']}, node {self.node['node_id'][:12]})"


class RayExecutor(Executor):
    """Run jobs as tasks on an existing Ray cluster; their run folders land in each request's runs_dir.

    Args:
        address: the cluster (`host:port` of its head, `ray://host:10001`, or `auto`);
            default `$RAY_ADDRESS`. Ignored when this process is already connected to Ray.
        resources: Ray custom resources every job asks for (default `$MNIST_LAB_RAY_RESOURCES`),
            which places jobs on the nodes that have them.
        cpus_per_job: CPUs each job reserves, and its TensorFlow threads (default
            `$MNIST_LAB_RAY_CPUS_PER_JOB`, else 1).
        slots: jobs at once (default `$MNIST_LAB_RAY_SLOTS`, else what the cluster's live nodes
            hold: per node, its CPUs over `cpus_per_job`, and its share of `resources`).
        ship_code: send this machine's `core` package with the connection (Ray `py_modules`), so
            nodes need no copy of the project; turn off only when every node has it importable.
            A process already connected to Ray keeps the runtime environment it connected with.

    Raises:
        JobError: with no address, or when the cluster cannot be reached; the message says what to set.
    """

    name = "ray"

    def __init__(self, address: str | None = None, resources: dict | None = None, cpus_per_job: float | None = None,
                 slots: int | None = None, ship_code: bool = True):
        self.resources = dict(_env_json(RESOURCES_ENV) if resources is None else resources)
        self.cpus_per_job = float(cpus_per_job or _env_positive(CPUS_PER_JOB_ENV, 1.0))
        # Local folders travel only with the connection (job level), not with single tasks.
        _Connection.join(address, {"py_modules": [core], "excludes": ["__pycache__"]} if ship_code else None)
        # The queues live on this process's own node (a hard rule: a soft one let Ray put some elsewhere),
        # so they fail only with this side, never with the node that trains.
        self._queue_options = {"num_cpus": 0, "scheduling_strategy": NodeAffinitySchedulingStrategy(
            ray.get_runtime_context().get_node_id(), soft=False)}
        try:
            self._slots = int(slots or _env_positive(SLOTS_ENV, 0, int) or self.cluster_slots())
        except JobError:
            _Connection.leave()
            raise
        self._lock = threading.Lock()
        self._jobs: set[_RayJob] = set()
        self._datasets: dict[str, list] = {}  # file key → [ref, key, label], so each file goes up once
        self._idle_queues: list[tuple[float, tuple[Queue, Queue]]] = []  # (usable from, (events, commands))
        self._closed = False

    @property
    def slots(self) -> int:
        return self._slots

    def cluster_slots(self) -> int:
        """The jobs the cluster's live nodes hold at once.

        Raises:
            JobError: when no live node can hold one (too few CPUs, or none has `resources`).
        """
        need = {"CPU": self.cpus_per_job, **self.resources}
        total = 0
        for node in ray.nodes():
            if node.get("Alive"):
                have = node.get("Resources", {})
                total += min(math.floor(have.get(name, 0.0) / amount + 1e-9) for name, amount in need.items())
        if total < 1:
            raise JobError(f"No live node of the Ray cluster has what a job asks for ({need}): start one with enough "
                           "CPUs (and those --resources), or change $MNIST_LAB_RAY_CPUS_PER_JOB / $MNIST_LAB_RAY_RESOURCES.")
        return total

    def start(self, request: JobRequest) -> JobHandle:
        with self._lock:
            if self._closed:
                raise JobError("The executor was shut down; the server is stopping.")
        carried, resumed_from, elsewhere = {}, None, None
        if request.fork_from is not None:  # the parent's checkpoint lies here: it travels with the task
            parent, epoch = request.fork_from
            check_fork(request.runs_dir, request.config, parent, epoch)
            carried[parent] = continuation_files(request.runs_dir, parent, epoch)
        elif request.resume:  # the run lies here: cut back to its last checkpoint; what training reads of it travels
            resumed_from = resume_epoch(request.runs_dir, request.run_name)
            cut_back_to(request.runs_dir, request.run_name, resumed_from)
            carried[request.run_name] = continuation_files(request.runs_dir, request.run_name)
            elsewhere = resume_shipping(request.runs_dir, request.run_name).elsewhere
        events, commands = self._take_queues()
        options = {"num_cpus": self.cpus_per_job, "name": f"train:{request.run_name}"}
        if self.resources:
            options["resources"] = self.resources
        task = _train_on_node.options(**options).remote(request, self._shipped_mnist(request), events, commands,
                                                        carried or None, elsewhere)
        job = _RayJob(self, request, task, events, commands, resumed_from)
        with self._lock:
            self._jobs.add(job)
        job._thread.start()
        return job

    def _shipped_mnist(self, request: JobRequest) -> list:
        """This machine's MNIST in Ray's object store (`[ref, key, label]`), or [] when it has none."""
        for candidate in candidate_paths(request.mnist_path):
            if candidate.is_file():
                stat = candidate.stat()
                key = f"{candidate.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
                with self._lock:
                    if key not in self._datasets:
                        label = f"{candidate.resolve()} on {socket.gethostname()} (sent through Ray)"
                        self._datasets[key] = [ray.put(candidate.read_bytes()), key, label]
                    return self._datasets[key]
        return []

    def _take_queues(self) -> tuple[Queue, Queue]:
        """An idle (events, commands) pair, else a new one (each queue is an actor: a process to start)."""
        now = time.monotonic()
        with self._lock:
            for index, (free_at, pair) in enumerate(self._idle_queues):
                if free_at <= now:
                    del self._idle_queues[index]
                    return pair
        return Queue(actor_options=self._queue_options), Queue(actor_options=self._queue_options)

    def _forget(self, job: _RayJob, reuse_queues: bool) -> None:
        """A job ended: keep its queues for the next job if it ended cleanly, else end their actors."""
        pair = (job._events, job._commands)
        if reuse_queues:
            try:
                for actor_queue in pair:  # normally empty already; never hand over another job's leftovers
                    while True:
                        actor_queue.get_nowait()
            except Empty:
                pass
            except Exception:
                reuse_queues = False
        with self._lock:
            self._jobs.discard(job)
            if reuse_queues and not self._closed and len(self._idle_queues) < MAX_IDLE_QUEUES:
                # Not at once: the ended task's command reader may still wait on its queue for POLL_SECONDS.
                self._idle_queues.append((time.monotonic() + REUSE_AFTER_SECONDS, pair))
                return
        _end_queues(pair)

    def close(self, grace_seconds: float = 5.0) -> None:
        """Cancel running jobs (their runs read back as interrupted) and leave the cluster.

        `grace_seconds` is not needed here: a Ray job's `RunDone` comes after its task returned its files.
        """
        with self._lock:
            if self._closed:  # once: it left the shared connection already
                return
            self._closed = True
            jobs = list(self._jobs)
        for job in jobs:
            job._cancel()
        deadline = time.monotonic() + CLOSE_SECONDS
        for job in jobs:
            job._thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._datasets.clear()
            idle, self._idle_queues = self._idle_queues, []
        for _, pair in idle:
            _end_queues(pair)
        _Connection.leave()
