"""The Sweep page through Streamlit's AppTest: the form, a refusal shown as text, and a real tiny sweep.

Runs go to a throwaway `$MNIST_LAB_RUNS_DIR`. The sweep trains the MLP on 600 images for one
epoch, two trials, on the page's own executor (one warm worker process of its own).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config.train_config import preset_config
from core.jobs.job_progress import format_seconds
from core.runs.store import RUNS_DIR_ENV, list_runs, load_run
from core.training.epoch_estimate import estimate_epoch, run_seconds
from dashboard_workers import end_the_dashboards_workers  # noqa: F401  (ends the queue's workers with this module)

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard" / "app.py")
SWEEP_WAIT_SECONDS = 300  # an upper bound for a tiny sweep on a busy 2-core machine, not a speed claim


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv(RUNS_DIR_ENV, str(folder))
    return folder


def open_sweep_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("../pages/sweep.py")
    at.run()
    assert not at.exception, at.exception
    return at


def set_knobs(at: AppTest, **texts) -> None:
    for name, text in texts.items():
        at.text_input(key=f"sweep_knob_{name}").set_value(text)


def test_the_page_opens_with_an_example_search_and_nothing_stored(runs_dir):
    at = open_sweep_page()
    assert at.title[0].value == "Sweep"
    assert at.text_input(key="sweep_knob_learning_rate").value == "1e-4:1e-1:log"
    assert at.text_input(key="sweep_knob_batch_size").value == "64,128,256"
    assert at.button(key="sweep_start").disabled is False
    assert any("Start sweep" in info.value for info in at.info)
    assert not (runs_dir / "sweeps.db").exists()
    shown = " ".join(caption.value for caption in at.caption)
    assert "runs/sweeps.db" in shown and str(runs_dir) not in shown  # the folder's name, not the server's path


def test_the_sweeps_time_is_estimated_before_start_as_at_most(runs_dir):
    at = open_sweep_page()
    base = preset_config("fast", epochs=3, train_size=6000, validation="holdout")  # the example search's fixed knobs
    slowest = base.replace(batch_size=64)  # of 64,128,256: the slowest
    at_most = format_seconds(8 * run_seconds(slowest, estimate_epoch(slowest, list_runs(runs_dir)).seconds))
    assert any(m.value.startswith(f"**At most {at_most}** for 8 trial(s) one after another") for m in at.markdown), \
        [m.value for m in at.markdown]
    at.number_input(key="sweep_trials_count").set_value(2).run()
    assert any(m.value.startswith("**At most ") and "for 2 trial(s)" in m.value for m in at.markdown)
    set_knobs(at, epochs="not a number")
    at.run()
    assert not any(m.value.startswith("**At most") for m in at.markdown)  # no estimate for knobs that do not parse


def test_bad_input_is_refused_as_plain_text_and_starts_nothing(runs_dir):
    at = open_sweep_page()
    typed = "**1e-1**:[x](http://example.com)"
    set_knobs(at, learning_rate=typed)
    at.button(key="sweep_start").click()
    at.run()
    assert not at.exception, at.exception
    assert [error.value for error in at.error] == ["The sweep was not started:"]
    assert any(typed in code.value and "learning_rate" in code.value for code in at.code)
    assert not any(typed in markdown.value for markdown in at.markdown)  # never rendered as markdown
    assert not any(runs_dir.iterdir())


def test_a_sweep_started_on_the_page_shows_its_trials_charts_and_runs(runs_dir):
    at = open_sweep_page()
    at.selectbox(key="sweep_knob_model").set_value("mlp")
    at.number_input(key="sweep_trials_count").set_value(2)
    set_knobs(at, epochs="1", train_size="600", validation_size="500", learning_rate="0.05,0.5", batch_size="100")
    at.button(key="sweep_start").click()
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [error.value for error in at.error]
    deadline = time.monotonic() + SWEEP_WAIT_SECONDS
    while not any("Sweep finished" in success.value for success in at.success):
        assert not at.error, f"the page shows {[e.value for e in at.error]} {[c.value for c in at.code]}"
        assert time.monotonic() < deadline, "the sweep did not finish"
        time.sleep(1.0)
        at.run()
        assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert len(table) == 2 and set(table["state"]) <= {"COMPLETE", "PRUNED"} and "learning_rate" in table
    assert len(at.get("plotly_chart")) == 2  # parallel coordinates and optimization history
    links = [link for link in at.get("page_link") if "Trial" in link.proto.label or "Best" in link.proto.label]
    runs = set(table["run"])
    assert {link.proto.label.rsplit(": ", 1)[1] for link in links} == runs
    for run in runs:
        assert load_run(run, runs_dir).status in ("completed", "stopped")
    assert (runs_dir / "sweeps.db").is_file()


def test_the_server_side_of_the_page_never_imports_tensorflow():
    script = (
        "import sys, optuna.visualization, pandas\n"
        "import core.jobs.sweep_jobs, core.jobs.search_space, core.jobs.sweep, core.config.train_form\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False", "False"]
