"""How long one epoch of a config will take, said before it starts.

The cost of an epoch is modelled as
`train_steps × step_seconds + n_train × sample_seconds + val_steps × val_step_seconds
+ n_val × val_sample_seconds`: a fixed cost per batch (Python, Keras, kernel launches) plus
a cost per image, for training and for validation (which Keras runs in batches of the
training batch size). `BASELINES` holds these costs per model, measured on a 2-core CPU, for the
model's preset architecture. A config whose model is bigger or smaller than the preset's (its
hidden units) pays the difference in arithmetic per image at `FLOPS_PER_SECOND`
(`core.models.model_size` counts it): the 4,096-unit MLP does 75 times the 256-unit one's
arithmetic per image, which its per-image baseline, mostly overhead at that size, did not show
(it was estimated 36 s for four full-batch epochs that took 217 s). When this machine has saved runs of the same model, their epochs calibrate the baseline to
this machine: the estimate is the baseline scaled by how much slower or faster those runs
were than the baseline predicted for their own configs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from core.config.train_config import ConfigError, TrainConfig, from_dict, preset_config
from core.data.mnist import TEST_SIZE, TRAIN_SIZE
from core.models.model_size import training_flops

MEASURED = "measured"
BASELINE = "baseline"
RUNS_CONSULTED = 5  # the most recent matching runs: old ones may predate a faster build


@dataclass(frozen=True)
class EpochCost:
    """Seconds per training step and image, and per validation step and image, of one model."""

    step_seconds: float
    sample_seconds: float
    val_step_seconds: float
    val_sample_seconds: float


# Measured with `bench/epoch_throughput.py` on 2026-11-22 on the project's 2-core AMD EPYC (AVX2, no
# AVX-512), oneDNN on, TensorFlow 2.21 CPU, NumPy 2.4: per model, the cheapest of epochs 2-4 of short
# trainings on 3,000 (CNNs) or 6,000 real MNIST images at batch 32 and 512, each with and without a
# 5,000-image hold-out, fitted to the cost model above. The machine was shared with other jobs, so
# the bench counts CPU seconds, which matched idle wall-clock timings within ~25% (see the bench).
BASELINES: dict[str, EpochCost] = {
    "numpy_logreg": EpochCost(step_seconds=0.0, sample_seconds=1.19e-05, val_step_seconds=0.000355, val_sample_seconds=0.0),
    "softmax": EpochCost(step_seconds=0.00285, sample_seconds=1.48e-05, val_step_seconds=0.00299, val_sample_seconds=2.17e-05),
    "mlp": EpochCost(step_seconds=0.00405, sample_seconds=3.72e-05, val_step_seconds=0.00585, val_sample_seconds=2.04e-05),
    "cnn": EpochCost(step_seconds=0.0554, sample_seconds=0.000856, val_step_seconds=0.0, val_sample_seconds=0.000558),
    "cnn_deep": EpochCost(step_seconds=0.0607, sample_seconds=0.000953, val_step_seconds=0.000574, val_sample_seconds=0.000243),
    "lenet5": EpochCost(step_seconds=0.00583, sample_seconds=0.00014, val_step_seconds=0.00451, val_sample_seconds=8.85e-05),
    # Scaled by 0.16 on 2026-12-02: its 2026-11-22 fit (27 s for the preset's 60,000 images) predates the
    # fused Adam, grouped steps and uint8 pipeline; a warm worker now trains that epoch in ~4.4 s on the same
    # kind of host (EpochEnd 4.78 s after the run began, its first batch at 0.42 s). Other models are not re-fit.
    "fast": EpochCost(step_seconds=0.0023, sample_seconds=5.6e-05, val_step_seconds=0.00027, val_sample_seconds=2.2e-05),
}


@dataclass(frozen=True)
class EpochEstimate:
    """Expected seconds per epoch, where the figure came from (`MEASURED` or `BASELINE`), and how."""

    seconds: float
    source: str
    detail: str


def split_sizes(config: TrainConfig) -> tuple[int, int]:
    """`(training images, validation images)` of one epoch, as `core.data.splits.make_splits` will cut them."""
    pool, n_val = TRAIN_SIZE, 0
    if config.validation == "holdout":
        pool, n_val = TRAIN_SIZE - config.validation_size, config.validation_size
    elif config.validation == "test":
        n_val = TEST_SIZE
    n_train = min(config.train_size, pool) if config.train_size else pool
    return n_train, n_val


# Sustained float32 arithmetic of TensorFlow's big matmuls on the 2-core machines (numpy reaches 130-160
# GFLOP/s); fitted to full-batch epochs of the 4,096-unit MLP (`bench/job_memory.py`) and the 217 s for 4 epochs.
FLOPS_PER_SECOND = 1.1e11
MIN_COST_SHARE = 0.25  # a model smaller than its preset still pays at least this share of the preset's cost per image


def scaled_cost(config: TrainConfig) -> EpochCost:
    """The model's `BASELINES` cost, with the per-image costs moved by its arithmetic beyond (or below) the preset's."""
    cost = BASELINES[config.model]
    extra = (training_flops(config) - training_flops(preset_config(config.model))) / FLOPS_PER_SECOND  # seconds an image
    if not extra:
        return cost
    sample = max(cost.sample_seconds + extra, MIN_COST_SHARE * cost.sample_seconds)
    val_sample = max(cost.val_sample_seconds + extra / 3, MIN_COST_SHARE * cost.val_sample_seconds)  # a forward pass
    return EpochCost(cost.step_seconds, sample, cost.val_step_seconds, val_sample)


def baseline_seconds(config: TrainConfig) -> float:
    """Seconds one epoch of `config` takes on the 2-core CPU `BASELINES` was measured on."""
    cost = scaled_cost(config)
    n_train, n_val = split_sizes(config)
    batch = config.batch_size or n_train  # 0 = full batch
    seconds = math.ceil(n_train / batch) * cost.step_seconds + n_train * cost.sample_seconds
    if n_val:
        seconds += math.ceil(n_val / batch) * cost.val_step_seconds + n_val * cost.val_sample_seconds
    return seconds


def _speed_ratios(config: TrainConfig, runs: Sequence) -> tuple[list[float], int]:
    """How much slower than the baseline earlier epochs of this model ran: `(ratios, runs used)`."""
    ratios: list[float] = []
    used = 0
    for run in runs:
        if used == RUNS_CONSULTED:
            break
        if run.config.get("model") != config.model or not run.epochs:
            continue
        try:
            earlier = from_dict(run.config)
        except (ConfigError, TypeError):
            continue  # a damaged or outdated config.json says nothing reliable
        if earlier.augments != config.augments:
            continue  # augmentation's cost is not in the baseline
        # The first epoch also traces the graph; later ones show the steady pace.
        epochs = run.epochs[1:] if len(run.epochs) > 1 else run.epochs
        expected = baseline_seconds(earlier)
        seconds = [e["seconds"] for e in epochs if isinstance(e.get("seconds"), (int, float)) and e["seconds"] > 0]
        if seconds and expected > 0:
            ratios += [s / expected for s in seconds]
            used += 1
    return ratios, used


START_UP_SECONDS = 1.0  # a warm worker: the job's arrays, its run folder, the first call into TensorFlow (0.4-0.8 s measured)
SAVING_SECONDS = 0.5  # the model, its NumPy copy (checked against Keras) and the test predictions
FORWARD_SHARE = 1 / 3  # scoring an image costs about a third of training on it (a forward pass, no backward)


def run_seconds(config: TrainConfig, epoch_seconds: float) -> float:
    """The whole run as the Train page shows it: start-up, every epoch, scoring the 10,000 test images, saving."""
    n_train, _ = split_sizes(config)
    scoring = TEST_SIZE * FORWARD_SHARE * epoch_seconds / max(1, n_train)
    return START_UP_SECONDS + config.epochs * epoch_seconds + scoring + SAVING_SECONDS


def estimate_epoch(config: TrainConfig, runs: Sequence = ()) -> EpochEstimate:
    """Estimate the seconds one epoch of `config` will take.

    Args:
        config: the run about to start.
        runs: saved runs (`core.runs.store.RunSummary`, newest first) to learn this machine's
            pace from; runs of other models, or with augmentation where `config` has none
            (or the reverse), are ignored.

    Returns:
        An `EpochEstimate` whose `source` is `MEASURED` when earlier runs of the model
        calibrated it, else `BASELINE`.
    """
    baseline = baseline_seconds(config)
    ratios, used = _speed_ratios(config, runs)
    if ratios:
        ratio = statistics.median(ratios)
        return EpochEstimate(
            baseline * ratio, MEASURED,
            f"measured from {len(ratios)} epoch(s) of {used} earlier `{config.model}` run(s) on this machine, "
            f"scaled to this batch size and number of images",
        )
    return EpochEstimate(
        baseline, BASELINE,
        f"from a baseline timing of `{config.model}` on a 2-core CPU (no earlier `{config.model}` run here to learn from yet)",
    )
