"""A run's standalone training script (`core.export`): the same model, data and training as the lab's.

The oracle is the lab itself: the script's `build_model()` after `set_random_seed` must give the
very weights `build_keras_model` gives, and its training must print the epochs the lab's `Trainer`
streams for the same images. Scripts are imported from the files written here (they never import
`core`); `tests/test_export_clean_venv.py` runs them where nothing but TensorFlow is installed.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import py_compile
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from core.cli import main as cli_main
from core.config.train_config import preset_config
from core.config.zoo import MODEL_NAMES
from core.data.splits import Splits, make_splits
from core.export.layer_code import MNIST_MEAN, MNIST_STD
from core.export.run_export import run_script, training_script
from core.export.script_header import TENSORFLOW_REQUIREMENT
from core.runs.recorded_run import RecordedRun
from core.runs.store import CONTROLS_FILE, STATUS_FILE, load_run

ROOT = Path(__file__).resolve().parents[1]
SCRIPT_IMPORTS = {"argparse", "math", "os", "sys", "time", "numpy", "keras", "tensorflow"}
# Settings that change what a script holds: augmentation, other initializers, optimizers, splits, dropout.
VARIANTS = [
    preset_config("fast", initializer="normal", dropout=0.2, augment_rotation=10.0, augment_zoom=0.1,
                  augment_shift=0.1, seed=7),
    preset_config("fast", pixel_scale="raw", optimizer="momentum", schedule="constant", validation="holdout"),
    preset_config("mlp", initializer="he_normal", activation="relu", hidden_units=64, dropout=0.3, train_size=3000),
    preset_config("cnn", initializer="truncated_normal", activation="relu", dropout=0.0, optimizer="rmsprop"),
    preset_config("cnn_deep", hidden_units=64, batch_size=0, validation="none", seed=3),
    preset_config("softmax", initializer="glorot_normal", batch_size=100, target_accuracy=0.9),
    preset_config("lenet5", pixel_scale="raw", dropout=0.25, validation="holdout", train_size=2000),
    preset_config("numpy_logreg", batch_size=500, patience=2, pixel_scale="unit", validation="test"),
    preset_config("numpy_logreg", validation="none", keep_best_epoch=False, target_accuracy=0.0, train_size=1000),
]
CONFIGS = [preset_config(name) for name in MODEL_NAMES] + VARIANTS
SMALL_RUN_CONFIG = preset_config("numpy_logreg", epochs=1, train_size=300, validation_size=500, checkpoint_budget_mb=0.0)
IDS = list(MODEL_NAMES) + [f"{config.model}-variant{number}" for number, config in enumerate(VARIANTS, 1)]


def write_script(config, folder: Path) -> Path:
    path = folder / f"train_{config.model}.py"
    path.write_text(training_script(config))
    return path


def load_script(path: Path):
    """The script as a module (its `main()` is not run on import)."""
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_every_models_script_compiles_and_imports_nothing_of_the_lab(config, tmp_path):
    path = write_script(config, tmp_path)
    py_compile.compile(str(path), doraise=True)
    tree = ast.parse(path.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= SCRIPT_IMPORTS, imported - SCRIPT_IMPORTS
    assert f"SEED = {config.seed}" in path.read_text() and f"EPOCHS = {config.epochs}" in path.read_text()
    text = path.read_text()
    if config.model == "numpy_logreg":
        assert "import keras  # only to download MNIST" in text and "import tensorflow" not in text
    else:  # no dead code for settings the run did not use
        assert ("class OneCycle" in text) == (config.schedule == "one_cycle")
        assert ("EarlyStopping" in text) == bool(config.patience)
        assert ("RandomRotation" in text) == bool(config.augment_rotation)
        assert ("layers.Dropout" in text) == bool(config.dropout)


# Every Keras preset, and the variants that change what is drawn (cnn's differ from its preset only in cost).
KERAS_CONFIGS = [(config, name) for config, name in zip(CONFIGS, IDS)
                 if config.model != "numpy_logreg" and name not in ("cnn-variant4", "fast-variant2")]


@pytest.mark.parametrize("config", [config for config, _ in KERAS_CONFIGS], ids=[name for _, name in KERAS_CONFIGS])
def test_the_script_builds_the_labs_model_with_the_same_initial_weights(config, tmp_path):
    import keras

    from core.models.keras_models import build_keras_model

    lab_model = build_keras_model(config, steps_per_epoch=10)
    script = load_script(write_script(config, tmp_path))
    keras.utils.set_random_seed(script.SEED)  # what the script's main() does before build_model()
    script_model = script.build_model()
    assert script_model.count_params() == lab_model.count_params()
    assert [layer.__class__.__name__ for layer in script_model.layers] == [
        layer.__class__.__name__ for layer in lab_model.layers if not (layer.__class__.__name__ == "Dropout" and layer.rate == 0)]
    lab_weights, script_weights = lab_model.get_weights(), script_model.get_weights()
    assert len(script_weights) == len(lab_weights)
    for index, (ours, theirs) in enumerate(zip(script_weights, lab_weights)):
        assert np.array_equal(ours, theirs), f"weights {index} ({ours.shape}) differ"


def test_the_scripts_constants_are_the_labs():
    from core.models import keras_models

    assert (MNIST_MEAN, MNIST_STD) == (keras_models.MNIST_MEAN, keras_models.MNIST_STD)
    pins = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert TENSORFLOW_REQUIREMENT in pins


def first_images(mnist, config, limit: int) -> Splits:
    """What a script's `--limit N` trains on: the first N images of each of the run's splits."""
    splits = make_splits(mnist, config)
    return Splits(splits.train_images[:limit], splits.y_train[:limit], splits.val_images[:limit], splits.y_val[:limit],
                  splits.test_images[:limit], splits.y_test[:limit])


def printed_epochs(stdout: str) -> list[dict[str, float]]:
    """The metrics of each epoch line, Keras's (`16/16 - 1s - ... - loss: 0.5 - val_loss: ...`) or the NumPy script's."""
    epochs = []
    for line in stdout.splitlines():
        if "val_loss:" in line and ("/step" in line or line.startswith("Epoch ")):
            epochs.append({key: float(value) for key, value in re.findall(r"(\w+): ([-+0-9.e]+)", line)})
    return epochs


def train_script_in_process(path: Path, monkeypatch, capsys, *args: str) -> str:
    script = load_script(path)
    monkeypatch.setattr(sys, "argv", [str(path), *args])
    script.main()
    return capsys.readouterr().out


@pytest.mark.parametrize("model, epochs", [("mlp", 2), ("numpy_logreg", 3)])
def test_the_script_trains_as_the_lab_trains(model, epochs, mnist, tmp_path, monkeypatch, capsys):
    """The same images, order, initial weights and updates: the lab's epochs, to the printed digits.

    The MLP trains by SGD, which the lab runs as Keras does (its Adam is a fused kernel that rounds
    differently), on a seeded subset of a holdout split; `numpy_logreg` is the write-up's NumPy loop.
    """
    from core.training.events import EpochEnd
    from core.training.trainer import Trainer

    config = preset_config(model, epochs=epochs, train_size=3000)
    lab = [event for event in Trainer(config, first_images(mnist, config, 500)) if isinstance(event, EpochEnd)]
    stdout = train_script_in_process(write_script(config, tmp_path), monkeypatch, capsys, "--limit", "500")
    printed = printed_epochs(stdout)
    assert len(printed) == len(lab) >= 1, stdout  # numpy_logreg's preset stops once train accuracy passes 0.8
    for ours, theirs in zip(printed, lab):
        for metric in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert ours[metric] == pytest.approx(getattr(theirs, metric), abs=1.5e-4), (metric, stdout)
    assert re.search(r"^test_accuracy: 0\.\d{4}$", stdout.splitlines()[-1].split(" - ")[-1])


# --- python -m core export ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, mnist):
    """A real 1-epoch run of write-up 001's NumPy model on 300 images (the quickest to record); tests copy it."""
    runs_dir = tmp_path_factory.mktemp("export") / "runs"
    *_, done = list(RecordedRun(SMALL_RUN_CONFIG, runs_dir=runs_dir, name="small", mnist=mnist))
    assert done.status in ("completed", "target_reached")
    return runs_dir / "small"


@pytest.fixture
def runs_dir(tmp_path, small_run):
    runs_dir = tmp_path / "runs"
    shutil.copytree(small_run, runs_dir / small_run.name)
    return runs_dir


def export(runs_dir: Path, *args: str) -> int:
    return cli_main(["export", "--runs-dir", str(runs_dir), *args])


def test_export_writes_the_runs_script_and_never_overwrites_unasked(runs_dir, tmp_path, capsys):
    out = tmp_path / "train_small.py"
    assert export(runs_dir, "--run", "small", "--out", str(out)) == 0
    text = out.read_text()
    run = load_run("small", runs_dir)
    assert text == run_script("small", runs_dir)
    assert "as run small of the MNIST training lab did" in text
    assert f"at test accuracy {run.test_accuracy:.4f}" in " ".join(text.split()) and "TRAIN_SIZE = 300" in text
    assert f"wrote {out}" in capsys.readouterr().out

    out.write_text("# my edits\n")
    assert export(runs_dir, "--run", "small", "--out", str(out)) == 2
    assert "already exists. Pass --force to replace it, or another --out." in capsys.readouterr().err
    assert out.read_text() == "# my edits\n"
    assert export(runs_dir, "--run", "small", "--out", str(out), "--force") == 0
    assert out.read_text() == text


def test_export_prints_the_script_with_out_dash(runs_dir, capsys):
    assert export(runs_dir, "--run", "small", "--out", "-") == 0
    assert capsys.readouterr().out == run_script("small", runs_dir)


def test_export_of_an_unknown_run_says_which_and_what_to_do(runs_dir, tmp_path, capsys):
    assert export(runs_dir, "--run", "no-such-run", "--out", str(tmp_path / "x.py")) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: No run named 'no-such-run'") and "pick another run" in error
    assert not (tmp_path / "x.py").exists()


def test_a_run_without_a_readable_config_gets_no_script(runs_dir, tmp_path, capsys):
    (runs_dir / "small" / "config.json").write_text("{torn")
    assert export(runs_dir, "--run", "small", "--out", str(tmp_path / "x.py")) == 2
    assert "has no readable config.json" in capsys.readouterr().err
    (runs_dir / "small" / "config.json").write_text(json.dumps({"model": "mlp", "epochs": -3}))
    assert export(runs_dir, "--run", "small", "--out", str(tmp_path / "x.py")) == 2
    assert "is not a valid config" in capsys.readouterr().err and not (tmp_path / "x.py").exists()


def test_text_from_the_run_folder_cannot_break_out_of_the_scripts_docstring(runs_dir, tmp_path):
    """A status reason is any text (an exception's message); in the header it stays one harmless line."""
    status_path = runs_dir / "small" / STATUS_FILE
    status = json.loads(status_path.read_text())
    hostile = '"""\nimport os\nos.system("touch PWNED")  # \\" \x00 \'\'\''
    status_path.write_text(json.dumps({**status, "reason": hostile, "parent": {"run": 'p"""\nx=1', "epoch": 2}}))
    out = tmp_path / "script.py"
    assert export(runs_dir, "--run", "small", "--out", str(out)) == 0
    tree = ast.parse(out.read_text())
    docstring = " ".join(ast.get_docstring(tree).split())
    assert "import os os.system('touch PWNED')" in docstring and "continued from run p''' x=1 at epoch 2" in docstring
    clean = ast.parse(training_script(SMALL_RUN_CONFIG))
    assert [type(node).__name__ for node in tree.body] == [type(node).__name__ for node in clean.body]


def test_the_header_says_what_the_script_does_not_reproduce(runs_dir):
    with open(runs_dir / "small" / CONTROLS_FILE, "a") as controls:  # as a Set of the learning rate records it
        controls.write(json.dumps({"event": "learning_rate", "epoch": 1, "fraction": 0.5, "step": 5,
                                   "learning_rate": 0.01, "previous": 0.1}) + "\n")
    status_path = runs_dir / "small" / STATUS_FILE  # as `python -m core train --resume small --epochs 2` records it
    status = json.loads(status_path.read_text())
    status_path.write_text(json.dumps({**status, "resumed": [{"from_epoch": 1, "epochs": 2, "at": 0.0}]}))
    text = " ".join(run_script("small", runs_dir).split())
    assert ("resumed from its checkpoints 1 time(s) (the last after epoch 1, for 2 epoch(s) more: 1 in all); "
            "this script trains in one go: pass --epochs 1 for as many") in text
    assert "the learning rate was changed while the run trained (0.1 → 0.01 in epoch 1); this script keeps 0.1." in text


def test_a_script_refuses_bad_flags_and_a_missing_mnist_with_the_fix(tmp_path, monkeypatch, capsys):
    script = load_script(write_script(preset_config("numpy_logreg"), tmp_path))
    monkeypatch.setattr(sys, "argv", ["train.py", "--limit", "1"])
    with pytest.raises(SystemExit) as exit_:
        script.main()
    assert exit_.value.code == 2 and "pass --epochs 1 or more and --limit 0 (all) or 2 or more" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", ["train.py"])
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "nowhere.npz"))
    with pytest.raises(SystemExit) as exit_:
        script.main()
    assert "nowhere.npz' is not a file. Point it at an mnist.npz" in str(exit_.value.code)
