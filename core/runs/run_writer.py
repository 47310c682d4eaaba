"""Write one run's folder as training goes: config, status, metrics, TensorBoard logs, model."""

from __future__ import annotations

import json
import os
import threading
import time
import numpy as np

from core.models.numpy_forward import UnsupportedModel, translate_checked
from core.runs.atomic_files import atomic_path, write_bytes_atomic, write_json_atomic
from core.config.train_config import TrainConfig
from core.training.events import FAILED, RUNNING, EpochEnd, LearningRateChanged, Progress, TrainingEnd
from core.runs.store import (
    BATCHES_FILE, CONFIG_FILE, CONTROLS_FILE, LOGS_DIR, RUNS_DIR_ENV, METRICS_FILE, MODEL_FILE, NO_NUMPY_MODEL_FILE, NUMPY_MODEL_FILE,
    PREDICTIONS_FILE, STATUS_FILE, RunError,
    new_run_name, process_start_time, resolve_runs_dir, run_path,
)


HISTOGRAM_BUCKETS = 30  # TensorBoard's default


def weight_histogram(values: np.ndarray, buckets: int = HISTOGRAM_BUCKETS) -> np.ndarray:
    """`values` bucketed as `tf.summary.histogram` does: float64 `(buckets, 3)` rows of (left edge, right edge, count).

    Equal widths from the minimum to the maximum, the maximum counted in the last bucket; all values
    equal: every edge at that value and every count in the last bucket; no values: zeros.
    """
    data = np.asarray(values, dtype=np.float64).ravel()
    if data.size == 0:
        return np.zeros((buckets, 3))
    low, high = data.min(), data.max()
    if high == low:
        counts = np.zeros(buckets)
        counts[-1] = data.size
        return np.stack([np.full(buckets, low), np.full(buckets, low), counts], axis=1)
    width = (high - low) / buckets
    indices = np.minimum(np.floor((data - low) / width).astype(np.int64), buckets - 1)
    edges = np.linspace(low, high, buckets + 1)
    return np.stack([edges[:-1], edges[1:], np.bincount(indices, minlength=buckets).astype(np.float64)], axis=1)


RESUME_KEEPS = ("started", "parent")  # what a resumed run's status keeps of its earlier one


class RunWriter:
    """Creates a new run folder and records the run into it.

    Args:
        config: the run's config, written at once.
        runs_dir: the runs directory (created if missing).
        name: the run's folder name; a fresh one when None.
        supervisor_pid: the process this one trains for (a worker's server or CLI); the run
            reads back as interrupted once either process is gone.
        resumed_from: the epoch an existing run `name` goes on from (a resume): its folder is kept, its
            `config.json` too, and `status.json` says it runs again (its start, its parent and its earlier
            resumes kept, `resumed` gaining `{"from_epoch", "epochs", "at"}`). None = a new folder.

    Raises:
        RunError: if the name is invalid or taken (or, resuming, no such run exists), or the runs
            directory cannot be written.
    """

    def __init__(self, config: TrainConfig, runs_dir: str | os.PathLike | None = None, name: str | None = None,
                 supervisor_pid: int | None = None, resumed_from: int | None = None):
        self.config = config
        root = resolve_runs_dir(runs_dir)
        self.name = new_run_name(config.model) if name is None else name  # "" is a bad name, not "pick one"
        self.path = run_path(root, self.name)
        if root.exists() and not root.is_dir():
            raise RunError(f"The runs directory {root} is a file, not a folder. "
                           f"Move it away, or choose another with --runs-dir or ${RUNS_DIR_ENV}.")
        earlier = {} if resumed_from is None else self._earlier_status(name)
        try:
            root.mkdir(parents=True, exist_ok=True)
            if resumed_from is None:
                self.path.mkdir()
        except FileExistsError:
            raise RunError(f"A run named {self.name!r} already exists. Pick another name.") from None
        except OSError as error:
            raise RunError(f"Cannot create run folder {self.path} ({error.strerror}). "
                           f"Make the runs directory writable, or choose another with --runs-dir or ${RUNS_DIR_ENV}.") from None
        self.started = time.time()
        self._status = {
            "status": RUNNING, "reason": "training", "pid": os.getpid(),
            "pid_started": process_start_time(os.getpid()), "started": self.started,
        }
        if supervisor_pid is not None and supervisor_pid != os.getpid():
            self._status.update(supervisor_pid=supervisor_pid, supervisor_started=process_start_time(supervisor_pid))
        if resumed_from is not None:
            self.started = earlier.get("started", self.started)
            resumes = earlier.get("resumed") if isinstance(earlier.get("resumed"), list) else []
            self._status.update({key: earlier[key] for key in RESUME_KEEPS if key in earlier})
            self._status["resumed"] = [*resumes, {"from_epoch": resumed_from, "epochs": config.epochs, "at": time.time()}]
        try:
            if resumed_from is None:
                write_json_atomic(self.path / CONFIG_FILE, config.to_dict())
            write_json_atomic(self.path / STATUS_FILE, self._status)
        except OSError as error:
            raise RunError(f"Cannot write to run folder {self.path} ({error.strerror}).") from None
        self._summary_writers = None
        self.model_epoch: int | None = None  # the epoch whose model the run keeps (its best, with `keep_best_epoch`)
        self._writers_lock = threading.Lock()  # histograms come from the training thread, scalars from the reader's

    def _earlier_status(self, name: str) -> dict:
        """The `status.json` of the existing run a resume continues (what it keeps of it)."""
        if not self.path.is_dir():
            raise RunError(f"No run named {name!r} in the runs directory. It may have been deleted; pick another run.")
        try:
            earlier = json.loads((self.path / STATUS_FILE).read_text())
        except (OSError, ValueError, UnicodeDecodeError):
            earlier = {}
        return earlier if isinstance(earlier, dict) else {}

    def record_parent(self, run: str, epoch: int) -> None:
        """Say in `status.json` that this run continues run `run` from its checkpoint at `epoch` (a fork)."""
        self._status["parent"] = {"run": run, "epoch": epoch}
        write_json_atomic(self.path / STATUS_FILE, self._status)

    def record_one_cycle(self, note: str) -> None:
        """Say in `status.json` which one-cycle schedule a continued run trains with (`one_cycle`, in words): a
        resume's under its entry in `resumed`, a fork's at the top."""
        resumes = self._status.get("resumed")
        (resumes[-1] if resumes else self._status)["one_cycle"] = note
        write_json_atomic(self.path / STATUS_FILE, self._status)

    def append_epoch(self, epoch: EpochEnd) -> None:
        """Append one epoch's metrics (one fsynced JSON line) and its TensorBoard scalars."""
        line = json.dumps({k: v for k, v in epoch.to_dict().items() if k != "event"}) + "\n"
        with open(self.path / METRICS_FILE, "a") as metrics:
            metrics.write(line)
            metrics.flush()
            os.fsync(metrics.fileno())
        self._log_scalars(epoch)

    def append_point(self, point: Progress | LearningRateChanged) -> None:
        """Append a batch-level point to `batches.jsonl`, or a learning-rate change to `controls.jsonl`.

        Not fsynced (a few a second): a crash may lose the last ones, never an epoch.
        """
        file = CONTROLS_FILE if isinstance(point, LearningRateChanged) else BATCHES_FILE
        with open(self.path / file, "a") as points:
            points.write(json.dumps(point.to_dict()) + "\n")

    def log_histograms(self, epoch: int, model) -> None:
        """Write each of the model's weights as a TensorBoard histogram at step `epoch` (under `logs/train`).

        Keras 3's TensorBoard callback no longer writes them (keras-team/keras-core#578); these are named by
        the weights' paths (`conv2d/kernel`), so `tensorboard --logdir runs` shows them under Histograms and
        Distributions. The buckets are counted in NumPy (`weight_histogram`) and written as one summary:
        `tf.summary.histogram` counted them through a one-hot matrix of values × buckets, ~0.3-0.5 s of every
        epoch for the `fast` model here.

        Args:
            epoch: the epoch just ended, 1-based.
            model: the Keras model as that epoch left it.
        """
        import tensorflow as tf
        from tensorboard.compat.proto import summary_pb2
        from tensorboard.plugins.histogram import metadata
        from tensorboard.util import tensor_util

        summary = summary_pb2.Summary()
        for variable in model.weights:
            summary.value.add(tag=getattr(variable, "path", variable.name),
                              metadata=metadata.create_summary_metadata(display_name=None, description=None),
                              tensor=tensor_util.make_tensor_proto(weight_histogram(np.asarray(variable)), dtype=np.float64))
        writer = self._writers()["train"]
        with writer.as_default():
            tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=epoch)
        writer.flush()

    def _writers(self) -> dict:
        import tensorflow as tf

        with self._writers_lock:
            if self._summary_writers is None:
                logs = self.path / LOGS_DIR
                self._summary_writers = {
                    "train": tf.summary.create_file_writer(str(logs / "train")),
                    "validation": tf.summary.create_file_writer(str(logs / "validation")),
                }
            return self._summary_writers

    def _log_scalars(self, epoch: EpochEnd) -> None:
        import tensorflow as tf

        self._writers()
        # Keras's TensorBoard callback names: epoch_loss / epoch_accuracy under train/ and validation/
        scalars = {
            "train": {"epoch_loss": epoch.loss, "epoch_accuracy": epoch.accuracy, "epoch_learning_rate": epoch.learning_rate},
            "validation": {"epoch_loss": epoch.val_loss, "epoch_accuracy": epoch.val_accuracy},
        }
        for split, values in scalars.items():
            with self._summary_writers[split].as_default():
                for tag, value in values.items():
                    if value is not None:
                        tf.summary.scalar(tag, value, step=epoch.epoch)
            self._summary_writers[split].flush()

    def save_model(self, model) -> None:
        """Save the Keras model and its NumPy translation, each atomically.

        The NumPy file (`model.numpy.npz`, what the web server predicts with, without TensorFlow)
        is written only after `core.models.numpy_forward.translate_checked` found it equal to the
        Keras model on probe images; a model it cannot translate gets `no_numpy_model.txt`, saying
        why, instead. It is written first, so a reader that finds `model.keras` also finds the
        NumPy file; if `model.keras` then fails to save, both are removed again, and a crash
        mid-save leaves no `model.keras`.

        Args:
            model: the trained Keras model.
        """
        self._save_numpy_model(model)
        try:
            with atomic_path(self.path / MODEL_FILE, suffix=".keras") as temporary:
                model.save(temporary)
        except BaseException:
            for file in (NUMPY_MODEL_FILE, NO_NUMPY_MODEL_FILE):
                (self.path / file).unlink(missing_ok=True)
            raise

    def _save_numpy_model(self, model) -> None:
        try:
            translation = translate_checked(model)
        except UnsupportedModel as error:
            reason = str(error)
        except Exception as error:  # a translation bug must not cost the trained model: say so, use Keras
            reason = f"the NumPy translation failed ({type(error).__name__}: {error})"
        else:
            with atomic_path(self.path / NUMPY_MODEL_FILE, suffix=".npz") as temporary:
                translation.save(temporary)
            (self.path / NO_NUMPY_MODEL_FILE).unlink(missing_ok=True)
            return
        write_bytes_atomic(self.path / NO_NUMPY_MODEL_FILE, f"{reason}\n".encode())
        (self.path / NUMPY_MODEL_FILE).unlink(missing_ok=True)

    def save_predictions(self, y_true: np.ndarray, probabilities: np.ndarray) -> None:
        with atomic_path(self.path / PREDICTIONS_FILE, suffix=".npz") as temporary:
            np.savez_compressed(temporary, y_true=y_true, probabilities=probabilities.astype(np.float16))

    def finish(self, end: TrainingEnd, test_loss: float | None = None, test_accuracy: float | None = None) -> None:
        """Record how the run ended."""
        self._status.update(
            status=end.status, reason=end.reason, ended=time.time(), epochs_completed=end.epochs_completed,
            best_epoch=end.best_epoch, test_loss=test_loss, test_accuracy=test_accuracy,
        )
        if self.model_epoch is not None:
            self._status["model_epoch"] = self.model_epoch
        self._write_status()

    def fail(self, reason: str) -> None:
        """Mark the run failed with `reason`; never raises (it runs while handling another error)."""
        self._status.update(status=FAILED, reason=reason, ended=time.time())
        try:
            self._write_status()
        except OSError:
            pass

    def _write_status(self) -> None:
        write_json_atomic(self.path / STATUS_FILE, self._status)
        if self._summary_writers:
            for writer in self._summary_writers.values():
                writer.close()
            self._summary_writers = None
