"""The streaming trainer against Keras's own numbers: History, a plain `model.fit`, and repeat runs."""

import math
import threading

import numpy as np
import pytest

from core.config.train_config import ConfigError
from core.training.events import COMPLETED, EARLY_STOPPED, STOPPED, TARGET_REACHED, EpochEnd, Progress, TrainingEnd
from core.data.splits import Splits, make_splits
from core.training.trainer import Trainer
from core.config.train_config import preset_config

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


def small_mlp(**overrides):
    """The write-up 003 MLP (sigmoid, SGD 0.1) on 600 images: 12 batches of 50 an epoch."""
    return preset_config("mlp", **{"epochs": 3, "train_size": 600, "validation_size": 200, "batch_size": 50, **overrides})


def train(mnist, config, progress_interval=0.25):
    trainer = Trainer(config, make_splits(mnist, config), progress_interval=progress_interval)
    return trainer, list(trainer)


def streamed(trainer) -> dict:
    return {name: [getattr(epoch, name) for epoch in trainer.epochs] for name in METRICS}


@pytest.fixture(scope="module")
def mlp_run(mnist):
    """One 3-epoch run with a progress event after every batch; shared by the tests below."""
    config = small_mlp()
    trainer, events = train(mnist, config, progress_interval=0)
    return config, trainer, events


def test_run_completes_and_streams_one_epoch_end_per_epoch(mlp_run):
    config, trainer, events = mlp_run
    assert isinstance(events[-1], TrainingEnd) and events[-1].status == COMPLETED
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1, 2, 3]
    assert trainer.epochs == [e for e in events if isinstance(e, EpochEnd)]
    assert all(e.learning_rate == pytest.approx(config.learning_rate) for e in trainer.epochs)
    assert trainer.epochs[-1].loss < trainer.epochs[0].loss


def test_streamed_metrics_equal_keras_history_exactly(mlp_run):
    _, trainer, _ = mlp_run
    assert streamed(trainer) == {name: trainer.history.history[name] for name in METRICS}


def test_plain_model_fit_gives_the_same_numbers(mlp_run):
    """An independent oracle: Keras's `fit` itself, same model, seed, batches (the trainer's input
    pipeline, tested on its own in test_input_pipeline.py) and batch size.

    Measured here: the numbers are bit-identical (same process, same CPU threads, same seeded
    shuffle), so this compares exactly. On another CPU only the comparison within one process
    is guaranteed, which is what this test does.
    """
    import keras

    from core.data.input_pipeline import epoch_ordered_batches, evaluation_batches
    from core.models.keras_models import build_keras_model

    config, trainer, _ = mlp_run
    splits = trainer.splits
    steps = math.ceil(len(splits.x_train) / config.batch_size)
    model = build_keras_model(config, steps_per_epoch=steps)
    batches, set_epoch = epoch_ordered_batches(splits.x_train, splits.y_train, config.batch_size, config.seed)
    history = model.fit(batches, epochs=config.epochs, validation_data=evaluation_batches(splits.x_val, splits.y_val),
                        callbacks=[keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: set_epoch(epoch + 1))],
                        shuffle=False, verbose=0)
    assert streamed(trainer) == {name: history.history[name] for name in METRICS}
    np.testing.assert_array_equal(model.predict(splits.x_val[:50], verbose=0),
                                  trainer.model.predict(splits.x_val[:50], verbose=0))


def test_progress_arrives_after_every_execution_but_an_epochs_last(mnist):
    """Keras trains `steps_per_execution` batches a call; progress comes after each call."""
    from core.models.keras_models import default_steps_per_execution

    config = small_mlp(train_size=3000, batch_size=32)  # 94 batches an epoch, 4 a call
    trainer, events = train(mnist, config, progress_interval=0)
    steps = math.ceil(3000 / 32)
    group = default_steps_per_execution(32, steps)
    assert (steps, group) == (94, 4)
    for epoch in (1, 2, 3):
        progress = [e for e in events if isinstance(e, Progress) and e.epoch == epoch]
        assert [p.fraction for p in progress] == [done / 94 for done in range(4, 94, 4)]
        assert all(0.0 < p.fraction < 1.0 and math.isfinite(p.loss) and 0 <= p.accuracy <= 1 for p in progress)
        assert [p.seconds for p in progress] == sorted(p.seconds for p in progress)
        # every progress of an epoch comes before that epoch's end, none after
        end_index = next(i for i, e in enumerate(events) if isinstance(e, EpochEnd) and e.epoch == epoch)
        assert all(events.index(p) < end_index for p in progress)


def test_steps_per_execution_groups_small_batches_only():
    from core.models.keras_models import default_steps_per_execution

    assert [default_steps_per_execution(b) for b in (0, 10, 32, 50, 100, 128, 256, 1000, 60000)] == [1, 16, 16, 16, 10, 8, 4, 1, 1]


def test_a_short_epoch_is_cut_into_at_least_21_calls_where_it_has_the_batches():
    """Each call's callback can add a curve point: 21 calls give an epoch 20 points before its end."""
    from core.models.keras_models import MIN_CALLS_PER_EPOCH, default_steps_per_execution
    from core.training.batch_points import POINTS_PER_EPOCH

    assert MIN_CALLS_PER_EPOCH <= POINTS_PER_EPOCH  # each call then passes at least one mark
    assert [default_steps_per_execution(128, steps) for steps in (469, 47, 21, 20, 1)] == [8, 2, 1, 1, 1]
    for steps in (21, 47, 100, 469, 1875):
        group = default_steps_per_execution(32, steps)
        assert math.ceil(steps / group) >= MIN_CALLS_PER_EPOCH


def test_same_seed_twice_gives_identical_metrics_and_another_seed_does_not(mnist, mlp_run):
    config, trainer, _ = mlp_run
    again, _ = train(mnist, config)
    assert streamed(again) == streamed(trainer)  # bit-identical on this machine and thread count
    other, _ = train(mnist, config.replace(seed=1))
    assert streamed(other)["loss"] != streamed(trainer)["loss"]


def test_stop_from_another_thread_ends_within_one_execution(mnist):
    # 100 batches of 10 an epoch, trained 4 a call, so the stop lands mid-epoch.
    config = small_mlp(epochs=5, train_size=1000, batch_size=10, validation_size=100)
    trainer = Trainer(config, make_splits(mnist, config), progress_interval=0)
    events, first_epoch_done = [], threading.Event()

    def consume():
        for event in trainer:
            events.append(event)
            if isinstance(event, EpochEnd):
                first_epoch_done.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert first_epoch_done.wait(timeout=300), "no epoch finished"
    trainer.stop()
    consumer.join(timeout=300)
    assert not consumer.is_alive()

    end = events[-1]
    assert isinstance(end, TrainingEnd) and end.status == STOPPED and end.reason == "stopped by request"
    finished = [e for e in events if isinstance(e, EpochEnd)]
    assert 1 <= len(finished) < config.epochs and end.epochs_completed == len(finished) == len(trainer.epochs)
    # Each call of `steps_per_execution` batches that ended before the stop streamed a Progress
    # (interval 0); the optimizer counted every batch that ran. The stop is checked before each
    # call and after it: at most one more call ran than was reported, the one in flight when the
    # stop came (shorter if it was the epoch's last); none if the stop came between two calls.
    from core.models.keras_models import default_steps_per_execution

    steps = len(trainer.splits.x_train) // config.batch_size
    group = default_steps_per_execution(config.batch_size, steps)
    reported = len([e for e in events if isinstance(e, Progress) and e.epoch == len(finished) + 1])
    ran = int(trainer.model.optimizer.iterations.numpy())
    assert ran in (len(finished) * steps + min(reported * group, steps), len(finished) * steps + min((reported + 1) * group, steps))


def test_early_stopping_stops_and_restores_the_best_weights(mnist):
    # 200 images with Adam 0.01 overfit within a few epochs, so val_loss turns up.
    config = small_mlp(epochs=10, train_size=200, validation_size=200, batch_size=20, optimizer="adam",
                       learning_rate=0.01, activation="relu", initializer="glorot_uniform",
                       patience=1, restore_best_weights=True)
    trainer, events = train(mnist, config)
    end = events[-1]
    assert end.status == EARLY_STOPPED and "1 epochs" in end.reason
    val_losses = [e.val_loss for e in trainer.epochs]
    assert len(val_losses) < config.epochs
    assert val_losses[-1] >= min(val_losses[:-1])  # the last epoch did not improve
    best = int(np.argmin(val_losses))
    assert end.best_epoch == best + 1
    restored_loss, _ = trainer.model.evaluate(trainer.splits.x_val, trainer.splits.y_val,
                                              batch_size=config.batch_size, verbose=0)
    assert restored_loss == pytest.approx(val_losses[best], rel=1e-5)
    assert restored_loss != pytest.approx(val_losses[-1], rel=1e-3)


def test_target_accuracy_stops_a_keras_model(mnist):
    config = small_mlp(epochs=10, optimizer="adam", learning_rate=0.01, activation="relu",
                       initializer="glorot_uniform", target_accuracy=0.6)
    trainer, events = train(mnist, config)
    accuracies = [e.accuracy for e in trainer.epochs]
    assert events[-1].status == TARGET_REACHED and len(accuracies) < config.epochs
    assert accuracies[-1] > 0.6 and all(a <= 0.6 for a in accuracies[:-1])


def test_trainer_refuses_a_batch_larger_than_its_data(mnist):
    config = small_mlp(batch_size=32, train_size=0)
    splits = make_splits(mnist, config.replace(train_size=100, batch_size=32))
    tiny = Splits(splits.x_train[:10], splits.y_train[:10], None, None, splits.x_test, splits.y_test)
    with pytest.raises(ConfigError, match="`batch_size`=32 is larger than the 10 training images"):
        Trainer(config, tiny)
