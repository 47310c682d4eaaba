"""The tf.data pipelines the trainer feeds to `fit`: every image once an epoch, labels kept with
their images, a fresh order each epoch that depends only on the seed, and tf.data's autotuner off."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from core.data.input_pipeline import (  # noqa: E402
    epoch_ordered_batches, evaluation_batches, prediction_batches, training_batches,
)


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


def test_images_as_stored_come_out_bit_for_bit_as_the_model_input_they_stand_for(mnist):
    from core.data.splits import to_model_input

    every_value = np.arange(256, dtype=np.uint8).reshape(1, 16, 16).repeat(2, axis=0)
    images = np.concatenate([mnist.x_train[:998, :16, :16], every_value])  # real digits and all 256 levels
    labels = np.arange(len(images)) % 10
    scaled = np.concatenate([x.numpy() for x, _ in evaluation_batches(images, labels, batch_size=128)])
    assert scaled.dtype == np.float32 and scaled.shape == (1000, 16, 16, 1)
    np.testing.assert_array_equal(scaled.view(np.uint32), to_model_input(images).view(np.uint32))
    for x, y in training_batches(images, labels, batch_size=100, seed=1).take(1):
        kept = x.numpy().reshape(len(y), -1)
        assert set(np.unique(kept)) <= set(np.arange(256, dtype=np.float32) / np.float32(255))


def test_a_split_holds_mnist_as_stored_and_its_validation_images_are_a_view(mnist):
    from core.config.train_config import TrainConfig
    from core.data.splits import make_splits

    splits = make_splits(mnist, TrainConfig(model="mlp", train_size=0, validation_size=5000))
    assert splits.train_images.dtype == np.uint8 and splits.train_images.shape == (55_000, 28, 28)
    assert np.shares_memory(splits.val_images, mnist.x_train)
    assert splits.x_val.dtype == np.float32 and splits.x_val.shape == (5000, 28, 28, 1)
    assert float(splits.x_val.max()) == 1.0 and float(splits.x_val.min()) == 0.0


def test_epoch_ordered_batches_draw_epoch_k_alike_however_the_stream_starts(digits):
    """What the trainer reads: epoch k's order depends on (seed, k) only, so a run continued after
    epoch 2 reads epoch 3 exactly as the run that went on did; each epoch a permutation with its own last batch."""
    x, y = digits
    batches, set_epoch = epoch_ordered_batches(x, y, 64, seed=3)
    index_of = {image.tobytes(): i for i, image in enumerate(x)}
    orders = []
    for epoch in (1, 2, 3):
        set_epoch(epoch)
        [(images, labels, sizes)] = epochs_of(batches, 1)
        assert sizes == [64] * 15 + [40]
        order = [index_of[image.tobytes()] for image in images]
        assert sorted(order) == list(range(1000))
        np.testing.assert_array_equal(labels, y[order])
        orders.append(order)
    assert orders[0] != orders[1] and orders[1] != orders[2]
    again, set_again = epoch_ordered_batches(x, y, 64, seed=3)  # a new pipeline, as a continuation builds
    set_again(3)
    assert [index_of[image.tobytes()] for image in epochs_of(again, 1)[0][0]] == orders[2]
    other_seed, set_other = epoch_ordered_batches(x, y, 64, seed=4)
    set_other(3)
    assert [index_of[image.tobytes()] for image in epochs_of(other_seed, 1)[0][0]] != orders[2]


def test_a_warm_workers_kept_pipeline_reads_every_seed_and_epoch_as_a_new_one(digits):
    """A worker keeps one pipeline for runs on the same arrays and sets each run's seed: the same batches in the
    same order as `epoch_ordered_batches` builds anew, whatever seed came before; other arrays get their own."""
    from core.training.compiled_models import CompiledModels

    x, y = digits
    kept = CompiledModels()
    first, _ = kept.training_batches(x, y, 64, seed=3)
    for seed in (5, 3):
        dataset, set_epoch = kept.training_batches(x, y, 64, seed=seed)
        assert dataset is first  # built once
        fresh, set_fresh = epoch_ordered_batches(x, y, 64, seed=seed)
        for epoch in (1, 2):
            set_epoch(epoch)
            set_fresh(epoch)
            ours, theirs = epochs_of(dataset, 1)[0], epochs_of(fresh, 1)[0]
            np.testing.assert_array_equal(ours[0], theirs[0])
            np.testing.assert_array_equal(ours[1], theirs[1])
    assert kept.training_batches(x[:500], y[:500], 64, seed=3)[0] is not first  # other arrays: a pipeline of their own
    assert kept.training_batches(x, y, 32, seed=3)[0] is not first  # another batch size too
