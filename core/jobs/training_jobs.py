"""Background training jobs for a server: a cap on concurrent runs, a FIFO queue for the rest.

One `TrainingJobs` is shared by every browser session of the dashboard. Jobs train through an
executor (`core.jobs.executor`): warm worker processes on this machine by default, or a Ray
cluster, never in the server's own process. A light thread per running job reads its events
and keeps its latest state in memory for pages to poll. A job id is an unguessable token: a
session sees only the jobs whose ids it holds.

On a shared server (`core.jobs.sharing`) one more thread checks on the visitors every few
seconds: a job whose visitor has had no page open for the abandonment limit leaves the queue, or
stops if it was running or paused; a pause that holds a worker while others wait stops at its own
limit; a queued job whose visitor's last page closed (the web server's `live_visitors` says so)
leaves within the rules' `closed_tab_grace_seconds` and a few. A stop for a rule carries its reason to the
worker, so the run folder's status says why, as the job does.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace

from core.config.train_config import TrainConfig
from core.jobs.executor import PAUSE, RESUME, SET_LEARNING_RATE, STEP, STOP, Command, Executor, JobRequest, WorkerLost
from core.jobs.executors import make_executor
from core.jobs.memory_cap import check_memory_cap
from core.jobs.local_executor import DEFAULT_WORKERS as DEFAULT_MAX_CONCURRENT  # noqa: F401  (the settings' names here)
from core.jobs.local_executor import WORKERS_ENV as MAX_CONCURRENT_ENV  # noqa: F401
from core.jobs.local_executor import default_workers as default_max_concurrent
from core.jobs.sharing import SharingLimitError, SharingRules
from core.runs.continuations import check_fork, continuation_schedule_note, resume_epoch
from core.runs.run_owners import record_owner
from core.runs.store import RunError, new_run_name, resolve_runs_dir
from core.training.batch_points import add_point
from core.training.events import (
    FAILED, INTERRUPTED, QUEUED, RUNNING, STOPPED, EpochEnd, LearningRateChanged, Progress, RunDone,
)
MAX_QUEUED = 20  # beyond this, new jobs are refused rather than left waiting for hours
FINISHED_JOBS_KEPT = 200
ABANDONED_CHECK_SECONDS = 5.0  # how often the jobs check that their visitors are still here (less under short limits)
logger = logging.getLogger(__name__)
WARM_UP_DELAY_SECONDS = 2.0  # the first page view paints before its server's workers start importing TensorFlow
SEEN_PRUNED_ABOVE = 1_000  # visitors remembered before the long-gone ones are forgotten
SEEN_KEPT_SECONDS = 3600.0  # "long gone": an hour (or twice the abandonment limit, if longer)


class QueueFullError(RuntimeError):
    """Too many trainings are waiting; the message says to try again later."""


@dataclass(frozen=True)
class JobState:
    """A snapshot of one job, safe to read from any thread."""

    job_id: str
    config: TrainConfig
    status: str = QUEUED  # queued, running, or one of core.training.events.ENDINGS
    queue_position: int | None = None  # 1 = next to start
    epochs: tuple[EpochEnd, ...] = ()
    progress: Progress | None = None  # the latest, while an epoch is under way
    points: tuple[Progress, ...] = ()  # the batch-level points so far (`core.training.batch_points`, bounded)
    learning_rate_changes: tuple[LearningRateChanged, ...] = ()  # where the rate was changed mid-run
    run_name: str | None = None
    reason: str = ""
    test_accuracy: float | None = None
    model_epoch: int | None = None  # the epoch whose model the run saved (its best, with `keep_best_epoch`)
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    paused: bool = False
    paused_since: float | None = None  # time.time() of the Pause (a Step while paused does not renew it)
    learning_rate: float | None = None  # the rate set mid-run, if any (None = the config's)
    owner: str | None = None  # the visitor who started it (None: the local user, the CLI, a sweep)
    fork_from: tuple[str, int] | None = None  # a fork: the run and the epoch of its checkpoint it continues from
    resumes: str | None = None  # a resume: the run it goes on with (its `run_name` too)
    first_epoch: int = 1  # the number of its first epoch (a fork's and a resume's are numbered on)
    schedule_note: str | None = None  # a one-cycle fork's or resume's schedule, in words (core.training.one_cycle_plan)

    @property
    def last_epoch(self) -> int:
        """The number its last epoch will have if every epoch runs."""
        return self.first_epoch - 1 + self.config.epochs

    @property
    def finished(self) -> bool:
        return self.status not in (QUEUED, RUNNING)


class TrainingJobs:
    """Run training jobs in the background, at most `max_concurrent` at a time.

    Args:
        max_concurrent: trainings that may run at once; the rest wait in submission order
            (default: the executor's slots; for the local one `$MNIST_LAB_MAX_CONCURRENT_TRAININGS`).
        runs_dir: where runs are recorded (None = the default runs directory).
        mnist_path: an explicit MNIST file (None = the loader's search order).
        executor: where jobs run; None = `make_executor()` (the `local` one unless
            `$MNIST_LAB_EXECUTOR` says otherwise), made by `warm_up()` or the first submission.
        rules: a shared server's limits (`core.jobs.sharing`): jobs per visitor, epochs, minutes
            per job, when a visitor counts as gone, how long a pause may hold a worker while others
            wait. The default has none.
        live_visitors: returns the visitors who have a page of this server connected right now
            (a web server knows its open connections), or None when it cannot tell. Given, a
            queued job whose visitor has had no connected page for the rules' `closed_tab_grace_seconds`
            leaves the queue, and a full queue first drops the jobs of visitors with none.
        on_run_started: called as `on_run_started(owner, run_name, submitted)` when a visitor's job
            gets its run folder's name, before it trains (a class session lists its runs so); an
            error in it is logged, never the job's.
    """

    def __init__(self, max_concurrent: int | None = None, runs_dir=None, mnist_path=None, executor: Executor | None = None,
                 rules: SharingRules | None = None, live_visitors: Callable[[], Collection[str] | None] | None = None,
                 on_run_started: Callable[[str, str, float], object] | None = None):
        self.max_concurrent = max_concurrent or (executor.slots if executor is not None else default_max_concurrent())
        self.runs_dir = runs_dir
        self.mnist_path = None if mnist_path is None else str(mnist_path)
        self._executor = executor
        self._lock = threading.Condition()
        self._executor_lock = threading.Lock()
        self._closed = False  # `close()` was called: a pending `warm_up_soon` starts nothing
        self._states: dict[str, JobState] = {}
        self._runs: dict[str, object] = {}  # job id → its JobHandle while training
        self._waiting: deque[str] = deque()
        self._running: set[str] = set()
        self._stop_requested: set[str] = set()
        self.rules = rules or SharingRules()
        self._last_seen: dict[str, float] = {}  # visitor → time.monotonic() of their last page view
        self._prune_seen_above = SEEN_PRUNED_ABOVE
        self._stop_reasons: dict[str, str] = {}  # job id → why the server stopped it (its run's status says so)
        self._live_visitors = live_visitors
        self._on_run_started = on_run_started
        self._last_live: dict[str, float] = {}  # owner of an unfinished job → time.monotonic() they last had a live page
        self._live_known = False  # whether `live_visitors` answered at the last check
        self._left_queue: dict[str, str] = {}  # job id → why it was taken out of the queue (a full queue's room)
        self._watcher: threading.Thread | None = None
        self._stop_watching = threading.Event()  # `close()`: the visitors watcher ends
        self.peak_running = 0  # the most ever running at once (for tests and benchmarks)
        self._version = 0  # counts every change of a job's state (`version`)

    def warm_up(self) -> Executor:
        """Make the executor now (local workers start importing TensorFlow), not at the first Start.

        Raises:
            JobError: the executor cannot be made (no Ray cluster at the address given); the message says what to set.
        """
        with self._executor_lock:  # not the queue's lock: connecting to a cluster can take seconds
            if self._executor is None:
                self._executor = make_executor(slots=self.max_concurrent, mnist_path=self.mnist_path)
            return self._executor

    def warm_up_soon(self, delay_seconds: float = WARM_UP_DELAY_SECONDS) -> None:
        """`warm_up()` on a thread of its own after `delay_seconds`: the page view that asked never waits
        for a cluster to answer, and its first paint does not share the CPU with workers importing
        TensorFlow. A Start pressed meanwhile warms up at once. A failure is logged here and
        reported by the first training, which tries again."""
        def warm() -> None:
            time.sleep(delay_seconds)
            with self._executor_lock:
                if self._closed:  # closed meanwhile (a test, a server shutting down): start no workers for no one
                    return
            try:
                self.warm_up()
            except Exception as error:  # JobError, or a cluster's own: the first job says it to its visitor
                logger.warning("The training executor could not start yet: %s", error)

        threading.Thread(target=warm, name="jobs-warm-up", daemon=True).start()

    def close(self) -> None:
        """Shut the executor down (its workers exit); a warm-up still waiting to start will not."""
        self._stop_watching.set()
        with self._executor_lock:
            self._closed = True
            executor = self._executor
        if executor is not None:
            executor.close()

    def submit(self, config: TrainConfig, name: str | None = None, owner: str | None = None,
               fork_from: tuple[str, int] | None = None, resume: bool = False) -> str:
        """Queue a training of `config` for visitor `owner`; returns its job id at once.

        Args:
            config: the training's settings (a fork's or a resume's `epochs`: the epochs more).
            name: the run's name (None = a fresh one); with `resume`, the run to go on with.
            owner: the visitor who starts it (a fork becomes theirs; a resumed run keeps its owner).
            fork_from: `(run, epoch)`: a new run that continues from that run's kept checkpoint.
            resume: go on with run `name` itself from its last kept checkpoint. Who may resume whose
                run is the page's to check (`SharingRules.may_manage`); anyone may fork anyone's.

        Raises:
            QueueFullError: when `MAX_QUEUED` jobs already wait.
            SharingLimitError: when the rules refuse it (too many epochs, or `owner` already has
                `jobs_per_visitor` trainings queued or running), or its estimated memory is over this
                server's cap per training (`core.jobs.memory_cap.MemoryCapError`).
            RunError: a fork's parent or checkpoint, or a resume's run or checkpoint, is missing, or the
                run to resume is training or queued to (the message names the run and the fix).
            ConfigError: a fork changes its parent's architecture.
        """
        job_id = secrets.token_urlsafe(12)
        self.rules.check_epochs(config.epochs)
        check_memory_cap(config)
        first_epoch, schedule_note = 1, None
        if resume:
            if name is None or fork_from is not None:
                raise ValueError("A resume names its run (`name`) and is no fork. Received: "
                                 f"name={name!r}, fork_from={fork_from!r}")
            first_epoch = resume_epoch(self.runs_dir, name) + 1
            schedule_note = continuation_schedule_note(self.runs_dir, name, first_epoch - 1, config)
        elif fork_from is not None:
            check_fork(self.runs_dir, config, *fork_from)
            first_epoch = fork_from[1] + 1
            schedule_note = continuation_schedule_note(self.runs_dir, *fork_from, config)
        live = self._live_now() if self._live_visitors is not None and len(self._waiting) >= MAX_QUEUED else None
        with self._lock:
            limit = self.rules.jobs_per_visitor
            if limit is not None and owner is not None:
                own = [s for s in self._states.values() if s.owner == owner and not s.finished]
                if len(own) >= limit:
                    raise SharingLimitError(
                        f"You already have {len(own)} training{'s' if len(own) != 1 else ''} queued or running on this "
                        f"shared server, its limit per visitor. Stop {'it' if len(own) == 1 else 'one'} on the Train "
                        "page, or wait for it to finish, then start this one.")
            if resume and any(state.resumes == name and not state.finished for state in self._states.values()):
                raise RunError(f"Run {name!r} is already queued to resume, or resuming. Wait for it to end, then "
                               "resume it again.")
            if len(self._waiting) >= MAX_QUEUED and live is not None:
                self._make_room(set(live))
            if len(self._waiting) >= MAX_QUEUED:
                raise QueueFullError(f"{len(self._waiting)} trainings are already waiting; try again in a few minutes.")
            if owner is not None:
                self._last_seen[owner] = time.monotonic()
                if self._live_visitors is not None:
                    self._last_live[owner] = time.monotonic()  # pressing Start, on a live page
            self._put(job_id, JobState(job_id, config, owner=owner, fork_from=fork_from,
                                       resumes=name if resume else None, first_epoch=first_epoch,
                                       schedule_note=schedule_note))
            self._waiting.append(job_id)
            self._renumber_queue()
            self._start_watcher()
        threading.Thread(target=self._work, args=(job_id, name), name=f"job-{job_id[:6]}", daemon=True).start()
        return job_id

    def _make_room(self, live: set[str]) -> None:
        """A full queue: the waiting jobs of visitors without a connected page leave it now (lock held)."""
        for job_id in list(self._waiting):
            owner = self._states[job_id].owner
            if owner is not None and owner not in live:
                self._waiting.remove(job_id)
                self._left_queue[job_id] = ("left the queue: the queue was full and its visitor had no page of this "
                                            "server open")
        self._renumber_queue()
        self._lock.notify_all()

    def seen(self, visitor: str) -> None:
        """`visitor` has a page open now (each page view says so): their queued jobs keep their place.

        Only a server that drops abandoned jobs keeps this; visitors gone far longer than that are
        forgotten, so a year of visitors does not grow the table."""
        limit = self.rules.abandoned_after_seconds
        if limit is None:
            return
        now = time.monotonic()
        with self._lock:
            self._last_seen[visitor] = now
            if len(self._last_seen) > self._prune_seen_above:
                forget_before = now - max(SEEN_KEPT_SECONDS, 2 * limit)
                self._last_seen = {who: when for who, when in self._last_seen.items() if when >= forget_before}
                # Next time at twice what stayed: a crowd all still here is not rescanned at every page view.
                self._prune_seen_above = max(SEEN_PRUNED_ABOVE, 2 * len(self._last_seen))

    def stop_queued(self) -> int:
        """Take every waiting job out of the queue (a teacher's "clear the queue"); returns how many."""
        with self._lock:
            waiting = list(self._waiting)
        for job_id in waiting:
            self.stop(job_id)
        return len(waiting)

    @property
    def version(self) -> int:
        """A number that changes whenever any job's state changes (queued, moved up, a point, an epoch, the
        end...): a page that polls the queue compares it with the one it drew from before redoing any work."""
        with self._lock:
            return self._version

    def _put(self, job_id: str, state: JobState) -> None:
        """Set a job's state (lock held) and count the change."""
        self._states[job_id] = state
        self._version += 1

    def get(self, job_id: str) -> JobState | None:
        with self._lock:
            return self._states.get(job_id)

    def stop(self, job_id: str) -> None:
        """Stop a job: a queued one leaves the queue, a running one stops after its current batch."""
        with self._lock:
            state = self._states.get(job_id)
            if state is None or state.finished:
                return
            self._stop_requested.add(job_id)
            handle = self._runs.get(job_id)
            if job_id in self._waiting:
                self._lock.notify_all()
        if handle is not None:
            handle.send(Command(STOP))

    def pause(self, job_id: str) -> None:
        """Hold a running job before its next batch, until `resume` (or `step`, one batch at a time).

        On a shared server a pause holds its worker for at most `rules.max_pause_seconds` once others
        wait for one (see `pause_deadline`); then the job stops, keeping its finished epochs."""
        state = self.get(job_id)
        since = state.paused_since if state is not None and state.paused and state.paused_since else time.time()
        self._command(job_id, Command(PAUSE), paused=True, paused_since=since)

    def resume(self, job_id: str) -> None:
        self._command(job_id, Command(RESUME), paused=False, paused_since=None)

    def pause_deadline(self, job_id: str) -> float | None:
        """When (`time.time()`) the paused job stops unless resumed: `rules.max_pause_seconds` after it was
        paused or after the first waiting job was queued, whichever came later. None while nobody waits,
        when the job is not paused, or when pauses have no limit."""
        limit = self.rules.max_pause_seconds
        with self._lock:
            state = self._states.get(job_id)
            if limit is None or state is None or state.status != RUNNING or not state.paused or not self._waiting:
                return None
            waiting_since = min(self._states[waiting].submitted for waiting in self._waiting)
            return max(state.paused_since or time.time(), waiting_since) + limit

    def step(self, job_id: str) -> None:
        """While paused, train one more batch (or group of batches), then hold again."""
        self._command(job_id, Command(STEP))

    def set_learning_rate(self, job_id: str, learning_rate: float) -> None:
        """Train a running job with `learning_rate` from its next batch on.

        Raises:
            ValueError: if `learning_rate` is not a positive number.
        """
        self._command(job_id, Command(SET_LEARNING_RATE, float(learning_rate)), learning_rate=float(learning_rate))

    def _command(self, job_id: str, command: Command, **changes) -> None:
        with self._lock:
            state = self._states.get(job_id)
            handle = self._runs.get(job_id)
            if state is None or state.status != RUNNING or handle is None or job_id in self._stop_requested:
                return
            self._put(job_id, replace(state, **changes))
            self._lock.notify_all()
        handle.send(command)

    def active_states(self) -> list[JobState]:
        """Every running and queued job, for the queue's estimates."""
        with self._lock:
            return [state for state in self._states.values() if not state.finished]

    def active_count(self) -> tuple[int, int]:
        """`(running, queued)` right now."""
        with self._lock:
            return len(self._running), len(self._waiting)

    def wait(self, job_id: str, timeout: float | None = None) -> JobState:
        """Block until the job has finished (or `timeout` seconds pass); returns its state."""
        with self._lock:
            self._lock.wait_for(lambda: self._states[job_id].finished, timeout)
            return self._states[job_id]

    def _update(self, job_id: str, **changes) -> None:
        with self._lock:
            self._put(job_id, replace(self._states[job_id], **changes))
            self._lock.notify_all()

    def _renumber_queue(self) -> None:
        for position, waiting_id in enumerate(self._waiting, start=1):
            if self._states[waiting_id].queue_position != position:
                self._put(waiting_id, replace(self._states[waiting_id], queue_position=position))

    def _visitor_gone(self, job_id: str) -> bool:
        """No page view (or heartbeat) from the job's visitor for the abandonment limit (lock held)."""
        owner, limit = self._states[job_id].owner, self.rules.abandoned_after_seconds
        if owner is None or limit is None:
            return False
        return time.monotonic() - self._last_seen.get(owner, 0.0) > limit

    def _visitor_closed_their_pages(self, job_id: str) -> bool:
        """The web server has had no connection from the job's visitor for the rules' `closed_tab_grace_seconds`
        (lock held)."""
        owner = self._states[job_id].owner
        if owner is None or not self._live_known or owner not in self._last_live:
            return False
        return time.monotonic() - self._last_live[owner] > self.rules.closed_tab_grace_seconds

    def _why_left_queue(self, job_id: str) -> str | None:
        if job_id in self._left_queue:
            return self._left_queue.pop(job_id)
        if job_id in self._stop_requested:
            return "stopped while waiting in the queue"
        if self._visitor_gone(job_id):
            return (f"left the queue: its visitor had no page of this server open for "
                    f"{self.rules.abandoned_after_minutes:g} minutes")
        if self._visitor_closed_their_pages(job_id):
            return "left the queue: its visitor closed their last page of this server"
        return None

    def _why_stop_running(self, job_id: str) -> str | None:
        """Why the server stops this running job now, if it does (lock held)."""
        state = self._states[job_id]
        if state.status != RUNNING or job_id in self._stop_requested:
            return None
        if self._visitor_gone(job_id):
            return (f"its visitor had no page of this server open for "
                    f"{self.rules.abandoned_after_minutes:g} minutes")
        if state.paused and self._waiting and self.rules.max_pause_seconds is not None:
            waiting_since = min(self._states[waiting].submitted for waiting in self._waiting)
            if time.time() >= max(state.paused_since or time.time(), waiting_since) + self.rules.max_pause_seconds:
                return (f"paused for {self.rules.max_pause_minutes:g} minutes while others waited "
                        "for a worker")
        return None

    def _start_watcher(self) -> None:
        """Start the thread that checks on visitors, on a server with a rule that needs it (lock held)."""
        if self._watcher is not None:
            return
        if (self.rules.abandoned_after_seconds is None and self.rules.max_pause_seconds is None
                and self._live_visitors is None):
            return
        self._watcher = threading.Thread(target=self._watch_visitors, name="jobs-visitors", daemon=True)
        self._watcher.start()

    def _check_seconds(self) -> float:
        grace = self.rules.closed_tab_grace_seconds if self._live_visitors is not None else None
        limits = [limit / 4 for limit in (self.rules.abandoned_after_seconds, self.rules.max_pause_seconds, grace) if limit]
        return max(0.1, min([ABANDONED_CHECK_SECONDS, *limits]))

    def _live_now(self) -> set[str] | None:
        try:
            live = self._live_visitors() if self._live_visitors is not None else None
        except Exception as error:  # the web server's bookkeeping: never fatal, the other rules still hold
            logger.warning("Could not list the visitors with a page open: %s", error)
            return None
        return None if live is None else set(live)

    def _watch_visitors(self) -> None:
        """Every few seconds: note who has a live page, stop running jobs whose visitor left or whose
        pause held others up too long, and wake the queued jobs to check on their own visitors."""
        while not self._stop_watching.wait(self._check_seconds()):
            live = self._live_now()
            now = time.monotonic()
            stops = []
            with self._lock:
                owners = {state.owner for state in self._states.values() if not state.finished and state.owner}
                self._live_known = live is not None
                for owner in owners & (live or set()):
                    self._last_live[owner] = now
                self._last_live = {owner: when for owner, when in self._last_live.items() if owner in owners}
                for job_id in self._running:
                    reason = self._why_stop_running(job_id)
                    if reason:
                        stops.append((job_id, reason))
                self._lock.notify_all()  # the queued jobs check on their visitors
            for job_id, reason in stops:
                self._stop_with_reason(job_id, reason)

    def _stop_with_reason(self, job_id: str, reason: str) -> None:
        """Stop a running job for a server rule: `reason` becomes its status's reason, here and in its run folder."""
        with self._lock:
            state = self._states.get(job_id)
            if state is None or state.finished or job_id in self._stop_requested:
                return
            self._stop_requested.add(job_id)
            self._stop_reasons[job_id] = reason
            handle = self._runs.get(job_id)
        if handle is not None:  # else `_follow` sends it as soon as the job has one
            handle.send(Command(STOP, reason=reason))
        logger.info("Job %s: %s", job_id[:6], reason)

    def _wait_for_slot(self, job_id: str) -> str | None:
        """Block until this job may run (None), or say why it left the queue."""
        with self._lock:
            while True:
                left = self._why_left_queue(job_id)
                if left:
                    if job_id in self._waiting:
                        self._waiting.remove(job_id)
                        self._renumber_queue()
                    self._lock.notify_all()
                    return left
                if self._waiting[0] == job_id and len(self._running) < self.max_concurrent:
                    self._waiting.popleft()
                    self._running.add(job_id)
                    self.peak_running = max(self.peak_running, len(self._running))
                    self._renumber_queue()
                    self._put(job_id, replace(self._states[job_id], status=RUNNING, queue_position=None, started=time.time()))
                    self._lock.notify_all()
                    return None
                self._lock.wait(self._check_seconds() if self._watcher is not None else None)

    def _work(self, job_id: str, name: str | None) -> None:
        left = self._wait_for_slot(job_id)
        if left:
            self._update(job_id, status=STOPPED, reason=left, ended=time.time())
            self._forget_old_jobs()
            return
        try:
            self._train(job_id, name)
        except WorkerLost as error:  # the run folder is already marked interrupted
            self._update(job_id, status=INTERRUPTED, reason=str(error), ended=time.time(), progress=None)
        except Exception as error:  # shown to the user; the run folder (if any) is marked failed
            self._update(job_id, status=FAILED, reason=str(error), ended=time.time(), progress=None)
        finally:
            with self._lock:
                self._running.discard(job_id)
                self._runs.pop(job_id, None)
                self._stop_reasons.pop(job_id, None)
                self._lock.notify_all()
            self._forget_old_jobs()

    def _train(self, job_id: str, name: str | None) -> None:
        state = self._states[job_id]
        config, owner = state.config, state.owner
        request = JobRequest(config, name or new_run_name(config.model), str(resolve_runs_dir(self.runs_dir)), self.mnist_path,
                             fork_from=state.fork_from, resume=state.resumes is not None)
        if owner is not None and self.rules.hosted and not request.resume:  # locally, the one user owns every run anyway
            record_owner(request.runs_dir, request.run_name, owner)
        if owner is not None and self._on_run_started is not None:
            try:
                self._on_run_started(owner, request.run_name, self._states[job_id].submitted)
            except Exception:  # the class's ledger is the board's, never a reason to fail the training
                logger.exception("A started run could not be listed for the class.")
        handle = self.warm_up().start(request)
        timer = None
        if self.rules.max_job_seconds is not None:
            timer = threading.Timer(self.rules.max_job_seconds, self._stop_at_time_limit, args=(job_id, handle))
            timer.daemon = True
            timer.start()
        try:
            self._follow(job_id, request, handle)
        finally:
            if timer is not None:
                timer.cancel()

    def _stop_at_time_limit(self, job_id: str, handle) -> None:
        self._stop_with_reason(job_id, f"stopped at the server's {self.rules.max_job_minutes:g}-minute limit")

    def _follow(self, job_id: str, request: JobRequest, handle) -> None:
        with self._lock:
            self._runs[job_id] = handle
            stop_now = job_id in self._stop_requested
            reason = self._stop_reasons.get(job_id)
        self._update(job_id, run_name=request.run_name)
        if stop_now:
            handle.send(Command(STOP, reason=reason))
        epochs: list[EpochEnd] = []
        for event in handle.events():
            if isinstance(event, Progress):
                with self._lock:
                    state = self._states[job_id]
                    self._put(job_id, replace(state, progress=event, points=add_point(state.points, event)))
                    self._lock.notify_all()
            elif isinstance(event, LearningRateChanged):
                with self._lock:
                    state = self._states[job_id]
                    self._put(job_id, replace(state, learning_rate=event.learning_rate,
                                              learning_rate_changes=state.learning_rate_changes + (event,)))
                    self._lock.notify_all()
            elif isinstance(event, EpochEnd):
                epochs.append(event)
                self._update(job_id, epochs=tuple(epochs), progress=None)
            elif isinstance(event, RunDone):  # its reason is the run folder's: a server's stop names its rule there too
                self._update(job_id, status=event.status, reason=event.reason, paused=False, paused_since=None,
                             test_accuracy=event.test_accuracy, model_epoch=event.model_epoch, ended=time.time(),
                             progress=None)

    def _forget_old_jobs(self) -> None:
        """Keep memory bounded: drop the oldest finished jobs beyond `FINISHED_JOBS_KEPT`."""
        with self._lock:
            finished = sorted((s for s in self._states.values() if s.finished), key=lambda s: s.ended or 0.0)
            for state in finished[: max(0, len(finished) - FINISHED_JOBS_KEPT)]:
                del self._states[state.job_id]
                self._version += 1
