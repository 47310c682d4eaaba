"""What a training run streams: points inside an epoch, metrics after each, commands obeyed, how it ended."""

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
    """Part-way through an epoch: how far, and a point of the batch-level curves.

    `loss` and `accuracy` are the means over the `samples` training images of the batches
    trained since the previous `Progress` of the epoch (or since it began), with the weights as
    they were then (dropout on), as TensorBoard's batch-level scalars are. The epoch's
    `EpochEnd.loss` is the sample-weighted mean of its points plus the batches after its last one.
    For `numpy_logreg` they are the last batch's, after its step.
    """

    epoch: int  # 1-based
    fraction: float  # of the epoch's batches done
    loss: float
    accuracy: float
    seconds: float  # since the epoch began, pauses left out
    samples: int = 0  # training images the point averages over
    step: int = 0  # batches trained since the run began
    learning_rate: float | None = None  # the optimizer's rate after these batches
    event: str = "batch"

    @property
    def position(self) -> float:
        """Where the point lies on an epoch axis: `epoch - 1 + fraction`."""
        return self.epoch - 1 + self.fraction

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class LearningRateChanged:
    """The learning rate was changed mid-run (`TrainingControl.set_learning_rate`), before batch `step + 1`.

    `epoch` and `fraction` say where, as for `Progress`; `learning_rate` is the rate from there on
    (for a one-cycle schedule, its rescaled value at that step), `previous` the one before.
    """

    epoch: int  # 1-based
    fraction: float  # of the epoch's batches done before the change
    step: int  # batches trained since the run began
    learning_rate: float
    previous: float
    event: str = "learning_rate"

    @property
    def position(self) -> float:
        return self.epoch - 1 + self.fraction

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
    model_epoch: int | None = None  # the epoch whose model was saved and scored (the best, with `keep_best_epoch`)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
