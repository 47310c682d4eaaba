"""Top-label calibration: reliability bins and the expected calibration error (ECE).

For each image the model's confidence is its highest probability and it is right when that class
is the label. Confidences are put in `bins` equal-width bins over `[0, 1]` (a confidence on a
bin's upper edge belongs to that bin; the first bin also takes 0). ECE is the gap between
accuracy and mean confidence in each bin, weighted by the share of images in it:

    ECE = sum over bins b of (n_b / n) * |accuracy(b) - confidence(b)|

(Guo et al., "On Calibration of Modern Neural Networks", 2017, eq. 3.)
"""

from __future__ import annotations

import numpy as np

DEFAULT_BINS = 15  # Guo et al.'s choice


def _check(probabilities: np.ndarray, y_true: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    y_true = np.asarray(y_true)
    if probabilities.ndim != 2 or len(probabilities) != len(y_true) or len(y_true) == 0:
        raise ValueError(f"`probabilities` must be `(n, classes)` with n = len(y_true) > 0. "
                         f"Received: probabilities.shape={probabilities.shape}, len(y_true)={len(y_true)}")
    if not isinstance(bins, int) or bins < 1:
        raise ValueError(f"`bins` must be a positive integer. Received: bins={bins!r}")
    return probabilities, y_true


def reliability_bins(probabilities: np.ndarray, y_true: np.ndarray, bins: int = DEFAULT_BINS) -> list[dict]:
    """The reliability diagram's bins: for each, its edges, image count, mean confidence and accuracy.

    Args:
        probabilities: `(n, classes)` model outputs.
        y_true: `(n,)` integer labels.
        bins: equal-width confidence bins over `[0, 1]`.

    Returns:
        One dict per bin, low confidence first: `{"low", "high", "count", "confidence", "accuracy"}`;
        `confidence` and `accuracy` are None for an empty bin.

    Raises:
        ValueError: if the shapes disagree or `bins` is not a positive integer.
    """
    probabilities, y_true = _check(probabilities, y_true, bins)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == y_true
    # ceil(c * bins) - 1: a confidence on an upper edge stays in the bin below it; 0 goes to the first bin
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    table = []
    for b in range(bins):
        inside = index == b
        count = int(inside.sum())
        table.append({"low": b / bins, "high": (b + 1) / bins, "count": count,
                      "confidence": float(confidence[inside].mean()) if count else None,
                      "accuracy": float(correct[inside].mean()) if count else None})
    return table


def expected_calibration_error(probabilities: np.ndarray, y_true: np.ndarray, bins: int = DEFAULT_BINS) -> float:
    """ECE: the count-weighted mean gap between accuracy and confidence over the reliability bins.

    Args:
        probabilities: `(n, classes)` model outputs.
        y_true: `(n,)` integer labels.
        bins: equal-width confidence bins over `[0, 1]`.

    Returns:
        A float in `[0, 1]`; 0 is perfectly calibrated.

    Raises:
        ValueError: if the shapes disagree or `bins` is not a positive integer.
    """
    table = reliability_bins(probabilities, y_true, bins)
    n = sum(row["count"] for row in table)
    return float(sum(row["count"] / n * abs(row["accuracy"] - row["confidence"]) for row in table if row["count"]))
