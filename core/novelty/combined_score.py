"""The combined "not a digit" score: four signals, each in units of real digits' spread, added up.

Each signal (`core.novelty.signals`) measures something else: how far the model's penultimate
features lie from its training digits' (`nearest_digits`), how unsure its logits are (`energy`), how
much of its pooled conv features digits never show (`pooled_residual`, conv models only), and how far
the 28x28 input itself lies from every training digit (`pixel_distance`, no model needed). A letter
that the features place among the 4s may still be shaped unlike any 4 in pixels; a scribble that no
distance catches may leave the model unsure. So each is turned into a contribution

    (t(value) - median) / (99th percentile - median)      over real digits the model did not train on,

with `t` the logarithm for the distances (their tails are long) and the identity for the energy: 0 is
a typical digit, 1 is as far as the 1-in-100 digit on that signal. The score is their sum. The
threshold is chosen on the same digits' scores (`core.novelty.digit_statistics`), and the largest
contribution says why a drawing was flagged.

Chosen on bench/not_a_digit.py's tuning set (other letters, other seeds; never the reported set): the
sum against the max and against the sum without each signal, all at the same quantile of digits
(printed in bench/results/not_a_digit.txt); weightings other than equal gained at most a point or two
there, not worth a less readable score.
"""

from __future__ import annotations

import numpy as np

COMPONENTS = ("nearest_digits", "energy", "pooled_residual", "pixel_distance")
LOGGED = ("nearest_digits", "pooled_residual", "pixel_distance")  # squared distances and shares: compared as logarithms
LOG_FLOOR = 1e-4  # below any value a real drawing gives: keeps log finite at 0
SPREAD_QUANTILE = 0.99  # a contribution of 1 = as far as this quantile of real digits
COMPONENT_WORDS = {  # ends "… mostly because <words>."
    "nearest_digits": "in the model's features it lies far from every training digit",
    "energy": "the model is unsure of every digit",
    "pooled_residual": "the conv layers see stroke patterns that digits do not have",
    "pixel_distance": "its pixels lie far from every training digit",
}


def transformed(component: str, values: np.ndarray) -> np.ndarray:
    """A component's values on the scale it is compared on: the logarithm for distances, float64 `(n,)`."""
    values = np.asarray(values, dtype=np.float64)
    return np.log(np.maximum(values, 0.0) + LOG_FLOOR) if component in LOGGED else values


def fit_scales(digit_values: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Each component's median and spread (99th percentile minus median) over real digits.

    A component whose values do not spread over the digits (a model whose logits are all alike, one
    whose pooled features are all zero) cannot say how unusual a drawing is: it is left out.

    Args:
        digit_values: component name → float `(n,)` its values on digits the model did not train on.

    Returns:
        component name → `(median, spread)` of the transformed values, for the components that spread.

    Raises:
        ValueError: for an unknown component, or when no component spreads.
    """
    scales = {}
    for component, values in digit_values.items():
        if component not in COMPONENTS:
            raise ValueError(f"Received an invalid component: {component!r}. Pass some of {list(COMPONENTS)}.")
        median, top = np.quantile(transformed(component, values), [0.5, SPREAD_QUANTILE])
        if top > median:
            scales[component] = (float(median), float(top - median))
    if not scales:
        raise ValueError(f"None of {list(digit_values)} varies over the digits given (all alike): the model's "
                         "features say nothing of them. Pass more, or more varied, digits, or train the model.")
    return scales


def contributions(values: dict[str, np.ndarray], scales: dict[str, tuple[float, float]]) -> dict[str, np.ndarray]:
    """Each component's contribution, float32 `(n,)`: 0 = a typical digit, 1 = the 99th percentile of digits."""
    return {component: ((transformed(component, values[component]) - median) / spread).astype(np.float32)
            for component, (median, spread) in scales.items()}


def combined(parts: dict[str, np.ndarray]) -> np.ndarray:
    """The score: the sum of the contributions, float32 `(n,)`."""
    return np.sum([parts[component] for component in parts], axis=0).astype(np.float32)
