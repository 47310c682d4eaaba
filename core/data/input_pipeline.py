"""The tf.data pipelines `model.fit` reads: shuffled batches gathered from in-memory arrays.

Why not hand `fit` the NumPy arrays, as Keras allows? Keras then builds its own tf.data
pipeline with tf.data's autotuner on, and on this 2-core VM that stalls: when an epoch ends,
destroying the epoch's iterator waits for the autotuner's background thread, which sleeps for
up to seconds between optimisation rounds, and it waits holding Python's GIL (py-spy: the main
thread in `IteratorResource::~IteratorResource` → `UnboundedThreadPool::LogicalThreadWrapper`
waiting on a notification). Measured with the `fast` model: 2 of every 4 epoch boundaries
stalled for 2–10 s with both CPUs idle; with the autotuner off, none of 12 did. Here the data
is already in memory, so there is nothing for the autotuner to tune: a gather of each batch
from the arrays and a fixed prefetch of two batches keep both cores on the model.

Images may come as MNIST stores them (uint8 `(n, 28, 28)`, what `Splits` holds) or as model
input (float32 `(n, 28, 28, 1)`); stored ones are scaled a batch at a time, so the pipeline's
copy of the training images is 47 MB rather than 188 MB.
"""

from __future__ import annotations

import numpy as np

PREFETCHED_BATCHES = 2
EVALUATION_BATCH_SIZE = 250  # inference only: any size gives the same numbers; at 1000, the conv models took ~150 MB more of a worker (activations), for no speed


def _without_autotuning(dataset):
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _gathered_batches(arrays: tuple[np.ndarray, ...], batch_size: int, seed: int | None, epochs_done: int = 0):
    import tensorflow as tf

    tensors = tuple(tf.constant(array) for array in arrays)
    images_as_stored = arrays[0].dtype == np.uint8  # the first array is the images
    indices = tf.data.Dataset.range(len(arrays[0]))
    if seed is not None:
        indices = indices.shuffle(len(arrays[0]), seed=seed, reshuffle_each_iteration=True)
        # Each pass over the shuffled indices draws the next epoch's order from the dataset's seed
        # generator, which the batches below share: passing over the indices alone (60,000 integers)
        # `epochs_done` times makes the next pass epoch `epochs_done + 1`'s order.
        for _ in range(epochs_done):
            for _ in indices.batch(len(arrays[0])):
                pass

    def gather(batch):
        picked = [tf.gather(tensor, batch) for tensor in tensors]
        if images_as_stored:  # uint8 (n, 28, 28) → the float32 (n, 28, 28, 1) of `to_model_input`, bit for bit
            picked[0] = tf.expand_dims(tf.cast(picked[0], tf.float32) / np.float32(255.0), -1)
        return tuple(picked) if len(picked) > 1 else picked[0]  # `predict` wants bare batches, not 1-tuples

    batches = indices.batch(batch_size).map(gather)
    return _without_autotuning(batches.prefetch(PREFETCHED_BATCHES))


def training_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, epochs_done: int = 0):
    """Batches of `batch_size` (the last one may be smaller), reshuffled every epoch.

    The order depends only on `seed`: the same seed gives the same batches, epoch by epoch.
    `epochs_done`: the epochs a run continued from a checkpoint already trained; the first pass
    is then epoch `epochs_done + 1`'s order, as the run that trained them would have drawn it.
    """
    return _gathered_batches((x, y), batch_size, seed, epochs_done)


def evaluation_batches(x: np.ndarray, y: np.ndarray, batch_size: int = EVALUATION_BATCH_SIZE):
    """`x` and `y` in order, in batches of `batch_size`."""
    return _gathered_batches((x, y), batch_size, seed=None)


def prediction_batches(x: np.ndarray, batch_size: int = EVALUATION_BATCH_SIZE):
    """`x` alone, in order, in batches of `batch_size`: what `model.predict` reads.

    Handed the array itself, `predict` would build a pipeline with the autotuner on, and ending
    it could stall as described above.
    """
    return _gathered_batches((x,), batch_size, seed=None)
