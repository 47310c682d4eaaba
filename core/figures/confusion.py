"""Which digits a model confuses with which, and the test images behind each confusion."""

from __future__ import annotations

import numpy as np

from core.data.mnist import NUM_CLASSES


def check_labels(y: np.ndarray, name: str) -> np.ndarray:
    """`y` as a 1-D int64 array of labels in `0..9`, or a ValueError naming `name`."""
    y = np.asarray(y)
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or y.size == 0):
        raise ValueError(
            f"`{name}` must be a 1-D array of integer labels 0..9. "
            f"Received: {name}.shape={y.shape}, {name}.dtype={y.dtype}"
        )
    if y.size and (y.min() < 0 or y.max() >= NUM_CLASSES):
        raise ValueError(
            f"`{name}` must hold labels 0..{NUM_CLASSES - 1}. Received: labels from {y.min()} to {y.max()}"
        )
    return y.astype(np.int64)


def check_probabilities(probabilities: np.ndarray, n: int) -> np.ndarray:
    """`probabilities` as a float array of shape `(n, 10)`, or a ValueError saying what it was."""
    probabilities = np.asarray(probabilities)
    if probabilities.shape != (n, NUM_CLASSES):
        raise ValueError(
            f"`probabilities` must have shape (n, {NUM_CLASSES}) with n = len(y_true) = {n}, "
            f"as `model.predict(x)` returns. Received: probabilities.shape={probabilities.shape}"
        )
    return probabilities


def predicted_labels(probabilities: np.ndarray) -> np.ndarray:
    """The model's predictions: float `(n, 10)` probabilities → int64 labels `(n,)`."""
    return np.asarray(probabilities).argmax(axis=1)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Count each (true digit, predicted digit) pair.

    Args:
        y_true: int array of shape `(n,)`, the labels 0..9.
        y_pred: int array of shape `(n,)`, the predicted labels 0..9
            (`predicted_labels(probabilities)`).

    Returns:
        int64 array of shape `(10, 10)`: entry `[t, p]` counts the samples of digit `t`
        predicted as `p`. Rows sum to the class counts; the diagonal holds the hits.

    Raises:
        ValueError: if the arrays differ in length or hold labels outside 0..9.
    """
    y_true = check_labels(y_true, "y_true")
    y_pred = check_labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"`y_true` and `y_pred` must have the same length. "
            f"Received: len(y_true)={len(y_true)}, len(y_pred)={len(y_pred)}"
        )
    counts = np.bincount(y_true * NUM_CLASSES + y_pred, minlength=NUM_CLASSES * NUM_CLASSES)
    return counts.reshape(NUM_CLASSES, NUM_CLASSES)


def per_class_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """The fraction of each digit's samples that the model got right (its recall).

    Args:
        y_true: int array of shape `(n,)`, the labels 0..9.
        y_pred: int array of shape `(n,)`, the predicted labels 0..9.

    Returns:
        float64 array of shape `(10,)`; `nan` for a digit with no samples in `y_true`.

    Raises:
        ValueError: as `confusion_matrix`.
    """
    matrix = confusion_matrix(y_true, y_pred)
    totals = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(matrix) / totals, np.nan)


def cell_examples(
    y_true: np.ndarray,
    probabilities: np.ndarray,
    true_label: int,
    predicted_label: int,
    limit: int | None = 16,
) -> np.ndarray:
    """The samples in one cell of the confusion matrix, the most confident first.

    Args:
        y_true: int array of shape `(n,)`, the labels 0..9.
        probabilities: float array of shape `(n, 10)`, the model's softmax output.
        true_label: the cell's row, 0..9.
        predicted_label: the cell's column, 0..9; equal to `true_label` for hits.
        limit: the most indices to return; `None` for all of them. Defaults to 16.

    Returns:
        int64 array of sample indices into `y_true`, at most `limit` long, sorted by the
        model's probability for `predicted_label` (its confidence in what it predicted),
        highest first; ties keep the samples' order. Empty when the cell is empty.

    Raises:
        ValueError: if the shapes disagree, a label is outside 0..9 or `limit` is negative.
    """
    y_true = check_labels(y_true, "y_true")
    probabilities = check_probabilities(probabilities, len(y_true))
    for name, label in (("true_label", true_label), ("predicted_label", predicted_label)):
        if not (isinstance(label, (int, np.integer)) and 0 <= label < NUM_CLASSES):
            raise ValueError(f"`{name}` must be a digit 0..{NUM_CLASSES - 1}. Received: {name}={label!r}")
    if limit is not None and not (isinstance(limit, (int, np.integer)) and limit >= 0):
        raise ValueError(f"`limit` must be a non-negative integer or None. Received: limit={limit!r}")
    in_cell = np.flatnonzero((y_true == true_label) & (predicted_labels(probabilities) == predicted_label))
    confidence = probabilities[in_cell, predicted_label]
    ordered = in_cell[np.argsort(-confidence, kind="stable")]
    return ordered if limit is None else ordered[:limit]
