"""A warm worker's reused compiled model trains to the same metrics as a fresh build with the same seed."""

import pytest

from core.config.train_config import preset_config
from core.data.splits import make_splits
from core.training.compiled_models import CompiledModels, graph_key, warm_up
from core.training.control import TrainingControl
from core.training.events import EpochEnd
from core.training.trainer import Trainer


def epochs_of(trainer):
    return [e for e in trainer if isinstance(e, EpochEnd)]


def metrics(epochs):
    return [(e.loss, e.accuracy, e.val_loss, e.val_accuracy, e.learning_rate) for e in epochs]


@pytest.mark.parametrize("model, overrides", [
    ("fast", dict(epochs=2, train_size=1024, validation="holdout", validation_size=256)),  # one-cycle, batch norm, Adam
    ("mlp", dict(epochs=2, train_size=1000, validation_size=200, dropout=0.3, optimizer="momentum")),  # dropout's seeds
])
def test_a_reused_model_gives_the_metrics_of_a_fresh_one(mnist, model, overrides):
    config = preset_config(model, **overrides, seed=3)
    other = config.replace(seed=8)  # same graph, other starting point
    splits = make_splits(mnist, config)
    fresh = metrics(epochs_of(Trainer(config, splits)))

    cache = CompiledModels()
    first = Trainer(other, make_splits(mnist, other), compiled_models=cache)
    epochs_of(first)
    again = Trainer(config, splits, compiled_models=cache)
    reused = metrics(epochs_of(again))
    assert cache.hits == 1 and cache.misses == 1 and again.model is first.model
    assert reused == pytest.approx(fresh, rel=1e-6, abs=1e-7)


def test_a_live_learning_rate_change_does_not_leak_into_the_next_run(mnist):
    config = preset_config("fast", epochs=1, train_size=1024, validation="holdout", validation_size=256)
    splits = make_splits(mnist, config)
    fresh = metrics(epochs_of(Trainer(config, splits)))
    cache = CompiledModels()
    control = TrainingControl()
    control.set_learning_rate(1e-5)
    epochs_of(Trainer(config, splits, control=control, compiled_models=cache))
    assert metrics(epochs_of(Trainer(config, splits, compiled_models=cache))) == pytest.approx(fresh, rel=1e-6, abs=1e-7)


def test_the_graph_key_ignores_only_what_the_graph_does_not_bake_in():
    base = preset_config("mlp")
    assert graph_key(base, 10) == graph_key(base.replace(seed=5, learning_rate=0.5, epochs=3, patience=2), 10)
    assert graph_key(base, 10) != graph_key(base, 11)
    assert graph_key(base, 10) != graph_key(base.replace(batch_size=50), 10)
    assert graph_key(base, 10) != graph_key(base.replace(momentum=0.5), 10)
    one_cycle = preset_config("fast")
    assert graph_key(one_cycle, 10) != graph_key(one_cycle.replace(learning_rate=0.001), 10)  # baked into the schedule
    assert graph_key(one_cycle, 10) != graph_key(one_cycle.replace(epochs=2), 10)


def test_a_warmed_up_model_serves_the_first_run_untraced_and_with_a_fresh_runs_metrics(mnist):
    config = preset_config("fast", epochs=1, train_size=2048, validation="holdout", validation_size=512, seed=4)
    splits = make_splits(mnist, config)
    fresh = metrics(epochs_of(Trainer(config, splits)))
    cache = CompiledModels()
    warm_up(cache, config, splits)
    assert cache.misses == 1 and cache.hits == 0
    warmed = next(iter(cache._models.values()))
    assert warmed.train_function is not None and warmed.predict_function is not None
    trainer = Trainer(config, splits, compiled_models=cache)
    assert metrics(epochs_of(trainer)) == pytest.approx(fresh, rel=1e-6, abs=1e-7)
    assert cache.hits == 1 and trainer.model is warmed  # the warm-up's traced model, reset: nothing traced again
