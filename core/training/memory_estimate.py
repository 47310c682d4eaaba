"""How much memory a training's worker will reach, said before it starts.

A worker's peak resident size is modelled as
`WORKER_IDLE_MB + RUN_OVERHEAD_MB + ACTIVATION_FACTOR × batch × activations × 4 bytes
+ weight copies × parameters × 4 bytes`: the warm worker itself (TensorFlow, MNIST, its warm
models), what any run adds (its traced graphs, pipelines, the test predictions), the numbers a
batch leaves between the forward and the backward pass (`core.models.model_size`; the backward
pass's own buffers come on top, hence the factor), and the weights with their gradients and the
optimizer's slots. The constants were fitted to the peak resident sizes (VmHWM) of real runs in
fresh worker-like processes, `bench/job_memory.py` (`bench/results/job_memory.txt`): the estimates
came out 1-25% above the measured peaks, except the CNN at batch 1,000 (2% under). A job estimated
under the cap may still cross it (the executor then stops it); one estimated over it is refused
before it starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.config.train_config import TrainConfig
from core.models.model_size import model_size, weight_copies
from core.training.epoch_estimate import split_sizes

MIB = 1024 * 1024
FLOAT_BYTES = 4
WORKER_IDLE_MB = 700.0  # a warm local worker, idle: TensorFlow, MNIST, its warm models (measured 620-700 MiB)
RUN_OVERHEAD_MB = 150.0  # what every run adds on top, whatever its size (measured 105-155 MiB for small models)
ACTIVATION_FACTOR = 1.0  # measured peak over the counted activations: 0.8 (wide MLPs) to 1.3 (cnn at batch 1,000)


@dataclass(frozen=True)
class MemoryEstimate:
    """Expected peak resident size of the worker training a config, in MiB, and its two largest parts."""

    peak_mb: float
    batch_mb: float  # the batch's activations (and the backward pass's buffers)
    weights_mb: float  # parameters, gradients and optimizer slots

    def words(self) -> str:
        """The estimate as the Train page and the refusals say it."""
        return (f"about {self.peak_mb:,.0f} MiB (a batch's activations {self.batch_mb:,.0f} MiB, weights and "
                f"optimizer {self.weights_mb:,.0f} MiB, the worker itself {WORKER_IDLE_MB + RUN_OVERHEAD_MB:,.0f} MiB)")


def estimate_peak_memory(config: TrainConfig) -> MemoryEstimate:
    """Estimate the peak resident memory of the worker that trains `config`.

    Args:
        config: the run about to start; its batch size (0 = all its training images in one batch),
            training images and model decide it.

    Returns:
        A `MemoryEstimate` in MiB, the worker's own baseline included.
    """
    size = model_size(config)
    n_train, _ = split_sizes(config)
    batch = min(config.batch_size or n_train, n_train)
    batch_mb = ACTIVATION_FACTOR * batch * size.activations * FLOAT_BYTES / MIB
    weights_mb = weight_copies(config) * size.parameters * FLOAT_BYTES / MIB
    return MemoryEstimate(WORKER_IDLE_MB + RUN_OVERHEAD_MB + batch_mb + weights_mb, batch_mb, weights_mb)


def memory_problem(config: TrainConfig, limit_mb: float | None) -> str | None:
    """Why `config` cannot train under a cap of `limit_mb` MiB per training, naming the fix; None if it fits.

    Args:
        config: the run about to start.
        limit_mb: the server's cap per training; None or 0 = no cap.
    """
    if not limit_mb:
        return None
    estimate = estimate_peak_memory(config)
    if estimate.peak_mb <= limit_mb:
        return None
    n_train, _ = split_sizes(config)
    batch = min(config.batch_size or n_train, n_train)
    return (f"This training would need {estimate.words()}, more than this server's cap of {limit_mb:,.0f} MiB per "
            f"training. Lower the batch size (now {'the whole set, ' if not config.batch_size else ''}{batch:,} images), "
            f"the hidden units or the training images, then start it.")
