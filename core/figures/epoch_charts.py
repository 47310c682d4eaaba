"""Figures for scrubbing a run's epochs: the confusion matrix with what changed since the epoch
before, and one drawing's probabilities across every kept epoch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.data.mnist import NUM_CLASSES
from core.figures.prediction_charts import DIGITS, HIGHLIGHT, confusion_figure

BETTER, WORSE = "#2ca02c", "#d62728"  # a changed cell that now holds fewer mistakes (or more hits) / more mistakes
CHANGE_MARKER_SIZE = 9  # pixels; a dot in a cell's corner, small enough to leave the count readable
CORNER = 0.32  # how far from a cell's centre its change dot sits, in cells
EPOCH_CHART_HEIGHT = 300


def changed_cells(matrix: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """How each cell of the confusion matrix changed since the epoch before.

    Args:
        matrix: int array of shape `(10, 10)`, epoch k's `[true, predicted]` counts.
        previous: int array of shape `(10, 10)`, the previous kept epoch's counts.

    Returns:
        int64 array of shape `(10, 10)`: `matrix - previous`; non-zero where a cell changed.

    Raises:
        ValueError: if either is not `(10, 10)`.
    """
    matrix, previous = np.asarray(matrix), np.asarray(previous)
    for name, array in (("matrix", matrix), ("previous", previous)):
        if array.shape != (NUM_CLASSES, NUM_CLASSES):
            raise ValueError(f"`{name}` must be a ({NUM_CLASSES}, {NUM_CLASSES}) confusion matrix, as "
                             f"`confusion_matrix` returns. Received: {name}.shape={array.shape}")
    return matrix.astype(np.int64) - previous.astype(np.int64)


def is_improvement(change: np.ndarray) -> np.ndarray:
    """Where a change is for the better: more hits on the diagonal, fewer mistakes off it. Bool `(10, 10)`."""
    change = np.asarray(change)
    return np.where(np.eye(NUM_CLASSES, dtype=bool), change > 0, change < 0)


def scrubbed_confusion_figure(matrix: np.ndarray, previous: np.ndarray | None, chosen: tuple[int, int] | None = None,
                              previous_epoch: int | None = None) -> go.Figure:
    """`confusion_figure` of epoch k, with a dot in the corner of every cell that changed since `previous`.

    A green dot: the cell changed for the better (more hits, or fewer of that mistake); a red dot:
    for the worse. Hovering a dot says by how much.

    Args:
        matrix: int array of shape `(10, 10)`, epoch k's counts.
        previous: the previous kept epoch's counts, or None for the first epoch (nothing marked).
        chosen: the `(true, predicted)` cell to outline, or None.
        previous_epoch: the epoch `previous` is from, for the legend and hover text.

    Returns:
        The figure of `confusion_figure` (its traces 0 and 1 unchanged, so clicks still pick cells), plus,
        when a cell changed, trace 2: one marker per changed cell, its `customdata` the change.
    """
    figure = confusion_figure(matrix, chosen)
    if previous is None:
        return figure
    change = changed_cells(matrix, previous)
    true_labels, predicted_labels = np.nonzero(change)
    if len(true_labels) == 0:
        return figure
    deltas = change[true_labels, predicted_labels]
    better = is_improvement(change)[true_labels, predicted_labels]
    since = "the epoch before" if previous_epoch is None else f"epoch {previous_epoch}"
    figure.add_trace(go.Scatter(
        x=predicted_labels + CORNER, y=true_labels - CORNER, mode="markers", customdata=deltas,
        marker=dict(symbol="circle", size=CHANGE_MARKER_SIZE, color=[BETTER if b else WORSE for b in better],
                    line=dict(width=1, color="white")),
        hovertemplate=f"true %{{y:.0f}}, predicted %{{x:.0f}}: %{{customdata:+d}} images since {since}<extra></extra>",
        name=f"changed since {since}", showlegend=False,
    ))
    return figure


def epoch_probabilities_figure(epochs: Sequence[int], probabilities: np.ndarray) -> go.Figure:
    """One input's probability of each digit after each kept epoch: when did it become a 7?

    Args:
        epochs: the kept epochs, ascending (1 = after the first epoch).
        probabilities: float array of shape `(len(epochs), 10)`, the model's output after each.

    Returns:
        A figure with one line per digit (trace `d` is digit `d`); the digit the last epoch predicts is
        drawn thick and coloured, the others thin and grey.

    Raises:
        ValueError: if the shapes disagree.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    epochs = [int(epoch) for epoch in epochs]
    if probabilities.shape != (len(epochs), NUM_CLASSES):
        raise ValueError(f"`probabilities` must have shape (len(epochs), {NUM_CLASSES}) = ({len(epochs)}, {NUM_CLASSES}), "
                         f"one row per epoch. Received: probabilities.shape={probabilities.shape}")
    final = int(probabilities[-1].argmax()) if len(epochs) else -1
    figure = go.Figure()
    for digit in DIGITS:
        is_final = digit == final
        figure.add_trace(go.Scatter(
            x=epochs, y=probabilities[:, digit], mode="lines+markers", name=str(digit),
            line=dict(width=4 if is_final else 1.5, color=HIGHLIGHT if is_final else "#9aa5b1"),
            marker=dict(size=7 if is_final else 4), opacity=1 if is_final else 0.7,
            hovertemplate=f"digit {digit} after epoch %{{x}}: %{{y:.1%}}<extra></extra>",
        ))
    figure.update_layout(
        height=EPOCH_CHART_HEIGHT, margin=dict(l=10, r=10, t=30, b=10), title="Its probability of each digit, epoch by epoch",
        xaxis=dict(title="epoch", tickmode="array", tickvals=epochs, range=[min(epochs, default=1) - 0.2, max(epochs, default=1) + 0.2]),
        yaxis=dict(range=[0, 1.02], tickformat=".0%"), legend=dict(title="digit", orientation="h", y=-0.3),
    )
    return figure
