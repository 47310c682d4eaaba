"""The model zoo: presets as the write-ups (SEEDS.md) give them, and every model builds and trains."""

import math

import numpy as np
import pytest

from core.config.train_config import TrainConfig
from core.training.events import COMPLETED, EpochEnd, TrainingEnd
from core.data.splits import make_splits
from core.training.trainer import Trainer
from core.config.zoo import MODEL_NAMES, SPECS
from core.config.train_config import preset_config

# The training presets of SEEDS.md's table, written out independently of core/config/zoo.py.
WRITE_UP_PRESETS = {
    "numpy_logreg": dict(optimizer="sgd", learning_rate=0.1, batch_size=0, epochs=100, target_accuracy=0.80,
                         pixel_scale="raw"),
    "softmax": dict(optimizer="sgd", learning_rate=0.01, batch_size=0, epochs=1000, pixel_scale="raw"),
    "mlp": dict(optimizer="sgd", learning_rate=0.1, batch_size=100, epochs=30, activation="sigmoid",
                pixel_scale="unit"),
    "cnn": dict(optimizer="adam", learning_rate=0.01, batch_size=1000, epochs=15, dropout=0.6),
    "cnn_deep": dict(optimizer="adam", learning_rate=1e-4, batch_size=50, epochs=25, dropout=0.5),
    "lenet5": dict(optimizer="sgd", learning_rate=0.01, batch_size=32, epochs=30, patience=3,
                   validation="test", pixel_scale="unit"),
}

# Trainable parameters of each architecture in SEEDS.md, counted by hand: conv k×k×in×out (+out bias),
# dense in×out (+out bias); 28 → 14 → 7 after two 2×2 pools, LeNet-5's valid conv 14 → 10 → pool 5.
PARAMETER_COUNTS = {
    "numpy_logreg": 784 * 10 + 10,
    "softmax": 784 * 10 + 10,
    "mlp": (784 * 256 + 256) + (256 * 256 + 256) + (256 * 10 + 10),
    "cnn": 5 * 5 * 1 * 32 + 5 * 5 * 32 * 64 + (7 * 7 * 64 * 1024 + 1024) + (1024 * 10 + 10),  # convs have no bias
    "cnn_deep": (5 * 5 * 32 + 32) + (5 * 5 * 32 * 64 + 64) + (7 * 7 * 64 * 1024 + 1024) + (1024 * 10 + 10),
    "lenet5": (5 * 5 * 6 + 6) + (5 * 5 * 6 * 16 + 16) + (5 * 5 * 16 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10),
    # valid conv 16×5×5 → pool → valid conv 32×5×5 → pool (4×4×32) → dense 256 without bias → batch norm
    # (gamma, beta, moving mean, moving variance) → dense 10
    "fast": (5 * 5 * 16 + 16) + (5 * 5 * 16 * 32 + 32) + (4 * 4 * 32 * 256) + (4 * 256) + (256 * 10 + 10),
}


def test_zoo_holds_every_write_up_model():
    assert set(WRITE_UP_PRESETS) | {"fast"} == set(MODEL_NAMES) == set(PARAMETER_COUNTS)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_preset_config_builds_a_valid_config(model):
    config = preset_config(model)
    assert config.model == model
    for key, value in SPECS[model].preset.items():
        assert getattr(config, key) == value


@pytest.mark.parametrize("model", sorted(WRITE_UP_PRESETS))
def test_preset_matches_the_write_up(model):
    effective = {**TrainConfig().to_dict(), **SPECS[model].preset}  # defaults, then the preset
    for key, value in WRITE_UP_PRESETS[model].items():
        assert effective[key] == value, key


def test_lenet5_keeps_its_last_weights_like_the_write_ups_early_stopping():
    # write-up 004 used EarlyStopping(patience=3) without restore_best_weights
    assert SPECS["lenet5"].preset["restore_best_weights"] is False


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_every_model_builds_and_trains_one_epoch(mnist, model):
    config = preset_config(model, epochs=1, train_size=64, batch_size=32, validation="holdout",
                           validation_size=32, patience=0, target_accuracy=0.0)
    trainer = Trainer(config, make_splits(mnist, config))
    events = list(trainer)
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert len(epochs) == 1 and isinstance(events[-1], TrainingEnd)
    assert events[-1].status == COMPLETED, events[-1]
    epoch = epochs[0]
    for value in (epoch.loss, epoch.accuracy, epoch.val_loss, epoch.val_accuracy, epoch.learning_rate):
        assert value is not None and math.isfinite(value)
    assert 0.0 <= epoch.accuracy <= 1.0 and 0.0 <= epoch.val_accuracy <= 1.0
    assert trainer.model.count_params() == PARAMETER_COUNTS[model]
    probabilities = np.asarray(trainer.model(trainer.splits.x_test[:8], training=False))
    assert probabilities.shape == (8, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_layer_names_are_unique_and_the_same_on_every_thread():
    """Names come from the layer's place in the model, not from Keras's per-thread counters."""
    import threading

    from core.models.keras_models import build_keras_model

    names = {}

    def build(key):
        model = build_keras_model(preset_config("mlp"), steps_per_epoch=1)
        names[key] = [layer.name for layer in model.layers]

    build("main")
    build("main again")
    worker = threading.Thread(target=build, args=("thread",))
    worker.start()
    worker.join()
    assert names["main"] == names["main again"] == names["thread"] == ["flatten", "dense", "dense_1", "dense_2"]
