"""The report's compact charts: robustness as small multiples (runs overlaid), a reliability diagram, a strip of digits.

Sized to share one 1280 x 720 screen with the rest of a run's report: small heights, thin
margins, one legend for all the small multiples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.figures.curves import PALETTE

SMALL_HEIGHT = 250  # pixels: a row of the report


def robustness_figure(perturbations: Sequence[tuple[str, str]],
                      runs: Mapping[str, Mapping[str, Sequence[tuple[float, float]]]],
                      columns: int = 6, height: int = SMALL_HEIGHT) -> go.Figure:
    """One small chart per perturbation: test accuracy against its level, one line per run.

    Args:
        perturbations: `(name, unit)` per chart, in order, e.g. `[("rotation", "degrees"), ...]`.
        runs: run label → perturbation name → `[(level, accuracy), ...]` in level order.
        columns: charts per row.
        height: the figure's height per row of charts.

    Returns:
        A figure of `len(perturbations)` subplots sharing the accuracy axis; one legend entry per run.
    """
    rows = max(1, -(-len(perturbations) // columns))
    figure = make_subplots(rows=rows, cols=columns, shared_yaxes=True, horizontal_spacing=0.02, vertical_spacing=0.18,
                           subplot_titles=[name for name, _ in perturbations])
    for run_index, (label, table) in enumerate(runs.items()):
        colour = PALETTE[run_index % len(PALETTE)]
        for index, (name, unit) in enumerate(perturbations):
            points = table.get(name, [])
            if not points:
                continue
            figure.add_scatter(
                x=[level for level, _ in points], y=[accuracy for _, accuracy in points], mode="lines+markers",
                name=label, legendgroup=label, showlegend=index == 0, line=dict(color=colour, width=2), marker=dict(size=5),
                hovertemplate=f"{label}<br>{name} %{{x:g}} {unit}: %{{y:.2%}}<extra></extra>",
                row=index // columns + 1, col=index % columns + 1,
            )
    for index, (name, unit) in enumerate(perturbations):
        figure.update_xaxes(title_text=unit, title_standoff=2, title_font=dict(size=10), tickfont=dict(size=9),
                            row=index // columns + 1, col=index % columns + 1)
    figure.update_yaxes(range=[0, 1.02], tickformat=".0%", tickfont=dict(size=9))
    figure.update_annotations(font=dict(size=12))
    figure.update_layout(height=height * rows, margin=dict(l=10, r=10, t=25, b=10), hovermode="closest",
                         legend=dict(orientation="h", yanchor="bottom", y=1.08, xanchor="right", x=1, font=dict(size=10)))
    return figure


def reliability_figure(bins: Sequence[dict], bins_after: Sequence[dict] | None = None,
                       temperature: float | None = None, height: int = SMALL_HEIGHT) -> go.Figure:
    """A reliability diagram: accuracy against confidence per bin, the diagonal is perfect calibration.

    Args:
        bins: `core.calibration.ece.reliability_bins` of the test predictions.
        bins_after: the same after temperature scaling (drawn beside it), or None.
        temperature: the fitted temperature, for the legend.
        height: the figure's height in pixels.
    """
    figure = go.Figure()
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#999", dash="dot", width=1),
                       name="perfect", hoverinfo="skip")
    drawn = [("as trained", bins, PALETTE[0])]
    if bins_after is not None:
        drawn.append((f"temperature {temperature:.2f}" if temperature else "after temperature", bins_after, PALETTE[1]))
    for name, table, colour in drawn:
        kept = [row for row in table if row["count"]]
        figure.add_scatter(
            x=[row["confidence"] for row in kept], y=[row["accuracy"] for row in kept], mode="lines+markers", name=name,
            line=dict(color=colour, width=2), marker=dict(size=[4 + 10 * np.sqrt(row["count"] / max(1, sum(r["count"] for r in kept))) for row in kept]),
            customdata=[row["count"] for row in kept],
            hovertemplate="confidence %{x:.1%}: accuracy %{y:.1%} (%{customdata:,} images)<extra>" + name + "</extra>",
        )
    figure.update_layout(
        height=height, margin=dict(l=10, r=10, t=10, b=10), hovermode="closest",
        xaxis=dict(title=dict(text="confidence (top probability)", font=dict(size=10)), range=[0, 1.02], tickformat=".0%", tickfont=dict(size=9)),
        yaxis=dict(title=dict(text="accuracy", font=dict(size=10)), range=[0, 1.02], tickformat=".0%", tickfont=dict(size=9)),
        legend=dict(yanchor="top", y=0.98, xanchor="left", x=0.02, font=dict(size=10)),  # above the diagonal: over-confident
    )                                                                                 # models' points lie below it
    return figure


def digit_strip(strip: np.ndarray, gap: int = 2) -> np.ndarray:
    """Perturbed digits side by side, one row per level: uint8 `(levels, k, 28, 28)` → one grey image.

    Args:
        strip: uint8 array `(levels, k, h, w)`.
        gap: grey pixels between digits and rows.

    Returns:
        uint8 array `(levels * (h + gap) - gap, k * (w + gap) - gap)`.
    """
    levels, count, h, w = strip.shape
    image = np.full((levels * (h + gap) - gap, count * (w + gap) - gap), 96, dtype=np.uint8)
    for row in range(levels):
        for column in range(count):
            image[row * (h + gap): row * (h + gap) + h, column * (w + gap): column * (w + gap) + w] = strip[row, column]
    return image
