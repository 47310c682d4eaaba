"""Outlier exposure without touching the classifier: a tiny network that tells digits from synthetic non-digits.

The classifier never saw a letter, so its own signals (`core.novelty.signals`) pass the letters its
features place among the digits. Hendrycks et al. (2019, "Deep Anomaly Detection with Outlier Exposure")
train the classifier on outliers; here the classifier is left as it is and a separate detector is fitted on
what the web server computes anyway for a drawing:

- the combined score's contributions (`core.novelty.combined_score`, each in units of real digits' spread);
- the penultimate activations scaled to unit length (where among the digits' features the drawing lies);
- the ink statistics (`core.novelty.ink_statistics`: strokes, holes, aspect, ink share).

Its positives are synthetic non-digits of the tuning kinds only (Greek and Cyrillic letters, Latin letters in
Pillow's own font and in fonts the bench never reports on, scribbles, smudges, pairs of training digits:
`bench/fit_outlier_detector.py`), its negatives training digits as they are, drawn through Draw's preprocessing,
traced with Draw's brush along their skeletons (a drawn stroke is even, a pen's is not: without them a straight drawn
1 looked like an "l"), and digits printed in fonts (a printed 7 is a 7: without them the detector learns "typed"
rather than "not a digit"). It is a small ensemble of
one-hidden-layer ReLU networks in NumPy (a few seconds to fit; microseconds a drawing), whose output, the mean
logit of its members, is larger for less digit-like inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.novelty.ink_statistics import ink_statistics
from core.novelty.signals import unit_rows

HIDDEN_UNITS = 32
MEMBERS = 5  # networks averaged: one network's letters flagged moved by 2-4 points with its seed
EPOCHS = 60
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
L2 = 1e-4


def detector_inputs(parts: np.ndarray, features: np.ndarray, images: np.ndarray) -> np.ndarray:
    """The detector's inputs: the contributions, the unit-length features and the ink statistics side by side.

    Args:
        parts: float `(n, c)` the combined score's contributions, in the statistics' order of components.
        features: float `(n, d)` penultimate activations.
        images: float `(n, 28, 28)` model inputs.

    Returns:
        float32 `(n, c + d + 7)`.
    """
    return np.concatenate([np.asarray(parts, np.float32), unit_rows(features), ink_statistics(images)], axis=1)


@dataclass(frozen=True)
class OutlierDetector:
    """An ensemble of one-hidden-layer networks over standardized `detector_inputs`.

    Attributes:
        input_mean, input_scale: float32 `(k,)`: inputs are standardized as `(x - mean) / scale`.
        hidden_weights: float32 `(members, k, h)`; hidden_bias: float32 `(members, h)`.
        output_weights: float32 `(members, h)`; output_bias: float32 `(members,)`.
    """

    input_mean: np.ndarray
    input_scale: np.ndarray
    hidden_weights: np.ndarray
    hidden_bias: np.ndarray
    output_weights: np.ndarray
    output_bias: np.ndarray

    ARRAYS = ("input_mean", "input_scale", "hidden_weights", "hidden_bias", "output_weights", "output_bias")

    @property
    def input_size(self) -> int:
        return int(self.input_mean.shape[0])

    def scores(self, inputs: np.ndarray) -> np.ndarray:
        """The mean logit of the members for each row of `inputs` `(n, k)`, float32 `(n,)` (larger = less digit-like)."""
        standardized = (np.asarray(inputs, np.float32) - self.input_mean) / self.input_scale
        hidden = np.maximum(np.einsum("nk,mkh->mnh", standardized, self.hidden_weights) + self.hidden_bias[:, None, :], 0.0)
        logits = np.einsum("mnh,mh->mn", hidden, self.output_weights) + self.output_bias[:, None]
        return logits.mean(axis=0).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        """Its arrays as float32, by the names a statistics file keeps them under (`detector_` + attribute)."""
        return {f"detector_{name}": np.asarray(getattr(self, name), np.float32) for name in self.ARRAYS}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> OutlierDetector:
        """The detector from `arrays()`' names.

        Raises:
            ValueError: if one is missing or the shapes do not fit together (the message says which).
        """
        missing = [name for name in cls.ARRAYS if f"detector_{name}" not in arrays]
        if missing:
            raise ValueError(f"the outlier detector lacks {', '.join(missing)}")
        found = {name: np.asarray(arrays[f"detector_{name}"], np.float32) for name in cls.ARRAYS}
        size, weights = found["input_mean"].shape, found["hidden_weights"]
        if (len(size) != 1 or found["input_scale"].shape != size or weights.ndim != 3 or weights.shape[1] != size[0]
                or found["hidden_bias"].shape != (weights.shape[0], weights.shape[2])
                or found["output_weights"].shape != found["hidden_bias"].shape
                or found["output_bias"].shape != (weights.shape[0],) or not np.all(found["input_scale"] > 0)):
            raise ValueError("the outlier detector's arrays do not fit together")
        return cls(**found)


def fit_outlier_detector(digit_inputs: np.ndarray, other_inputs: np.ndarray, hidden_units: int = HIDDEN_UNITS,
                         members: int = MEMBERS, epochs: int = EPOCHS, seed: int = 0) -> OutlierDetector:
    """Fit the ensemble to tell `other_inputs` (non-digits, label 1) from `digit_inputs` (label 0).

    Each network is trained with Adam on the logistic loss, the two classes weighted to count alike, from
    its own seed; the inputs are standardized by the mean and spread of both together.

    Args:
        digit_inputs: float `(n, k)` `detector_inputs` of digits.
        other_inputs: float `(m, k)` `detector_inputs` of non-digits.
        hidden_units, members, epochs: the networks' width, how many, and passes over the data.
        seed: the first member's seed (the others take the next ones).

    Returns:
        The fitted `OutlierDetector`.

    Raises:
        ValueError: if either set is empty or their widths differ.
    """
    digit_inputs, other_inputs = np.asarray(digit_inputs, np.float64), np.asarray(other_inputs, np.float64)
    if len(digit_inputs) == 0 or len(other_inputs) == 0:
        raise ValueError(f"Pass digits and non-digits to fit the detector on. Received: {len(digit_inputs)} digits, "
                         f"{len(other_inputs)} non-digits.")
    if digit_inputs.ndim != 2 or other_inputs.ndim != 2 or digit_inputs.shape[1] != other_inputs.shape[1]:
        raise ValueError(f"`digit_inputs` and `other_inputs` must be (n, k) of the same k. Received: "
                         f"{digit_inputs.shape} and {other_inputs.shape}")
    inputs = np.concatenate([digit_inputs, other_inputs])
    labels = np.r_[np.zeros(len(digit_inputs)), np.ones(len(other_inputs))]
    weights = np.where(labels == 1, 0.5 / labels.mean(), 0.5 / (1.0 - labels.mean()))
    mean, scale = inputs.mean(axis=0), inputs.std(axis=0) + 1e-6
    standardized = (inputs - mean) / scale
    fitted = [_fit_network(standardized, labels, weights, hidden_units, epochs, seed + member) for member in range(members)]
    return OutlierDetector(input_mean=mean.astype(np.float32), input_scale=scale.astype(np.float32),
                           **{name: np.stack([network[index] for network in fitted]).astype(np.float32)
                              for index, name in enumerate(OutlierDetector.ARRAYS[2:])})


def _fit_network(inputs: np.ndarray, labels: np.ndarray, weights: np.ndarray, hidden_units: int, epochs: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One network's `(hidden_weights, hidden_bias, output_weights, output_bias)` by Adam on the weighted logistic loss."""
    rng = np.random.default_rng(seed)
    size = inputs.shape[1]
    parameters = [rng.normal(0.0, 1.0 / np.sqrt(size), (size, hidden_units)), np.zeros(hidden_units),
                  rng.normal(0.0, 1.0 / np.sqrt(hidden_units), hidden_units), np.zeros(1)]
    first = [np.zeros_like(parameter) for parameter in parameters]
    second = [np.zeros_like(parameter) for parameter in parameters]
    step = 0
    for _ in range(epochs):
        for batch in np.array_split(rng.permutation(len(labels)), max(1, len(labels) // BATCH_SIZE)):
            step += 1
            hidden_weights, hidden_bias, output_weights, output_bias = parameters
            hidden = np.maximum(inputs[batch] @ hidden_weights + hidden_bias, 0.0)
            probabilities = 1.0 / (1.0 + np.exp(-np.clip(hidden @ output_weights + output_bias[0], -30, 30)))
            error = (probabilities - labels[batch]) * weights[batch] / len(batch)  # d loss / d logit
            back = np.outer(error, output_weights) * (hidden > 0)
            gradients = [inputs[batch].T @ back + L2 * hidden_weights, back.sum(axis=0),
                         hidden.T @ error + L2 * output_weights, np.array([error.sum()])]
            for index, gradient in enumerate(gradients):
                first[index] = 0.9 * first[index] + 0.1 * gradient
                second[index] = 0.999 * second[index] + 0.001 * gradient ** 2
                corrected = first[index] / (1 - 0.9 ** step), second[index] / (1 - 0.999 ** step)
                parameters[index] = parameters[index] - LEARNING_RATE * corrected[0] / (np.sqrt(corrected[1]) + 1e-8)
    hidden_weights, hidden_bias, output_weights, output_bias = parameters
    return hidden_weights, hidden_bias, output_weights, output_bias[0]
