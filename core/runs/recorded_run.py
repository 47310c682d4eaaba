"""A training run that records itself into a run folder: what the CLI and the dashboard start."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from core.config.train_config import TrainConfig
from core.data.mnist import Mnist, load_mnist
from core.training.compiled_models import CompiledModels
from core.training.control import TrainingControl
from core.training.events import DIVERGED, EpochEnd, LearningRateChanged, Progress, RunDone, TrainingEnd
from core.data.input_pipeline import prediction_batches
from core.runs.run_writer import RunWriter
from core.runs.store import RunError
from core.data.splits import make_splits
from core.training.trainer import Trainer


class RecordedRun:
    """Train `config` and save everything into a new run folder as it goes.

    Args:
        config: the run's hyperparameters.
        runs_dir: the runs directory; None = the default (see `core.runs.store.resolve_runs_dir`).
        name: the run folder's name; None = a fresh one.
        mnist: the dataset; None = `load_mnist()`.
        control: the run's commands (pause, resume, step, learning rate, stop); a new one if None.
        supervisor_pid: the process this run trains for, when it trains in a worker (see `RunWriter`).
        compiled_models: a warm worker's compiled models to reuse (see `core.training.compiled_models`).

    Raises:
        DatasetError, ConfigError, RunError: at construction, before any folder is created
            (but for a folder that cannot be created, which is the RunError).

    Iterating yields `Progress`, `EpochEnd` and `LearningRateChanged` events (each recorded in
    the folder: `batches.jsonl`, `metrics.jsonl`, `controls.jsonl`), then one `RunDone`. If training raises,
    the run is marked failed with the error's message and the error propagates; a failed write
    (e.g. a full disk) propagates as a `RunError` that says so.
    """

    def __init__(self, config: TrainConfig, runs_dir: str | os.PathLike | None = None,
                 name: str | None = None, mnist: Mnist | None = None, control: TrainingControl | None = None,
                 supervisor_pid: int | None = None, compiled_models: CompiledModels | None = None):
        self.config = config
        splits = make_splits(mnist or load_mnist(), config)
        self.trainer = Trainer(config, splits, control=control, compiled_models=compiled_models)
        self.writer = RunWriter(config, runs_dir, name, supervisor_pid)

    @property
    def name(self) -> str:
        return self.writer.name

    def stop(self) -> None:
        """Stop after the current batch; finished epochs and (if any) the model are kept."""
        self.trainer.stop()

    def __iter__(self) -> Iterator[Progress | EpochEnd | LearningRateChanged | RunDone]:
        try:
            end = None
            for event in self.trainer:
                if isinstance(event, TrainingEnd):
                    end = event
                    continue
                if isinstance(event, EpochEnd):
                    self.writer.append_epoch(event)
                elif isinstance(event, (Progress, LearningRateChanged)):
                    self.writer.append_point(event)
                yield event
            test_loss = test_accuracy = None
            if end.epochs_completed and end.status != DIVERGED:
                test_loss, test_accuracy = self._save_model_and_predictions()
            self.writer.finish(end, test_loss, test_accuracy)
        except OSError as error:  # disk full, runs directory removed or made read-only mid-run
            problem = error.strerror or str(error)
            self.writer.fail(f"the run could not be written ({problem})")
            raise RunError(
                f"Run {self.name!r} could not be written ({problem}). Free disk space or make the runs "
                "directory writable, then train again; the epochs already written are kept."
            ) from error
        except BaseException as error:
            self.writer.fail(f"{type(error).__name__}: {error}")
            raise
        yield RunDone(end.status, end.reason, end.epochs_completed, test_accuracy, test_loss,
                      str(self.writer.path), self.writer.name)

    def _save_model_and_predictions(self) -> tuple[float, float]:
        model, splits = self.trainer.model, self.trainer.splits
        probabilities = model.predict(prediction_batches(splits.test_images), verbose=0)
        picked = probabilities[np.arange(len(splits.y_test)), splits.y_test]
        test_loss = float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))
        test_accuracy = float(np.mean(np.argmax(probabilities, axis=1) == splits.y_test))
        self.writer.save_model(model)
        self.writer.save_predictions(splits.y_test, probabilities)
        return test_loss, test_accuracy
