"""The Train page's form: fields for every knob, presets inside the bounds, settings from a URL."""

import pytest

from core.config.train_config import FIELD_TYPES, ConfigError
from core.config.train_form import (
    DEMO_MODELS, DEMO_TRAIN_SIZE, FORM_FIELDS, GROUPS, build_config, check_in_form, default_values, inactive_fields,
    query_for, values_from_query,
)
from core.config.zoo import MODEL_NAMES, SPECS


def test_every_config_field_has_a_form_field_in_a_known_group():
    assert set(FORM_FIELDS) == set(FIELD_TYPES)
    assert {field.group for field in FORM_FIELDS.values()} <= set(GROUPS)


@pytest.mark.parametrize("model", MODEL_NAMES)
def test_each_models_defaults_are_its_preset_and_fit_the_form(model):
    values = default_values(model)
    config = build_config(values)
    for name, value in SPECS[model].preset.items():
        assert values[name] == value
    assert config.train_size == (DEMO_TRAIN_SIZE if model in DEMO_MODELS else 0)
    for name, value in values.items():
        check_in_form(name, value)  # a preset outside a widget's bounds would break the widget
        field = FORM_FIELDS[name]
        if field.choices:
            assert value in field.choices


def test_query_sets_named_fields_over_the_named_models_preset():
    values = values_from_query({"model": "mlp", "learning_rate": "0.5", "epochs": "3", "job": "abc"})
    expected = default_values("mlp") | {"learning_rate": 0.5, "epochs": 3}
    assert values == expected
    assert isinstance(values["learning_rate"], float) and isinstance(values["epochs"], int)


def test_query_without_model_keeps_the_forms_current_model():
    assert values_from_query({"batch_size": "64"}, model="cnn")["model"] == "cnn"


@pytest.mark.parametrize("query, named", [
    ({"learning_rate": "fast"}, "learning_rate"),  # not a number
    ({"learning_rate": "-1"}, "learning_rate"),  # out of TrainConfig's range
    ({"epochs": "2.5"}, "epochs"),  # not an integer
    ({"model": "resnet"}, "resnet"),  # unknown model
    ({"learnin_rate": "0.1"}, "learnin_rate"),  # unknown key
    ({"dropout": "0.99"}, "dropout"),  # valid for training, beyond the form's slider
])
def test_bad_query_values_raise_a_config_error_naming_them(query, named):
    with pytest.raises(ConfigError, match=named):
        values_from_query(query)


def test_query_for_round_trips_through_the_url():
    config = build_config(default_values("mlp") | {"learning_rate": 0.5, "activation": "relu", "seed": 7})
    query = query_for(config)
    assert query == {"model": "mlp", "learning_rate": "0.5", "activation": "relu", "seed": "7"}
    assert values_from_query(query) == config.to_dict()


def test_inactive_fields_follow_the_other_values():
    lenet = default_values("lenet5")  # sgd, patience 3, validation on the test set
    inactive = inactive_fields(lenet)
    assert {"momentum", "validation_size"} <= set(inactive)
    assert "restore_best_weights" not in inactive and "hidden_units" not in inactive
    assert "momentum" not in inactive_fields(lenet | {"optimizer": "momentum"})
    logreg = inactive_fields(default_values("numpy_logreg"))
    assert {"activation", "hidden_units", "dropout", "optimizer", "augment_zoom"} <= set(logreg)
