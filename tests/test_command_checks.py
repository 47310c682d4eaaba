"""Commands are checked where they are built, and one that still fails inside a worker stops its job,
never the worker's command thread (real worker processes, as tests/test_local_executor.py)."""

import math
import os

import pytest

from core.config.train_config import preset_config
from core.config.train_form import FORM_FIELDS
from core.jobs.executor import COMMANDS, PAUSE, SET_LEARNING_RATE, STOP, Command, JobRequest, obey
from core.jobs.local_executor import LocalExecutor
from core.runs.store import load_run
from core.training.control import TrainingControl
from core.training.events import STOPPED, EpochEnd, RunDone

WARM_UP_SECONDS = 300  # generous for a CPU shared with other work; never a performance check


def unchecked(name, value):
    """A `Command` as a caller that skipped its checks would send it: the tuple the inbox carries holds this."""
    command = object.__new__(Command)
    object.__setattr__(command, "name", name)
    object.__setattr__(command, "value", value)
    return command


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, -1, 0, 1e9, 10.5, 1e-7, True, "0.1", None],
                         ids=lambda value: repr(value))
def test_a_bad_learning_rate_is_refused_where_the_command_is_made(value):
    with pytest.raises(ValueError, match=r"`set_learning_rate`.*\[1e-06, 10\]. Received: value="):
        Command(SET_LEARNING_RATE, value)


def test_the_forms_bounds_are_accepted_and_other_commands_take_no_value():
    field = FORM_FIELDS["learning_rate"]
    assert Command(SET_LEARNING_RATE, field.low).value == field.low
    assert Command(SET_LEARNING_RATE, field.high).value == field.high
    with pytest.raises(ValueError, match="`stop` takes no value"):
        Command(STOP, 0.1)
    with pytest.raises(ValueError, match="Unknown command 'explode'"):
        Command("explode")
    assert [Command(name).name for name in COMMANDS if name != SET_LEARNING_RATE] == [c for c in COMMANDS if c != SET_LEARNING_RATE]


@pytest.mark.parametrize("command", [unchecked(SET_LEARNING_RATE, math.inf), unchecked(SET_LEARNING_RATE, math.nan),
                                     unchecked("explode", None), "stop"], ids=["inf", "nan", "unknown", "not-a-command"])
def test_a_command_that_fails_stops_the_run_with_its_reason_and_never_raises(command):
    control = TrainingControl()
    reason = obey(control, command)
    assert control.stop_requested
    assert reason == control.stop_reason and reason.startswith("a command could not be carried out, so the training stopped")
    assert repr(command)[:40] in reason


def test_a_good_command_is_carried_out_and_a_later_stop_keeps_its_own_reason():
    control = TrainingControl()
    assert obey(control, Command(SET_LEARNING_RATE, 0.05)) is None and control.take_learning_rate() == 0.05
    assert obey(control, Command(STOP)) is None and control.stop_requested and control.stop_reason == "stopped by request"


@pytest.fixture(scope="module")
def executor():
    executor = LocalExecutor(workers=1, mnist_path=os.environ["MNIST_PATH"], warm_models=())
    assert executor.wait_until_warm(WARM_UP_SECONDS), "the worker never warmed up"
    yield executor
    executor.close()


def request(runs_dir, name, **overrides):
    config = preset_config("mlp", **{"epochs": 50, "train_size": 3000, "batch_size": 50, "validation_size": 500,
                                     "activation": "relu", "initializer": "he_normal", "optimizer": "adam",
                                     "learning_rate": 1e-3, **overrides})
    return JobRequest(config, name, str(runs_dir), os.environ["MNIST_PATH"])


def run_until_first_epoch(handle):
    events = handle.events()
    for event in events:
        if isinstance(event, EpochEnd):
            return events
    raise AssertionError("the job ended before its first epoch")


@pytest.mark.parametrize("value", [math.inf, math.nan], ids=["inf", "nan"])
def test_a_command_failing_inside_the_worker_ends_its_job_and_the_next_stop_still_works(executor, tmp_runs_dir, value):
    [pid] = executor.worker_pids()
    handle = executor.start(request(tmp_runs_dir, "bad-rate"))
    rest = run_until_first_epoch(handle)
    handle.worker.inbox.put(("command", "bad-rate"))  # malformed (no command in it): dropped, the thread reads on
    handle.worker.inbox.put(("command", "bad-rate", unchecked(SET_LEARNING_RATE, value)))  # past Command's checks
    done = [event for event in rest if isinstance(event, RunDone)][-1]
    assert done.status == STOPPED and 1 <= done.epochs_completed < 50
    assert "a command could not be carried out" in done.reason and "set_learning_rate" in done.reason
    assert "expected a positive finite number" in done.reason
    saved = load_run("bad-rate", tmp_runs_dir)
    assert saved.status == STOPPED and "a command could not be carried out" in saved.reason and saved.epochs

    # The same worker, its command thread alive: the next job's Pause and Stop reach it.
    handle = executor.start(request(tmp_runs_dir, "next-job"))
    assert executor.worker_pids() == [pid]
    rest = run_until_first_epoch(handle)
    handle.send(Command(PAUSE))
    handle.send(Command(STOP))  # a paused run stops at once
    done = [event for event in rest if isinstance(event, RunDone)][-1]
    assert done.status == STOPPED and done.reason == "stopped by request" and done.epochs_completed < 50
    assert executor.worker_pids() == [pid]
