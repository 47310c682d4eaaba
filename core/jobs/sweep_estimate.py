"""How long a sweep may take, said before it starts: its trials times the slowest trial the search allows."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from core.config.train_config import ConfigError, TrainConfig
from core.jobs.search_space import Choice, Knob
from core.training.epoch_estimate import run_seconds


def slowest_trial(base: TrainConfig, space: Mapping[str, Knob], epoch_seconds: Callable[[TrainConfig], float]) -> TrainConfig:
    """`base` with each searched knob at its slowest value: a range's ends or a list's values, tried one knob at a time.

    A run's time grows or shrinks steadily with each knob that sets it (epochs, images, batch size),
    so a range's slowest value is one of its ends.

    Args:
        base: the config every trial starts from (`core.jobs.sweep.sweep_base_config`).
        space: the searched knobs (`core.jobs.search_space.parse_search_space`).
        epoch_seconds: the expected seconds per epoch of a config (`core.training.epoch_estimate`).
    """
    slowest = base
    for name, knob in space.items():
        candidates = knob.choices if isinstance(knob, Choice) else (knob.low, knob.high)
        timed = []
        for value in candidates:
            try:
                config = slowest.replace(**{name: value})
            except ConfigError:  # a value the sweep would refuse: its trial never runs
                continue
            timed.append((run_seconds(config, epoch_seconds(config)), config))
        if timed:
            slowest = max(timed, key=lambda pair: pair[0])[1]
    return slowest


def sweep_seconds_at_most(base: TrainConfig, space: Mapping[str, Knob], trials: int,
                          epoch_seconds: Callable[[TrainConfig], float]) -> float:
    """Seconds the sweep takes at most, trial after trial: `trials` × the slowest trial's whole run.

    At most: the pruner stops the trials that fall behind, and most trials are faster than the slowest.
    On an executor that runs trials in parallel (a Ray cluster), divide by its slots.
    """
    slowest = slowest_trial(base, space, epoch_seconds)
    return trials * run_seconds(slowest, epoch_seconds(slowest))
