"""The Train page's form: fields for every knob, presets inside the bounds, settings from a URL."""

import pytest

from core.config.train_config import FIELD_TYPES, ConfigError
from core.config.train_form import (
    DEFAULT_MODEL, DEMO_MODELS, DEMO_TRAIN_SIZE, FORM_FIELDS, GROUPS, build_config, check_in_form, default_values, inactive_fields,
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
    link = values_from_query({"model": "mlp", "learning_rate": "0.5", "epochs": "3", "job": "abc"})
    values = link.values
    expected = default_values("mlp") | {"learning_rate": 0.5, "epochs": 3}
    assert values == expected
    assert link.problems == () and link.ignored == ()
    assert isinstance(values["learning_rate"], float) and isinstance(values["epochs"], int)


def test_query_without_model_keeps_the_forms_current_model():
    assert values_from_query({"batch_size": "64"}, model="cnn").values["model"] == "cnn"


@pytest.mark.parametrize("query, named", [
    ({"learning_rate": "fast"}, "learning_rate"),  # not a number
    ({"learning_rate": "-1"}, "learning_rate"),  # out of TrainConfig's range
    ({"epochs": "2.5"}, "epochs"),  # not an integer
    ({"model": "resnet"}, "resnet"),  # unknown model
    ({"dropout": "0.99"}, "dropout"),  # valid for training, beyond the form's slider
])
def test_a_bad_query_value_is_reported_naming_it_and_the_defaults_stay(query, named):
    link = values_from_query(query)
    [problem] = link.problems
    assert named in problem
    assert link.values == default_values(DEFAULT_MODEL)  # the form's first model, with its preset


def test_bad_values_are_reported_one_by_one_and_the_good_ones_still_apply():
    # Issue 12 item 8 / issue 13: one bad value used to refuse the whole link.
    link = values_from_query({"model": "mlp", "epochs": "-3", "learning_rate": "0.5", "dropout": "lots", "seed": "7"})
    assert [problem.split("`")[1] for problem in link.problems] == ["epochs", "dropout"]
    assert link.values == default_values("mlp") | {"learning_rate": 0.5, "seed": 7}
    build_config(link.values)  # still a valid config


def test_a_bad_model_keeps_the_forms_model_and_applies_the_rest():
    link = values_from_query({"model": "resnet", "epochs": "4"}, model="cnn")
    assert "resnet" in link.problems[0]
    assert link.values == default_values("cnn") | {"epochs": 4}


def test_tracking_parameters_are_ignored_not_refused():
    # Issue 12 item 8: `?utm_source=…` made the whole link refused.
    link = values_from_query({"model": "mlp", "utm_source": "newsletter", "fbclid": "IwAR0x", "learnin_rate": "0.1"})
    assert link.problems == ()
    assert link.values == default_values("mlp")
    assert link.ignored == ("utm_source", "fbclid", "learnin_rate (did you mean learning_rate?)")


def test_many_or_long_unknown_keys_are_listed_cut_and_counted():
    link = values_from_query({f"k{i}" * 30: "x" for i in range(25)})
    assert len(link.ignored) == 11 and link.ignored[-1] == "and 15 more"
    assert all(len(key) <= 40 for key in link.ignored[:-1])


def test_a_huge_model_value_is_cut_in_the_message():
    # Issue 12 item 7: `default_values` echoed a 100,000-character model name in full.
    with pytest.raises(ConfigError) as raised:
        default_values("x" * 100_000)
    assert len(str(raised.value)) < 400
    [problem] = values_from_query({"model": "[a](http://evil.example/)" + "x" * 100_000}).problems
    assert len(problem) < 400


def test_query_for_round_trips_through_the_url():
    config = build_config(default_values("mlp") | {"learning_rate": 0.5, "activation": "relu", "seed": 7})
    query = query_for(config)
    assert query == {"model": "mlp", "learning_rate": "0.5", "activation": "relu", "seed": "7"}
    assert values_from_query(query).values == config.to_dict()


def test_inactive_fields_follow_the_other_values():
    lenet = default_values("lenet5")  # sgd, patience 3, validation on the test set
    inactive = inactive_fields(lenet)
    assert {"momentum", "validation_size"} <= set(inactive)
    assert "restore_best_weights" not in inactive and "hidden_units" not in inactive
    assert "momentum" not in inactive_fields(lenet | {"optimizer": "momentum"})
    logreg = inactive_fields(default_values("numpy_logreg"))
    assert {"activation", "hidden_units", "dropout", "optimizer", "augment_zoom"} <= set(logreg)


def test_the_model_description_says_which_knobs_differ_from_the_write_up():
    from core.config.train_form import architecture_changes

    values = default_values("mlp")
    assert architecture_changes(values) == []
    values.update(activation="relu", initializer="he_normal", hidden_units=128, optimizer="adam")
    changes = architecture_changes(values)
    assert "hidden activation relu (preset sigmoid)" in changes
    assert "weight initializer he_normal (preset the write-up's own)" in changes
    assert "hidden units 128 (preset 256)" in changes
    assert not any("optimizer" in change for change in changes)  # not part of the architecture
    softmax = default_values("softmax") | {"activation": "relu"}  # no hidden layers: the knob does nothing there
    assert architecture_changes(softmax) == []
