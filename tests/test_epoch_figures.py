"""The scrubber's and the distributions' figures: changed cells, the drawing across epochs, histograms."""

import numpy as np
import pytest

from core.figures.confusion import confusion_matrix
from core.figures.distributions import (
    activation_distributions, distribution_figure, histograms_across_epochs, sample_batch, weight_distributions,
)
from core.figures.epoch_charts import (
    BETTER, CORNER, WORSE, changed_cells, epoch_probabilities_figure, is_improvement, scrubbed_confusion_figure,
)
from core.models.numpy_model import NumpyModel
from core.models.numpy_model_layers import LayerSpec


def matrices():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, 2000)
    before = np.where(rng.random(2000) < 0.6, y_true, rng.integers(0, 10, 2000))
    after = np.where(rng.random(2000) < 0.3, before, y_true)  # most mistakes fixed, a few new ones kept
    return confusion_matrix(y_true, after), confusion_matrix(y_true, before)


def test_changed_cells_is_the_difference_and_rejects_other_shapes():
    matrix, previous = matrices()
    change = changed_cells(matrix, previous)
    np.testing.assert_array_equal(change, matrix - previous)
    assert change.sum() == 0  # the same images, moved between cells
    with pytest.raises(ValueError, match=r"`previous` must be a \(10, 10\) confusion matrix.*previous.shape=\(9, 10\)"):
        changed_cells(matrix, previous[:9])


def test_improvement_is_more_hits_on_the_diagonal_and_fewer_mistakes_off_it():
    change = np.zeros((10, 10), dtype=int)
    change[3, 3], change[4, 4], change[4, 9], change[9, 4] = 5, -2, -3, 1
    better = is_improvement(change)
    assert better[3, 3] and not better[4, 4] and better[4, 9] and not better[9, 4]


def test_scrubbed_confusion_marks_exactly_the_changed_cells():
    matrix, previous = matrices()
    figure = scrubbed_confusion_figure(matrix, previous, chosen=(4, 9), previous_epoch=2)
    assert len(figure.data) == 3
    np.testing.assert_array_equal(np.asarray(figure.data[0].z), matrix)  # the heatmap is epoch k's, as before
    marks = figure.data[2]
    cells = set(zip(np.round(np.asarray(marks.y) + CORNER).astype(int), np.round(np.asarray(marks.x) - CORNER).astype(int)))
    expected = set(zip(*np.nonzero(matrix - previous)))
    assert cells == expected and len(expected) > 10
    for (true, predicted), delta, colour in zip(
            zip(np.round(np.asarray(marks.y) + CORNER).astype(int), np.round(np.asarray(marks.x) - CORNER).astype(int)),
            marks.customdata, marks.marker.color):
        assert delta == matrix[true, predicted] - previous[true, predicted]
        assert colour == (BETTER if (delta > 0) == (true == predicted) else WORSE)
    assert "since epoch 2" in marks.hovertemplate


def test_scrubbed_confusion_marks_nothing_at_the_first_epoch_or_when_nothing_changed():
    matrix, _ = matrices()
    assert len(scrubbed_confusion_figure(matrix, None).data) == 2
    assert len(scrubbed_confusion_figure(matrix, matrix.copy()).data) == 2


def test_epoch_probabilities_has_a_line_per_digit_over_the_kept_epochs():
    probabilities = np.array([[0.1] * 10, [0.05] * 7 + [0.6, 0.1, 0.05], [0.01] * 7 + [0.91, 0.01, 0.01]])
    figure = epoch_probabilities_figure([1, 3, 6], probabilities)
    assert [trace.name for trace in figure.data] == [str(d) for d in range(10)]
    for digit, trace in enumerate(figure.data):
        assert list(trace.x) == [1, 3, 6]
        np.testing.assert_allclose(trace.y, probabilities[:, digit])
    assert figure.data[7].line.width > figure.data[0].line.width  # the digit it became is the thick line
    with pytest.raises(ValueError, match=r"shape \(len\(epochs\), 10\) = \(2, 10\).*Received: probabilities.shape=\(3, 10\)"):
        epoch_probabilities_figure([1, 2], probabilities)


def test_histograms_match_numpy_on_shared_bins():
    rng = np.random.default_rng(1)
    values = {3: rng.normal(0, 1, 500), 1: rng.normal(0, 3, (20, 25)), 2: rng.uniform(-1, 1, 77)}
    distribution = histograms_across_epochs("dense/kernel", values, bins=12)
    assert distribution.epochs == (1, 2, 3)
    everything = np.concatenate([v.ravel() for v in values.values()])
    np.testing.assert_allclose(distribution.edges, np.linspace(everything.min(), everything.max(), 13))
    for row, epoch in enumerate(distribution.epochs):
        expected, _ = np.histogram(values[epoch], bins=distribution.edges)
        np.testing.assert_array_equal(distribution.counts[row], expected)
        assert distribution.counts[row].sum() == np.size(values[epoch])  # the extremes are in the end bins
    np.testing.assert_allclose(distribution.fractions.sum(axis=1), 1.0)


def test_histograms_of_one_value_and_bad_arguments():
    distribution = histograms_across_epochs("dense/bias", {1: np.zeros(10), 2: np.zeros(10)}, bins=3)
    assert distribution.counts.tolist() == [[0, 10, 0], [0, 10, 0]]
    with pytest.raises(ValueError, match=r"`bins` must be a positive integer. Received: bins=0"):
        histograms_across_epochs("x", {1: np.zeros(3)}, bins=0)
    with pytest.raises(ValueError, match="at least one epoch"):
        histograms_across_epochs("x", {})


def tiny_model(scale: float) -> NumpyModel:
    rng = np.random.default_rng(2)
    kernel = (rng.normal(0, 1, (3, 3, 1, 4)) * scale).astype(np.float32)
    dense = (rng.normal(0, 1, (26 * 26 * 4, 10)) * scale).astype(np.float32)
    layers = [
        LayerSpec("Conv2D", "conv2d", {"strides": [1, 1], "padding": "valid", "dilation_rate": [1, 1], "groups": 1, "activation": "relu"},
                  {"kernel": kernel, "bias": np.zeros(4, np.float32)}),
        LayerSpec("Flatten", "flatten", {}, {}),
        LayerSpec("Dense", "dense", {"activation": "softmax"}, {"kernel": dense, "bias": np.zeros(10, np.float32)}),
    ]
    return NumpyModel(layers, (28, 28, 1))


def test_weight_and_activation_distributions_per_layer_and_epoch(mnist):
    models = {1: tiny_model(0.1), 2: tiny_model(0.5)}
    weights = weight_distributions(models, bins=8)
    assert [d.name for d in weights] == ["conv2d/kernel", "dense/kernel"]
    for distribution, layer in zip(weights, ("conv2d", "dense")):
        for row, epoch in enumerate((1, 2)):
            kernel = next(l for l in models[epoch].layers if l.name == layer).weights["kernel"]
            np.testing.assert_array_equal(distribution.counts[row], np.histogram(kernel, bins=distribution.edges)[0])
    batch = sample_batch(mnist.x_test, 16)
    np.testing.assert_array_equal(batch, sample_batch(mnist.x_test, 16))  # the same digits every time
    assert batch.shape == (16, 28, 28, 1) and 0 <= batch.min() and batch.max() <= 1
    activations = activation_distributions(models, batch, bins=8)
    assert [d.name for d in activations] == ["conv2d/activations", "dense/activations"]
    conv_output = models[2].layer_outputs(batch, "Conv2D")[0][1]
    np.testing.assert_array_equal(activations[0].counts[1], np.histogram(conv_output, bins=activations[0].edges)[0])
    assert activations[1].counts.sum(axis=1).tolist() == [160, 160]  # 16 digits × 10 softmax outputs
    figure = distribution_figure(weights[0], epoch=2)
    np.testing.assert_allclose(np.asarray(figure.data[0].z), weights[0].fractions)
    assert list(figure.data[0].y) == [1, 2] and figure.layout.shapes[0].y0 == 1.5
