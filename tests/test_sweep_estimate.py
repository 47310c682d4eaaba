"""A sweep's time before Start: trials × the slowest trial its search allows, at most."""

import pytest

from core.config.train_config import preset_config
from core.jobs.search_space import parse_search_space
from core.jobs.sweep_estimate import slowest_trial, sweep_seconds_at_most
from core.training.epoch_estimate import baseline_seconds, run_seconds

BASE = preset_config("fast", epochs=3, train_size=6000, validation="holdout")


def test_the_slowest_trial_takes_each_knobs_slowest_value():
    space = parse_search_space(["learning_rate=1e-4:1e-1:log", "batch_size=64,128,256", "train_size=1000:5000"])
    slowest = slowest_trial(BASE, space, baseline_seconds)
    assert (slowest.batch_size, slowest.train_size) == (64, 5000)  # smaller batches, more images: slower
    assert slowest.epochs == 3 and slowest.learning_rate in (1e-4, 1e-1)  # a rate costs no time: either end


def test_the_sweep_takes_at_most_its_trials_times_the_slowest_run():
    space = parse_search_space(["batch_size=64,256", "epochs=1:4"])
    slowest = BASE.replace(batch_size=64, epochs=4)
    expected = 8 * run_seconds(slowest, baseline_seconds(slowest))
    assert sweep_seconds_at_most(BASE, space, 8, baseline_seconds) == pytest.approx(expected)
    # and more than any other trial could take: every other mix is faster
    for batch_size in (64, 256):
        for epochs in (1, 2, 3, 4):
            other = BASE.replace(batch_size=batch_size, epochs=epochs)
            assert 8 * run_seconds(other, baseline_seconds(other)) <= expected + 1e-9


def test_no_search_is_the_trials_times_the_base_run():
    assert sweep_seconds_at_most(BASE, {}, 3, baseline_seconds) == pytest.approx(3 * run_seconds(BASE, baseline_seconds(BASE)))
