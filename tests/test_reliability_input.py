"""Bad input: every hyperparameter at and beyond its bounds, and runs that cannot or should not train.

The config cases are generated from `TrainConfig`'s fields and from the bounds written in
`core/config/train_config.py` (read from its `_check_range` / `_check_choice` calls), so a new field or a
changed bound is covered without editing this file. Each refusal must be a `ConfigError` whose
message names the field and stays short, whatever was sent.
"""

from __future__ import annotations

import ast
import json
import math
from dataclasses import fields
from pathlib import Path

import pytest

import core.config.train_config as config_module
from core.config import zoo
from core.cli import main as cli_main
from core.config.train_config import MAX_EPOCHS, ConfigError, TrainConfig, from_dict
from core.training.events import COMPLETED, DIVERGED
from core.runs.store import (
    METRICS_FILE, MODEL_FILE, PREDICTIONS_FILE, STATUS_FILE, RunError, list_runs, load_model, load_predictions,
)
from core.data.splits import make_splits

MAX_MESSAGE_CHARS = 600  # an error box, not a wall: long hostile values are cut short


# --- the bounds, read from where they are declared -------------------------------------------

def _value_of(node: ast.expr):
    """Evaluate a bound as written in `core/config/train_config.py`: a literal, a module constant, or arithmetic."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return getattr(config_module, node.id) if hasattr(config_module, node.id) else getattr(zoo, node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_value_of(node.operand)
    if isinstance(node, ast.BinOp):
        left, right = _value_of(node.left), _value_of(node.right)
        operations = {ast.Add: lambda: left + right, ast.Sub: lambda: left - right,
                      ast.Mult: lambda: left * right, ast.Pow: lambda: left ** right}
        return operations[type(node.op)]()
    raise AssertionError(f"unexpected bound expression in core/config/train_config.py: {ast.dump(node)}")


def declared_checks() -> tuple[dict[str, tuple], dict[str, tuple]]:
    """`({field: (low, high, low_open, high_open)}, {field: choices})` from `TrainConfig.__post_init__`."""
    tree = ast.parse(Path(config_module.__file__).read_text())
    ranges, choices = {}, {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id == "_check_range":
            name = node.args[0].value
            options = {keyword.arg: keyword.value.value for keyword in node.keywords}
            ranges[name] = (_value_of(node.args[2]), _value_of(node.args[3]),
                            options.get("low_open", False), options.get("high_open", False))
        elif node.func.id == "_check_choice":
            choices[node.args[0].value] = tuple(_value_of(node.args[2]))
    return ranges, choices


RANGES, CHOICES = declared_checks()
FIELDS = {field.name: field for field in fields(TrainConfig)}


def test_every_field_is_validated():
    """A new hyperparameter without a range or a list of choices would slip past the cases below."""
    assert RANGES and CHOICES
    unchecked = [name for name, field in FIELDS.items()
                 if field.type != "bool" and name not in RANGES and name not in CHOICES]
    assert unchecked == []
    for name, (low, high, _, _) in RANGES.items():
        assert FIELDS[name].type in ("int", "float") and low < high
        assert low <= FIELDS[name].default <= high, f"default of {name} outside its own bounds"


def _step_beyond(value, kind: str, direction: int):
    return value + direction if kind == "int" else math.nextafter(value, direction * math.inf)


def _bad_cases():
    """`(field, value, how)` for every field: beyond bounds, non-finite, huge, wrong types."""
    cases = []
    for name, field in FIELDS.items():
        kind = field.type

        def add(value, how):
            cases.append(pytest.param(name, value, how, id=f"{name}-{how}"))

        if name in RANGES:
            low, high, low_open, high_open = RANGES[name]
            add(low if low_open else _step_beyond(low, kind, -1), "just-below-low")
            add(high if high_open else _step_beyond(high, kind, +1), "just-above-high")
            if -1 < low:
                add(-1, "negative")
            if 0 < low or (low == 0 and low_open):
                add(0, "zero")
            add(10**12 if kind == "int" else 1e300, "huge")
            add(10**400, "huger-than-a-float")
            add(True, "bool")
            add(None, "none")
            add([low], "list")
            add(str(high), "string-not-coerced")
            if kind == "int":
                add(1.5, "float")
                add(float(low), "float-with-int-value")
                add(math.nan, "nan")
            else:
                add(math.nan, "nan")
                add(math.inf, "inf")
                add(-math.inf, "minus-inf")
        elif name in CHOICES:
            options = CHOICES[name]
            add("", "empty")
            add("no-such-" + name, "unknown")
            add(options[-1].upper() if options[-1].upper() != options[-1] else options[-1] + "X", "wrong-case")
            add(" " + options[0], "padded")
            add(None, "none")
            add(1, "int")
            add([options[0]], "list")
            add("x" * 100_000, "very-long")
        else:  # bool
            add(None, "none")
            add(1, "int")
            add(0.0, "float")
            add("true", "string-not-coerced")
            add([True], "list")
    return cases


def _bad_strings():
    """What a URL query or a CLI flag can carry: always strings, coerced by `from_dict`."""
    cases = []
    for name, field in FIELDS.items():
        kind = field.type

        def add(text, how):
            cases.append(pytest.param(name, text, how, id=f"{name}-{how}"))

        if kind in ("int", "float"):
            low, high, low_open, high_open = RANGES[name]
            for text, how in [("", "empty"), ("abc", "word"), ("nan", "nan"), ("inf", "inf"), ("-inf", "minus-inf"),
                              ("1e999", "overflow"), ("9" * 5000, "5000-digits"), ("0x10", "hex"), ("1,5", "comma"),
                              (repr(_step_beyond(high, kind, +1)) if not high_open else repr(high), "above-high")]:
                add(text, how)
            if kind == "int":
                add("1.5", "decimal")
                add("1e3", "exponent")
        elif kind == "bool":
            for text, how in [("", "empty"), ("maybe", "word"), ("2", "two"), ("truee", "typo")]:
                add(text, how)
        else:
            add("no-such-" + name, "unknown")
            add("%2e%2e%2f", "url-escapes")
    return cases


def _assert_names_field(error: ConfigError, name: str) -> None:
    message = str(error)
    assert f"`{name}`" in message, message
    assert len(message) <= MAX_MESSAGE_CHARS, f"{len(message)} characters"


@pytest.mark.parametrize("name, value, how", _bad_cases())
def test_bad_value_is_refused_naming_the_field(name, value, how):
    with pytest.raises(ConfigError) as refused:
        TrainConfig(**{name: value})
    _assert_names_field(refused.value, name)


@pytest.mark.parametrize("name, text, how", _bad_strings())
def test_bad_string_from_url_or_cli_is_refused_naming_the_field(name, text, how):
    with pytest.raises(ConfigError) as refused:
        from_dict({name: text})
    _assert_names_field(refused.value, name)


def _edge_cases():
    cases = []
    for name, (low, high, low_open, high_open) in RANGES.items():
        if not low_open:
            cases.append(pytest.param(name, low, id=f"{name}-low"))
        if not high_open:
            cases.append(pytest.param(name, high, id=f"{name}-high"))
    return cases


@pytest.mark.parametrize("name, value", _edge_cases())
def test_value_at_a_closed_bound_is_accepted_directly_and_as_a_string(name, value):
    assert getattr(TrainConfig(**{name: value}), name) == value
    assert getattr(from_dict({name: str(value)}), name) == value


@pytest.mark.parametrize("name", sorted(CHOICES))
def test_every_choice_is_accepted_directly_and_as_a_string(name):
    for option in CHOICES[name]:
        overrides = {name: option}
        if name == "model":
            overrides = {**zoo.SPECS[option].preset, "model": option}
        assert getattr(from_dict(overrides), name) == option


def test_unknown_hyperparameter_is_refused_naming_it_and_the_known_ones():
    with pytest.raises(ConfigError) as refused:
        from_dict({"epoch": "5"})
    assert "'epoch'" in str(refused.value) and "epochs" in str(refused.value)


def test_epochs_above_the_maximum_are_refused_on_the_command_line(tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    status = cli_main(["train", "--model", "mlp", "--epochs", str(MAX_EPOCHS * 100), "--runs-dir", str(runs_dir)])
    error = capsys.readouterr().err
    assert status == 2
    assert error.startswith("error: ") and error.count("\n") == 1  # one line, no traceback
    assert "`epochs`" in error and f"[1, {MAX_EPOCHS}]" in error
    assert not runs_dir.exists()  # refused before anything was written


@pytest.mark.parametrize("flag, value, field", [
    ("--learning-rate", "nan", "learning_rate"),
    ("--learning-rate", "-0.1", "learning_rate"),
    ("--batch-size", "lots", "batch_size"),
    ("--train-size", "1", "train_size"),
    ("--restore-best-weights", "perhaps", "restore_best_weights"),
])
def test_bad_flag_is_one_line_naming_the_field(flag, value, field, tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    status = cli_main(["train", "--model", "mlp", flag, value, "--runs-dir", str(runs_dir)])
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1 and f"`{field}`" in error
    assert not runs_dir.exists()


# --- runs that cannot, or should not, train ---------------------------------------------------

TINY = dict(model="mlp", epochs=1, batch_size=50, train_size=300, validation_size=500)


def test_batch_larger_than_the_training_subset_is_refused_with_the_fix():
    with pytest.raises(ConfigError) as refused:
        TrainConfig(model="mlp", train_size=100, batch_size=200)
    message = str(refused.value)
    assert "`batch_size`=200" in message and "`train_size`=100" in message and "batch_size=0" in message


def test_batch_larger_than_the_whole_training_pool_is_refused_before_a_folder_exists(mnist, tmp_path):
    from core.runs.recorded_run import RecordedRun

    config = TrainConfig(model="mlp", batch_size=60_000, train_size=0, validation_size=5000)  # 55,000 remain
    with pytest.raises(ConfigError) as refused:
        RecordedRun(config, runs_dir=tmp_path / "runs", mnist=mnist)
    assert "`batch_size`=60000" in str(refused.value) and "55000" in str(refused.value)
    assert not (tmp_path / "runs").exists()


def test_train_size_zero_means_every_remaining_image(mnist):
    splits = make_splits(mnist, TrainConfig(model="mlp", train_size=0, validation_size=5000))
    assert len(splits.x_train) == 60_000 - 5000 and len(splits.x_val) == 5000


def test_a_single_training_image_is_refused():
    with pytest.raises(ConfigError) as refused:
        TrainConfig(model="mlp", train_size=1, batch_size=1)
    assert "`train_size`" in str(refused.value) and "at least 2" in str(refused.value)


def test_two_training_images_train_and_save(mnist, tmp_path):
    from core.runs.recorded_run import RecordedRun

    run = RecordedRun(TrainConfig(**{**TINY, "train_size": 2, "batch_size": 0}), runs_dir=tmp_path, mnist=mnist)
    done = list(run)[-1]
    assert done.status == COMPLETED and done.epochs_completed == 1
    assert 0.0 <= done.test_accuracy <= 1.0
    assert load_model(done.name, tmp_path).output_shape == (None, 10)


def test_huge_learning_rate_diverges_keeping_finished_epochs_and_no_model(mnist, tmp_path):
    """SGD at the maximum learning rate blows a sigmoid MLP up within two epochs (seen: inf at epoch 2)."""
    from core.runs.recorded_run import RecordedRun

    config = TrainConfig(**{**TINY, "epochs": 10, "batch_size": 10, "learning_rate": 10.0, "optimizer": "sgd"})
    events = list(RecordedRun(config, runs_dir=tmp_path, mnist=mnist))
    done = events[-1]
    streamed = [event.to_dict() for event in events if event.event == "epoch"]
    assert done.status == DIVERGED
    assert "lower the learning rate" in done.reason and ("nan" in done.reason or "inf" in done.reason)
    assert done.epochs_completed == len(streamed) < config.epochs
    run_dir = Path(done.run_dir)
    saved = [json.loads(line) for line in (run_dir / METRICS_FILE).read_text().splitlines()] if streamed else []
    assert saved == [{k: v for k, v in epoch.items() if k != "event"} for epoch in streamed]  # finished epochs kept
    assert not (run_dir / MODEL_FILE).exists() and not (run_dir / PREDICTIONS_FILE).exists()
    status = json.loads((run_dir / STATUS_FILE).read_text())
    assert status["status"] == DIVERGED and status["epochs_completed"] == len(streamed)
    [summary] = list_runs(tmp_path)
    assert summary.status == DIVERGED and "lower the learning rate" in summary.reason and summary.problems == []
    with pytest.raises(RunError, match="no test predictions"):  # the Errors view gets a message, not NaNs
        load_predictions(done.name, tmp_path)

