"""The prediction figures: their data is the data given, and the confusion matrix's clickable cells map back to cells."""

import numpy as np

from core.figures.prediction_charts import (
    HIGHLIGHT, PLAIN, accuracy_bars, clicked_cell, confusion_figure, models_heatmap, probability_bars,
)


def confusion_example() -> np.ndarray:
    matrix = np.diag(np.arange(100, 110))
    matrix[4, 9] = 7  # 4s read as 9: the most common mistake
    matrix[3, 5] = 2
    return matrix


def test_confusion_heatmap_holds_the_counts_and_blanks_empty_cells():
    matrix = confusion_example()
    heatmap = confusion_figure(matrix).data[0]
    np.testing.assert_array_equal(np.asarray(heatmap.z), matrix)
    text = np.asarray(heatmap.text)
    assert text[4, 9] == "7" and text[0, 0] == "100" and text[0, 1] == ""
    assert heatmap.zmax == 14  # twice the largest mistake: mistakes stay visible next to the diagonal


def test_every_clickable_marker_sits_on_its_cell_and_reports_it():
    matrix = confusion_example()
    markers = confusion_figure(matrix).data[1]
    for index in range(100):
        true_label, predicted_label = divmod(index, 10)
        assert (markers.y[index], markers.x[index]) == (true_label, predicted_label)
        assert markers.customdata[index] == matrix[true_label, predicted_label]
        state = {"selection": {"points": [{"x": markers.x[index], "y": markers.y[index]}]}}
        assert clicked_cell(state) == (true_label, predicted_label)


def test_the_chosen_cell_is_outlined():
    assert list(confusion_figure(confusion_example(), chosen=(4, 9)).data[1].selectedpoints) == [49]
    assert list(confusion_figure(confusion_example()).data[1].selectedpoints) == []


def test_no_click_is_no_cell():
    assert clicked_cell(None) is None
    assert clicked_cell({"selection": {"points": [], "box": [], "lasso": []}}) is None


def test_bars_highlight_the_top_digit_and_the_worst_digit():
    probabilities = np.full(10, 0.05)
    probabilities[3] = 0.55
    colours = probability_bars(probabilities).data[0].marker.color
    assert colours[3] == HIGHLIGHT and colours.count(PLAIN) == 9
    accuracy = np.linspace(0.99, 0.9, 10)
    accuracy[2] = np.nan  # a digit without test images
    bars = accuracy_bars(accuracy).data[0]
    assert bars.marker.color[9] == HIGHLIGHT and bars.marker.color.count(HIGHLIGHT) == 1


def test_models_heatmap_has_one_row_per_model():
    probabilities = np.eye(10)[[1, 7]]
    heatmap = models_heatmap(["a", "b"], probabilities).data[0]
    assert list(heatmap.y) == ["a", "b"]
    np.testing.assert_array_equal(np.asarray(heatmap.z), probabilities)
