"""The one job interface every executor serves: start a training, stream its events, steer it.

A page, the CLI or a sweep hands an executor a `JobRequest` and gets a `JobHandle`. Iterating
`handle.events()` yields what `RecordedRun` yields (`Progress`, `EpochEnd`, then one `RunDone`),
in order, wherever the training runs; `handle.send(Command(...))` stops, pauses, resumes, steps
or changes the learning rate from the next batch on. Whatever the executor, the run's folder
(config, metrics as they stream, model, predictions, logs) ends up in `request.runs_dir`, and
the `RunDone`'s `run_dir` names that folder there (not a temporary one on another machine).

Executors: `local` (warm worker processes on this machine, `core.jobs.local_executor`) and
`ray` (an existing Ray cluster, `core.jobs.ray_executor`); `core.jobs.executors` picks one by name.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

from core.config.train_config import TrainConfig
from core.config.train_form import FORM_FIELDS
from core.training.control import TrainingControl
from core.training.events import EpochEnd, Progress, RunDone

STOP, PAUSE, RESUME, STEP, SET_LEARNING_RATE = "stop", "pause", "resume", "step", "set_learning_rate"
COMMANDS = (STOP, PAUSE, RESUME, STEP, SET_LEARNING_RATE)


class JobError(RuntimeError):
    """The training failed inside its worker; the message is the worker's own (it names the fix)."""


class WorkerLost(RuntimeError):
    """The process or node running the job died mid-job; its run is marked `interrupted`."""


@dataclass(frozen=True)
class JobRequest:
    """One training to run: its config, and the run folder it records into.

    The submitter picks `run_name`, so the run is known (and linkable) before it starts.
    """

    config: TrainConfig
    run_name: str
    runs_dir: str  # the dashboard's own runs directory, absolute
    mnist_path: str | None = None  # None = the loader's search order, on the machine that trains
    supervisor_pid: int | None = None  # the submitting process, when the worker runs on this machine
    fork_from: tuple[str, int] | None = None  # (run, epoch): a new run that continues from that run's checkpoint
    resume: bool = False  # go on with run `run_name` itself from its last kept checkpoint, `config.epochs` more


@dataclass(frozen=True)
class Command:
    """A command for a running job; `value` is the learning rate of `set_learning_rate`.

    Checked where it is made, so a bad one never reaches a worker: the learning rate must be a
    finite number within the Train form's bounds (`core.config.train_form.FORM_FIELDS`), and the
    other commands take no value. `reason` is what a `stop` records as the run's reason (None:
    "stopped by request"); only `stop` takes one.

    Raises:
        ValueError: naming the command, the value and the range allowed.
    """

    name: str
    value: float | None = None
    reason: str | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or self.name not in COMMANDS:
            raise ValueError(f"Unknown command {self.name!r}. Pass one of {list(COMMANDS)}.")
        if self.reason is not None and (self.name != STOP or not isinstance(self.reason, str)):
            raise ValueError(f"Only `stop` takes a reason, in words. Received: name={self.name!r}, reason={self.reason!r}")
        if self.name != SET_LEARNING_RATE:
            if self.value is not None:
                raise ValueError(f"`{self.name}` takes no value. Received: value={self.value!r}")
            return
        low, high = FORM_FIELDS["learning_rate"].low, FORM_FIELDS["learning_rate"].high
        value = self.value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not low <= value <= high:
            raise ValueError(f"Received an invalid value for `set_learning_rate`, expected a finite learning rate in "
                             f"[{low:g}, {high:g}]. Received: value={value!r}")


def apply_command(control: TrainingControl, command: Command) -> None:
    """Carry `command` out on a run's control (inside the worker that trains it).

    Raises:
        ValueError: `command` is not a `Command`, or the control refused its value.
    """
    if not isinstance(command, Command):
        raise ValueError(f"Expected a `Command`. Received: {type(command).__name__}")
    if command.name == SET_LEARNING_RATE:
        control.set_learning_rate(command.value)
    elif command.name == STOP:
        control.stop(command.reason)
    elif command.name in COMMANDS:
        getattr(control, command.name)()
    else:
        raise ValueError(f"Unknown command {command.name!r}. Pass one of {list(COMMANDS)}.")


MAX_SHOWN_COMMAND = 120  # characters of a failed command quoted in the run's reason
MAX_REASON = 600


def obey(control: TrainingControl, command: Command) -> str | None:
    """Apply `command` to a running job's control; a command that fails stops the job instead.

    What a worker's command thread calls for each command: it never raises, so the thread lives
    on and the next Stop (or a server's time limit) still reaches the job. A failing command (one
    built around `Command`'s checks) ends the job at its next batch, its finished epochs kept, and
    the run's reason names the command and the error.

    Returns:
        None when the command was carried out, else the reason the job was stopped with.
    """
    try:
        apply_command(control, command)
        return None
    except Exception as error:  # any error: this thread must outlive it
        shown = repr(command)
        if len(shown) > MAX_SHOWN_COMMAND:
            shown = shown[:MAX_SHOWN_COMMAND] + "…"
        reason = f"a command could not be carried out, so the training stopped: {shown} failed with {type(error).__name__}: {error}"
        reason = reason[:MAX_REASON]
        try:
            control.stop(reason)
        except Exception:  # never expected; the thread must live on regardless
            pass
        return reason


class JobHandle(ABC):
    """A started job, seen from the side that submitted it."""

    @abstractmethod
    def events(self) -> Iterator[Progress | EpochEnd | RunDone]:
        """The job's events in order, ending with its `RunDone`.

        Raises:
            JobError: the training failed (bad data, a write that failed, an error in TensorFlow).
            WorkerLost: its worker died; the run folder is already marked `interrupted`.
        """

    @abstractmethod
    def send(self, command: Command) -> None:
        """Deliver a command; it takes effect at the job's next batch. Never raises for a job that ended."""


class Executor(ABC):
    """Runs jobs somewhere: `slots` of them at once."""

    name: str

    @property
    @abstractmethod
    def slots(self) -> int:
        """How many jobs it runs at once (the job queue starts no more than this)."""

    @abstractmethod
    def start(self, request: JobRequest) -> JobHandle:
        """Start `request` now (the caller keeps to `slots`)."""

    def close(self, grace_seconds: float = 5.0) -> None:
        """Release workers and connections.

        Args:
            grace_seconds: how long a worker may take to finish what a run does after its `RunDone` (its map
                and digit statistics) before it is ended.
        """


def events_until_done(items) -> Iterator[Progress | EpochEnd | RunDone]:
    """A job's events in the order its executor received them, up to and including its `RunDone`.

    Args:
        items: a queue whose `get()` blocks for the job's next event, or for the exception to raise in
            the job's place (a `JobError`, `WorkerLost`).
    """
    while True:
        item = items.get()
        if isinstance(item, BaseException):
            raise item
        yield item
        if isinstance(item, RunDone):
            return
