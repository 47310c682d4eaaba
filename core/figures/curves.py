"""Learning curves as plotly figures: one run's batch-level and per-epoch curves, or several runs overlaid."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative

METRICS = ("accuracy", "loss")
PALETTE = qualitative.Plotly
CHART_HEIGHT = 360
LOG_SCALE_RATIO = 10.0  # a loss whose largest value is this many times its smallest gets a log axis
MIN_ACCURACY_SPAN = 0.02  # an accuracy axis shows at least 2 percentage points


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


def smooth(values: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average, debiased so the first values are not pulled to 0.

    Args:
        values: the raw values, in order.
        weight: how much of the past each value keeps, in `[0, 1)`; 0 = no smoothing.

    Returns:
        As many smoothed values; non-finite values pass through and leave the average as it was.

    Raises:
        ValueError: for a `weight` outside `[0, 1)`.
    """
    if not (isinstance(weight, (int, float)) and 0 <= weight < 1):
        raise ValueError(f"Received an invalid value for `weight`, expected a number in [0, 1). Received: weight={weight!r}")
    smoothed, last, count = [], 0.0, 0
    for value in values:
        if not math.isfinite(value):
            smoothed.append(value)
            continue
        last = last * weight + (1 - weight) * value
        count += 1
        smoothed.append(last / (1 - weight ** count))
    return smoothed


def loss_axis_type(values: Sequence[float]) -> str:
    """`"log"` when the positive finite `values` span at least `LOG_SCALE_RATIO` (a decade), else `"linear"`.

    A loss that falls from 2.3 to 0.03 is a flat line on a linear axis after the first epoch;
    on a log axis its late progress still shows. Values at or below 0 (never a cross-entropy)
    keep the axis linear.
    """
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not finite or min(finite) <= 0:
        return "linear"
    return "log" if max(finite) / min(finite) >= LOG_SCALE_RATIO else "linear"


def log_ticks(values: Sequence[float]) -> list[float]:
    """Ticks for a log axis over the positive finite `values`: 1, 2 and 5 times each power of ten, as plain numbers."""
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v) and v > 0]
    if not finite:
        return []
    low, high = min(finite), max(finite)
    ticks = [m * 10.0 ** k for k in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1) for m in (1, 2, 5)]
    return [float(f"{t:.3g}") for t in ticks if low / 2 <= t <= high * 2]


def accuracy_range(values: Sequence[float]) -> list[float]:
    """A y range for accuracies that fits `values` and never leaves `[0, 1]` (0–100%).

    The data spans at least `MIN_ACCURACY_SPAN`, with 5% of its span as margin on either side;
    without finite values, `[0, 1]`.
    """
    finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not finite:
        return [0.0, 1.0]
    low, high = max(0.0, min(finite)), min(1.0, max(finite))
    if high - low < MIN_ACCURACY_SPAN:
        middle = (low + high) / 2
        low, high = middle - MIN_ACCURACY_SPAN / 2, middle + MIN_ACCURACY_SPAN / 2
    margin = 0.05 * (high - low)
    return [max(0.0, low - margin), min(1.0, high + margin)]


def _layout(figure: go.Figure, metric: str, title: str, first_epoch: float = 1) -> go.Figure:
    drawn = [trace for trace in figure.data if trace.x]
    last_epoch = max((max(trace.x) for trace in drawn), default=1)
    figure.update_layout(
        title=dict(text=title, x=0, xanchor="left"), height=CHART_HEIGHT, margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", yanchor="top", y=-0.25, xanchor="left", x=0, font=dict(size=11)),
        hovermode="x unified",
    )
    if first_epoch < 1 and last_epoch <= 3:  # inside the first epochs: quarters of an epoch
        figure.update_xaxes(title_text="epoch", range=[0, max(1.0, last_epoch)], dtick=0.25 if last_epoch <= 1.5 else 0.5)
    else:  # whole epochs only: about ten ticks at most, the axis ending at the last epoch (plotly's padding ran to N+1)
        start = min(first_epoch, min((min(trace.x) for trace in drawn), default=1))
        figure.update_xaxes(title_text="epoch", tick0=1, dtick=max(1, math.ceil(last_epoch / 10)), tickformat="d",
                            range=[start if start < last_epoch else last_epoch - 1, last_epoch])
        figure.update_traces(cliponaxis=False)  # the markers at either end drawn whole
    figure.update_yaxes(title_text=metric)
    if not drawn:  # before the first epoch: plausible empty axes, not plotly's -1..4
        figure.update_xaxes(range=[0.5, 10.5])
        figure.update_yaxes(range=[0, 1] if metric == "accuracy" else [0, 2.5], tickformat=".0%" if metric == "accuracy" else None)
        return figure
    values = [y for trace in drawn for y in trace.y]
    if metric == "accuracy":
        low, high = accuracy_range(values)
        figure.update_yaxes(range=[low, high], tickformat=".0%" if high - low > 0.1 else ".1%")
    else:
        if loss_axis_type(values) == "log":
            ticks = log_ticks(values)
            figure.update_yaxes(type="log", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
        else:
            figure.update_yaxes(type="linear")
    return figure


def point_records(points: Sequence[Any]) -> list[dict]:
    """Batch-level points or learning-rate changes as dicts (`Progress` / `LearningRateChanged` events, or JSON lines)."""
    return [point.to_dict() if hasattr(point, "to_dict") else dict(point) for point in points]


def _position(record: dict) -> float | None:
    epoch, fraction = record.get("epoch"), record.get("fraction")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (epoch, fraction)):
        return None
    return epoch - 1 + fraction


def training_curves(epochs: Sequence[Any], metric: str = "loss", points: Sequence[Any] = (),
                    learning_rate_changes: Sequence[Any] = (), smoothing: float = 0.0) -> go.Figure:
    """One run's `metric` on an epoch axis: batch-level points within the epochs, per-epoch values on top.

    Batch point `(epoch, fraction)` lies at `epoch - 1 + fraction`; epoch `n`'s train mean and
    validation value at `n`, where it ended. Learning-rate changes are dashed vertical lines.

    Args:
        epochs: `EpochEnd` events or epoch dicts with `epoch`, `loss`, `accuracy`,
            `val_loss`, `val_accuracy` (the `val_*` may be None).
        metric: `"loss"` or `"accuracy"`.
        points: `Progress` events or their dicts (`batches.jsonl`), in order.
        learning_rate_changes: `LearningRateChanged` events or their dicts (`controls.jsonl`).
        smoothing: TensorBoard's smoothing weight for the batch points, in `[0, 1)` (see `smooth`):
            with it, the raw points are drawn faint under the smoothed line.

    Returns:
        A plotly figure: traces "train (batches)" and "train (batches, smoothed)" (with points; the first
        point alone drawn as a dot, so a training shows its curve from its first point),
        "train (epoch mean)" and "validation" (with epochs); axes only before any data.
        Accuracy stays within 0–100%; loss is on a log axis when it spans a decade.

    Raises:
        ValueError: for another `metric`, or a `smoothing` outside `[0, 1)`.
    """
    _check_metric(metric)
    smooth((), smoothing)  # refuses a bad weight even before the first point
    figure = go.Figure()
    train_colour, validation_colour = PALETTE[0], PALETTE[1]
    placed = [(x, record[metric]) for record in point_records(points) if (x := _position(record)) is not None
              and isinstance(record.get(metric), (int, float)) and not isinstance(record.get(metric), bool)]
    if placed:
        x, y = [p[0] for p in placed], [p[1] for p in placed]
        mode = "lines" if len(placed) > 1 else "markers"  # a lone first point is a dot: a line needs two
        figure.add_scatter(x=x, y=y, name="train (batches)", mode=mode, opacity=0.3 if smoothing else 1.0,
                           line=dict(color=train_colour, width=1), marker=dict(color=train_colour, size=6))
        if smoothing:
            figure.add_scatter(x=x, y=smooth(y, smoothing), name="train (batches, smoothed)", mode=mode,
                               line=dict(color=train_colour, width=2), marker=dict(color=train_colour, size=6))
    for key, name, dash, colour in ((metric, "train (epoch mean)", "dot", train_colour),
                                    (f"val_{metric}", "validation", "solid", validation_colour)):
        x, y = series(epochs, key)
        if x:
            figure.add_scatter(x=x, y=y, name=name, mode="lines+markers", line=dict(dash=dash, color=colour),
                               marker=dict(size=8, line=dict(width=1, color="white")))
    for change in point_records(learning_rate_changes):
        x = _position(change)
        if x is not None and isinstance(change.get("learning_rate"), (int, float)):
            figure.add_vline(x=x, line=dict(dash="dash", color="grey", width=1),
                             annotation_text=f"lr {change['learning_rate']:.3g}", annotation_position="top left",
                             annotation_font_size=11)
    return _layout(figure, metric, metric.capitalize(), first_epoch=0 if placed else 1)


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
