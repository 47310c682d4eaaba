"""A class challenge: a goal and a constraint, checked on a config before Start and on a run after it.

Three kinds (`KINDS`):

- `max_parameters`: the highest test accuracy with at most `limit` parameters (counted by
  `core.models.model_size`, without building the model);
- `max_train_images`: the highest test accuracy with at most `limit` training images (the images
  an epoch trains on, after the validation holdout: `core.training.epoch_estimate.split_sizes`);
- `seconds_to_accuracy`: the fewest training seconds (the run's epochs, summed) to a test
  accuracy of at least `limit` percent.

A run counts only if it was started (Start pressed) at or after the challenge was set.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from core.config.train_config import ConfigError, TrainConfig, from_dict
from core.models.model_size import model_size
from core.training.epoch_estimate import split_sizes

MAX_PARAMETERS, MAX_TRAIN_IMAGES, SECONDS_TO_ACCURACY = "max_parameters", "max_train_images", "seconds_to_accuracy"
KINDS = {  # kind → (its menu label, the limit's label, lowest limit, highest limit, default limit)
    MAX_PARAMETERS: ("Highest test accuracy with at most P parameters", "P (parameters)", 100, 10_000_000, 20_000),
    MAX_TRAIN_IMAGES: ("Highest test accuracy with at most N training images", "N (training images)", 10, 60_000, 1_000),
    SECONDS_TO_ACCURACY: ("Fewest training seconds to X% test accuracy", "X (% test accuracy)", 10, 99.9, 97),
}


class ChallengeError(ValueError):
    """A challenge cannot be set as asked; the message names the field and the fix."""


@dataclass(frozen=True)
class Challenge:
    """What the class plays for.

    Args:
        kind: one of `KINDS`.
        limit: P parameters, N training images, or X percent test accuracy.
        set_at: `time.time()` when the teacher set it; runs started before do not count.
    """

    kind: str
    limit: float
    set_at: float = 0.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ChallengeError(f"Received an invalid value for `kind`: {str(self.kind)[:40]!r}. Pass one of {list(KINDS)}.")
        _, label, low, high, _ = KINDS[self.kind]
        if not isinstance(self.limit, (int, float)) or isinstance(self.limit, bool) or not math.isfinite(self.limit) \
                or not low <= self.limit <= high:
            raise ChallengeError(f"Received an invalid value for `limit` ({label}): {str(self.limit)[:40]}. "
                                 f"Pass a number from {low:,} to {high:,}.")

    @property
    def lower_is_better(self) -> bool:
        """Whether the score is seconds (fewer wins) rather than accuracy."""
        return self.kind == SECONDS_TO_ACCURACY

    def describe(self) -> str:
        """The challenge in one sentence, e.g. "Highest test accuracy with at most 20,000 parameters."."""
        if self.kind == MAX_PARAMETERS:
            return f"Highest test accuracy with at most {self.limit:,.0f} parameters."
        if self.kind == MAX_TRAIN_IMAGES:
            return f"Highest test accuracy with at most {self.limit:,.0f} training images."
        return f"Fewest training seconds to {self.limit:g}% test accuracy."

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: object) -> Challenge | None:
        """The challenge a ledger holds, or None where it holds none or a damaged one."""
        if not isinstance(value, dict):
            return None
        try:
            return cls(str(value.get("kind")), value.get("limit"), float(value.get("set_at") or 0.0))
        except (ChallengeError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Fit:
    """Whether a config keeps to a challenge's constraint, and the sentence that says so."""

    fits: bool
    message: str


def check_fit(challenge: Challenge, config: TrainConfig) -> Fit:
    """Whether `config` keeps to `challenge`'s constraint (said before Start).

    Returns:
        A `Fit`; when it does not fit, the message says by how much and what to change.
    """
    if challenge.kind == MAX_PARAMETERS:
        parameters = model_size(config).parameters
        if parameters <= challenge.limit:
            return Fit(True, f"Your settings fit: {parameters:,} parameters (at most {challenge.limit:,.0f}).")
        return Fit(False, f"Your settings do not fit: {parameters:,} parameters, over the challenge's "
                          f"{challenge.limit:,.0f}. Lower Hidden units or pick a smaller model; this run would not be ranked.")
    if challenge.kind == MAX_TRAIN_IMAGES:
        images, _ = split_sizes(config)
        if images <= challenge.limit:
            return Fit(True, f"Your settings fit: {images:,} training images (at most {challenge.limit:,.0f}).")
        return Fit(False, f"Your settings do not fit: {images:,} training images, over the challenge's "
                          f"{challenge.limit:,.0f}. Set Training images to {challenge.limit:,.0f} or fewer; "
                          "this run would not be ranked.")
    return Fit(True, f"Any settings may play: reach {challenge.limit:g}% test accuracy in the fewest training seconds.")


def why_not_counted(challenge: Challenge, config: dict, test_accuracy: float | None, submitted: float) -> str | None:
    """Why a finished run does not count for `challenge`, or None when it does.

    Args:
        config: the run's `config.json`.
        test_accuracy: its test accuracy, None when it saved no model.
        submitted: when its Start was pressed (`time.time()`).
    """
    if submitted < challenge.set_at:
        return "started before the challenge was set"
    if test_accuracy is None:
        return "no test accuracy (it saved no model)"
    try:
        parsed = from_dict(config)
    except (ConfigError, TypeError, ValueError):
        return "its settings cannot be read"
    fit = check_fit(challenge, parsed)
    if not fit.fits:
        return fit.message.removeprefix("Your settings do not fit: ").split(". ")[0]
    if challenge.kind == SECONDS_TO_ACCURACY and test_accuracy * 100 < challenge.limit:
        return f"test accuracy {test_accuracy:.2%}, under {challenge.limit:g}%"
    return None
