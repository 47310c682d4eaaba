"""Plotly figures of what models predict: probability bars, a models × digits heatmap, the
confusion matrix (with clickable cells) and accuracy per digit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from core.data.mnist import NUM_CLASSES

DIGITS = list(range(NUM_CLASSES))
HIGHLIGHT, PLAIN = "#e4572e", "#4c78a8"  # the chosen bar / the others
CONFUSION_HEIGHT = 520
CELL_MARKER_SIZE = 34  # pixels; about one cell of a CONFUSION_HEIGHT-high matrix


def probability_bars(probabilities: np.ndarray, height: int = 300) -> go.Figure:
    """One model's probability for each digit, the most likely digit highlighted.

    Args:
        probabilities: float array of shape `(10,)`.
        height: the figure's height in pixels.
    """
    top = int(np.argmax(probabilities))
    figure = go.Figure(go.Bar(
        x=DIGITS, y=probabilities, marker_color=[HIGHLIGHT if d == top else PLAIN for d in DIGITS],
        hovertemplate="digit %{x}: %{y:.2%}<extra></extra>",
    ))
    figure.update_layout(
        height=height, margin=dict(l=10, r=10, t=30, b=10), title="Probability of each digit",
        xaxis=dict(tickmode="linear", title="digit"), yaxis=dict(range=[0, 1], tickformat=".0%"),
    )
    return figure


def models_heatmap(labels: Sequence[str], probabilities: np.ndarray) -> go.Figure:
    """Several models' probabilities side by side: one row per model, one column per digit.

    Args:
        labels: the models' names, one per row.
        probabilities: float array of shape `(len(labels), 10)`.
    """
    figure = go.Figure(go.Heatmap(
        z=np.asarray(probabilities), x=DIGITS, y=list(labels), zmin=0, zmax=1, colorscale="Blues",
        texttemplate="%{z:.0%}", hovertemplate="%{y}<br>digit %{x}: %{z:.2%}<extra></extra>",
    ))
    figure.update_layout(
        height=120 + 40 * len(labels), margin=dict(l=10, r=10, t=30, b=10), title="Each model's probability of each digit",
        xaxis=dict(tickmode="linear", title="digit"), yaxis=dict(autorange="reversed"),
    )
    return figure


def confusion_figure(matrix: np.ndarray, chosen: tuple[int, int] | None = None) -> go.Figure:
    """The confusion matrix as a heatmap whose cells can be clicked.

    Plotly cannot select heatmap cells, so an invisible square marker sits on each cell: a click
    selects it, and Streamlit's `on_select` reports its `x` (predicted) and `y` (true digit).
    The chosen cell's marker is drawn as an outline.

    Args:
        matrix: int array of shape `(10, 10)`, `[true, predicted]` counts.
        chosen: the `(true, predicted)` cell to outline, or None.

    Returns:
        A figure with the heatmap as trace 0 and the cell markers as trace 1; marker `i` is
        cell `(i // 10, i % 10)`.
    """
    matrix = np.asarray(matrix)
    mistakes = matrix - np.diag(np.diag(matrix))
    figure = go.Figure(go.Heatmap(
        z=matrix, x=DIGITS, y=DIGITS, text=np.where(matrix > 0, matrix.astype(str), ""), texttemplate="%{text}",
        colorscale="Blues", zmin=0, zmax=max(int(mistakes.max()) * 2, 1),  # scaled to the mistakes: the diagonal saturates
        hoverinfo="skip", showscale=False,
    ))
    true_labels, predicted_labels = np.divmod(np.arange(NUM_CLASSES * NUM_CLASSES), NUM_CLASSES)
    figure.add_trace(go.Scatter(
        x=predicted_labels, y=true_labels, mode="markers", customdata=matrix.ravel(),
        selectedpoints=[] if chosen is None else [chosen[0] * NUM_CLASSES + chosen[1]],
        marker=dict(symbol="square-open", size=CELL_MARKER_SIZE, opacity=0, color=HIGHLIGHT, line=dict(width=3)),
        selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=0)),
        hovertemplate="true %{y}, predicted %{x}: %{customdata} images<extra></extra>", showlegend=False,
    ))
    axis = dict(tickmode="linear", showgrid=False, zeroline=False)
    figure.update_layout(
        height=CONFUSION_HEIGHT, margin=dict(l=10, r=10, t=10, b=10), clickmode="event+select", dragmode=False,
        xaxis=dict(axis, title="predicted", side="top", range=[-0.5, 9.5], constrain="domain"),
        yaxis=dict(axis, title="true", range=[9.5, -0.5], scaleanchor="x"),
    )
    return figure


def clicked_cell(chart_state: dict | None) -> tuple[int, int] | None:
    """The `(true, predicted)` cell of a click on `confusion_figure`, from Streamlit's chart state.

    Args:
        chart_state: `st.session_state[<chart key>]`: `{"selection": {"points": [...], ...}}`,
            or None before any click.
    """
    points = ((chart_state or {}).get("selection") or {}).get("points") or []
    if not points:
        return None
    return int(points[0]["y"]), int(points[0]["x"])


def accuracy_bars(accuracy: np.ndarray) -> go.Figure:
    """Accuracy per true digit, the worst digit highlighted.

    Args:
        accuracy: float array of shape `(10,)`, `nan` for a digit without samples.
    """
    accuracy = np.asarray(accuracy, dtype=np.float64)
    worst = int(np.nanargmin(accuracy)) if np.isfinite(accuracy).any() else -1
    low = float(np.nanmin(accuracy)) if worst >= 0 else 0.0
    figure = go.Figure(go.Bar(
        x=DIGITS, y=accuracy, text=[f"{value:.1%}" for value in accuracy], textposition="outside",
        marker_color=[HIGHLIGHT if d == worst else PLAIN for d in DIGITS],
        hovertemplate="digit %{x}: %{y:.2%} of its test images right<extra></extra>",
    ))
    figure.update_layout(
        height=320, margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(title="true digit", tickmode="linear"),
        yaxis=dict(title="accuracy", tickformat=".0%", range=[max(0.0, low - 0.05), 1.005]),
    )
    return figure
