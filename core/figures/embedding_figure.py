"""The embedding map as a plotly scatter: one colour per true digit, mistakes marked, a drawing placed on it.

Drawn with WebGL (`Scattergl`): 5,000 SVG points took Chromium twice as long to draw at every open, view switch and
epoch step of the Map page (`bench/results/map_page.txt`).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.data.mnist import NUM_CLASSES

# Plotly's "D3" qualitative palette: ten colours a reader tells apart, one per digit.
DIGIT_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
MISTAKE_SYMBOL = "x-thin-open"
DRAWING_NAME = "your drawing"
VIEW_TITLES = {"pca": "PCA (the two directions of most variance)", "umap": "UMAP (neighbours kept together)",
               "tsne": "t-SNE (neighbours kept together)"}


def hover_data(test_indices: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """int16 `(n, 3)`: each point's test index (MNIST's test set has 10,000), true and predicted digit."""
    return np.stack([test_indices, y_true, y_pred], axis=1).astype(np.int16)


def embedding_figure(coordinates: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, test_indices: np.ndarray,
                     view: str, drawing: tuple[float, float] | None = None, drawing_label: str = "",
                     height: int = 560, hover: bool = True,
                     axis_ranges: tuple[tuple[float, float], tuple[float, float]] | None = None) -> go.Figure:
    """The map's digits, coloured by their true label, with the model's mistakes drawn over them.

    Each point's `customdata` is `[test index, true digit, predicted digit]` (int16: the figure the browser
    receives stays small), so a page can read a clicked point back (`clicked_test_index`).

    Args:
        coordinates: float `(n, 2)`: each digit's place on the view.
        y_true, y_pred: int `(n,)`: labels and the model's predictions.
        test_indices: int `(n,)`: the digits' indices in MNIST's test set.
        view: the view's name (`"tsne"`, `"pca"`), for the axis titles.
        drawing: where a drawing lands on this view, shown as a large star; None for none.
        drawing_label: the drawing's hover text (e.g. its prediction).
        height: the figure's height in pixels.
        hover: False leaves hover text out (a lighter figure, for a page that redraws it often).
        axis_ranges: `((x_min, x_max), (y_min, y_max))` to fix the axes at (the same for every epoch of a
            scrubbed map); None lets plotly fit them to the points.

    Returns:
        A `plotly.graph_objects.Figure`.
    """
    coordinates = np.asarray(coordinates, dtype=np.float32)
    y_true, y_pred, test_indices = np.asarray(y_true), np.asarray(y_pred), np.asarray(test_indices)
    figure = go.Figure()
    template = "test #%{customdata[0]}<br>true %{customdata[1]}, predicted %{customdata[2]}<extra></extra>"
    for digit in range(NUM_CLASSES):
        chosen = y_true == digit
        figure.add_trace(go.Scattergl(
            x=coordinates[chosen, 0], y=coordinates[chosen, 1], mode="markers", name=str(digit),
            marker={"size": 4, "color": DIGIT_COLOURS[digit], "opacity": 0.7},
            customdata=hover_data(test_indices[chosen], y_true[chosen], y_pred[chosen]) if hover else None,
            hovertemplate=template if hover else None, hoverinfo=None if hover else "skip",
        ))
    wrong = y_true != y_pred
    figure.add_trace(go.Scattergl(
        x=coordinates[wrong, 0], y=coordinates[wrong, 1], mode="markers", name=f"mistakes ({int(wrong.sum())})",
        marker={"size": 7, "color": "black", "symbol": MISTAKE_SYMBOL, "line": {"width": 1}},
        customdata=hover_data(test_indices[wrong], y_true[wrong], y_pred[wrong]) if hover else None,
        hovertemplate=template if hover else None, hoverinfo=None if hover else "skip",
    ))
    if drawing is not None:
        figure.add_trace(go.Scattergl(
            x=[drawing[0]], y=[drawing[1]], mode="markers", name=DRAWING_NAME,
            marker={"size": 22, "color": "gold", "symbol": "star", "line": {"width": 2, "color": "black"}},
            hovertemplate=f"{DRAWING_NAME}{(': ' + drawing_label) if drawing_label else ''}<extra></extra>",
        ))
    title = VIEW_TITLES.get(view, view)
    figure.update_layout(
        # the legend in a row above the map (a column beside it left a phone's map 191 px wide)
        height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"title": {"text": "true digit"}, "itemsizing": "constant", "orientation": "h",
                "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0.0, "entrywidth": 46, "entrywidthmode": "pixels"},
        xaxis={"title": {"text": f"{title}: 1", "font": {"size": 11}}, "showticklabels": False, "zeroline": False},
        yaxis={"title": {"text": "2", "font": {"size": 11}}, "showticklabels": False, "zeroline": False},
        clickmode="event+select", dragmode="pan",
    )
    if axis_ranges is not None:
        figure.update_xaxes(range=list(axis_ranges[0]))
        figure.update_yaxes(range=list(axis_ranges[1]))
    return figure


def clicked_test_index(selection, y_true: np.ndarray, y_pred: np.ndarray, test_indices: np.ndarray) -> int | None:
    """The test index of the point clicked on an `embedding_figure` of these digits (Streamlit's chart state), or None.

    Read from the point's `customdata`, else from its trace and place in it (the figure's trace order:
    the ten digits, then the mistakes). An index that is not one of `test_indices` counts as no click: the
    state comes from the browser, which anyone can write to.

    Args:
        selection: the chart's state from `st.plotly_chart(..., on_select="rerun")`: `{"selection":
            {"points": [...]}}`, each point with `customdata` as the browser sent it (see `customdata_values`)
            and `curve_number`, `point_index`.
        y_true, y_pred, test_indices: the figure's digits, as given to `embedding_figure`.
    """
    try:
        points = selection["selection"]["points"]
    except (KeyError, TypeError):
        return None
    y_true, y_pred, test_indices = np.asarray(y_true), np.asarray(y_pred), np.asarray(test_indices)
    for point in points if isinstance(points, list) else ():
        if not isinstance(point, dict):
            continue
        data = customdata_values(point.get("customdata"))
        index = data[0] if data else placed_test_index(point, y_true, y_pred, test_indices)
        if _is_int(index) and bool(np.any(test_indices == index)):
            return int(index)
    return None


def customdata_values(data) -> list:
    """A clicked point's `customdata` as a list, however the browser sent it; `[]` for none.

    `embedding_figure` gives plotly its `customdata` as a NumPy array, which plotly.py sends as a typed array
    (int16) and plotly.js hands back, point by point, as a row of it: an `Int16Array`, which Streamlit's
    JSON makes an object keyed by position, `{"0": 160, "1": 4, "2": 6}`. A plain list stays a list.
    """
    if isinstance(data, (list, tuple)):
        return list(data)
    if isinstance(data, dict):
        values = []
        while str(len(values)) in data:
            values.append(data[str(len(values))])
        return values
    return []


def placed_test_index(point: dict, y_true: np.ndarray, y_pred: np.ndarray, test_indices: np.ndarray) -> int | None:
    """The test index at a point's trace (`curve_number`) and place in it (`point_index`), in `embedding_figure`'s
    trace order (the ten digits, then the mistakes); None for any other trace or place."""
    trace, index = point.get("curve_number"), point.get("point_index", point.get("point_number"))
    if not _is_int(trace) or not _is_int(index) or not 0 <= trace <= NUM_CLASSES:
        return None
    chosen = test_indices[y_true == trace] if trace < NUM_CLASSES else test_indices[y_true != y_pred]
    return int(chosen[index]) if 0 <= index < len(chosen) else None


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)
