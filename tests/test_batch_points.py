"""Batch-level points: recovered from Keras's running means, bounded in memory, recorded in the run folder,
and the learning-rate changes that mark the curves."""

import json
import math
import queue
import threading
import time

import pytest

from core.config.train_config import preset_config
from core.data.splits import make_splits
from core.runs.recorded_run import RecordedRun
from core.runs.store import load_points, load_run
from core.training.batch_points import add_point, point_due, recent_mean
from core.training.control import TrainingControl
from core.training.events import EpochEnd, LearningRateChanged, Progress, TrainingEnd
from core.training.trainer import Trainer


def point(step, loss, accuracy, samples=100, epoch=1):
    return Progress(epoch, step / 100, loss, accuracy, 0.1 * step, samples=samples, step=step, learning_rate=0.01)


def test_a_point_is_the_mean_of_the_batches_since_the_previous_one_not_the_epochs_running_mean():
    """Feed the callback the running means Keras logs for known batch losses; it recovers each interval's mean."""
    from core.training.streaming_callback import StreamingCallback

    class Model:  # what the callback reads of a Keras model
        class optimizer:
            learning_rate = 0.05

    batch_losses = [2.0, 1.0, 0.5, 0.25, 0.2, 0.1, 0.3]  # batches of 10 images; the last holds 5
    sizes = [10] * 6 + [5]
    events = queue.Queue()
    callback = StreamingCallback(events, TrainingControl(), steps_per_epoch=7, batch_size=10, num_samples=65,
                                 progress_interval=0, target_accuracy=0, abort=RuntimeError)
    callback.set_model(Model())
    callback.on_epoch_begin(0)
    for batch in (1, 4):  # Keras calls back after groups of batches: after batch 2, then after batch 5
        done = sum(sizes[: batch + 1])
        running = sum(l * s for l, s in zip(batch_losses[: batch + 1], sizes)) / done
        callback.on_train_batch_end(batch, {"loss": running, "accuracy": 0.5})
    first, second = events.get_nowait(), events.get_nowait()
    assert (first.fraction, first.samples, first.step) == (2 / 7, 20, 2)
    assert first.loss == pytest.approx(1.5)  # batches 1-2
    assert (second.fraction, second.samples, second.step) == (5 / 7, 30, 5)
    assert second.loss == pytest.approx((0.5 + 0.25 + 0.2) / 3)  # batches 3-5, not the running mean 0.79
    assert second.accuracy == pytest.approx(0.5) and second.learning_rate == pytest.approx(0.05)
    assert second.position == pytest.approx(5 / 7)


def test_points_stream_within_each_epoch_with_their_images_and_steps(mnist):
    config = preset_config("mlp", epochs=2, train_size=3000, batch_size=64, validation="none")  # 47 batches, 2 a call
    trainer = Trainer(config, make_splits(mnist, config), progress_interval=0)
    events = list(trainer)
    points = [e for e in events if isinstance(e, Progress)]
    assert [(p.epoch, p.fraction, p.step, p.samples) for p in points] == [
        (epoch, done / 47, 47 * (epoch - 1) + done, 128) for epoch in (1, 2) for done in range(2, 47, 2)]
    assert all(p.event == "batch" and math.isfinite(p.loss) and 0 <= p.accuracy <= 1 for p in points)
    assert all(p.learning_rate == pytest.approx(config.learning_rate) for p in points)
    # Keras's epoch loss is the sample-weighted mean of the epoch's points and of the batches after them
    epoch = next(e for e in events if isinstance(e, EpochEnd))
    first_epoch = [p for p in points if p.epoch == 1]
    tail = (epoch.loss * 3000 - sum(p.loss * p.samples for p in first_epoch)) / (3000 - 46 * 64)
    assert 0 < tail < first_epoch[0].loss  # the last batch of the first epoch: lower than its first ones


def test_a_short_epoch_still_draws_at_least_20_points_in_order(mnist):
    """`fast` on 6,000 images: 47 batches, an epoch of a second or two. The points come from the
    epoch's marks, not from the clock, so the machine's speed does not thin the curve."""
    config = preset_config("fast", train_size=6000)
    events = list(Trainer(config, make_splits(mnist, config)))  # the default progress interval, as served
    end = next(i for i, e in enumerate(events) if isinstance(e, EpochEnd) and e.epoch == 1)
    points = [e for e in events[:end] if isinstance(e, Progress)]
    assert len(points) >= 20
    assert all(p.epoch == 1 and p.event == "batch" for p in points)
    fractions = [p.fraction for p in points]
    assert fractions == sorted(set(fractions)) and 0 < fractions[0] and fractions[-1] < 1
    assert [p.step for p in points] == sorted(set(p.step for p in points))
    assert sum(p.samples for p in points) < 6000 and all(p.samples > 0 and math.isfinite(p.loss) for p in points)


def test_a_point_is_due_at_each_mark_of_the_epoch_or_after_the_interval_never_at_its_end():
    # 47 batches, 2 a call, a slow clock: each call passes one of the 25 marks (every 1.88 batches)
    assert [done for done in range(2, 48, 2) if point_due(done, done - 2, 47, 0.01, 0.25)] == list(range(2, 47, 2))
    # 1,000 batches, 10 a call: a point every 40 batches from the marks alone
    due = [done for done in range(10, 1001, 10) if point_due(done, done - 10, 1000, 0.01, 0.25)]
    assert due == list(range(40, 1000, 40))
    assert point_due(5, 4, 1000, 0.3, 0.25)  # the interval passed: due between marks
    assert point_due(1, 0, 1000, math.inf, 0.25)  # an epoch's first call reports at once
    assert not point_due(47, 46, 47, math.inf, 0.25)  # the epoch's end: its EpochEnd follows


def test_a_learning_rate_change_mid_epoch_is_an_event_where_it_took_effect(mnist):
    config = preset_config("mlp", epochs=1, train_size=10_240, batch_size=1024, validation="none", learning_rate=0.1)
    control = TrainingControl()
    trainer = Trainer(config, make_splits(mnist, config), progress_interval=0, control=control)
    events = []
    for event in trainer:
        events.append(event)
        if isinstance(event, Progress) and event.step == 3:
            control.set_learning_rate(0.02)
    [change] = [e for e in events if isinstance(e, LearningRateChanged)]
    # training runs ahead of this reader on its own thread: the change lands a batch or so after the ask
    assert change.epoch == 1 and 3 <= change.step < 10
    assert (change.learning_rate, change.previous) == (pytest.approx(0.02), pytest.approx(0.1))
    assert change.fraction == pytest.approx(change.step / 10)  # before batch step + 1 of 10
    index = events.index(change)
    assert all(e.learning_rate == pytest.approx(0.1) for e in events[:index] if isinstance(e, Progress))
    assert all(e.learning_rate == pytest.approx(0.02) for e in events[index:] if isinstance(e, Progress))
    assert isinstance(events[-1], TrainingEnd)


def test_a_recorded_run_keeps_its_points_and_changes_in_the_run_folder(mnist, tmp_path):
    config = preset_config("mlp", epochs=2, train_size=4096, batch_size=1024, validation_size=500)
    control = TrainingControl()
    run = RecordedRun(config, runs_dir=tmp_path, name="steered", mnist=mnist, control=control)
    run.trainer.progress_interval = 0
    streamed = []
    for event in run:
        streamed.append(event)
        if isinstance(event, Progress) and event.step == 1:  # hold it, change the rate, go on
            control.pause()
            control.set_learning_rate(0.01)
            control.resume()
    points, changes = load_points("steered", tmp_path)
    assert points == [p.to_dict() for p in streamed if isinstance(p, Progress)] and len(points) == 6
    assert changes == [c.to_dict() for c in streamed if isinstance(c, LearningRateChanged)]
    [change] = changes
    assert change["step"] >= 1 and change["learning_rate"] == pytest.approx(0.01) and change["previous"] == pytest.approx(0.1)
    assert load_run("steered", tmp_path).epochs[-1]["learning_rate"] == pytest.approx(0.01)
    assert json.loads((tmp_path / "steered" / "batches.jsonl").read_text().splitlines()[0])["event"] == "batch"


def test_pauses_are_left_out_of_the_epochs_seconds(mnist):
    config = preset_config("mlp", epochs=1, train_size=8192, batch_size=1024, validation="none")
    control = TrainingControl()
    trainer = Trainer(config, make_splits(mnist, config), progress_interval=0, control=control)
    events = iter(trainer)
    started = time.monotonic()
    next(events)
    control.pause()
    threading.Timer(2.0, control.resume).start()
    [epoch] = [e for e in events if isinstance(e, EpochEnd)]
    wall = time.monotonic() - started  # the epoch's training, however slow on a loaded box, plus the 2 s pause
    # Counted, the pause would make the epoch's seconds the whole wall time; left out, they are 2 s short of it.
    assert epoch.seconds < wall - 1.0, f"the 2 s pause was counted as training time ({epoch.seconds:.2f} s of {wall:.2f} s)"


def test_points_stay_bounded_and_keep_the_whole_run_and_the_newest_as_they_came():
    points = ()
    for step in range(1, 101):
        points = add_point(points, point(step, 1.0 / step, 0.5), limit=10)
    assert 5 <= len(points) <= 10
    assert points[-1].step == 100 and points[0].step == 1  # the run's start is still drawn
    assert [p.step for p in points] == sorted(p.step for p in points)
    assert all(p.loss == 1.0 / p.step for p in points)  # each kept point as it came
    with pytest.raises(ValueError, match="limit"):
        add_point((), point(1, 1.0, 0.5), limit=2)


def test_recent_mean_covers_the_last_images():
    points = [point(1, 2.0, 0.1), point(2, 1.0, 0.5), point(3, 0.5, 0.9)]
    assert recent_mean(points, samples=200) == pytest.approx((0.75, 0.7, 200))
    assert recent_mean(points, samples=10_000) == pytest.approx((3.5 / 3, 1.5 / 3, 300))
    assert recent_mean([], samples=200) is None
