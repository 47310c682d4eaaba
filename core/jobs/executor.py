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

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

from core.config.train_config import TrainConfig
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


@dataclass(frozen=True)
class Command:
    """A command for a running job; `value` is the learning rate of `set_learning_rate`."""

    name: str
    value: float | None = None

    def __post_init__(self):
        if self.name not in COMMANDS:
            raise ValueError(f"Unknown command {self.name!r}. Pass one of {list(COMMANDS)}.")
        if self.name == SET_LEARNING_RATE and not (isinstance(self.value, (int, float)) and self.value > 0):
            raise ValueError(f"`set_learning_rate` needs a positive learning rate. Received: value={self.value!r}")


def apply_command(control: TrainingControl, command: Command) -> None:
    """Carry `command` out on a run's control (inside the worker that trains it)."""
    if command.name == SET_LEARNING_RATE:
        control.set_learning_rate(command.value)
    else:
        getattr(control, command.name)()


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

    def close(self) -> None:
        """Release workers and connections."""
