"""Steering a training in this process: pause holds it at the next batch, step lets one through,
a new learning rate shows in the next epoch's metrics, for a constant rate and a one-cycle schedule."""

import queue
import threading
import time

import pytest

from core.config.train_config import preset_config
from core.data.splits import make_splits
from core.training.control import TrainingControl
from core.training.events import COMPLETED, STOPPED, EpochEnd, Progress, TrainingEnd
from core.training.trainer import Trainer


def test_pause_holds_the_run_step_lets_one_batch_through_and_resume_goes_on(mnist):
    # batch 1024 runs one batch per call into TensorFlow, so a Progress event is one batch
    config = preset_config("mlp", epochs=1, train_size=20_480, batch_size=1024, validation="none")
    control = TrainingControl()
    trainer = Trainer(config, make_splits(mnist, config), progress_interval=0.0, control=control)
    events = iter(trainer)
    first = next(events)
    assert isinstance(first, Progress) and first.fraction == pytest.approx(1 / 20)
    control.pause()

    arrivals: list = []
    reader = threading.Thread(target=lambda: arrivals.extend(events), daemon=True)
    reader.start()
    time.sleep(1.5)  # a batch of this MLP takes a few milliseconds: a running trainer would be done
    held = list(arrivals)
    assert len(held) <= 1, "pausing let more than the batch in flight run"
    control.step()
    time.sleep(1.5)
    assert len(arrivals) == len(held) + 1, "step() should let exactly one batch through"
    assert control.paused and not trainer.stop_requested
    control.resume()
    reader.join(timeout=60)
    assert not reader.is_alive()
    assert isinstance(arrivals[-1], TrainingEnd) and arrivals[-1].status == COMPLETED
    fractions = [first.fraction] + [e.fraction for e in arrivals if isinstance(e, Progress)]
    assert fractions == sorted(fractions) and len(fractions) == 19  # every batch but the last reports


def test_stop_while_paused_ends_the_run_at_once(mnist):
    config = preset_config("mlp", epochs=3, train_size=4096, batch_size=1024, validation="none")
    control = TrainingControl()
    trainer = Trainer(config, make_splits(mnist, config), progress_interval=0.0, control=control)
    events = iter(trainer)
    next(events)
    control.pause()
    threading.Timer(0.5, control.stop).start()
    rest = list(events)
    assert isinstance(rest[-1], TrainingEnd) and rest[-1].status == STOPPED
    assert not any(isinstance(e, EpochEnd) for e in rest)


@pytest.mark.parametrize("model", ["mlp", "numpy_logreg"])
def test_a_stop_with_a_reason_ends_the_run_with_that_reason_through_either_executors_command_path(mnist, model):
    # The Ray task's command reader (`_obey`) and the local worker's both apply a Command with `apply_command`.
    from core.jobs.executor import STOP, Command, apply_command
    from core.jobs.ray_executor import _obey

    config = preset_config(model, epochs=3, train_size=4096, batch_size=1024, validation="none")
    reason = "stopped at the server's 10-minute limit"
    for deliver in ("ray", "local"):
        control = TrainingControl()
        trainer = Trainer(config, make_splits(mnist, config), progress_interval=0.0, control=control)
        events = iter(trainer)
        next(events)
        control.pause()
        if deliver == "ray":
            commands, finished = queue.Queue(), threading.Event()
            commands.put(("run-1", Command(STOP, reason=reason)))
            threading.Thread(target=_obey, args=(commands, "run-1", control, finished), daemon=True).start()
        else:
            apply_command(control, Command(STOP, reason=reason))
        rest = list(events)
        if deliver == "ray":
            finished.set()
        assert isinstance(rest[-1], TrainingEnd) and (rest[-1].status, rest[-1].reason) == (STOPPED, reason)
    plain = TrainingControl()
    plain.stop()
    plain.stop("a later reason")  # the first stop's reason is the one kept
    assert plain.stop_reason == "stopped by request"
    with pytest.raises(ValueError, match="Only `stop` takes a reason"):
        Command("pause", reason=reason)


@pytest.mark.parametrize("schedule", ["constant", "one_cycle"])
def test_a_new_learning_rate_shows_in_the_next_epochs_metrics(mnist, schedule):
    config = preset_config("mlp", epochs=3, train_size=2048, batch_size=256, validation="none",
                           optimizer="sgd", learning_rate=0.1, schedule=schedule)
    control = TrainingControl()
    trainer = Trainer(config, make_splits(mnist, config), control=control)
    epochs = []
    for event in trainer:
        if isinstance(event, EpochEnd):
            epochs.append(event)
            if event.epoch == 1:
                control.set_learning_rate(0.003)
    assert len(epochs) == 3
    if schedule == "constant":
        assert epochs[0].learning_rate == pytest.approx(0.1)
        assert [e.learning_rate for e in epochs[1:]] == pytest.approx([0.003, 0.003])
    else:  # the curve is rescaled at the change: it goes on from 0.003 in the same shape
        assert epochs[0].learning_rate > 0.05
        assert epochs[1].learning_rate < 0.003 and epochs[2].learning_rate < epochs[1].learning_rate
        assert epochs[1].learning_rate > 0.0005


def test_numpy_model_obeys_the_learning_rate_change(mnist):
    config = preset_config("numpy_logreg", epochs=2, train_size=1000, target_accuracy=0.0)
    control = TrainingControl()
    control.set_learning_rate(0.05)  # before the first batch: the whole run uses it
    epochs = [e for e in Trainer(config, make_splits(mnist, config), control=control) if isinstance(e, EpochEnd)]
    assert [e.learning_rate for e in epochs] == [0.05, 0.05]


def test_a_learning_rate_that_is_not_positive_is_refused_with_its_name():
    with pytest.raises(ValueError, match="learning_rate"):
        TrainingControl().set_learning_rate(0.0)
