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


def _gathered_batches(arrays: tuple[np.ndarray, ...], batch_size: int, seed: int | None, index_batches=None):
    import tensorflow as tf

    tensors = tuple(tf.constant(array) for array in arrays)
    images_as_stored = arrays[0].dtype == np.uint8  # the first array is the images
    indices = tf.data.Dataset.range(len(arrays[0]))
    if seed is not None:
        indices = indices.shuffle(len(arrays[0]), seed=seed, reshuffle_each_iteration=True)

    def gather(batch):
        picked = [tf.gather(tensor, batch) for tensor in tensors]
        if images_as_stored:  # uint8 (n, 28, 28) → the float32 (n, 28, 28, 1) of `to_model_input`, bit for bit
            picked[0] = tf.expand_dims(tf.cast(picked[0], tf.float32) / np.float32(255.0), -1)
        return tuple(picked) if len(picked) > 1 else picked[0]  # `predict` wants bare batches, not 1-tuples

    batches = (indices.batch(batch_size) if index_batches is None else index_batches).map(gather)
    return _without_autotuning(batches.prefetch(PREFETCHED_BATCHES))


def training_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
    """Batches of `batch_size` (the last one may be smaller), reshuffled every epoch.

    The order depends only on `seed`: the same seed gives the same batches, epoch by epoch.
    """
    return _gathered_batches((x, y), batch_size, seed)


def epoch_ordered_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
    """Batches whose order at epoch k (1-based) is a function of `(seed, k)` alone; `set_epoch(k)` picks k.

    `shuffle(reshuffle_each_iteration=True)` keeps its place in a seed generator that a new `fit`
    starts over, so a run continued from a checkpoint after epoch k would read epoch 1's order
    again. Here each pass reads the epoch from a variable when it starts (a stateless shuffle of
    `(seed, epoch)`): call `set_epoch(k)` before epoch k's pass (a callback's `on_epoch_begin`),
    and a continuation reads epoch k + 1 exactly as the run that went on did.

    Returns:
        `(dataset, set_epoch)`: one epoch's batches a pass (the last one may be smaller), and the
        function that picks the epoch the next pass is.
    """
    dataset, set_order = seeded_epoch_batches(x, y, batch_size)
    set_order(seed, 1)
    return dataset, lambda k: set_order(seed, k)


def seeded_epoch_batches(x: np.ndarray, y: np.ndarray, batch_size: int):
    """`epoch_ordered_batches` with the seed a variable too: one pipeline for runs of any seed on the same arrays.

    Building a pipeline copies the arrays into TensorFlow and traces its functions (~0.2-0.5 s here,
    more under load); a warm worker keeps one (`core.training.compiled_models.CompiledModels`) and
    sets the next run's seed, for the same batches in the same order as a new one would give.

    Returns:
        `(dataset, set_order)`: `set_order(seed, k)` makes the next pass epoch k of `seed`'s order.
    """
    import math

    import tensorflow as tf

    count = len(x)
    seed_value = tf.Variable(0, dtype=tf.int64, trainable=False, name="data_seed")
    epoch = tf.Variable(1, dtype=tf.int64, trainable=False, name="data_epoch")

    def epoch_batches(_):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([seed_value.value(), epoch.value()]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    def set_order(seed: int, k: int) -> None:
        seed_value.assign(seed)
        epoch.assign(k)

    index_batches = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).flat_map(epoch_batches)
    # a known length, as `training_batches` has: Keras warns of, and handles, one it must discover
    index_batches = index_batches.apply(tf.data.experimental.assert_cardinality(math.ceil(count / batch_size)))
    return _gathered_batches((x, y), batch_size, None, index_batches), set_order


def evaluation_batches(x: np.ndarray, y: np.ndarray, batch_size: int = EVALUATION_BATCH_SIZE):
    """`x` and `y` in order, in batches of `batch_size`."""
    return _gathered_batches((x, y), batch_size, seed=None)


def prediction_batches(x: np.ndarray, batch_size: int = EVALUATION_BATCH_SIZE):
    """`x` alone, in order, in batches of `batch_size`: what `model.predict` reads.

    Handed the array itself, `predict` would build a pipeline with the autotuner on, and ending
    it could stall as described above.
    """
    return _gathered_batches((x,), batch_size, seed=None)
