"""Early stopping's count, as Keras's `EarlyStopping` keeps it, carried across a checkpoint (a resume, a fork).

Keras's callback starts its count afresh in every `fit`: a run resumed from epoch k would forget that its
best `val_loss` came at epoch k-2 and wait `patience` epochs more than the run it continues. A run's
`PatienceCount` after each epoch is saved with that epoch's checkpoint (`core.runs.checkpoints`), and a
continuation hands it to `ContinuedEarlyStopping`, which goes on counting from it.

The rule is Keras's with `monitor="val_loss"`, `min_delta=0` and no baseline: an epoch improves on the
best when its `val_loss` is lower (NaN never is; the first epoch scored always is), and the run stops
after an epoch that leaves `waited >= patience`. A fork that changes `patience` keeps the count (the
epochs since the best one, its parent's included) and compares it with its own `patience`: a fork with a
patience lower than the count so far stops after its first epoch that does not improve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PatienceCount:
    """The best `val_loss` so far, its epoch (1-based), and the epochs since it (`waited`).

    `best_val_loss` is None until an epoch has been scored.
    """

    best_val_loss: float | None = None
    best_epoch: int | None = None
    waited: int = 0

    def after(self, epoch: int, val_loss: float | None) -> "PatienceCount":
        """The count after `epoch` (1-based) scored `val_loss` (None: no validation, the count unchanged)."""
        if val_loss is None:
            return self
        if self.best_val_loss is None or val_loss < self.best_val_loss:  # NaN < x is False: never an improvement
            return PatienceCount(float(val_loss), epoch, 0)
        return PatienceCount(self.best_val_loss, self.best_epoch, self.waited + 1)

    def to_dict(self) -> dict:
        best = self.best_val_loss
        return {"best_val_loss": best if best is None or math.isfinite(best) else str(best),
                "best_epoch": self.best_epoch, "waited": self.waited}

    @classmethod
    def from_dict(cls, values) -> "PatienceCount":
        """The count a checkpoint saved (`to_dict`).

        Raises:
            ValueError: if `values` is not such a record.
        """
        if not isinstance(values, dict):
            raise ValueError(f"a patience count is a JSON object. Received: {values!r:.80}")
        best, epoch, waited = values.get("best_val_loss"), values.get("best_epoch"), values.get("waited", 0)
        if isinstance(best, str):
            best = float(best)  # "nan", "inf": not JSON numbers
        if best is not None and (isinstance(best, bool) or not isinstance(best, (int, float))):
            raise ValueError(f"`best_val_loss` must be a number or null. Received: {best!r:.80}")
        for name, value in (("best_epoch", epoch), ("waited", waited)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"`{name}` must be a non-negative integer. Received: {value!r:.80}")
        return cls(None if best is None else float(best), epoch, waited or 0)


def continued_early_stopping(count: PatienceCount | None, best_weights=None, **options):
    """Keras's `EarlyStopping(**options)` that starts from `count` (and, with `restore_best_weights`, from
    `best_weights`: the best epoch's weights, where its checkpoint was kept) instead of afresh."""
    import keras

    class ContinuedEarlyStopping(keras.callbacks.EarlyStopping):
        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            if count is None or count.best_val_loss is None:
                return
            self.wait, self.best = count.waited, count.best_val_loss
            self.best_epoch = (count.best_epoch or 1) - 1  # Keras counts epochs from 0
            if best_weights is not None:
                self.best_weights = [weight.copy() for weight in best_weights]

    return ContinuedEarlyStopping(**options)
