"""Hostile input: names and links that try to leave the runs directory, files that carry code,
code patterns that would let them, and the Streamlit settings a hosted demo runs with.

Each file that carries code is first shown to run its payload when loaded unsafely (the oracle:
the attack is real), then shown to be refused, with the payload never run, by the app's loaders.
"""

from __future__ import annotations

import json
import pathlib
import re
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core.cli import main as cli_main
from core.config.train_config import TrainConfig
from core.data.mnist import DatasetError, load_mnist
from core.runs.run_writer import RunWriter
from core.runs.store import (
    CONFIG_FILE, METRICS_FILE, MODEL_FILE, PREDICTIONS_FILE, STATUS_FILE, RunError, delete_run, list_runs,
    load_model, load_model_file, load_predictions, load_run, run_path,
)

ROOT = Path(__file__).resolve().parents[1]
MARKER_ENV = "MNIST_LAB_TEST_MARKER"  # where a payload would leave its trace


def tree(path: Path) -> dict[str, bytes | None]:
    """Every path under `path` (links not followed) with its bytes, to compare before and after."""
    return {str(p.relative_to(path)): (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
            for p in sorted(path.rglob("*"))}


def fake_run(folder: Path, **status) -> Path:
    folder.mkdir(parents=True)
    (folder / CONFIG_FILE).write_text(json.dumps({"model": "mlp"}))
    (folder / STATUS_FILE).write_text(json.dumps({"status": "completed", "reason": "all 1 epochs ran", **status}))
    (folder / METRICS_FILE).write_text(json.dumps({"epoch": 1, "loss": 0.5}) + "\n")
    return folder


# --- names ------------------------------------------------------------------------------------

HOSTILE_NAMES = [
    "../x", "..", "/etc/passwd", "a/../../b", "a\x00b", "\x00", "good\x00/../../etc",
    "\uff52\uff55\uff4e",  # fullwidth "run"
    "run\u2215x",  # division slash, looks like "/"
    "run\u2044x",  # fraction slash
    "\uff0e\uff0e",  # fullwidth ".."
    "\u2024\u2024",  # one-dot leaders, look like ".."
    "run\u0430",  # Cyrillic "a"
    "", "x" * 10_000, "good\n", "good/", " good", "%2e%2e%2f", "..%2fx", "~root", "C:\\Windows",
    None, 123, b"good", pathlib.Path("good"),
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda name: repr(name)[:24])
def test_hostile_run_name_is_refused_everywhere_and_touches_nothing(tmp_path, name):
    runs_dir = tmp_path / "lab" / "runs"
    fake_run(runs_dir / "good")
    fake_run(tmp_path / "lab" / "x")  # what `../x` would reach
    fake_run(tmp_path / "lab" / "b")  # what `a/../../b` would reach
    before = tree(tmp_path)
    calls = [lambda: run_path(runs_dir, name)]
    if name is not None:  # RunWriter(name=None) means "make up a fresh name"
        calls.append(lambda: RunWriter(TrainConfig(model="mlp"), runs_dir, name))
    calls += [lambda reader=reader: reader(name, runs_dir) for reader in (load_run, load_model, load_predictions, delete_run)]
    for call in calls:
        with pytest.raises(RunError, match="Invalid run name") as refused:
            call()
        assert len(str(refused.value)) < 300 + len(repr(name))
    assert tree(tmp_path) == before


def test_hostile_run_name_on_the_command_line_is_one_line_and_writes_nothing(tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    status = cli_main(["train", "--model", "mlp", "--epochs", "1", "--train-size", "300", "--name", "../escape",
                       "--runs-dir", str(runs_dir)])
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1 and "Invalid run name" in error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"] and list(runs_dir.iterdir()) == []


# --- symbolic links planted in the runs directory ---------------------------------------------

def test_run_folder_linked_outside_is_not_listed_read_or_deleted(tmp_path):
    runs_dir, outside = tmp_path / "runs", fake_run(tmp_path / "outside")
    (outside / "precious.txt").write_text("keep me")
    runs_dir.mkdir()
    (runs_dir / "evil").symlink_to(outside, target_is_directory=True)
    (runs_dir / "evil-file").symlink_to(outside / "precious.txt")
    before = tree(outside)
    assert list_runs(runs_dir) == []
    for name in ("evil", "evil-file"):
        for reader in (load_run, load_model, load_predictions, delete_run):
            with pytest.raises(RunError):
                reader(name, runs_dir)
    assert tree(outside) == before and (runs_dir / "evil").is_symlink()


def test_files_linked_outside_from_a_run_folder_are_never_read(tmp_path):
    runs_dir, outside = tmp_path / "runs", tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text(json.dumps({"model": "mlp", "api_key": "hunter2", "status": "completed"}))
    (outside / "secret.jsonl").write_text(json.dumps({"epoch": 1, "api_key": "hunter2"}) + "\n")
    (outside / "model.keras").write_bytes(b"PK\x03\x04 an outside file")
    np.savez(outside / "predictions.npz", y_true=np.zeros(3, np.uint8), probabilities=np.zeros((3, 10)))
    run = runs_dir / "linked-files"
    run.mkdir(parents=True)
    for file, target in [(CONFIG_FILE, "secret.json"), (STATUS_FILE, "secret.json"), (METRICS_FILE, "secret.jsonl"),
                         (MODEL_FILE, "model.keras"), (PREDICTIONS_FILE, "predictions.npz")]:
        (run / file).symlink_to(outside / target)
    [summary] = list_runs(runs_dir)
    assert "hunter2" not in repr(summary)
    assert summary.config == {} and summary.epochs == []
    for file in (CONFIG_FILE, STATUS_FILE, METRICS_FILE):
        assert f"{file} is a symbolic link and was not read" in summary.problems
    with pytest.raises(RunError, match="symbolic link"):
        load_model("linked-files", runs_dir)
    with pytest.raises(RunError, match="symbolic link"):
        load_predictions("linked-files", runs_dir)


def test_deleting_a_run_removes_links_inside_it_but_never_their_targets(tmp_path):
    runs_dir, outside = tmp_path / "runs", tmp_path / "outside"
    fake_run(outside / "other-run")
    (outside / "precious.txt").write_text("keep me")
    run = fake_run(runs_dir / "with-links")
    (run / "logs").symlink_to(outside, target_is_directory=True)
    (run / "notes.txt").symlink_to(outside / "precious.txt")
    before = tree(outside)
    delete_run("with-links", runs_dir)
    assert not run.exists() and tree(outside) == before


# --- files that carry code ---------------------------------------------------------------------

@pytest.fixture
def marker(tmp_path, monkeypatch):
    path = tmp_path / "payload-ran"
    monkeypatch.setenv(MARKER_ENV, str(path))
    return path


def test_keras_file_with_a_lambda_layer_is_refused_and_never_run(tmp_path, marker):
    import keras

    payload = lambda x: (__import__("pathlib").Path(__import__("os").environ["MNIST_LAB_TEST_MARKER"]).touch(), x)[1]  # noqa: E731
    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(payload)])
    run = fake_run(tmp_path / "runs" / "lambda")
    model.save(run / MODEL_FILE)
    assert marker.exists()  # building the model ran the payload once: it is live code
    marker.unlink()

    with pytest.raises(RunError, match="corrupt or unsafe"):
        load_model("lambda", tmp_path / "runs")
    with pytest.raises(RunError, match="corrupt or unsafe"):
        load_model_file(run / MODEL_FILE, "an uploaded model")
    assert not marker.exists()

    keras.saving.load_model(run / MODEL_FILE, safe_mode=False)  # the oracle: unsafe loading runs it
    assert marker.exists()


def test_keras_file_whose_config_names_a_system_call_is_refused(tmp_path, marker):
    import keras

    path = tmp_path / "plain.keras"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"] += [
        {"module": "os", "class_name": "system", "config": {"command": f"touch {marker}"}, "registered_name": None},
        {"module": "subprocess", "class_name": "Popen", "config": {"args": ["touch", str(marker)]}, "registered_name": None},
    ]
    crafted = tmp_path / "crafted.keras"
    with zipfile.ZipFile(crafted, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, json.dumps(config) if name == "config.json" else data)
    with pytest.raises(RunError, match="corrupt or unsafe"):
        load_model_file(crafted, "an uploaded model")
    assert not marker.exists()


class TouchWhenUnpickled:
    """An object whose unpickling creates a file: what a hostile `.npz` object array carries."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.path),)


def _assert_pickle_payload_is_live(path: Path, key: str, marker: Path) -> None:
    with np.load(path, allow_pickle=True) as archive:
        archive[key]
    assert marker.exists()
    marker.unlink()


def test_predictions_with_an_object_array_are_refused_and_never_unpickled(tmp_path, marker):
    run = fake_run(tmp_path / "runs" / "pickled")
    np.savez(run / PREDICTIONS_FILE, y_true=np.array([TouchWhenUnpickled(marker)], dtype=object),
             probabilities=np.zeros((1, 10), np.float32))
    _assert_pickle_payload_is_live(run / PREDICTIONS_FILE, "y_true", marker)
    with pytest.raises(RunError, match="predictions.npz is corrupt.*Delete the run"):
        load_predictions("pickled", tmp_path / "runs")
    assert not marker.exists()


def test_mnist_file_with_an_object_array_is_refused_and_never_unpickled(tmp_path, marker):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=np.array([TouchWhenUnpickled(marker)], dtype=object), y_train=np.zeros(1, np.uint8),
             x_test=np.zeros((1, 28, 28), np.uint8), y_test=np.zeros(1, np.uint8))
    _assert_pickle_payload_is_live(path, "x_train", marker)
    with pytest.raises(DatasetError, match="corrupt") as refused:
        load_mnist(path)
    assert str(path) in str(refused.value) and "MNIST_PATH" in str(refused.value)
    assert not marker.exists()


# --- the code itself ----------------------------------------------------------------------------

FORBIDDEN = {
    r"allow_pickle\s*=\s*True": "unpickling runs code from the file",
    r"\bpickle\.loads?\(|\bmarshal\.loads?\(|\bdill\.loads?\(": "unpickling runs code from the file",
    r"safe_mode\s*=\s*False|enable_unsafe_deserialization": "Keras would run code stored in a model",
    r"(?<![\w.])eval\(|(?<![\w.])exec\(": "evaluates text as code",
    r"shell\s*=\s*True|\bos\.system\(|\bos\.popen\(": "a shell would parse user text",
    r"\byaml\.load\(": "yaml.load builds arbitrary objects",
    r"unsafe_allow_html\s*=\s*True": "user text rendered as HTML",
}
SCANNED = ["core", "pages", "dashboard"]


def test_no_code_path_can_execute_what_it_loads():
    files = [path for folder in SCANNED for path in sorted((ROOT / folder).rglob("*.py"))]
    assert len(files) >= 20 and any(path.name == "runs.py" for path in files)  # the scan saw the code
    found = []
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            code = line.split("#", 1)[0]
            found += [f"{path.relative_to(ROOT)}:{number}: {why}: {line.strip()}"
                      for pattern, why in FORBIDDEN.items() if re.search(pattern, code)]
    assert found == []


def test_the_scan_would_catch_each_pattern():
    samples = ["np.load(p, allow_pickle=True)", "pickle.loads(b)", "keras.saving.load_model(p, safe_mode=False)",
               "eval(text)", "exec(code)", "subprocess.run(c, shell=True)", "yaml.load(f)",
               "st.markdown(x, unsafe_allow_html=True)"]
    for sample in samples:
        assert any(re.search(pattern, sample) for pattern in FORBIDDEN), sample
    for harmless in ["model.evaluate(x)", "ast.literal_eval(s)", "np.load(p, allow_pickle=False)", "self.exec_count"]:
        assert not any(re.search(pattern, harmless) for pattern in FORBIDDEN), harmless


# --- hosting settings -----------------------------------------------------------------------

def test_streamlit_config_is_fit_for_hosting_strangers():
    """`.streamlit/config.toml`: every option exists in this Streamlit, and none weakens a hosted app."""
    from streamlit import config as streamlit_config

    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    options = {f"{section}.{key}": value for section, values in settings.items() for key, value in values.items()}
    unknown = sorted(set(options) - set(streamlit_config._config_options_template))
    assert unknown == [], "options this Streamlit does not know (misspelt, or removed)"
    assert options.get("server.enableXsrfProtection") is True
    assert options.get("server.enableCORS", True) is True
    assert 1 <= options.get("server.maxUploadSize", 200) <= 10  # MB; the default is 200
    assert options.get("server.maxMessageSize", 200) <= 200
    assert options.get("server.runOnSave") is False
    assert options.get("client.showErrorDetails") in ("none", "type")  # no tracebacks in the browser
    assert options.get("client.toolbarMode", "auto") in ("minimal", "viewer")  # no rerun / clear-cache menu
    assert options.get("global.developmentMode", False) is False
    assert options.get("server.enableStaticServing", False) is False
    assert options.get("logger.level", "info") != "debug"
    assert options.get("server.headless") is True
