"""Where a training starts when it continues from a checkpoint: the epochs done, the weights, the optimizer's state."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOT_CARRIED = ("learning_rate",)  # a fork's own config sets these, not the parent's optimizer


@dataclass(frozen=True)
class TrainingStart:
    """A model's state after `epochs_done` epochs, to train on from (a fork or a resumed run).

    Args:
        epochs_done: the epochs already trained (the next epoch is `epochs_done + 1`).
        weights: the Keras model's `get_weights()` after them.
        optimizer: the optimizer's variables in order, as `(name, value)` (`iteration` first, then the slots).
        carries_learning_rate: whether the optimizer's learning rate is carried too: a resumed run goes on at
            the rate it had (one changed mid-run included); a fork's own config sets its rate.
    """

    epochs_done: int
    weights: list[np.ndarray]
    optimizer: tuple[tuple[str, np.ndarray], ...] = ()
    carries_learning_rate: bool = False

    def apply_to(self, model) -> None:
        """Give `model` these weights and, where a variable of the same name and shape exists, the optimizer's state.

        The learning rate is carried only with `carries_learning_rate` (else the new config's applies); an optimizer whose variables
        differ (another kind) keeps only the step counter, which schedules read.

        Raises:
            ValueError: if the weights do not fit the model (another architecture).
        """
        model.set_weights(self.weights)
        optimizer = model.optimizer
        if not optimizer.built:
            optimizer.build(model.trainable_variables)
        variables = list(optimizer.variables)
        same_kind = len(variables) == len(self.optimizer) and all(
            variable.name == name and tuple(variable.shape) == tuple(value.shape)
            for variable, (name, value) in zip(variables, self.optimizer))
        for variable, (name, value) in zip(variables, self.optimizer) if same_kind else ():
            if self.carries_learning_rate or name not in NOT_CARRIED:
                variable.assign(value)
        if not same_kind:
            saved = dict(self.optimizer)
            for variable in variables:
                if variable.name == "iteration" and "iteration" in saved:
                    variable.assign(saved["iteration"])
