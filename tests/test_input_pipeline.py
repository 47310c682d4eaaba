"""The tf.data pipelines the trainer feeds to `fit`: every image once an epoch, labels kept with
their images, a fresh order each epoch that depends only on the seed, and tf.data's autotuner off."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from core.data.input_pipeline import evaluation_batches, prediction_batches, training_batches  # noqa: E402


@pytest.fixture(scope="module")
def digits(mnist):
    """1,000 real MNIST training digits with their labels (1,000 is not a multiple of the batch)."""
    return mnist.x_train[:1000].astype("float32")[..., None] / 255.0, mnist.y_train[:1000]


def epochs_of(dataset, count):
    """The (images, labels) of `count` passes over `dataset`, each pass as concatenated arrays."""
    passes = []
    for _ in range(count):
        batches = [(x.numpy(), y.numpy()) for x, y in dataset]
        passes.append((np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches]),
                       [len(y) for _, y in batches]))
    return passes


def test_each_epoch_holds_every_image_once_with_its_own_label(digits):
    x, y = digits
    for images, labels, sizes in epochs_of(training_batches(x, y, batch_size=64, seed=3), 2):
        assert sizes == [64] * 15 + [40]
        # Find each yielded image among the originals by its pixels: a permutation, labels intact.
        index_of = {image.tobytes(): i for i, image in enumerate(x)}
        order = [index_of[image.tobytes()] for image in images]
        assert sorted(order) == list(range(len(x)))
        np.testing.assert_array_equal(labels, y[order])


def test_the_order_changes_every_epoch_and_depends_only_on_the_seed(digits):
    x, y = digits
    first, second = epochs_of(training_batches(x, y, batch_size=100, seed=7), 2)
    assert not np.array_equal(first[1], second[1])  # reshuffled between epochs
    assert not np.array_equal(first[1], y)  # shuffled at all
    again = epochs_of(training_batches(x, y, batch_size=100, seed=7), 2)
    for one, other in zip([first, second], again):
        np.testing.assert_array_equal(one[0], other[0])
    other_seed = epochs_of(training_batches(x, y, batch_size=100, seed=8), 1)[0]
    assert not np.array_equal(first[1], other_seed[1])


def test_evaluation_batches_keep_the_order(digits):
    x, y = digits
    images, labels, sizes = epochs_of(evaluation_batches(x, y, batch_size=300), 1)[0]
    assert sizes == [300, 300, 300, 100]
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, y)


def test_the_autotuner_is_off(digits):
    """With it on, destroying an epoch's iterator stalled for seconds on this VM (see the module)."""
    x, y = digits
    for dataset in (training_batches(x, y, 32, seed=0), evaluation_batches(x, y), prediction_batches(x)):
        assert dataset.options().autotune.enabled is False


def test_prediction_batches_are_the_images_alone_in_order(digits):
    x, _ = digits
    batches = [batch.numpy() for batch in prediction_batches(x, batch_size=300)]
    assert [len(batch) for batch in batches] == [300, 300, 300, 100]
    np.testing.assert_array_equal(np.concatenate(batches), x)


def test_predict_on_prediction_batches_matches_predict_on_the_array(digits):
    """What the saved predictions and the Errors page compute, against Keras's own array path."""
    import keras

    x, _ = digits
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")])
    ours = model.predict(prediction_batches(x, batch_size=300), verbose=0)
    np.testing.assert_allclose(ours, model.predict(x, batch_size=300, verbose=0), rtol=1e-6, atol=1e-7)
    assert ours.shape == (len(x), 10)
