"""A training run that records itself into a run folder: what the CLI and the dashboard start."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from core.config.train_config import ConfigError, TrainConfig
from core.data.mnist import Mnist, load_mnist
from core.training.compiled_models import CompiledModels
from core.training.control import TrainingControl
from core.training.events import DIVERGED, EpochEnd, LearningRateChanged, Progress, RunDone, TrainingEnd
from core.data.input_pipeline import prediction_batches
from core.models.numpy_forward import translate_checked
from core.models.penultimate import keras_features_and_logits
from core.runs.checkpoints import CheckpointWriter, load_keras_state, load_training_state
from core.runs.continuations import best_of, check_fork, cut_back_to, resume_epoch
from core.runs.background_feature_files import BackgroundFeatureFiles
from core.runs.epoch_map_files import KeptEpochFeatures, compute_kept_epoch_features, keras_checkpoint_features, write_epoch_maps
from core.runs.feature_files import embedding_digits, precomputed_features
from core.runs.run_writer import RunWriter
from core.runs.store import RunError, load_run
from core.data.splits import make_splits
from core.training.one_cycle_plan import describe_continued_cycles
from core.training.patience import PatienceCount
from core.training.trainer import Trainer
from core.training.training_start import TrainingStart



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
        fork_from: `(run, epoch)`: a new run that continues from that run's checkpoint at that epoch
            (its weights, optimizer state and data order), training `config.epochs` more; its epochs are
            numbered on from the parent's, and `status.json` records `parent`. The architecture
            (`model`, `hidden_units`) must be the parent's; anything else may change.
        resume: go on with run `name` itself, from its last kept checkpoint, for `config.epochs` more epochs
            (`config` is the run's own, but for `epochs`): what it recorded after that checkpoint is dropped
            (`core.runs.continuations.cut_back_to`), the epochs trained now are appended, and the run ends with
            all its epochs counted (`RunDone.epochs_completed`), its best chosen among all of them.
        checkpoints_elsewhere: a resume on another machine, whose kept checkpoints came only in part
            (`core.runs.continuations.resume_shipping`; see `CheckpointWriter`'s `elsewhere`).

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
                 supervisor_pid: int | None = None, compiled_models: CompiledModels | None = None,
                 fork_from: tuple[str, int] | None = None, resume: bool = False,
                 checkpoints_elsewhere: dict[int, tuple[int, bool]] | None = None):
        self.config = config
        if resume and (name is None or fork_from is not None):
            raise ConfigError("A resume names the run it goes on with (`name`), and is no fork (`fork_from`=None).")
        self.mnist = mnist or load_mnist()
        splits = make_splits(self.mnist, config)
        self.keeps_best = config.keep_best_epoch and config.validation != "none"
        self.resumed_from = resume_epoch(runs_dir, name) if resume else None
        start = None
        if fork_from is not None:
            start = fork_start(runs_dir, config, *fork_from)
        elif resume:
            start = replace(fork_start(runs_dir, config, name, self.resumed_from), carries_learning_rate=True)
        self.trainer = Trainer(config, splits, control=control, compiled_models=compiled_models,
                               on_epoch_model=self._on_epoch_model if self.keeps_best or config.checkpoint_budget_mb else None,
                               start=start)
        self._earlier_epochs: list[dict] = []  # a resumed run's epochs before this training
        if resume:
            cut_back_to(runs_dir, name, self.resumed_from)  # what a kill left after the checkpoint: dropped
            self._earlier_epochs = [e for e in load_run(name, runs_dir).epochs if e["epoch"] <= self.resumed_from]
        self.writer = RunWriter(config, runs_dir, name, supervisor_pid, resumed_from=self.resumed_from)
        if fork_from is not None:
            self.writer.record_parent(*fork_from)
        if start is not None and self.trainer.cycles is not None:  # the run's record says which schedule it goes on with
            self.writer.record_one_cycle(describe_continued_cycles(
                self.trainer.cycles, start.steps_done(self.trainer.steps_per_epoch), self.trainer.steps_per_epoch))
        self.checkpoints = None
        self.feature_files: BackgroundFeatureFiles | None = None  # the map and statistics, written after RunDone
        epochs_done = 0 if start is None else start.epochs_done
        earlier_best_loss, earlier_best_epoch = best_of(self._earlier_epochs)
        if config.checkpoint_budget_mb:
            self.checkpoints = CheckpointWriter(self.writer.path, config.checkpoint_budget_mb, epochs_done + config.epochs,
                                                splits.y_test, translate=translate_checked, predict=self._predict_test_set,
                                                elsewhere=checkpoints_elsewhere)
            self.checkpoints.best_val_loss, self.checkpoints.best_epoch = earlier_best_loss, earlier_best_epoch
        # (val_loss, epoch, the Keras weights after it); an earlier epoch's weights are in its checkpoint (None here)
        self._best = (earlier_best_loss, earlier_best_epoch, None)

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
            if self.checkpoints is not None:
                self.checkpoints.flush()  # the last epoch's checkpoint is on disk before the run says it ended
            test_loss = test_accuracy = None
            if self.resumed_from is not None:  # the run's epochs are all of them, its best among all
                every = self._earlier_epochs + [epoch.to_dict() for epoch in self.trainer.epochs]
                end = replace(end, epochs_completed=len(every), best_epoch=best_of(every)[1])
            if end.epochs_completed and end.status != DIVERGED:
                test_loss, test_accuracy = self._save_model_and_predictions(end)
            self.writer.finish(end, test_loss, test_accuracy)
        except OSError as error:  # disk full, runs directory removed or made read-only mid-run
            self._flush_checkpoints_quietly()
            problem = error.strerror or str(error)
            self.writer.fail(f"the run could not be written ({problem})")
            raise RunError(
                f"Run {self.name!r} could not be written ({problem}). Free disk space or make the runs "
                "directory writable, then train again; the epochs already written are kept."
            ) from error
        except BaseException as error:
            self._flush_checkpoints_quietly()
            self.writer.fail(f"{type(error).__name__}: {error}")
            raise
        yield RunDone(end.status, end.reason, end.epochs_completed, test_accuracy, test_loss,
                      str(self.writer.path), self.writer.name, model_epoch=self.writer.model_epoch)
        # After the run has said it ended: the map takes seconds (t-SNE) and the visitor's curves, test
        # accuracy and Start button need not wait for it, nor the next job: the features are computed here, the
        # rest on a thread of its own (`wait_for_feature_files`); the Map page says "not computed yet" meanwhile.
        if test_accuracy is not None:
            self._save_feature_files()

    def _on_epoch_model(self, epoch: int, model, val_loss: float | None, state: dict) -> None:
        """After each epoch, in the training thread: its checkpoint (with what a continuation needs besides the
        model, `state`), and its weights if it is the best so far."""
        if self.checkpoints is not None:
            self.checkpoints.write(epoch, model, val_loss, state)
        self.writer.log_histograms(epoch, model)  # TensorBoard's Histograms and Distributions
        if self.keeps_best and val_loss is not None and math.isfinite(val_loss) and val_loss < self._best[0]:
            self._best = (val_loss, epoch, [np.array(array) for array in model.get_weights()])

    def _flush_checkpoints_quietly(self) -> None:
        """Let the checkpoint in flight land (a finished epoch's is kept) while the run fails for another reason."""
        if self.checkpoints is not None:
            try:
                self.checkpoints.flush()
            except Exception:  # the run's own error is the one to report
                pass

    def _earlier_weights(self, epoch: int) -> list[np.ndarray] | None:
        """The Keras weights after an epoch trained before this resume, from its checkpoint; None if not kept."""
        try:
            weights, _ = load_keras_state(self.writer.path.parent, self.name, epoch)
        except RunError:
            return None
        return weights
    def _save_feature_files(self) -> None:
        """The run's map and digit statistics (`core.runs.feature_files`), after its status is final.

        The features are computed here, with the run's Keras model (~1 s); the statistics, PCA and t-SNE
        (~10 s) go on in `self.feature_files`, a thread of their own, so a worker takes its next job at
        once (`core.runs.background_feature_files`). Never fatal: the run and its model are kept whatever
        happens, and a run without the files gets them from `python -m core embedding --run NAME`; the
        console says why they are missing.
        """
        try:
            digits = embedding_digits()
            if not digits:
                return
            features = precomputed_features(keras_features_and_logits(self.trainer.model, pooled=True), self.mnist, digits)
        except Exception as error:  # a bad setting, a model without a Dense softmax head (numpy_logreg's sigmoids)
            print(f"run {self.name}: no map or digit statistics ({type(error).__name__}: {error}); "
                  f"`python -m core embedding --run {self.name}` tries again", file=sys.stderr, flush=True)
            return
        kept = self._kept_epoch_features(digits)  # in line too: they need the Keras model the next job reuses
        self.feature_files = BackgroundFeatureFiles(
            self.writer.path, self.name, features, self.mnist, digits, extra_meta={"model_epoch": self.writer.model_epoch},
            then=None if kept is None else lambda: self._write_epoch_maps(kept))

    def _kept_epoch_features(self, digits: int) -> KeptEpochFeatures | None:
        """Each kept epoch's features of the map digits, from its checkpoint's weights on the Keras model
        (`core.runs.epoch_map_files`); None without two kept checkpoints or when it fails (never fatal)."""
        if self.checkpoints is None:
            return None
        model = self.trainer.model
        final = [np.array(array) for array in model.get_weights()]
        try:
            return compute_kept_epoch_features(self.writer.path.parent, self.name,
                                        keras_checkpoint_features(model, self.writer.path.parent, self.name),
                                        self.mnist, digits, anchor=self.writer.model_epoch)
        except Exception as error:  # a damaged checkpoint: the run's own map is still made
            print(f"run {self.name}: no map through the epochs ({type(error).__name__}: {error}); "
                  f"`python -m core embedding --run {self.name}` tries again", file=sys.stderr, flush=True)
            return None
        finally:
            model.set_weights(final)

    def _write_epoch_maps(self, kept: KeptEpochFeatures) -> None:
        """After the map is written, on its thread: the map at each kept epoch, aligned with it; never fatal."""
        try:
            seconds = write_epoch_maps(self.writer.path, kept)
            print(f"run {self.name}: map at {len(kept.features) + 1} kept epochs in {seconds['total']:.1f} s",
                  file=sys.stderr, flush=True)
        except Exception as error:  # a full disk, a run deleted meanwhile
            print(f"run {self.name}: no map through the epochs ({type(error).__name__}: {error}); "
                  f"`python -m core embedding --run {self.name}` tries again", file=sys.stderr, flush=True)

    def wait_for_feature_files(self, timeout: float | None = None) -> bool:
        """Wait until the map and digit statistics are written (or have failed); True if nothing is left to wait for."""
        return self.feature_files is None or self.feature_files.join(timeout)

    def _predict_test_set(self, model) -> np.ndarray:
        return model.predict(prediction_batches(self.trainer.splits.test_images), verbose=0)

    def _save_model_and_predictions(self, end: TrainingEnd) -> tuple[float, float]:
        model, splits = self.trainer.model, self.trainer.splits
        _, best_epoch, best_weights = self._best
        last_epoch = self.trainer.epochs[-1].epoch if self.trainer.epochs else self.resumed_from
        if self.keeps_best and best_weights is None and best_epoch is not None and best_epoch != last_epoch:
            best_weights = self._earlier_weights(best_epoch)  # a resumed run's best came before this training
        if best_weights is not None and best_epoch != last_epoch:
            model.set_weights(best_weights)  # the run's model is its best epoch's
        self.writer.model_epoch = best_epoch if best_weights is not None else last_epoch
        probabilities = self._predict_test_set(model)
        picked = probabilities[np.arange(len(splits.y_test)), splits.y_test]
        test_loss = float(-np.mean(np.log(np.clip(picked, 1e-7, 1.0))))
        test_accuracy = float(np.mean(np.argmax(probabilities, axis=1) == splits.y_test))
        self.writer.save_model(model)
        self.writer.save_predictions(splits.y_test, probabilities)
        if self.checkpoints is not None:  # the kept epochs' predictions, for Errors (this model's are the ones above)
            self.checkpoints.add_test_predictions(model, probabilities)
        return test_loss, test_accuracy


VALIDATION_FIELDS = ("validation", "validation_size")  # which images score val_loss (core.data.splits)


def fork_start(runs_dir, config: TrainConfig, parent: str, epoch: int) -> TrainingStart:
    """The state run `parent` had after `epoch`, for a new run with `config` to continue from: its weights and
    optimizer state, early stopping's count (afresh where `config` validates on other images than the parent,
    `VALIDATION_FIELDS`), the best epoch's weights where `restore_best_weights` needs them, and the one-cycle
    schedule's cycles and scale (`core.runs.checkpoints.load_training_state`).

    Raises:
        RunError: if the parent or its checkpoint at `epoch` is missing or damaged.
        ConfigError: if `config` changes the parent's architecture.
    """
    check_fork(runs_dir, config, parent, epoch)
    weights, optimizer = load_keras_state(runs_dir, parent, epoch)
    state = load_training_state(runs_dir, parent, epoch)
    parent_config = load_run(parent, runs_dir).config
    patience = None
    if "patience" in state and all(parent_config.get(name) == getattr(config, name) for name in VALIDATION_FIELDS):
        try:
            patience = PatienceCount.from_dict(state["patience"])
        except ValueError as error:
            raise RunError(f"Run {parent!r}, epoch {epoch}: training_state.json holds no patience count ({error}). "
                           "Pick another epoch, or delete the run and retrain.") from None
    best_weights = None
    if patience is not None and patience.best_epoch is not None and config.patience and config.restore_best_weights:
        if patience.best_epoch == epoch:
            best_weights = weights
        else:
            try:
                best_weights, _ = load_keras_state(runs_dir, parent, patience.best_epoch)
            except RunError:  # pruned: Keras then takes the first epoch after the checkpoint as its best so far
                best_weights = None
    one_cycle = state.get("one_cycle") if isinstance(state.get("one_cycle"), dict) else {}
    try:
        cycles = tuple((int(start), int(end)) for start, end in one_cycle.get("cycles", ()))
        scale = float(one_cycle.get("scale", 1.0))
    except (TypeError, ValueError):
        raise RunError(f"Run {parent!r}, epoch {epoch}: training_state.json holds no valid one-cycle cycles. "
                       "Pick another epoch, or delete the run and retrain.") from None
    return TrainingStart(epoch, weights, tuple(optimizer), patience=patience, best_weights=best_weights,
                         cycles=cycles, schedule_scale=scale)
