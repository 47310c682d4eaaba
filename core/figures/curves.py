"""Learning curves as plotly figures: one run's train and validation curves, or several runs overlaid."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative

METRICS = ("accuracy", "loss")
PALETTE = qualitative.Plotly
CHART_HEIGHT = 360


def epoch_records(epochs: Sequence[Any]) -> list[dict]:
    """Epochs as dicts, whether given as `EpochEnd` events or as records read from `metrics.jsonl`."""
    return [epoch.to_dict() if hasattr(epoch, "to_dict") else dict(epoch) for epoch in epochs]


def series(epochs: Sequence[Any], key: str) -> tuple[list[int], list[float]]:
    """`(epoch numbers, values)` of metric `key` (e.g. `"val_loss"`), skipping epochs without a number for it."""
    pairs = [
        (record["epoch"], record[key]) for record in epoch_records(epochs)
        if isinstance(record.get(key), (int, float)) and not isinstance(record.get(key), bool)
    ]
    return [epoch for epoch, _ in pairs], [value for _, value in pairs]


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"Received an invalid value for `metric`: {metric!r}. Pass one of {list(METRICS)}.")


def _layout(figure: go.Figure, metric: str, title: str) -> go.Figure:
    last_epoch = max((max(trace.x) for trace in figure.data if trace.x), default=1)
    figure.update_layout(
        title=dict(text=title, x=0, xanchor="left"), height=CHART_HEIGHT, margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", yanchor="top", y=-0.25, xanchor="left", x=0, font=dict(size=11)),
        hovermode="x unified",
    )
    # Whole epochs only: about ten ticks at most, never a fractional epoch.
    figure.update_xaxes(title_text="epoch", tick0=1, dtick=max(1, math.ceil(last_epoch / 10)), tickformat="d")
    figure.update_yaxes(title_text=metric, tickformat=".1%" if metric == "accuracy" else None)
    if not any(trace.x for trace in figure.data):  # before the first epoch: plausible empty axes, not plotly's -1..4
        figure.update_xaxes(range=[0.5, 10.5])
        figure.update_yaxes(range=[0, 1] if metric == "accuracy" else [0, 2.5])
    return figure


def training_curves(epochs: Sequence[Any], metric: str = "loss") -> go.Figure:
    """One run's `metric` per epoch: training (dotted) and validation (solid), as Keras logs them.

    Args:
        epochs: `EpochEnd` events or epoch dicts with `epoch`, `loss`, `accuracy`,
            `val_loss`, `val_accuracy` (the `val_*` may be None).
        metric: `"loss"` or `"accuracy"`.

    Returns:
        A plotly figure with up to two lines; an empty one (axes only) before the first epoch.

    Raises:
        ValueError: for another `metric`.
    """
    _check_metric(metric)
    figure = go.Figure()
    for key, name, dash in ((metric, "train", "dot"), (f"val_{metric}", "validation", "solid")):
        x, y = series(epochs, key)
        if x:
            figure.add_scatter(x=x, y=y, name=name, mode="lines+markers", line=dict(dash=dash))
    return _layout(figure, metric, metric.capitalize())


def overlay_curves(runs: Mapping[str, Sequence[Any]], metric: str = "accuracy") -> go.Figure:
    """Several runs' `metric` on one chart: one colour per run, validation solid, train dotted.

    Args:
        runs: run name → its epochs (as for `training_curves`), in legend order.
        metric: `"loss"` or `"accuracy"`.

    Raises:
        ValueError: for another `metric`.
    """
    _check_metric(metric)
    figure = go.Figure()
    for index, (name, epochs) in enumerate(runs.items()):
        colour = PALETTE[index % len(PALETTE)]
        for key, part, dash in ((f"val_{metric}", "validation", "solid"), (metric, "train", "dot")):
            x, y = series(epochs, key)
            if x:
                figure.add_scatter(x=x, y=y, name=f"{name} ({part})", legendgroup=name, mode="lines+markers",
                                   line=dict(color=colour, dash=dash))
    return _layout(figure, metric, f"{metric.capitalize()} per epoch")
