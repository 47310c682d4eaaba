"""TrainConfig: every bad value is refused with a ConfigError that names the field."""

import dataclasses
import math

import pytest

from core.config.train_config import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_HIDDEN_UNITS, MAX_LEARNING_RATE, ConfigError, TrainConfig, from_dict


def test_defaults_are_valid_frozen_and_hashable():
    config = TrainConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 3
    assert hash(config) == hash(TrainConfig())  # Streamlit keys caches by it
    assert from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    "field, value",
    [
        ("epochs", 0),
        ("epochs", MAX_EPOCHS + 1),
        ("batch_size", -1),
        ("batch_size", MAX_BATCH_SIZE + 1),
        ("learning_rate", 0.0),
        ("learning_rate", -0.1),
        ("learning_rate", MAX_LEARNING_RATE * 1.01),
        ("momentum", 1.0),
        ("dropout", 1.0),
        ("dropout", -0.1),
        ("hidden_units", MAX_HIDDEN_UNITS + 1),
        ("patience", -1),
        ("target_accuracy", 1.0),
        ("augment_shift", 0.6),
        ("augment_rotation", 181.0),
        ("augment_zoom", -0.1),
        ("train_size", 60_001),
        ("validation_size", 0),
        ("seed", -1),
        ("seed", 2**31),
    ],
)
def test_out_of_range_value_names_the_field_and_the_range(field, value):
    with pytest.raises(ConfigError, match=f"`{field}`.*expected a value in") as caught:
        TrainConfig(**{field: value})
    assert f"{field}={value!r}" in str(caught.value)


@pytest.mark.parametrize("field", ["learning_rate", "dropout", "momentum", "target_accuracy", "augment_zoom"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_float_names_the_field(field, value):
    with pytest.raises(ConfigError, match=f"`{field}`.*finite"):
        TrainConfig(**{field: value})


@pytest.mark.parametrize(
    "field, value",
    [
        ("epochs", 1.5),
        ("epochs", "3"),  # the constructor does not coerce; from_dict does
        ("epochs", True),  # bool is an int subclass, but not an epoch count
        ("batch_size", None),
        ("learning_rate", "0.1"),
        ("learning_rate", False),
        ("restore_best_weights", 1),
        ("model", 5),
        ("optimizer", None),
    ],
)
def test_wrong_type_names_the_field_and_the_type(field, value):
    with pytest.raises(ConfigError, match=f"`{field}`, expected (an? |true or false)") as caught:
        TrainConfig(**{field: value})
    assert f"{field}={value!r}" in str(caught.value)


@pytest.mark.parametrize(
    "field, value",
    [("model", "resnet"), ("optimizer", "adagrad"), ("activation", "swish"), ("initializer", "ones"),
     ("validation", "train"), ("schedule", "cosine"), ("pixel_scale", "centred")],
)
def test_unknown_choice_lists_the_valid_ones(field, value):
    with pytest.raises(ConfigError, match=f"`{field}`: '{value}'. Pass one of"):
        TrainConfig(**{field: value})


def test_from_dict_coerces_strings_to_each_fields_type():
    config = from_dict({
        "model": "mlp", "epochs": " 3 ", "learning_rate": "5e-2", "restore_best_weights": "false",
        "dropout": "0", "batch_size": 64, "augment_rotation": "10",
    })
    assert (config.epochs, config.learning_rate, config.restore_best_weights) == (3, 0.05, False)
    assert type(config.epochs) is int and type(config.learning_rate) is float
    assert config.augment_rotation == 10.0 and config.batch_size == 64
    for text, expected in [("yes", True), ("1", True), ("On", True), ("no", False), ("0", False)]:
        assert from_dict({"restore_best_weights": text}).restore_best_weights is expected


@pytest.mark.parametrize(
    "field, text, expected",
    [("epochs", "abc", "an integer"), ("epochs", "2.5", "an integer"), ("learning_rate", "abc", "a number"),
     ("learning_rate", "nan", "finite"), ("restore_best_weights", "maybe", "true or false"), ("seed", "", "an integer")],
)
def test_from_dict_refuses_text_that_is_not_the_fields_type(field, text, expected):
    with pytest.raises(ConfigError, match=f"`{field}`.*{expected}"):
        from_dict({field: text})


def test_from_dict_refuses_unknown_keys_naming_them():
    with pytest.raises(ConfigError, match=r"Unknown hyperparameter\(s\) \['epoch', 'lr'\]"):
        from_dict({"epoch": 3, "lr": 0.1, "epochs": 3})


def test_replace_validates_and_coerces():
    config = TrainConfig(model="mlp")
    assert config.replace(epochs="7").epochs == 7
    with pytest.raises(ConfigError, match="`epochs`"):
        config.replace(epochs=0)


def test_batch_size_larger_than_train_size_names_both():
    with pytest.raises(ConfigError, match=r"`batch_size`=256 .*\(`train_size`=100\)"):
        TrainConfig(batch_size=256, train_size=100)
    assert TrainConfig(batch_size=100, train_size=100).batch_size == 100
    assert TrainConfig(batch_size=0, train_size=100).batch_size == 0  # full batch
    assert TrainConfig(batch_size=256, train_size=0).train_size == 0  # all images


def test_train_size_one_is_refused_and_two_allowed():
    with pytest.raises(ConfigError, match="`train_size`"):
        TrainConfig(train_size=1, batch_size=1)
    assert TrainConfig(train_size=2, batch_size=2).train_size == 2


def test_patience_needs_validation():
    with pytest.raises(ConfigError, match="`val_loss`.*validation='none'.*patience=0"):
        TrainConfig(patience=2, validation="none")
    assert TrainConfig(patience=0, validation="none").validation == "none"


def test_numpy_logreg_refuses_settings_it_cannot_train_with():
    with pytest.raises(ConfigError, match="`numpy_logreg`.*`optimizer='sgd'`"):
        from_dict({"model": "numpy_logreg", "optimizer": "adam"})
    with pytest.raises(ConfigError, match="`numpy_logreg`"):
        from_dict({"model": "numpy_logreg", "optimizer": "sgd", "augment_shift": 0.1})
