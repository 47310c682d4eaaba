"""Confusion matrix, per-class accuracy and cell examples on hand-made arrays."""

import numpy as np
import pytest

from core.figures.confusion import cell_examples, confusion_matrix, per_class_accuracy, predicted_labels


def one_hot_probabilities(predictions, confidences):
    """`(n, 10)` probabilities whose argmax is `predictions[i]` with value `confidences[i]`."""
    n = len(predictions)
    probabilities = np.zeros((n, 10))
    for i, (label, confidence) in enumerate(zip(predictions, confidences)):
        probabilities[i] = (1.0 - confidence) / 9
        probabilities[i, label] = confidence
    return probabilities


Y_TRUE = np.array([3, 3, 3, 3, 5, 5, 8, 0])
Y_PRED = np.array([3, 5, 5, 3, 3, 5, 8, 8])
CONFIDENCES = [0.9, 0.6, 0.95, 0.5, 0.7, 0.8, 0.99, 0.4]


def test_confusion_matrix_counts_each_pair():
    matrix = confusion_matrix(Y_TRUE, Y_PRED)
    expected = np.zeros((10, 10), dtype=int)
    expected[3, 3] = 2
    expected[3, 5] = 2
    expected[5, 3] = 1
    expected[5, 5] = 1
    expected[8, 8] = 1
    expected[0, 8] = 1
    assert matrix.shape == (10, 10) and np.issubdtype(matrix.dtype, np.integer)
    np.testing.assert_array_equal(matrix, expected)


def test_confusion_matrix_of_perfect_predictions_is_diagonal_of_class_counts():
    y = np.array([0, 1, 1, 9, 9, 9])
    np.testing.assert_array_equal(confusion_matrix(y, y), np.diag([1, 2, 0, 0, 0, 0, 0, 0, 0, 3]))


def test_per_class_accuracy():
    accuracy = per_class_accuracy(Y_TRUE, Y_PRED)
    assert accuracy.shape == (10,)
    assert accuracy[3] == 0.5 and accuracy[5] == 0.5 and accuracy[8] == 1.0 and accuracy[0] == 0.0
    assert np.isnan(accuracy[[1, 2, 4, 6, 7, 9]]).all()  # digits with no samples


def test_predicted_labels_is_argmax():
    probabilities = one_hot_probabilities(Y_PRED, CONFIDENCES)
    np.testing.assert_array_equal(predicted_labels(probabilities), Y_PRED)


def test_cell_examples_sorted_by_confidence_descending():
    probabilities = one_hot_probabilities(Y_PRED, CONFIDENCES)
    np.testing.assert_array_equal(cell_examples(Y_TRUE, probabilities, 3, 5), [2, 1])  # 0.95, 0.6
    np.testing.assert_array_equal(cell_examples(Y_TRUE, probabilities, 3, 3), [0, 3])  # 0.9, 0.5
    np.testing.assert_array_equal(cell_examples(Y_TRUE, probabilities, 0, 8), [7])


def test_cell_examples_limit_and_empty_cell():
    probabilities = one_hot_probabilities(Y_PRED, CONFIDENCES)
    np.testing.assert_array_equal(cell_examples(Y_TRUE, probabilities, 3, 5, limit=1), [2])
    np.testing.assert_array_equal(cell_examples(Y_TRUE, probabilities, 3, 5, limit=None), [2, 1])
    assert cell_examples(Y_TRUE, probabilities, 1, 7).size == 0


def test_cell_examples_ties_keep_sample_order():
    y_true = np.array([4, 4, 4])
    probabilities = one_hot_probabilities([9, 9, 9], [0.5, 0.5, 0.5])
    np.testing.assert_array_equal(cell_examples(y_true, probabilities, 4, 9), [0, 1, 2])


def test_cell_examples_agrees_with_the_confusion_matrix():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10, 300)
    probabilities = rng.dirichlet(np.ones(10), 300)
    matrix = confusion_matrix(y_true, predicted_labels(probabilities))
    for t in range(10):
        for p in range(10):
            assert len(cell_examples(y_true, probabilities, t, p, limit=None)) == matrix[t, p]


def test_errors_name_the_argument():
    probabilities = one_hot_probabilities(Y_PRED, CONFIDENCES)
    with pytest.raises(ValueError, match="len\\(y_pred\\)=2"):
        confusion_matrix(Y_TRUE, Y_PRED[:2])
    with pytest.raises(ValueError, match="y_true"):
        confusion_matrix(np.array([10]), np.array([1]))
    with pytest.raises(ValueError, match="probabilities.shape=\\(8, 9\\)"):
        cell_examples(Y_TRUE, probabilities[:, :9], 3, 5)
    with pytest.raises(ValueError, match="predicted_label=10"):
        cell_examples(Y_TRUE, probabilities, 3, 10)
    with pytest.raises(ValueError, match="limit=-1"):
        cell_examples(Y_TRUE, probabilities, 3, 5, limit=-1)
