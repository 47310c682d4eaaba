"""What a training run streams: progress inside an epoch, metrics after each, and how it ended."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# How a run can end.
COMPLETED = "completed"  # all epochs ran
STOPPED = "stopped"  # a user asked it to stop
EARLY_STOPPED = "early_stopped"  # val_loss stopped improving for `patience` epochs
TARGET_REACHED = "target_reached"  # train accuracy passed `target_accuracy`
DIVERGED = "diverged"  # the loss became NaN or infinite
FAILED = "failed"  # an error ended it
INTERRUPTED = "interrupted"  # its process died mid-way (set when a saved run is read back)
RUNNING = "running"
QUEUED = "queued"
ENDINGS = (COMPLETED, STOPPED, EARLY_STOPPED, TARGET_REACHED, DIVERGED, FAILED, INTERRUPTED)


@dataclass(frozen=True)
class Progress:
    """Part-way through an epoch: `fraction` of its batches done, running mean `loss`."""

    epoch: int  # 1-based
    fraction: float
    loss: float
    accuracy: float
    seconds: float  # since the epoch began
    event: str = "progress"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class EpochEnd:
    """Metrics after one epoch, named as Keras logs them. `val_*` are None without validation."""

    epoch: int  # 1-based
    loss: float
    accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    learning_rate: float
    seconds: float
    samples_per_second: float
    event: str = "epoch"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TrainingEnd:
    """The run is over; `status` is one of `ENDINGS`, `reason` says why in words."""

    status: str
    reason: str
    epochs_completed: int
    best_epoch: int | None = None
    event: str = "end"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RunDone:
    """A recorded run is over and saved: how it ended, its test-set score, and where it lies."""

    status: str
    reason: str
    epochs_completed: int
    test_accuracy: float | None
    test_loss: float | None
    run_dir: str
    name: str
    event: str = "done"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
