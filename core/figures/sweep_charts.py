"""A sweep's parallel-coordinates chart (Optuna's), made readable in half a page at 1280 px."""

from __future__ import annotations

import plotly.graph_objects as go

SIGNIFICANT_DIGITS = 3  # a learning rate of 0.0031622776601683794 reads 0.00316
LEFT_ROOM = 0.55  # of the space between two axes, left of the first: its tick labels sit to its left


def short_number(text: str) -> str:
    """`"0.0031622776601683794"` → `"0.00316"`; text that is not a number (a category) is kept."""
    try:
        return f"{float(text):.{SIGNIFICANT_DIGITS}g}"
    except (TypeError, ValueError):
        return text


def readable_parallel_coordinates(figure: go.Figure) -> go.Figure:
    """Optuna's `plot_parallel_coordinate` figure, with every tick label whole and numbers cut to 3 digits.

    Optuna 5 draws each axis as a line with its tick labels as annotations just left of it; its x range
    left ~0.2 of an axis gap before the first axis, so in a narrow chart "0.904" showed as "4". The
    range here leaves `LEFT_ROOM`, and the labels and hover values keep `SIGNIFICANT_DIGITS` digits.

    Args:
        figure: from `optuna.visualization.plot_parallel_coordinate`; changed in place.

    Returns:
        The same figure.
    """
    axes = len(figure.layout.xaxis.tickvals or ())
    if axes:
        figure.update_xaxes(range=[-LEFT_ROOM, axes - 1 + 0.1], automargin=True)
    for annotation in figure.layout.annotations:
        annotation.text = short_number(annotation.text)
    for trace in figure.data:
        if trace.customdata is not None:
            trace.customdata = [[name, short_number(value)] for name, value in trace.customdata]
    figure.update_layout(title=dict(text="Parallel coordinates: each line a trial"), margin=dict(l=10, r=10, t=50, b=30))
    return figure
