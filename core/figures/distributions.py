"""How a model's weights and activations are spread, layer by layer, epoch by epoch: TensorBoard's
distributions view, from a run's checkpoints (NumPy models, no TensorFlow)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from core.data.splits import to_model_input
from core.models.numpy_model import NumpyModel

DEFAULT_BINS = 40
WEIGHTED_LAYERS = ("Conv2D", "Dense")  # the layers with a kernel: what the distributions show
DISTRIBUTION_HEIGHT = 260


@dataclass(frozen=True)
class Distribution:
    """One layer's values (weights or activations) as a histogram per epoch, on shared bins.

    Attributes:
        name: the layer's name and what is counted, e.g. `"conv2d/kernel"`.
        epochs: the epochs, ascending.
        edges: float64 `(bins + 1,)`, the bin edges, shared by all epochs.
        counts: int64 `(len(epochs), bins)`: row `i` is `np.histogram(values after epochs[i], edges)`.
    """

    name: str
    epochs: tuple[int, ...]
    edges: np.ndarray
    counts: np.ndarray

    @property
    def fractions(self) -> np.ndarray:
        """`counts` divided by each epoch's number of values: float64 `(len(epochs), bins)`."""
        totals = self.counts.sum(axis=1, keepdims=True)
        return self.counts / np.maximum(totals, 1)


def histograms_across_epochs(name: str, values_by_epoch: Mapping[int, np.ndarray], bins: int = DEFAULT_BINS) -> Distribution:
    """Histogram each epoch's values on one set of bins spanning all of them.

    Args:
        name: what the values are, e.g. `"dense/kernel"`.
        values_by_epoch: `{epoch: array}`, any shapes (flattened); non-finite values are left out.
        bins: the number of bins, a positive integer. Defaults to 40.

    Returns:
        A `Distribution`, its epochs ascending.

    Raises:
        ValueError: if `bins` is not a positive integer or `values_by_epoch` is empty.
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"`bins` must be a positive integer. Received: bins={bins!r}")
    if not values_by_epoch:
        raise ValueError(f"`values_by_epoch` must hold at least one epoch's values for {name!r}. Received: an empty mapping")
    epochs = tuple(sorted(int(epoch) for epoch in values_by_epoch))
    flat = {epoch: np.asarray(values_by_epoch[epoch], dtype=np.float64).ravel() for epoch in epochs}
    flat = {epoch: values[np.isfinite(values)] for epoch, values in flat.items()}
    present = [values for values in flat.values() if values.size]
    low = min((float(values.min()) for values in present), default=0.0)
    high = max((float(values.max()) for values in present), default=1.0)
    if high <= low:  # one value everywhere (e.g. zero biases): a bin around it
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, int(bins) + 1)
    counts = np.stack([np.histogram(flat[epoch], bins=edges)[0] for epoch in epochs]).astype(np.int64)
    return Distribution(name=name, epochs=epochs, edges=edges, counts=counts)


def weight_distributions(models: Mapping[int, NumpyModel], bins: int = DEFAULT_BINS) -> list[Distribution]:
    """Each Conv2D and Dense layer's kernel, histogrammed after each epoch.

    Args:
        models: `{epoch: NumpyModel}`, the run's checkpoints (all the same architecture).
        bins: bins per histogram.

    Returns:
        One `Distribution` per layer with a kernel, input side first, named `"<layer>/kernel"`.
    """
    epochs = sorted(models)
    if not epochs:
        return []
    layers = [layer.name for layer in models[epochs[0]].layers if layer.class_name in WEIGHTED_LAYERS]
    result = []
    for layer_name in layers:
        kernels = {epoch: _layer(models[epoch], layer_name).weights["kernel"] for epoch in epochs}
        result.append(histograms_across_epochs(f"{layer_name}/kernel", kernels, bins))
    return result


def activation_distributions(models: Mapping[int, NumpyModel], batch: np.ndarray,
                             bins: int = DEFAULT_BINS) -> list[Distribution]:
    """Each Conv2D and Dense layer's output on a fixed batch of inputs, histogrammed after each epoch.

    Args:
        models: `{epoch: NumpyModel}`, the run's checkpoints.
        batch: float array of shape `(n, 28, 28, 1)`, the same inputs for every epoch.
        bins: bins per histogram.

    Returns:
        One `Distribution` per Conv2D or Dense layer (activation included), input side first,
        named `"<layer>/activations"`.
    """
    epochs = sorted(models)
    if not epochs:
        return []
    outputs: dict[str, dict[int, np.ndarray]] = {}
    for epoch in epochs:
        for class_name in WEIGHTED_LAYERS:
            for layer, output in models[epoch].layer_outputs(batch, class_name):
                outputs.setdefault(layer.name, {})[epoch] = output
    order = [layer.name for layer in models[epochs[0]].layers if layer.name in outputs]
    return [histograms_across_epochs(f"{name}/activations", outputs[name], bins) for name in order]


def _layer(model: NumpyModel, name: str):
    for layer in model.layers:
        if layer.name == name:
            return layer
    raise ValueError(f"The checkpoints' models differ: one has no layer {name!r}. Received layers: "
                     f"{[layer.name for layer in model.layers]}")


def distribution_figure(distribution: Distribution, epoch: int | None = None) -> go.Figure:
    """A distribution as a heatmap: one row per epoch (first at the top), one column per bin, the
    colour the share of values in that bin; the scrubbed epoch's row outlined.

    Args:
        distribution: from `weight_distributions` or `activation_distributions`.
        epoch: the epoch to outline, or None.
    """
    centres = (distribution.edges[:-1] + distribution.edges[1:]) / 2
    epochs = list(distribution.epochs)
    figure = go.Figure(go.Heatmap(
        z=distribution.fractions, x=centres, y=epochs, colorscale="Viridis", showscale=False,
        hovertemplate="epoch %{y}, value ≈ %{x:.3g}: %{z:.1%} of them<extra></extra>",
    ))
    if epoch in epochs:
        figure.add_shape(type="rect", xref="paper", x0=0, x1=1, y0=epoch - 0.5, y1=epoch + 0.5,
                         line=dict(color="#e4572e", width=2))
    figure.update_layout(
        height=min(DISTRIBUTION_HEIGHT, 80 + 24 * len(epochs)) if len(epochs) < 8 else DISTRIBUTION_HEIGHT,
        margin=dict(l=10, r=10, t=30, b=10), title=dict(text=distribution.name, font=dict(size=13)),
        xaxis=dict(title="value"), yaxis=dict(title="epoch", autorange="reversed", tickmode="array", tickvals=epochs),
    )
    return figure


def sample_batch(x_test: np.ndarray, count: int = 64, seed: int = 0) -> np.ndarray:
    """A fixed batch of test digits (the same every call): float32 `(count, 28, 28, 1)` in `[0, 1]`.

    Args:
        x_test: uint8 `(n, 28, 28)` test images.
        count: how many, at most `n`.
        seed: which ones.
    """
    indices = np.sort(np.random.default_rng(seed).choice(len(x_test), size=min(count, len(x_test)), replace=False))
    return to_model_input(np.asarray(x_test)[indices])
