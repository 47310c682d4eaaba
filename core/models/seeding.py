"""Seed a run as `keras.utils.set_random_seed` does, without emptying TensorFlow's function caches.

`keras.utils.set_random_seed` ends in `tf.random.set_seed`, which also calls
`TFE_ContextClearCaches`: it drops every function TensorFlow has instantiated, a warm worker's
compiled train steps included. The next call of a traced step then instantiates and optimises
its graph again before its first batch: ~0.4 s of the ~0.9 s from a warm worker's job to its
first progress point with the `fast` model on the 2-core VM, paid again on every run.

That cache holds no random state of ours: Keras 3's initializers, dropout and augmentation
layers draw from stateless ops, and the input pipeline's shuffle takes its seeds when the
dataset is made. So `seed_everything` sets the same seeds, Python's, NumPy's, Keras's and
TensorFlow's global one, and leaves the caches alone. `tests/test_seeding.py` checks that a
training gives the same numbers as after `keras.utils.set_random_seed`.
"""

from __future__ import annotations

import random


def seed_everything(seed: int) -> None:
    """What `keras.utils.set_random_seed(seed)` does, but for the clearing of TensorFlow's caches."""
    import keras
    import tensorflow as tf
    from tensorflow.python.eager import context

    eager = context.context()
    if not (tf.executing_eagerly() and hasattr(eager, "_seed") and hasattr(eager, "_rng")):
        keras.utils.set_random_seed(seed)  # another TensorFlow: its own way, caches cleared
        return

    def set_global_seed_keeping_caches(value: int) -> None:  # `Context._set_global_seed` without the clearing
        eager._seed = value
        eager._rng = random.Random(value)

    keras_sets_it_with = tf.random.set_seed
    tf.random.set_seed = set_global_seed_keeping_caches  # Keras looks it up when it calls it
    try:
        keras.utils.set_random_seed(seed)
    finally:
        tf.random.set_seed = keras_sets_it_with
