"""The Data, Train and Runs pages through Streamlit's AppTest, on the real MNIST and real trainings.

Runs go to a throwaway `$MNIST_LAB_RUNS_DIR`; trainings are tiny (a few hundred images). Waits
for a background job re-run the app once a second up to a bound, then fail with what was shown.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MNIST_PATH", str(Path(__file__).resolve().parents[2] / "shared/data/mnist.npz"))

from streamlit.testing.v1 import AppTest  # noqa: E402

import core.runs.store  # noqa: E402
from core.runs.recorded_run import RecordedRun  # noqa: E402
from core.runs.store import RUNS_DIR_ENV, list_runs, load_run  # noqa: E402
from core.config.train_form import build_config, default_values  # noqa: E402
from core.jobs.job_progress import about  # noqa: E402
from core.training.epoch_estimate import estimate_epoch, run_seconds  # noqa: E402
from core.jobs.training_jobs import default_max_concurrent  # noqa: E402

APP = str(ROOT / "dashboard" / "app.py")
JOB_WAIT_SECONDS = 300  # an upper bound for a tiny training on a busy 2-core machine, not a speed claim


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv(RUNS_DIR_ENV, str(folder))
    return folder


@pytest.fixture(scope="session")
def recorded_run(tmp_path_factory):
    """A real 2-epoch run of the MLP on 300 images, recorded once; tests copy it."""
    folder = tmp_path_factory.mktemp("recorded")
    config = build_config(default_values("mlp") | dict(epochs=2, train_size=300, batch_size=32, validation_size=500))
    run = RecordedRun(config, runs_dir=folder, name="mlp-recorded")
    *_, done = list(run)
    assert done.status == "completed"
    return folder / "mlp-recorded"


def open_page(page: str | None = None, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if page:
        at.switch_page(f"../pages/{page}.py")
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def wait_until(at: AppTest, done, what: str) -> None:
    """Re-run the app once a second until `done(at)`; fail after `JOB_WAIT_SECONDS`."""
    deadline = time.monotonic() + JOB_WAIT_SECONDS
    while not done(at):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen; the page shows errors {texts(at.error)}, "
                        f"metrics {texts(at.metric)}, progress {[p.proto.text for p in at.get('progress')]}")
        time.sleep(1.0)
        at.run()
        assert not at.exception, at.exception


def chart_traces(at: AppTest, key_part: str) -> dict[str, dict]:
    """The traces of the plotly chart whose id contains `key_part`, by name."""
    [chart] = [c for c in at.get("plotly_chart") if key_part in c.proto.id]
    return {trace["name"]: trace for trace in json.loads(chart.proto.spec)["data"]}


def set_tiny_config(at: AppTest, epochs: int) -> None:
    at.selectbox(key="train_model").set_value("mlp").run()
    at.number_input(key="train_train_size").set_value(300).run()
    at.number_input(key="train_batch_size").set_value(32).run()
    at.number_input(key="train_validation_size").set_value(500).run()
    at.number_input(key="train_epochs").set_value(epochs).run()
    assert not at.error, texts(at.error)


# --- every page -------------------------------------------------------------------------------


@pytest.mark.parametrize("page", [None, "data", "train", "runs"])
def test_every_page_runs_without_exception(runs_dir, page):
    at = open_page(page)
    assert at.title, "the page drew nothing"


def test_data_page_never_imports_tensorflow():
    # A fresh interpreter: in this one, other tests have long imported TensorFlow.
    script = (
        "import sys; from streamlit.testing.v1 import AppTest; "
        f"at = AppTest.from_file({APP!r}, default_timeout=60); at.run(); "
        "assert not at.exception, at.exception; assert at.metric, 'no overview drawn'; "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == ["False", "False"]


# --- Data ---------------------------------------------------------------------------------------


def test_data_page_shows_the_dataset_at_a_glance(runs_dir):
    at = open_page("data")
    assert texts(at.metric)[:2] == ["60,000", "10,000"]
    assert at.get("image"), "no sample grid"
    assert "5,421" in at.caption[-1].value  # digit 5, MNIST's rarest training class
    assert at.get("vega_lite_chart"), "no class-count chart"
    # SEEDS.md's five write-ups give six models; with this project's fast CNN the menus list seven
    assert "Train 7 handwritten-digit classifiers (6 from 5 tutorials, and this project's fast CNN)" in at.markdown[0].value


def test_data_page_shows_a_corrupt_mnist_as_an_error_not_a_traceback(runs_dir, tmp_path, monkeypatch):
    corrupt = tmp_path / "mnist.npz"
    corrupt.write_bytes(b"PK\x03\x04 this is not an archive")
    monkeypatch.setenv("MNIST_PATH", str(corrupt))
    at = open_page("data")
    [message] = texts(at.error)
    message = message.replace("\\", "")  # the page escapes the message's markdown characters
    assert "MNIST could not be loaded" in message and str(corrupt) in message


# --- Train --------------------------------------------------------------------------------------


def test_choosing_a_model_fills_the_form_with_its_write_ups_preset(runs_dir):
    at = open_page("train")
    at.selectbox(key="train_model").set_value("mlp").run()
    assert at.number_input(key="train_learning_rate").value == 0.1
    assert at.number_input(key="train_batch_size").value == 100
    assert at.number_input(key="train_epochs").value == 30
    assert at.selectbox(key="train_activation").value == "sigmoid"
    assert any("write-up 003" in c.value and "91.64% test" in c.value for c in at.caption)
    assert any("per epoch" in m.value for m in at.markdown), "no epoch-time estimate"
    assert any("Estimate from a baseline timing of `mlp`" in c.value for c in at.caption)
    # the checkpoint budget's meaning, before Start: 30 epochs of ~2.35 MB fit the default 50 MB only every 2nd
    assert any("for the epoch scrubber): keeps every 2nd epoch plus the first, best and last: ~" in c.value for c in at.caption)
    at.number_input(key="train_checkpoint_budget_mb").set_value(0.0).run()
    assert any("for the epoch scrubber): no checkpoints (budget 0)" in c.value for c in at.caption)


def test_as_in_the_write_up_loads_its_settings_with_the_accuracy_and_time_to_expect(runs_dir):
    at = open_page("train", {"model": "cnn"})
    # The default is the quick subset, and the page says so, beside what the write-up's settings reach and take.
    assert at.number_input(key="train_train_size").value == 5000
    caption = next(c.value for c in at.caption if "Preset from write-up 000" in c.value)
    full = build_config(default_values("cnn") | {"train_size": 0})
    expected_time = about(run_seconds(full, estimate_epoch(full, list_runs(runs_dir)).seconds))
    assert "**Quick subset**: 5,000 of the write-up's 55,000 images." in caption
    assert f"reached **99.03% test** in 15 epochs; they take {expected_time} here." in caption
    assert not at.button(key="train_write_up").disabled
    at.button(key="train_write_up").click().run()
    assert not at.exception
    assert at.number_input(key="train_train_size").value == 0  # all the images, as the write-up trained
    assert (at.number_input(key="train_epochs").value, at.number_input(key="train_batch_size").value) == (15, 1000)
    assert at.number_input(key="train_learning_rate").value == 0.01 and at.selectbox(key="train_optimizer").value == "adam"
    caption = next(c.value for c in at.caption if "Preset from write-up 000" in c.value)
    assert caption.endswith("**As in the write-up**: its settings on all 55,000 training images reached "
                            f"**99.03% test** in 15 epochs; they take {expected_time} here.")
    assert at.button(key="train_write_up").disabled  # already on it
    assert any("Trains on **55,000 images**" in m.value for m in at.markdown)
    assert at.query_params.get("train_size") == "0"  # a link to the write-up's settings


def test_on_a_shared_server_the_write_up_says_what_the_caps_do_to_it(runs_dir, monkeypatch):
    from dashboard.visitor import _rules_or_problem

    monkeypatch.setenv("MNIST_LAB_HOSTED", "1")  # 30 epochs and 10 minutes a training
    _rules_or_problem.clear()
    try:
        softmax = next(c.value for c in open_page("train", {"model": "softmax"}).caption if "Preset from" in c.value)
        cnn_deep = next(c.value for c in open_page("train", {"model": "cnn_deep"}).caption if "Preset from" in c.value)
    finally:
        monkeypatch.delenv("MNIST_LAB_HOSTED")
        _rules_or_problem.clear()
    assert "(but this server trains at most 30 epochs a run, not their 1,000) here." in softmax
    assert "(but this server stops a training after 10 min 0 s) here." in cnn_deep


def test_only_the_write_ups_models_offer_the_write_up_and_the_caption_never_reads_reported_not(runs_dir):
    at = open_page("train", {"model": "fast"})
    assert not [b for b in at.button if b.key == "train_write_up"]
    at = open_page("train", {"model": "cnn_deep"})
    assert any("which printed no accuracy of its own; the TF tutorial it copies reports ≈99.2%" in c.value for c in at.caption)
    assert not any("reported not" in c.value for c in at.caption)


def test_an_invalid_combination_shows_the_config_error_and_disables_start(runs_dir):
    at = open_page("train")
    at.number_input(key="train_train_size").set_value(300).run()
    at.number_input(key="train_batch_size").set_value(1000).run()
    assert any("`batch_size`=1000" in message for message in texts(at.error))
    assert at.button(key="train_start").disabled


def test_link_settings_fill_the_form(runs_dir):
    at = open_page("train", {"model": "mlp", "learning_rate": "0.5"})
    assert at.selectbox(key="train_model").value == "mlp"
    assert at.number_input(key="train_learning_rate").value == 0.5
    assert at.number_input(key="train_batch_size").value == 100  # the rest is mlp's preset
    assert not at.error


@pytest.mark.parametrize("query, named", [
    ({"learning_rate": "fast"}, "learning_rate"),
    ({"model": "mlp", "epochs": "-3"}, "epochs"),
])
def test_a_bad_link_setting_shows_an_error_not_an_exception(runs_dir, query, named):
    at = open_page("train", query)
    [message] = texts(at.error)
    assert "were not applied" in message and named in message.replace("\\", "")
    assert not at.button(key="train_start").disabled  # the form itself is still valid


def test_an_unknown_link_key_is_ignored_in_a_caption_naming_the_field_it_may_mean(runs_dir):
    at = open_page("train", {"optimiser": "adam"})
    assert not at.error
    assert any("optimiser (did you mean optimizer?)" in c.value.replace("\\", "") for c in at.caption)


def test_training_runs_in_the_background_and_its_epochs_reach_the_page(runs_dir):
    at = open_page("train")
    set_tiny_config(at, epochs=2)
    at.button(key="train_start").click().run()
    job_id = at.query_params["job"][0] if isinstance(at.query_params["job"], list) else at.query_params["job"]
    assert at.session_state["train_job"] == job_id

    # A refresh (a new session with only the URL) reattaches to the same job.
    refreshed = open_page("train", {"job": job_id})
    assert refreshed.get("progress") or refreshed.success, "the refreshed page lost the job"

    # Touching widgets and visiting another page does not disturb the training.
    at.number_input(key="train_epochs").set_value(7).run()
    at.switch_page("../pages/data.py").run()
    at.switch_page("../pages/train.py").run()
    assert not at.exception

    wait_until(at, lambda at: at.success, "the training's end")
    [summary] = texts(at.success)
    [run] = list_runs(runs_dir)
    assert run.status == "completed" and len(run.epochs) == 2
    assert f"**completed**: all 2 epochs ran. Test accuracy **{run.test_accuracy:.2%}**" in summary
    assert run.name in summary
    assert at.metric[0].label == "Epochs done (of 2)" and texts(at.metric)[0] == "2"
    # The curves show exactly the metrics Keras logged, as saved in the run's metrics.jsonl.
    loss = chart_traces(at, "train_loss_chart")
    assert loss["train (epoch mean)"]["x"] == [1, 2]
    assert loss["train (epoch mean)"]["y"] == pytest.approx([e["loss"] for e in run.epochs])
    assert loss["validation"]["y"] == pytest.approx([e["val_loss"] for e in run.epochs])
    accuracy = chart_traces(at, "train_accuracy_chart")
    assert accuracy["validation"]["y"] == pytest.approx([e["val_accuracy"] for e in run.epochs])
    assert texts(at.metric)[2] == f"{run.epochs[-1]['val_accuracy']:.1%}"

    refreshed.run()  # the other session now sees the same ending
    assert run.name in texts(refreshed.success)[0]
    assert not at.button(key="train_start").disabled  # ready for the next training


def test_stop_ends_the_training_and_keeps_finished_epochs(runs_dir):
    at = open_page("train")
    set_tiny_config(at, epochs=1000)
    at.button(key="train_start").click().run()
    try:
        wait_until(at, lambda at: at.metric and texts(at.metric)[0] != "0", "the first epoch")
        at.button(key="train_stop").click().run()
        # The ending, not any warning: a health warning ("Overfitting: …", 300 images for many fast epochs) is a
        # warning too, and may be shown while the job still runs. A finished job's page offers no Stop.
        wait_until(at, lambda at: not any(b.key == "train_stop" for b in at.button), "the stop")
    finally:
        if at.get("button") and any(b.key == "train_stop" for b in at.button):
            at.button(key="train_stop").click().run()  # never leave a 1000-epoch job behind
    assert any("**stopped**: stopped by request" in w for w in texts(at.warning)), texts(at.warning)
    [run] = list_runs(runs_dir)
    assert run.status == "stopped"
    assert 1 <= len(run.epochs) < 1000
    assert at.metric[0].label == "Epochs done (of 1,000)" and texts(at.metric)[0] == f"{len(run.epochs)}"


def test_sessions_share_one_queue_and_a_waiting_job_shows_its_place(runs_dir):
    if default_max_concurrent() != 1:
        pytest.skip("needs the default of one training at a time")
    first, second = open_page("train"), open_page("train")
    set_tiny_config(first, epochs=1000)
    set_tiny_config(second, epochs=1)
    first.button(key="train_start").click().run()
    try:
        wait_until(first, lambda at: at.get("progress") and "Epoch" in at.get("progress")[0].proto.text,
                   "the first session's training to start")
        second.button(key="train_start").click().run()
        assert "Waiting in the queue: position 1" in second.get("progress")[0].proto.text
    finally:
        first.button(key="train_stop").click().run()  # frees the one training slot
    wait_until(second, lambda at: at.success, "the queued training's end")
    assert "**completed**: the 1 epoch ran" in texts(second.success)[0]
    wait_until(first, lambda at: at.warning, "the first training's stop")
    assert sorted(run.status for run in list_runs(runs_dir)) == ["completed", "stopped"]


def test_a_link_to_an_unknown_job_says_so(runs_dir):
    at = open_page("train", {"job": "no-such-job"})
    assert any("no longer known" in w for w in texts(at.warning))
    assert "job" not in at.query_params


# --- Runs ---------------------------------------------------------------------------------------


def copy_run(recorded_run: Path, runs_dir: Path, name: str | None = None) -> str:
    name = name or recorded_run.name
    shutil.copytree(recorded_run, runs_dir / name)
    return name


def test_runs_lists_saved_runs_with_their_scores_and_curves(runs_dir, recorded_run):
    name = copy_run(recorded_run, runs_dir)
    summary = load_run(name, runs_dir)
    at = open_page("runs")
    [row] = at.dataframe[0].value.to_dict("records")
    assert (row["run"], row["model"], row["status"], row["epochs"]) == (name, "mlp", "completed", 2)
    assert row["test_accuracy"] == pytest.approx(summary.test_accuracy)
    assert row["best_val_accuracy"] == pytest.approx(max(e["val_accuracy"] for e in summary.epochs))
    on_disk = sum(path.stat().st_size for path in summary.path.rglob("*") if path.is_file())
    assert row["size_mb"] == pytest.approx(on_disk / 1e6, abs=0.006) and row["model_epoch"] == summary.model_epoch
    assert at.multiselect(key="runs_overlay").value == [name]
    traces = chart_traces(at, "runs_overlay_chart")
    assert traces[f"{name} (validation)"]["y"] == pytest.approx([e["val_accuracy"] for e in summary.epochs])
    at.radio(key="runs_metric").set_value("loss").run()
    assert chart_traces(at, "runs_overlay_chart")[f"{name} (train)"]["y"] == pytest.approx([e["loss"] for e in summary.epochs])
    downloads = {button.proto.label: button.proto for button in at.get("download_button")}
    assert not downloads["Download model (.keras)"].disabled
    assert downloads["Download metrics (.csv)"].url.endswith(".csv")
    assert not downloads["Download script (.py)"].disabled and downloads["Download script (.py)"].url.endswith(".py")


def test_runs_overlays_several_runs(runs_dir, recorded_run):
    copy_run(recorded_run, runs_dir, "first")
    copy_run(recorded_run, runs_dir, "second")
    at = open_page("runs")
    assert sorted(at.multiselect(key="runs_overlay").value) == ["first", "second"]
    assert set(chart_traces(at, "runs_overlay_chart")) == {
        "first (validation)", "first (train)", "second (validation)", "second (train)"}
    at.multiselect(key="runs_overlay").unselect("first").run()
    assert set(chart_traces(at, "runs_overlay_chart")) == {"second (validation)", "second (train)"}


def test_deleting_a_run_asks_first(runs_dir, recorded_run):
    name = copy_run(recorded_run, runs_dir)
    at = open_page("runs")
    at.button(key="runs_delete").click().run()
    assert any(name in w and "cannot be undone" in w for w in texts(at.warning))
    at.button(key="runs_delete_no").click().run()
    assert (runs_dir / name).is_dir()
    at.button(key="runs_delete").click().run()
    at.button(key="runs_delete_yes").click().run()
    assert not at.exception
    assert not (runs_dir / name).exists()
    assert any("No saved runs" in i for i in texts(at.info))


def test_damaged_runs_show_their_problems(runs_dir, recorded_run):
    name = copy_run(recorded_run, runs_dir)
    (runs_dir / name / "config.json").write_text("{torn")
    (runs_dir / name / "model.keras").unlink()
    with open(runs_dir / name / "metrics.jsonl", "a") as metrics:
        metrics.write('{"epoch": 3, "lo')
    at = open_page("runs")
    problems = " ".join(texts(at.error)).replace("\\", "")  # the page escapes markdown characters
    assert "config.json is corrupt" in problems and "model.keras is missing" in problems
    assert "line 3 is corrupt" in problems
    downloads = {b.proto.label: b.proto for b in at.get("download_button")}
    assert downloads["Download model (.keras)"].disabled
    assert downloads["Download script (.py)"].disabled and "has no readable config.json" in downloads["Download script (.py)"].help.replace("\\", "")
    assert at.dataframe[0].value.to_dict("records")[0]["epochs"] == 2


def test_a_run_deleted_by_another_session_is_handled(runs_dir, recorded_run, monkeypatch):
    name = copy_run(recorded_run, runs_dir)
    at = open_page("runs")
    # Another session deletes the run between this page's listing and its reading of the run.
    stale = list_runs(runs_dir)
    shutil.rmtree(runs_dir / name)
    with monkeypatch.context() as patch:
        patch.setattr(core.runs.store, "list_runs", lambda *args, **kwargs: list(stale))
        at.run()
    assert not at.exception
    assert any("It may have been deleted" in w for w in texts(at.warning))
    at.run()
    assert any("No saved runs" in i for i in texts(at.info))


def test_runs_page_with_no_runs_points_to_train(runs_dir):
    at = open_page("runs")
    assert any("No saved runs yet" in i for i in texts(at.info))


def test_switching_the_optimizer_offers_its_usual_rate_and_a_far_off_rate_is_warned_about(runs_dir):
    # Tutorial 003's experiment: mlp, then adam. Adam at SGD's 0.1 fell to 27% test accuracy.
    at = open_page("train")
    at.selectbox(key="train_model").set_value("mlp").run()
    assert at.number_input(key="train_learning_rate").value == pytest.approx(0.1) and not at.warning
    at.selectbox(key="train_optimizer").set_value("adam").run()
    assert at.number_input(key="train_learning_rate").value == pytest.approx(0.001)
    assert not any("learning rate" in w for w in texts(at.warning))
    at.number_input(key="train_learning_rate").set_value(0.1).run()
    [warning] = [w for w in texts(at.warning) if "learning rate" in w.lower()]
    assert "far above what adam usually trains with" in warning and "Try 0.001" in warning
    assert not at.button(key="train_start").disabled  # a warning, not a refusal: the learner may still try it


def test_a_training_that_goes_nowhere_says_so_and_what_to_try(runs_dir):
    at = open_page("train")
    set_tiny_config(at, epochs=2)
    at.number_input(key="train_learning_rate").set_value(10.0).run()  # SGD at 10: the loss explodes
    at.button(key="train_start").click().run()
    wait_until(at, lambda at: at.success or at.warning and any("epoch" in w for w in texts(at.warning)), "the ending")
    health = [w for w in texts(at.warning) if w.startswith(("The loss is exploding", "Not learning"))]
    assert health, texts(at.warning)
    assert "Try" in health[0]


def query_value(at: AppTest, key: str):
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


def test_the_address_carries_the_form_and_a_reload_or_a_job_link_restores_it(runs_dir):
    at = open_page("train")
    set_tiny_config(at, epochs=1000)
    at.number_input(key="train_learning_rate").set_value(0.05).run()
    assert query_value(at, "model") == "mlp" and query_value(at, "learning_rate") == "0.05"
    assert query_value(at, "epochs") == "1000" and query_value(at, "train_size") == "300"
    at.button(key="train_start").click().run()
    try:
        job_id = query_value(at, "job")
        assert job_id
        reloaded = open_page("train", {k: query_value(at, k) for k in at.query_params})  # the whole address
        shared = open_page("train", {"job": job_id})  # only the job: the form shows the job's config
        for view in (reloaded, shared):
            assert view.selectbox(key="train_model").value == "mlp"
            assert view.number_input(key="train_learning_rate").value == pytest.approx(0.05)
            assert view.number_input(key="train_epochs").value == 1000
            assert view.number_input(key="train_train_size").value == 300
            assert not view.error
        assert query_value(shared, "learning_rate") == "0.05"  # and its address now carries the settings too
    finally:
        at.button(key="train_stop").click().run()
    wait_until(at, lambda at: at.warning, "the stop")


def test_compared_runs_are_labelled_by_what_differs_and_the_differences_listed(runs_dir, recorded_run):
    copy_run(recorded_run, runs_dir, "write-up")
    copy_run(recorded_run, runs_dir, "tried-relu")
    config_path = runs_dir / "tried-relu" / "config.json"
    config = json.loads(config_path.read_text()) | {"activation": "relu", "optimizer": "adam", "learning_rate": 0.001}
    config_path.write_text(json.dumps(config))
    at = open_page("runs")
    traces = set(chart_traces(at, "runs_overlay_chart"))
    assert "relu · adam 0.001 (validation)" in traces and "sigmoid · sgd 0.1 (train)" in traces, traces
    differences = at.dataframe[1].value  # after the table of runs
    assert set(differences.columns) == {"run", "activation", "optimizer", "learning_rate"}
    assert differences.set_index("run").loc["tried-relu", "activation"] == "relu"
    at.text_input(key="runs_filter").input("relu adam").run()
    assert list(at.dataframe[0].value["run"]) == ["tried-relu"]
    at.text_input(key="runs_filter").input("no-such-thing").run()
    assert any("No run matches the filter" in i for i in texts(at.info))


def test_a_learning_rate_changed_mid_run_shows_in_the_legends_and_what_differs(runs_dir, recorded_run):
    copy_run(recorded_run, runs_dir, "left-alone")
    copy_run(recorded_run, runs_dir, "steered")
    (runs_dir / "steered" / "controls.jsonl").write_text(json.dumps(  # as the trainer records a change from the Train page
        {"event": "learning_rate", "epoch": 2, "fraction": 0.5, "step": 15, "learning_rate": 0.02, "previous": 0.1}) + "\n")
    at = open_page("runs")
    traces = set(chart_traces(at, "runs_overlay_chart"))
    assert {"lr 0.1 → 0.02 in epoch 2 (validation)", "lr 0.1 (validation)"} <= traces, traces
    differences = at.dataframe[1].value.set_index("run")
    assert list(differences.columns) == ["learning_rate"]
    assert differences.loc["steered", "learning_rate"] == "0.1 → 0.02 in epoch 2"
    assert differences.loc["left-alone", "learning_rate"] == "0.1"


def test_a_run_gets_a_title_and_note_shown_as_text_and_used_as_its_legend(runs_dir, recorded_run):
    copy_run(recorded_run, runs_dir, "write-up")
    copy_run(recorded_run, runs_dir, "tried-relu")
    at = open_page("runs", {"run": "tried-relu"})
    hostile = "relu + **adam** [here](https://evil.example) <b>x</b>"
    at.text_input(key="runs_note_title_tried-relu").input(hostile)
    at.text_area(key="runs_note_text_tried-relu").input("Tutorial 003's suggestion.\nLR from the warning.")
    at.button[[b.label for b in at.button].index("Save")].click().run()
    assert not at.exception
    assert at.dataframe[0].value.set_index("run").loc["tried-relu", "title"] == hostile  # the table: as typed
    assert any(hostile in t.value for t in at.text)  # st.text: never markdown
    traces = set(chart_traces(at, "runs_overlay_chart"))
    assert "relu + **adam** [here](https://evil.example) &lt;b&gt;x&lt;/b&gt; (validation)" in traces, traces
    assert json.loads((runs_dir / "notes.json").read_text())["tried-relu"]["note"].startswith("Tutorial 003")


def test_one_run_replays_its_batch_points_and_learning_rate_marks(runs_dir, recorded_run):
    name = copy_run(recorded_run, runs_dir)
    # A run this small trains between two progress ticks, so its batches.jsonl is written here, in the
    # format the streaming trainer records (core.training.events.Progress.to_dict()).
    points = [{"event": "batch", "epoch": 1 + i // 6, "fraction": (i % 6 + 1) / 7, "loss": 2.0 - 0.1 * i,
               "accuracy": 0.1 + 0.05 * i, "seconds": 0.1 * i, "samples": 32, "step": i + 1, "learning_rate": 0.1}
              for i in range(12)]
    (runs_dir / name / "batches.jsonl").write_text("".join(json.dumps(p) + "\n" for p in points))
    (runs_dir / name / "controls.jsonl").write_text(json.dumps(
        {"event": "learning_rate", "epoch": 2, "fraction": 0.5, "step": 15, "learning_rate": 0.05, "previous": 0.1}) + "\n")
    at = open_page("runs", {"run": name})
    loss = chart_traces(at, "runs_replay_loss")
    assert len(loss["train (batches)"]["x"]) == len(points) > 0
    chart = [c for c in at.get("plotly_chart") if "runs_replay_loss" in c.proto.id][0]
    marks = [shape for shape in json.loads(chart.proto.spec)["layout"].get("shapes", [])]
    assert [shape["x0"] for shape in marks] == [1.5], marks  # epoch 2, half-way: where the rate was changed
