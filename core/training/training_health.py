"""A training's health in one line: not learning, an exploding loss, or overfitting, and what to try.

Read from the epochs so far (the page after each epoch, the CLI after each epoch line), so a
learner hears of a lesson that went nowhere while it happens, not only from a bad test score.
The trend is judged, not the level: the softmax preset (raw pixels, N(0, 1) weights) starts near
a loss of 3,000 and falls, with bumps, to ~150; a falling loss is never called exploding, nor
an accuracy that climbs by points an epoch not learning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from core.training.events import EpochEnd

CHANCE_ACCURACY = 0.10  # ten digit classes
NOT_LEARNING_BELOW = 0.25  # training accuracy still below this after an epoch: near chance (10%)
NOT_LEARNING_FROM_EPOCH = 2  # a first epoch on a few hundred images may not have moved yet
EXPLODING_LOSS = 10 * math.log(10)  # ten times the loss of a uniform guess over ten classes (~2.3)
EXPLODING_GROWTH = 3.0  # ... and this many times the lowest epoch loss before it (the softmax preset's bumps reach 1.4x)
LEARNING_RISE = 0.02  # training accuracy up at least this much in the last epoch: learning, if slowly
OVERFITTING_EPOCHS = 3  # validation loss rising this many epochs in a row while training loss falls


@dataclass(frozen=True)
class Health:
    """One problem: `kind` is "exploding", "not_learning" or "overfitting"; `message` says what to try."""

    kind: str
    message: str


def training_health(epochs: Sequence[EpochEnd]) -> Health | None:
    """The most pressing problem the epochs so far show, or None when training looks healthy.

    Exploding: the loss is not a number, or above ten times a uniform guess's and `EXPLODING_GROWTH`
    times its lowest epoch before. Not learning: from epoch 2, training accuracy below 25% and up
    less than `LEARNING_RISE` in the last epoch. Overfitting: validation loss up while training
    loss falls, `OVERFITTING_EPOCHS` epochs in a row.
    """
    if not epochs:
        return None
    last = epochs[-1]
    lowest = min((e for e in epochs[:-1] if math.isfinite(e.loss)), key=lambda e: e.loss, default=None)
    if not math.isfinite(last.loss):
        return _exploding(last, "not a number")
    if lowest is not None and last.loss > EXPLODING_LOSS and last.loss > EXPLODING_GROWTH * lowest.loss:
        return _exploding(last, f"{last.loss:.3g}, up from {lowest.loss:.3g} at epoch {lowest.epoch}")
    previous_accuracy = epochs[-2].accuracy if len(epochs) > 1 else 0.0
    if (last.epoch >= NOT_LEARNING_FROM_EPOCH and last.accuracy < NOT_LEARNING_BELOW
            and last.accuracy - previous_accuracy < LEARNING_RISE):
        return Health("not_learning", f"Not learning: training accuracy is {last.accuracy:.0%} after {last.epoch} "
                                      f"epoch(s), near the {CHANCE_ACCURACY:.0%} of guessing. Try a learning rate "
                                      "in the optimizer's usual range, or another initializer or activation.")
    rising = _validation_rising_while_training_falls(epochs)
    if rising >= OVERFITTING_EPOCHS:
        return Health("overfitting", f"Overfitting: validation loss has risen for {rising} epochs in a row while "
                                     "training loss fell. Try early stopping (patience), dropout, augmentation or "
                                     "more training images.")
    return None


def _exploding(last: EpochEnd, shown: str) -> Health:
    return Health("exploding", f"The loss is exploding ({shown} at epoch {last.epoch}; a uniform guess scores 2.3): "
                               f"the learning rate {last.learning_rate:g} is too high for this model. "
                               f"Try a tenth of it.")


def _validation_rising_while_training_falls(epochs: Sequence[EpochEnd]) -> int:
    """How many of the last epochs in a row had validation loss up and training loss down."""
    count = 0
    for before, after in zip(reversed(epochs[:-1]), reversed(epochs[1:])):
        if before.val_loss is None or after.val_loss is None:
            break
        if after.val_loss > before.val_loss and after.loss < before.loss:
            count += 1
        else:
            break
    return count
