"""`seed_everything` seeds as `keras.utils.set_random_seed` does, and leaves TensorFlow's caches alone."""

import random

import numpy as np
import pytest

from core.config.train_config import preset_config
from core.data.splits import make_splits
from core.models import keras_models
from core.models.seeding import seed_everything
from core.training.events import EpochEnd
from core.training.trainer import Trainer


def epoch_metrics(config, mnist):
    trainer = Trainer(config, make_splits(mnist, config))
    return [(e.loss, e.accuracy, e.val_loss, e.val_accuracy) for e in trainer if isinstance(e, EpochEnd)]


@pytest.mark.parametrize("model, overrides", [
    ("fast", dict(epochs=2, train_size=1024, validation="holdout", validation_size=256)),  # shuffle, batch norm, Adam
    ("mlp", dict(epochs=2, train_size=1000, validation_size=200, dropout=0.3)),  # dropout's seeds
])
def test_a_training_gives_the_numbers_it_gave_when_seeded_by_keras(mnist, monkeypatch, model, overrides):
    import keras

    config = preset_config(model, **overrides, seed=5)
    ours = epoch_metrics(config, mnist)
    monkeypatch.setattr(keras_models, "seed_everything", keras.utils.set_random_seed)
    assert epoch_metrics(config, mnist) == ours


def test_it_sets_every_seed_keras_sets_and_clears_no_cache(monkeypatch):
    import keras
    import tensorflow as tf
    from tensorflow.python import pywrap_tfe
    from tensorflow.python.eager import context

    tensorflows_own = tf.random.set_seed
    clears = []
    real_clear = pywrap_tfe.TFE_ContextClearCaches
    monkeypatch.setattr(pywrap_tfe, "TFE_ContextClearCaches", lambda handle: (clears.append(handle), real_clear(handle)))

    keras.utils.set_random_seed(11)
    assert len(clears) == 1  # what Keras's own seeding costs: every instantiated function dropped
    expected = (random.random(), np.random.random(), keras.random.uniform(()).numpy())
    seed_everything(11)
    assert len(clears) == 1
    assert (random.random(), np.random.random(), keras.random.uniform(()).numpy()) == expected
    assert context.global_seed() == 11
    assert tf.random.set_seed is tensorflows_own  # put back afterwards
