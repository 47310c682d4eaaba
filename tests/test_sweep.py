"""Sweeps: the search space from text, and real Optuna sweeps through the local executor.

The real sweep trains the MLP on 1,500 images for 3 epochs, 6 trials in turn on one warm worker.
Its learning rates include 1e-4, with which the sigmoid MLP barely leaves chance (~10%
val_accuracy against 40-75% for 0.1 and 0.5): the median pruner stops such a trial after its first
epoch, so with the sampler's fixed seed the sweep prunes at least one trial, every time.
"""

import json
import os
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest

from core.cli import main
from core.config.train_config import ConfigError, preset_config
from core.jobs.executor import Executor, JobError, JobHandle, JobRequest
from core.jobs.local_executor import LocalExecutor
from core.jobs.search_space import Choice, Range, check_against, parse_knob, parse_search_space, searches_and_fixed
from core.jobs.sweep import COMPLETE, FAIL, PRUNED, Sweep, SweepDone, TrialResult, run_sweep, storage_url
from core.runs.store import MODEL_FILE, PREDICTIONS_FILE, list_runs, load_run
from core.training.events import COMPLETED, STOPPED, EpochEnd, RunDone

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))  # tests/ray_checks.py, the Ray cluster checks
WARM_UP_SECONDS = 300  # generous for a CPU shared with other work; never a performance check
TINY = dict(epochs=3, train_size=1500, validation_size=1000)
SPACE = ["learning_rate=0.0001,0.1,0.5", "batch_size=32,100"]


# --- the search space -------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("learning_rate=1e-4:1e-1:log", Range("learning_rate", 1e-4, 1e-1, log=True)),
    ("dropout=0:0.5", Range("dropout", 0.0, 0.5)),
    ("batch_size=32:256", Range("batch_size", 32, 256)),
    ("hidden_units = 16:512:LOG", Range("hidden_units", 16, 512, log=True)),
    ("batch_size=64,128,256", Choice("batch_size", (64, 128, 256))),
    ("learning_rate=0.01, 0.1", Choice("learning_rate", (0.01, 0.1))),
    ("optimizer=adam,sgd,adam", Choice("optimizer", ("adam", "sgd"))),
    ("restore_best_weights=true,no", Choice("restore_best_weights", (True, False))),
])
def test_a_search_parses_to_the_field_type(text, expected):
    knob = parse_knob(text)
    assert knob == expected
    values = knob.choices if isinstance(knob, Choice) else (knob.low, knob.high)
    assert all(type(value) is type(values[0]) for value in values)
    assert parse_knob(knob.text()) == knob  # what a study records reads back as the same search


@pytest.mark.parametrize("text, names", [
    ("learning_rate", ["learning_rate=LOW:HIGH", "learning_rate=a,b,c", "1e-4:1e-1:log"]),
    ("1e-4:1e-1", ["name=low:high", "learning_rate=1e-4:1e-1:log"]),
    ("lr=1e-4:1e-1", ["lr", "learning_rate"]),
    ("model=mlp,fast", ["model", "one model"]),
    ("learning_rate=", ["learning_rate", "empty"]),
    ("learning_rate=1e-1:1e-4", ["learning_rate", "LOW must be below HIGH", "learning_rate=0.0001:0.1"]),
    ("learning_rate=0:1:log", ["learning_rate", "LOW > 0", "Drop `:log`"]),
    ("learning_rate=1e-4:1e-1:ln", ["learning_rate", "LOW:HIGH:log"]),
    ("learning_rate=small:big", ["learning_rate", "numbers"]),
    ("batch_size=16.5:64", ["batch_size", "integer ends"]),
    ("batch_size=64,lots", ["batch_size", "an integer", "'lots'"]),
    ("optimizer=adam:sgd", ["optimizer", "list of values", "rmsprop"]),
    ("dropout=0.1,,0.2", ["dropout", "empty item"]),
])
def test_a_bad_search_names_the_knob_the_value_and_the_fix(text, names):
    with pytest.raises(ConfigError) as raised:
        parse_knob(text)
    for name in names:
        assert name in str(raised.value)


def test_a_knob_searched_twice_or_no_search_at_all_is_refused():
    with pytest.raises(ConfigError, match="searched twice"):
        parse_search_space(["learning_rate=0.1,0.2", "learning_rate=1e-3:1e-1"])
    with pytest.raises(ConfigError, match="empty"):
        parse_search_space([])


def test_values_the_training_refuses_are_caught_before_the_sweep_starts():
    base = preset_config("mlp", train_size=1500)
    check_against(parse_search_space(["learning_rate=1e-3:1", "batch_size=32,100"]), base)
    for text, names in [("learning_rate=0.1:20", ["learning_rate", "(0.0, 10.0]"]),
                        ("batch_size=64,4096", ["batch_size", "train_size", "4096"]),
                        ("optimizer=adam,adagrad", ["optimizer", "adagrad", "rmsprop"])]:
        with pytest.raises(ConfigError) as raised:
            check_against(parse_search_space([text]), base)
        assert all(name in str(raised.value) for name in names), raised.value


def test_a_form_splits_into_searches_and_fixed_values():
    searches, fixed = searches_and_fixed({"learning_rate": " 1e-4:1e-1:log ", "batch_size": "64,128", "epochs": "3",
                                          "dropout": "", "seed": "  "})
    assert searches == ["learning_rate=1e-4:1e-1:log", "batch_size=64,128"]
    assert fixed == {"epochs": "3"}


def test_a_sweep_refuses_what_it_cannot_score_or_run(tmp_path):
    def make(**changes):
        options = dict(executor=None, model="mlp", search_space=SPACE, trials=6, overrides=TINY, runs_dir=tmp_path)
        return Sweep(**{**options, **changes})

    for changes, message in [
        (dict(overrides={**TINY, "validation": "none"}), "needs validation"),
        (dict(search_space=["validation=holdout,none"]), "drop `none`"),
        (dict(search_space=["epochs=1,2"]), "both fixed and searched"),
        (dict(trials=0), "`trials`"),
        (dict(model="resnet"), "Unknown model"),
        (dict(sweep_id="../escape"), "Invalid sweep id"),
    ]:
        with pytest.raises(ConfigError, match=message):
            make(**changes)
    assert not any(tmp_path.iterdir()), "a refused sweep wrote nothing"


def test_a_preset_without_validation_is_swept_with_a_holdout_and_says_so(tmp_path):
    sweep = Sweep(None, "fast", ["learning_rate=1e-3:1e-2"], 2, {"train_size": 600}, tmp_path)
    assert sweep.base.validation == "holdout"
    assert "holdout" in sweep.notes[0] and "fast" in sweep.notes[0]


# --- a real sweep -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def executor():
    executor = LocalExecutor(workers=1, mnist_path=os.environ["MNIST_PATH"])
    assert executor.wait_until_warm(WARM_UP_SECONDS), "the worker never warmed up"
    yield executor
    executor.close()


@pytest.fixture(scope="module")
def swept(executor, tmp_path_factory):
    """Six trials of the MLP with pruning, recorded once: `(runs_dir, results, done)`."""
    runs_dir = tmp_path_factory.mktemp("sweep-runs")
    events = list(run_sweep(executor, "mlp", SPACE, 6, TINY, runs_dir, seed=0, sweep_id="sweep-test",
                            mnist_path=os.environ["MNIST_PATH"]))
    *results, done = events
    assert all(isinstance(result, TrialResult) for result in results) and isinstance(done, SweepDone)
    return runs_dir, results, done


def test_every_trial_is_in_the_sqlite_study_as_the_sweep_reported_it(swept):
    runs_dir, results, done = swept
    assert len(results) == 6 and done.failed == 0, [result.reason for result in results]
    study = optuna.load_study(study_name="sweep-test", storage=storage_url(runs_dir))
    assert done.storage == f"sqlite:///{runs_dir / 'sweeps.db'}"
    stored = {trial.number: trial for trial in study.trials}
    assert sorted(stored) == sorted(result.number for result in results) == list(range(6))
    for result in results:
        trial = stored[result.number]
        assert trial.state.name == result.state
        assert trial.params == result.params
        assert trial.user_attrs["run_name"] == result.run_name == f"sweep-test-t{result.number:02d}"
        # each epoch's val_accuracy was reported to the pruner (up to the pruning), and the value is their best
        reported = len(trial.intermediate_values)
        assert sorted(trial.intermediate_values) == list(range(1, reported + 1))
        assert reported == (result.epochs if result.state == COMPLETE else int(result.reason.split("epoch ")[1].split(":")[0]))
        assert result.value == pytest.approx(max(trial.intermediate_values.values()))
    assert study.user_attrs["search_space"] == SPACE and study.user_attrs["pruning"] is True


def test_a_trial_that_falls_behind_is_pruned_and_marked_so(swept):
    runs_dir, results, done = swept
    pruned = [result for result in results if result.state == PRUNED]
    assert pruned and done.pruned == len(pruned)
    study = optuna.load_study(study_name="sweep-test", storage=storage_url(runs_dir))
    for result in pruned:
        trial = study.trials[result.number]
        assert trial.state == optuna.trial.TrialState.PRUNED and "pruned after epoch" in result.reason
        assert len(trial.intermediate_values) < TINY["epochs"]
        run = load_run(result.run_name, runs_dir)  # stopped early (the epoch under way ends short), still a run folder
        assert run.status == STOPPED and len(run.epochs) == result.epochs < TINY["epochs"] + 1
        assert run.has_model and run.has_predictions
    assert all(result.epochs == TINY["epochs"] for result in results if result.state == COMPLETE)


def test_the_best_trial_is_the_best_complete_one_and_its_run_folder_is_complete(swept):
    runs_dir, results, done = swept
    complete = [result for result in results if result.state == COMPLETE]
    assert done.best == max(complete, key=lambda result: result.value) and done.complete == len(complete)
    study = optuna.load_study(study_name="sweep-test", storage=storage_url(runs_dir))
    assert study.best_trial.number == done.best.number and study.best_value == pytest.approx(done.best.value)
    run = load_run(done.best.run_name, runs_dir)
    assert run.status == COMPLETED and not run.problems
    assert len(run.epochs) == TINY["epochs"] and run.best_val_accuracy == pytest.approx(done.best.value)
    assert run.config["learning_rate"] == done.best.params["learning_rate"] and run.config["validation"] == "holdout"
    assert (runs_dir / done.best.run_name / MODEL_FILE).is_file() and (runs_dir / done.best.run_name / PREDICTIONS_FILE).is_file()
    assert run.has_model and run.has_predictions and 0.5 < run.test_accuracy <= 1.0
    assert {result.run_name for result in results} <= {summary.name for summary in list_runs(runs_dir)}


# --- the sweep's bookkeeping, on a stand-in executor (no training) ---------------------------------


class FakeExecutor(Executor):
    """Jobs that end at once with one epoch whose val_accuracy is `score(config)`, or raise `error`."""

    name = "fake"

    def __init__(self, slots=1, score=lambda config: 0.5, error=None, seconds=0.0):
        self._slots, self.score, self.error, self.seconds = slots, score, error, seconds
        self.lock = threading.Lock()
        self.running = self.peak = 0
        self.started: list[JobRequest] = []

    @property
    def slots(self):
        return self._slots

    def start(self, request):
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.started.append(request)
        return FakeJob(self, request)


class FakeJob(JobHandle):
    def __init__(self, executor, request):
        self.executor, self.request = executor, request

    def events(self):
        time.sleep(self.executor.seconds)
        with self.executor.lock:
            self.executor.running -= 1
        if self.executor.error:
            raise self.executor.error
        yield EpochEnd(1, 1.0, 0.5, 1.0, self.executor.score(self.request.config), 0.1, 1.0, 1.0)
        yield RunDone(COMPLETED, "all 1 epochs ran", 1, 0.5, 1.0, "", self.request.run_name)

    def send(self, command):
        pass


def test_a_combination_the_training_refuses_fails_that_trial_only(tmp_path):
    """batch_size 1000 is fine alone but not with 600 images: that trial is told FAIL, and no job starts for it."""
    executor = FakeExecutor()
    *results, done = run_sweep(executor, "mlp", ["batch_size=1000,100", "train_size=600,2000"], 4,
                               {"epochs": 1, "validation_size": 500}, tmp_path, seed=6, pruning=False, sweep_id="sweep-combos")
    refused = [result for result in results if result.state == FAIL]
    assert len(results) == 4 and len(refused) == 1 == done.failed and done.complete == 3, [(r.params, r.reason) for r in results]
    assert refused[0].params == {"batch_size": 1000, "train_size": 600} and refused[0].run_name == ""
    assert "batch_size" in refused[0].reason and "train_size" in refused[0].reason
    assert len(executor.started) == 3
    study = optuna.load_study(study_name="sweep-combos", storage=storage_url(tmp_path))
    assert [trial.state.name for trial in study.trials].count(FAIL) == 1


def test_three_failures_in_a_row_end_the_sweep_and_say_why(tmp_path):
    executor = FakeExecutor(error=JobError("Could not read the MNIST file: pass --mnist-path"))
    *results, done = run_sweep(executor, "mlp", SPACE, 6, TINY, tmp_path, sweep_id="sweep-failing")
    assert [result.state for result in results] == [FAIL] * 3 and done.best is None
    assert "3 trials in a row failed" in done.notes[-1] and "--mnist-path" in done.notes[-1]
    study = optuna.load_study(study_name="sweep-failing", storage=storage_url(tmp_path))
    assert [trial.state.name for trial in study.trials] == [FAIL] * 3
    assert study.trials[0].user_attrs["reason"] == "Could not read the MNIST file: pass --mnist-path"


def test_a_sweep_name_already_in_the_study_file_is_refused(tmp_path):
    list(run_sweep(FakeExecutor(), "mlp", SPACE, 1, TINY, tmp_path, sweep_id="sweep-twice"))
    with pytest.raises(ConfigError, match="sweep-twice.*already in.*Pick another name"):
        list(run_sweep(FakeExecutor(), "mlp", SPACE, 1, TINY, tmp_path, sweep_id="sweep-twice"))


def test_trials_run_up_to_the_executors_slots_at_once_and_the_best_wins(tmp_path):
    executor = FakeExecutor(slots=2, score=lambda config: config.learning_rate, seconds=0.5)  # > Optuna's ask: overlap
    *results, done = run_sweep(executor, "mlp", ["learning_rate=0.01:0.5"], 6, TINY, tmp_path, pruning=False,
                               sweep_id="sweep-parallel")
    assert executor.peak == 2 and len(results) == 6 and done.complete == 6
    assert done.best.value == max(result.params["learning_rate"] for result in results)


# --- the command line -------------------------------------------------------------------------


def test_cli_sweep_prints_one_json_line_per_trial_and_a_last_sweep_done(tmp_path, capsys):
    status = main(["sweep", "--model", "fast", "--trials", "2", "--search", "learning_rate=1e-3:1e-2:log",
                   "--search", "batch_size=64,128", "--epochs", "1", "--train-size", "600", "--validation-size", "500",
                   "--runs-dir", str(tmp_path), "--mnist-path", os.environ["MNIST_PATH"], "--name", "sweep-cli", "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err[-2000:]
    lines = [json.loads(line) for line in captured.out.strip().splitlines()]
    *trials, last = lines
    assert len(trials) == 2 and all(line["event"] == "trial" for line in trials)
    for line in trials:
        assert set(line) >= {"number", "params", "value", "state", "run_name", "epochs", "reason"}
        assert set(line["params"]) == {"learning_rate", "batch_size"} and line["state"] in (COMPLETE, PRUNED)
    assert last["event"] == "sweep_done" and last["sweep_id"] == "sweep-cli"
    assert last["best"]["run_name"] in {line["run_name"] for line in trials}
    assert last["best"]["value"] == max(line["value"] for line in trials if line["state"] == COMPLETE)
    assert any("holdout" in note for note in last["notes"]) and "holdout" in captured.err  # fast validates on nothing
    assert (tmp_path / last["best"]["run_name"] / MODEL_FILE).is_file()


@pytest.mark.parametrize("arguments, message", [
    (["--search", "lr=1:2"], "Unknown knob `lr`"),
    (["--search", "learning_rate=0.1:0.01"], "LOW must be below HIGH"),
    ([], "empty"),
    (["--search", "learning_rate=0.01,0.1", "--trials", "0"], "`trials`"),
    (["--search", "learning_rate=0.01,0.1", "--executor", "spark"], "invalid choice"),
    (["--search", "learning_rate=0.01,0.1", "--validation", "none"], "needs validation"),
])
def test_cli_sweep_bad_input_exits_2_with_one_line_and_trains_nothing(tmp_path, capsys, arguments, message):
    status = main(["sweep", "--model", "mlp", "--runs-dir", str(tmp_path), *arguments])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and message in captured.err
    assert not any(tmp_path.iterdir())


# --- the same sweep on a two-node Ray cluster --------------------------------------------------

@pytest.mark.ray_cluster  # the check starts in the background at collection (tests/ray_checks.py)
def test_the_same_sweep_on_a_two_node_ray_cluster_trains_two_trials_at_once_and_prunes():
    """`tests/ray_sweep_check.py` runs it in a loopback-only namespace (see tests/test_ray_executor.py)."""
    pytest.importorskip("ray", reason="Ray is optional: `pip install -r requirements-ray.txt`")
    import ray_checks

    checked = ray_checks.outcome("sweep")
    if checked.skip_reason:
        pytest.skip(checked.skip_reason)
    assert checked.out.is_file(), f"the check wrote no result (exit {checked.returncode}):\n{checked.stderr[-4000:]}"
    result = json.loads(checked.out.read_text())
    assert result["ok"], f"{result.get('traceback')}\n--- stderr ---\n{checked.stderr[-4000:]}"
    runs_dir = checked.runs_dir
    *trials, done = result["events"]
    assert result["slots"] == 2 and result["peak_running"] == 2  # one trial per node at a time
    assert len(trials) == 6 and done["event"] == "sweep_done" and done["failed"] == 0
    study = optuna.load_study(study_name="sweep-ray", storage=storage_url(runs_dir))
    assert sorted(trial.number for trial in study.trials) == list(range(6))
    assert {trial["number"]: trial["state"] for trial in trials} == {trial.number: trial.state.name for trial in study.trials}
    # Whether a trial is pruned on Ray depends on which trials finished first (two run at once), so
    # pruning itself is asserted by the local sweep above; here, a pruned trial is marked, and cut short unless
    # pruned on its last epoch.
    for trial in study.trials:
        if trial.state == optuna.trial.TrialState.PRUNED:
            pruned = load_run(trial.user_attrs["run_name"], runs_dir)
            if len(pruned.epochs) < pruned.config["epochs"]:  # cut short: it was stopped
                assert pruned.status == "stopped"
            else:  # pruned on its last epoch's report: nothing was left to cut, and the run ran out on its own
                assert pruned.status == "completed"
    best = done["best"]
    run = load_run(best["run_name"], runs_dir)  # trained on a node, its folder came back here
    assert run.status == COMPLETED and not run.problems and run.has_model and run.has_predictions
    assert run.best_val_accuracy == pytest.approx(best["value"]) == study.best_value
