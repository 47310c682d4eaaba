"""Where a training starts when it continues from a checkpoint: the epochs done, the weights, the optimizer's
state, early stopping's count and the one-cycle schedule's cycles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.training.patience import PatienceCount

NOT_CARRIED = ("learning_rate",)  # a fork's own config sets these, not the parent's optimizer


@dataclass(frozen=True)
class TrainingStart:
    """A model's state after `epochs_done` epochs, to train on from (a fork or a resumed run).

    Args:
        epochs_done: the epochs already trained (the next epoch is `epochs_done + 1`).
        weights: the Keras model's `get_weights()` after them.
        optimizer: the optimizer's variables in order, as `(name, value)` (`iteration` first, then the slots).
        carries_learning_rate: whether the optimizer's learning rate is carried too: a resumed run goes on at
            the rate it had (one changed mid-run included, a one-cycle curve's scale too); a fork's own config
            sets its rate.
        patience: early stopping's count after `epochs_done` (`core.training.patience`); None = count afresh
            (a checkpoint saved before counts were, or a fork that validates on other images).
        best_weights: the weights of `patience.best_epoch`, for `restore_best_weights`; None if not kept.
        cycles: the one-cycle cycles in force at the checkpoint, in optimizer steps (`core.training.one_cycle_plan`);
            empty for a run with a constant rate.
        schedule_scale: the one-cycle curve's scale at the checkpoint (a live learning-rate change rescales it).
    """

    epochs_done: int
    weights: list[np.ndarray]
    optimizer: tuple[tuple[str, np.ndarray], ...] = ()
    carries_learning_rate: bool = False
    patience: PatienceCount | None = None
    best_weights: list[np.ndarray] | None = None
    cycles: tuple[tuple[int, int], ...] = ()
    schedule_scale: float = 1.0

    def steps_done(self, steps_per_epoch: int) -> int:
        """The optimizer steps trained before the checkpoint: its step counter, else `epochs_done` epochs' steps."""
        iteration = dict(self.optimizer).get("iteration")
        return int(iteration) if iteration is not None and np.ndim(iteration) == 0 else self.epochs_done * steps_per_epoch

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
        scale = getattr(getattr(optimizer, "_learning_rate", None), "scale", None)  # a OneCycle schedule's
        if scale is not None and self.carries_learning_rate:
            scale.assign(self.schedule_scale)
