"""What differs between compared runs, and legend labels made from it (tutorial 003's comparison)."""

from core.config.train_config import preset_config
from core.runs.run_differences import as_trained, learning_rate_story, difference_labels, differing_settings
from core.training.events import LearningRateChanged
from core.runs.run_table import matches

SIGMOID = preset_config("mlp").to_dict()  # the write-up's run: sigmoid, sgd 0.1
RELU = preset_config("mlp", activation="relu", initializer="he_normal", optimizer="adam", learning_rate=1e-3).to_dict()


def test_only_the_settings_that_differ_are_listed():
    differing = differing_settings({"a": SIGMOID, "b": RELU})
    assert set(differing) == {"activation", "initializer", "optimizer", "learning_rate"}
    assert differing["activation"] == {"a": "sigmoid", "b": "relu"}
    assert differing["learning_rate"] == {"a": "0.1", "b": "0.001"}
    assert differing_settings({"a": SIGMOID, "b": dict(SIGMOID)}) == {}
    assert differing_settings({"a": SIGMOID}) == {}
    older = {k: v for k, v in SIGMOID.items() if k != "dropout"}  # an older run without a setting
    assert differing_settings({"a": SIGMOID, "b": older})["dropout"]["b"] == "—"


def test_legend_labels_say_what_sets_each_run_apart():
    labels = difference_labels({"mlp-1": SIGMOID, "mlp-2": RELU})
    assert labels == {"mlp-1": "sigmoid · preset · sgd 0.1", "mlp-2": "relu · he_normal · adam 0.001"}
    same = difference_labels({"mlp-1": SIGMOID, "mlp-2": dict(SIGMOID)})
    assert same == {"mlp-1": "mlp-1", "mlp-2": "mlp-2"}  # nothing differs: the names
    assert difference_labels({"mlp-1": SIGMOID, "mlp-2": RELU}, titles={"mlp-1": "write-up"})["mlp-1"] == "write-up"


def test_the_filter_needs_every_word_somewhere_in_the_row():
    row = {"run": "mlp-20261201-120000-abcd", "optimizer": "adam", "activation": "relu", "learning_rate": 0.001}
    assert matches(row, "adam relu") and matches(row, "ADAM") and matches(row, "0.001")
    assert not matches(row, "adam sigmoid")


def test_a_mid_run_learning_rate_change_is_told_where_it_happened():
    changes = [LearningRateChanged(2, 0.0, 10, 0.01, 0.001),  # as the trainer streams it, and as controls.jsonl holds it
               {"event": "learning_rate", "epoch": 4, "fraction": 0.4, "step": 37, "learning_rate": 0.00312345, "previous": 0.01},
               {"event": "learning_rate", "epoch": "torn"}]  # a damaged line says nothing
    assert learning_rate_story(0.001) == "0.001"
    assert learning_rate_story(0.001, changes) == "0.001 → 0.01 at epoch 2 → 0.00312 in epoch 4"


def test_legends_and_what_differs_show_a_changed_learning_rate():
    config = {"model": "mlp", "optimizer": "adam", "learning_rate": 0.001, "epochs": 4}
    steered = as_trained(config, [{"epoch": 2, "fraction": 0.5, "learning_rate": 0.01, "previous": 0.001}])
    assert as_trained(config, []) == config and config["learning_rate"] == 0.001  # unchanged, and not mutated
    configs = {"steered": steered, "left alone": config}
    assert differing_settings(configs) == {"learning_rate": {"steered": "0.001 → 0.01 in epoch 2", "left alone": "0.001"}}
    assert difference_labels(configs) == {"steered": "lr 0.001 → 0.01 in epoch 2", "left alone": "lr 0.001"}
    assert difference_labels({"steered": steered, "sgd": config | {"optimizer": "sgd"}})["steered"] == "adam 0.001 → 0.01 in epoch 2"


def test_a_sweeps_learning_rates_show_three_significant_digits():
    configs = {"t04": SIGMOID | {"learning_rate": 0.6623316566142311}, "t03": SIGMOID | {"learning_rate": 0.0026788120688045246}}
    assert differing_settings(configs) == {"learning_rate": {"t04": "0.662", "t03": "0.00268"}}
    assert difference_labels(configs) == {"t04": "lr 0.662", "t03": "lr 0.00268"}
