"""Temperature scaling: divide a model's logits by one number T, fitted to held-out predictions.

The runs save probabilities, not logits. For a softmax output the log-probabilities are the
logits less one constant per image, which a softmax ignores, so `softmax(log(p) / T)` is
temperature scaling exactly; for other outputs (e.g. one-vs-all sigmoids) it is the same
scaling of their log-scores, normalised. T > 0 keeps each image's ranking of the classes, so
the top class, and with it the accuracy, never changes.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

PROBABILITY_FLOOR = 1e-12  # log(0) guard: a saved probability of exactly 0
TEMPERATURE_BOUNDS = (0.05, 20.0)


def log_scores(probabilities: np.ndarray) -> np.ndarray:
    """`log(p)`, floored: the logits up to a per-image constant, float64 `(n, classes)`."""
    return np.log(np.clip(np.asarray(probabilities, dtype=np.float64), PROBABILITY_FLOOR, None))


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """`softmax(log(p) / temperature)`, float64 `(n, classes)`.

    Raises:
        ValueError: if `temperature` is not a positive number.
    """
    if not temperature > 0:
        raise ValueError(f"`temperature` must be a positive number. Received: temperature={temperature!r}")
    scaled = log_scores(probabilities) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)  # the top class at exp(0) = 1: never an overflow, never a tie made
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def negative_log_likelihood(probabilities: np.ndarray, y_true: np.ndarray, temperature: float) -> float:
    """Mean cross-entropy of the labels under `apply_temperature(probabilities, temperature)`."""
    scaled = log_scores(probabilities) / temperature
    top = scaled.max(axis=1, keepdims=True)
    log_normaliser = top[:, 0] + np.log(np.exp(scaled - top).sum(axis=1))
    return float(np.mean(log_normaliser - scaled[np.arange(len(y_true)), y_true]))


def fit_temperature(probabilities: np.ndarray, y_true: np.ndarray) -> float:
    """The temperature in `TEMPERATURE_BOUNDS` that minimises the labels' negative log-likelihood.

    Args:
        probabilities: `(n, classes)` held-out model outputs (the validation split's).
        y_true: `(n,)` integer labels.

    Returns:
        T > 0: above 1 softens an over-confident model, below 1 sharpens an under-confident one.

    Raises:
        ValueError: if the shapes disagree or there are no predictions.
    """
    probabilities, y_true = np.asarray(probabilities), np.asarray(y_true).astype(int)
    if probabilities.ndim != 2 or len(probabilities) != len(y_true) or len(y_true) == 0:
        raise ValueError(f"`probabilities` must be `(n, classes)` with n = len(y_true) > 0. "
                         f"Received: probabilities.shape={probabilities.shape}, len(y_true)={len(y_true)}")
    low, high = np.log(TEMPERATURE_BOUNDS[0]), np.log(TEMPERATURE_BOUNDS[1])
    found = minimize_scalar(lambda log_t: negative_log_likelihood(probabilities, y_true, float(np.exp(log_t))),
                            bounds=(low, high), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(found.x))
