"""Exported scripts run where nothing but the pinned TensorFlow is installed, and train what the run trained.

The clean virtual environment (`tests/export_venv.py`: `.venv-export-check/`, made once by
`python -m venv` and `pip install <requirements.txt's tensorflow-cpu pin>`, then reused) is started
at collection, so pip unpacks TensorFlow while the tests before these run. If it cannot be made,
the tests fail with pip's own words: never a silent skip.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import export_venv
import pytest

from core.cli import main as cli_main
from core.config.train_config import preset_config
from core.export.run_export import training_script
from core.models.model_size import model_size
from core.runs.recorded_run import RecordedRun
from core.runs.store import load_model

SCRIPT_TIMEOUT_SECONDS = 600
LAB_PACKAGES = ("streamlit", "plotly", "pandas", "optuna", "ray")  # in the lab's venv, never in the clean one


class CleanVenv:
    """The session's build of the clean venv (started at collection by conftest.py, or here)."""

    def __init__(self):
        self.build = export_venv.start()
        self.pin = self.build.pin

    def wait(self) -> Path:
        """Its python; fails the test with pip's words if it could not be made (never a skip)."""
        try:
            python = self.build.wait()
        except export_venv.CleanVenvError as error:
            pytest.fail(str(error))
        if self.build.seconds is not None:
            print(f"made {export_venv.CLEAN_VENV.name} with {self.pin} in {self.build.seconds:.0f} s")
        return python


@pytest.fixture(scope="module")
def clean_venv():
    return CleanVenv()


@pytest.fixture(scope="module")
def fast_run(clean_venv, tmp_path_factory, mnist):
    """The lab's `fast` preset, one epoch on all 60,000 images, recorded as a run (while the venv may still be made)."""
    runs_dir = tmp_path_factory.mktemp("export-fast") / "runs"
    config = preset_config("fast", checkpoint_budget_mb=0.0)  # no checkpoints: a lab extra the script leaves out
    *_, done = list(RecordedRun(config, runs_dir=runs_dir, name="fast-full", mnist=mnist))
    assert done.status == "completed"
    return runs_dir, done


def run_clean(python: Path, script: Path, folder: Path, *args: str) -> subprocess.Popen:
    """Start `script` with the clean venv's python, from a folder where no part of the lab can be imported."""
    home = folder / "home"
    home.mkdir(exist_ok=True)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "MNIST_PATH": os.environ["MNIST_PATH"]}
    return subprocess.Popen([str(python), str(script), *args], cwd=folder, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finished(process: subprocess.Popen) -> str:
    stdout, stderr = process.communicate(timeout=SCRIPT_TIMEOUT_SECONDS)
    assert process.returncode == 0, f"the script failed:\n{stdout[-2000:]}\n{stderr[-3000:]}"
    return stdout


def printed(stdout: str, name: str) -> float:
    match = re.search(rf"^(?:.* - )?{name}: ([0-9.]+)$", stdout, re.MULTILINE)
    assert match, f"no `{name}:` line in:\n{stdout[-2000:]}"
    return float(match.group(1))


def test_the_exported_fast_run_trains_to_98_percent_with_tensorflow_alone(clean_venv, fast_run, tmp_path):
    runs_dir, done = fast_run
    python = clean_venv.wait()
    script = tmp_path / "train_fast-full.py"
    assert cli_main(["export", "--run", "fast-full", "--out", str(script), "--runs-dir", str(runs_dir)]) == 0
    stdout = finished(run_clean(python, script, tmp_path))
    assert re.search(r"^469/469 - \d+s - .*accuracy: 0\.\d{4} - loss: \d\.\d{4}", stdout, re.MULTILINE), stdout[-2000:]
    assert printed(stdout, "parameters") == load_model("fast-full", runs_dir).count_params()
    test_accuracy = printed(stdout, "test_accuracy")
    print(f"fast, 1 epoch on 60,000 images: the exported script {test_accuracy:.4f}, the lab's run {done.test_accuracy:.4f}")
    assert test_accuracy >= 0.98


def test_the_clean_venv_holds_the_pinned_tensorflow_and_nothing_of_the_lab(clean_venv, tmp_path):
    python = clean_venv.wait()
    listing = subprocess.run([str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                             cwd=tmp_path, capture_output=True, text=True, check=True)
    installed = {re.sub(r"[-_.]+", "-", package["name"].lower()): package["version"] for package in json.loads(listing.stdout)}
    name, version = clean_venv.pin.split("==")
    assert installed.get(name) == version
    assert not set(LAB_PACKAGES) & set(installed) and "tensorflow" not in installed


def test_the_exported_lenet5_and_mlp_scripts_run_with_tensorflow_alone(clean_venv, tmp_path):
    """Each preset's script, one epoch on the first 2,000 images of each split; both at once (most of
    their time is TensorFlow's import, which takes one core)."""
    python = clean_venv.wait()
    configs = {model: preset_config(model) for model in ("lenet5", "mlp")}
    processes = {}
    for model, config in configs.items():
        script = tmp_path / f"train_{model}.py"
        script.write_text(training_script(config))
        processes[model] = run_clean(python, script, tmp_path, "--epochs", "1", "--limit", "2000")
    for model, config in configs.items():
        stdout = finished(processes[model])
        steps = -(-2000 // config.batch_size)
        assert re.search(rf"^{steps}/{steps} - \d+s - .*val_loss: \d\.\d{{4}}$", stdout, re.MULTILINE), stdout[-2000:]
        assert printed(stdout, "parameters") == model_size(config).parameters
        test_accuracy = printed(stdout, "test_accuracy")
        print(f"{model}, 1 epoch on 2,000 images: test accuracy {test_accuracy:.4f}")
        # Both presets learn slowly at first (SGD at 0.01 from Glorot weights; sigmoids from N(0, 1) weights):
        # 0.237 and 0.232 here, against 0.1 for a guess. `tests/test_export.py` checks that the scripts build the
        # lab's initial weights and that mlp's trains to the lab's numbers.
        assert test_accuracy > 0.15
