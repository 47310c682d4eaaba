"""The model zoo: presets as the write-ups (SEEDS.md) give them, and every model builds and trains."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from core.config.train_config import ConfigError, TrainConfig
from core.config.train_form import (
    DEMO_TRAIN_SIZE, WRITE_UP_MODELS, default_values, is_write_up, write_up_note, write_up_values,
)
from core.training.events import COMPLETED, EpochEnd, TrainingEnd
from core.data.splits import make_splits
from core.training.trainer import Trainer
from core.config.zoo import MENU_LABEL_CHARACTERS, MODEL_NAMES, SPECS, menu_label
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


# ---- "as in the write-up": the settings and figures the Train page offers beside the quick subset ----

FIELDS_ADDED_AFTER_SEEDS = {"keep_best_epoch", "checkpoint_budget_mb"}
SEEDS_JSON = Path(__file__).resolve().parents[1] / "bench" / "results" / "seeds.json"


def test_the_five_write_ups_models_and_only_they_offer_their_write_up():
    assert set(WRITE_UP_MODELS) == set(WRITE_UP_PRESETS)
    with pytest.raises(ConfigError, match="`model`.*'fast' has no write-up.*Pass one of"):
        write_up_values("fast")


@pytest.mark.parametrize("model", sorted(WRITE_UP_PRESETS))
def test_write_up_values_are_the_write_ups_settings_on_every_image(model):
    values = write_up_values(model)
    assert {key: values[key] for key in WRITE_UP_PRESETS[model]} == WRITE_UP_PRESETS[model]  # SEEDS.md's table
    assert values["train_size"] == 0  # all the training images, as the write-ups trained
    assert is_write_up(values)
    # ... and exactly what bench/seeds.py ran to reproduce the write-up's figure (a row run before a field
    # existed has that field at its default: the checkpoint knobs came with issue 19)
    recorded = json.loads(SEEDS_JSON.read_text())[model]["config"]
    later = {name: values[name] for name in set(values) - set(recorded)}
    assert {name: values[name] for name in recorded} == recorded
    assert later == {name: TrainConfig().to_dict()[name] for name in later} and set(later) <= FIELDS_ADDED_AFTER_SEEDS


@pytest.mark.parametrize("model", sorted(WRITE_UP_PRESETS))
def test_the_reproduced_figures_are_those_of_the_committed_results(model):
    result = json.loads(SEEDS_JSON.read_text())[model]
    reproduction = SPECS[model].reproduction
    assert reproduction.test_accuracy == pytest.approx(result["test_accuracy"], abs=5e-5)
    assert (reproduction.epochs, reproduction.train_size) == (result["epochs"], result["train_size"])
    assert reproduction.seconds == pytest.approx(result["seconds"], abs=0.05)


def test_the_quick_subset_is_the_write_up_on_fewer_images_and_says_so():
    quick = default_values("cnn")
    assert quick["train_size"] == DEMO_TRAIN_SIZE and not is_write_up(quick)
    assert {**quick, "train_size": 0} == write_up_values("cnn")
    note = write_up_note(quick, "about 9 min 35 s")
    assert note == ("**Quick subset**: 5,000 of the write-up's 55,000 images. The write-up's settings on all 55,000 "
                    "images reached **99.03% test** in 15 epochs; they take about 9 min 35 s here.")
    assert write_up_note(write_up_values("cnn"), "x").startswith("**As in the write-up**: its settings on all 55,000")
    assert write_up_note(quick | {"epochs": 3}, "x").startswith("**Your own settings.**")


def test_a_write_up_that_may_stop_early_gives_its_time_as_at_most():
    note = write_up_note(write_up_values("lenet5"), "about 13 min")
    assert note.endswith("reached **98.93% test** in 26 epochs (it stopped early); they take at most about 13 min here.")


def test_the_caption_never_says_which_reported_not_printed():
    assert SPECS["cnn"].preset_caption == "Preset from write-up 000, which reported 98.66% test."
    caption = SPECS["cnn_deep"].preset_caption
    assert "printed no accuracy of its own; the TF tutorial it copies reports ≈99.2%" in caption
    for spec in SPECS.values():
        assert "reported not" not in spec.preset_caption and "which reported the" not in spec.preset_caption


def test_every_menu_label_fits_the_train_forms_model_menu_at_1280_px():
    # The menu is a text field (no wrapping): a longer label was cut ("fast: Fast CNN (99% in one epoch on a CPU").
    for name in MODEL_NAMES:
        assert menu_label(name).startswith(f"{name}: ") and len(menu_label(name)) <= MENU_LABEL_CHARACTERS, menu_label(name)
