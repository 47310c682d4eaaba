"""Which models the views can pick, and their test-set predictions, on real MNIST."""

import json
import os
from pathlib import Path

os.environ.setdefault("MNIST_PATH", str(Path(__file__).resolve().parents[2] / "shared/data/mnist.npz"))

import numpy as np
import pytest

import core  # noqa: F401  (before anything imports TensorFlow)
from core.runs.model_sources import ModelSource, model_sources, newest_own_source, predictions_on_test_set
from core.runs.store import RunError
from core.data.splits import to_model_input
from core.config.train_config import preset_config

keras = pytest.importorskip("keras")

from core.models.keras_models import build_keras_model  # noqa: E402


def make_run(runs_dir: Path, name: str, started: float, model=None, predictions=None) -> None:
    """A run folder as `RunWriter` leaves it, with only the files given."""
    path = runs_dir / name
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(preset_config("softmax").to_dict()))
    (path / "status.json").write_text(json.dumps({"status": "completed", "reason": "all epochs ran", "started": started,
                                                   "test_accuracy": 0.5}))
    if model is not None:
        model.save(path / "model.keras")
    if predictions is not None:
        np.savez_compressed(path / "predictions.npz", y_true=predictions[0], probabilities=predictions[1])


@pytest.fixture(scope="module")
def softmax():
    return build_keras_model(preset_config("softmax"), steps_per_epoch=1)


def test_sources_list_the_shipped_model_then_runs_with_a_model_newest_first(tmp_path, softmax):
    pretrained = tmp_path / "shipped.keras"
    softmax.save(pretrained)
    runs = tmp_path / "runs"
    make_run(runs, "older", 1.0, model=softmax)
    make_run(runs, "newer", 2.0, model=softmax)
    make_run(runs, "no-model", 3.0)
    sources = model_sources(runs, pretrained_path=pretrained)
    assert [source.run_name for source in sources] == [None, "newer", "older"]
    assert sources[0].is_pretrained and sources[0].path == str(pretrained)
    assert sources[1].label.startswith("newer (softmax, 50.00% test")
    assert sources[1].mtime == (runs / "newer" / "model.keras").stat().st_mtime
    assert model_sources(runs, pretrained_path=tmp_path / "missing.keras")[0].run_name == "newer"


def test_saved_predictions_are_read_and_missing_ones_computed(tmp_path, softmax, mnist):
    runs = tmp_path / "runs"
    probabilities = np.random.default_rng(0).dirichlet(np.ones(10), size=10_000).astype(np.float16)
    make_run(runs, "saved", 2.0, model=softmax, predictions=(mnist.y_test, probabilities))
    make_run(runs, "computed", 1.0, model=softmax)
    saved, computed = model_sources(runs, pretrained_path=tmp_path / "none.keras")
    y_true, read = predictions_on_test_set(saved, mnist, runs)
    np.testing.assert_array_equal(y_true, mnist.y_test)
    np.testing.assert_array_equal(read, probabilities.astype(np.float32))
    y_true, predicted = predictions_on_test_set(computed, mnist, runs)
    np.testing.assert_array_equal(y_true, mnist.y_test)
    expected = softmax.predict(to_model_input(mnist.x_test[:100]), verbose=0)
    np.testing.assert_allclose(predicted[:100], expected, atol=1e-6)


def test_predictions_for_another_test_set_are_refused(tmp_path, softmax, mnist):
    runs = tmp_path / "runs"
    shuffled = mnist.y_test[::-1].copy()
    make_run(runs, "other", 1.0, model=softmax, predictions=(shuffled, np.full((10_000, 10), 0.1, np.float16)))
    (source,) = model_sources(runs, pretrained_path=tmp_path / "none.keras")
    with pytest.raises(RunError, match="not for this MNIST test set"):
        predictions_on_test_set(source, mnist, runs)


def test_the_newest_own_source_is_the_newest_run_the_visitor_trained():
    shipped = ModelSource("shipped model (fast)", "pretrained/mnist_fast.keras", 0.0, "fast")
    newest, older = (ModelSource(f"{name} (mlp)", f"runs/{name}/model.keras", 0.0, "mlp", run_name=name)
                     for name in ("b-newest", "a-older"))
    sources = [shipped, newest, older]  # as model_sources() orders them
    assert newest_own_source(sources, lambda source: True) is newest  # a local server: every run is the user's
    assert newest_own_source(sources, lambda source: source.run_name == "a-older") is older
    assert newest_own_source(sources, lambda source: False) is None  # none of theirs: the views keep the shipped model
