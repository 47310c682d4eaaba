"""A training's health in one line: not learning, an exploding loss, or overfitting, and what to try.

Read from the epochs so far (the page after each epoch, the CLI after each epoch line), so a
learner hears of a lesson that went nowhere while it happens, not only from a bad test score.
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
OVERFITTING_EPOCHS = 3  # validation loss rising this many epochs in a row while training loss falls


@dataclass(frozen=True)
class Health:
    """One problem: `kind` is "exploding", "not_learning" or "overfitting"; `message` says what to try."""

    kind: str
    message: str


def training_health(epochs: Sequence[EpochEnd]) -> Health | None:
    """The most pressing problem the epochs so far show, or None when training looks healthy."""
    if not epochs:
        return None
    last = epochs[-1]
    if not math.isfinite(last.loss) or last.loss > EXPLODING_LOSS:
        shown = "not a number" if not math.isfinite(last.loss) else f"{last.loss:.3g}"
        return Health("exploding", f"The loss is exploding ({shown} at epoch {last.epoch}; a uniform guess scores 2.3): "
                                   f"the learning rate {last.learning_rate:g} is too high for this model. "
                                   f"Try a tenth of it.")
    if last.epoch >= NOT_LEARNING_FROM_EPOCH and last.accuracy < NOT_LEARNING_BELOW:
        return Health("not_learning", f"Not learning: training accuracy is {last.accuracy:.0%} after {last.epoch} "
                                      f"epoch(s), near the {CHANCE_ACCURACY:.0%} of guessing. Try a learning rate "
                                      "in the optimizer's usual range, or another initializer or activation.")
    rising = _validation_rising_while_training_falls(epochs)
    if rising >= OVERFITTING_EPOCHS:
        return Health("overfitting", f"Overfitting: validation loss has risen for {rising} epochs in a row while "
                                     "training loss fell. Try early stopping (patience), dropout, augmentation or "
                                     "more training images.")
    return None


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
