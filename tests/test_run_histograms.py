"""A run's TensorBoard logs hold its weights as histograms per epoch (Keras 3's callback writes none)."""

import numpy as np
import pytest

from core.config.train_config import preset_config
from core.runs.checkpoints import load_checkpoint_numpy_model
from core.runs.recorded_run import RecordedRun

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
from tensorboard.util.tensor_util import make_ndarray  # noqa: E402


def read_histograms(logs_dir):
    """`{tag: {step: (left edges, right edges, counts)}}` from the event files under `logs_dir`."""
    accumulator = event_accumulator.EventAccumulator(str(logs_dir), size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    histograms = {}
    for tag in accumulator.Tags()["tensors"]:
        for event in accumulator.Tensors(tag):
            values = make_ndarray(event.tensor_proto)
            if values.ndim == 2 and values.shape[1] == 3:  # a histogram; the scalars are 0-d
                histograms.setdefault(tag, {})[event.step] = values
    return histograms


def test_each_epoch_writes_every_weight_as_a_histogram(tmp_runs_dir, mnist):
    config = preset_config("lenet5", epochs=2, train_size=256, batch_size=64)
    for event in RecordedRun(config, runs_dir=tmp_runs_dir, mnist=mnist):
        pass
    assert event.status == "completed", event
    histograms = read_histograms(tmp_runs_dir / event.name / "logs" / "train")
    kernels = [tag for tag in histograms if tag.endswith("/kernel")]
    assert len(kernels) == 5, sorted(histograms)  # LeNet-5: two convolutions, three dense layers
    assert any(tag.endswith("/bias") for tag in histograms)
    for epoch in (1, 2):
        model = load_checkpoint_numpy_model(tmp_runs_dir, event.name, epoch)
        for layer in (layer for layer in model.layers if "kernel" in layer.weights):
            tag = next(tag for tag in kernels if tag.split("/")[-2] == layer.name)
            buckets = histograms[tag][epoch]  # (left edge, right edge, count) per bucket
            kernel = layer.weights["kernel"]
            assert buckets[:, 2].sum() == kernel.size
            assert buckets[0, 0] == pytest.approx(kernel.min(), rel=1e-5)
            assert buckets[-1, 1] == pytest.approx(kernel.max(), rel=1e-5)
            inside = ((kernel >= buckets[0, 0]) & (kernel < buckets[0, 1])).sum()
            assert buckets[0, 2] == pytest.approx(inside, abs=1)  # the first bucket counts what NumPy counts there


def test_numpy_buckets_equal_tensorboards_own():
    """The buckets counted in NumPy are exactly those `tf.summary.histogram` computes, edge cases included."""
    import tensorflow as tf
    from tensorboard.plugins.histogram.summary_v2 import _buckets

    from core.runs.run_writer import weight_histogram

    rng = np.random.default_rng(0)
    cases = [rng.normal(size=(400, 256)).astype(np.float32), rng.normal(size=7).astype(np.float32),
             np.full(5, 0.25, np.float32), np.array([0.0, 1.0], np.float32), np.array([], np.float32)]
    for data in cases:
        expected = _buckets(tf.constant(data), tf.constant(30)).numpy()
        np.testing.assert_array_equal(weight_histogram(data), expected, err_msg=str(data.shape))
