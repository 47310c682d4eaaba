"""The map through the epochs: a run with checkpoints writes each kept epoch's view of the map's digits, aligned
with its neighbours', and the Map page's epoch scrubber shows them.

The oracles: each epoch's stored view must be that epoch's own features (computed again here from its
checkpoint's NumPy model, PCA by an SVD here) up to a rotation, scale and shift; consecutive epochs must need
no further turning to match (a Procrustes fit between them gives the identity); the anchor epoch's view must
be the map's own; each epoch's predictions must be its checkpoint's.
"""

import json

import numpy as np
import pytest

from core.cli import main as cli
from core.config.train_config import preset_config
from core.data.splits import to_model_input
from core.embedding.embedding_map import EMBEDDING_FILE, EmbeddingMap
from core.embedding.epoch_maps import (
    EPOCH_MAPS_FILE, EpochMaps, EpochMapsFileError, align_to, alignment_order, build_epoch_maps, principal_plane,
    similarity_fit,
)
from core.models.penultimate import numpy_features_and_logits
from core.runs.checkpoints import list_checkpoints, load_checkpoint_numpy_model, load_checkpoint_predictions
from core.runs.feature_files import EMBEDDING_DIGITS_ENV
from core.runs.recorded_run import RecordedRun
from test_app_epoch_scrubber import ROOT, plotly_array

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

MAP_DIGITS = 200
EPOCHS = 3


def own_plane(features: np.ndarray) -> np.ndarray:
    """The features on their two directions of most variance, by an SVD (not the code under test's eigh)."""
    centred = np.asarray(features, np.float64) - features.mean(axis=0)
    return centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T


def residual(points: np.ndarray, target: np.ndarray) -> float:
    """What is left of `target` after the best similarity fit of `points` onto it, relative to its spread."""
    rotation, scale, shift = similarity_fit(points, target)
    left = scale * np.asarray(points, np.float64) @ rotation + shift - target
    return float(np.linalg.norm(left) / np.linalg.norm(target - target.mean(axis=0)))


def test_alignment_undoes_a_rotation_reflection_scale_and_shift():
    rng = np.random.default_rng(0)
    target = rng.normal(0, 1, (300, 2)) * [3.0, 1.0]
    angle = 2.1
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.diag([1.0, -1.0])
    moved = 0.25 * target @ turn + [5.0, -7.0]
    np.testing.assert_allclose(align_to(moved, target), target, atol=1e-5)
    assert residual(rng.normal(0, 1, (300, 2)), target) > 0.5  # unrelated points cannot be fitted


def test_epochs_are_aligned_outwards_from_the_anchor_and_a_sign_flip_is_undone():
    assert alignment_order([1, 2, 4, 5], 4) == [(2, 4), (1, 2), (5, 4)]
    assert alignment_order([1, 2, 3], 3) == [(2, 3), (1, 2)]
    rng = np.random.default_rng(1)
    n, d = 120, 16
    features = rng.normal(0, 1, (n, d)) * np.linspace(4, 0.5, d)  # clear principal directions
    embedding = EmbeddingMap(
        method="tsne", indices=np.arange(n), y_true=np.zeros(n, np.uint8), y_pred=np.zeros(n, np.uint8),
        pca_mean=np.zeros(d, np.float32), pca_basis=np.eye(d, 2, dtype=np.float32), reduced=np.zeros((n, 2), np.float16),
        views={"pca": own_plane(features).astype(np.float32), "tsne": np.zeros((n, 2), np.float32)},
        train_indices=np.arange(3), train_labels=np.zeros(3, np.uint8), train_reduced=np.zeros((3, 2), np.float16))
    flipped = principal_plane(-2.0 * features)  # the same plane, its directions' signs the other way, twice the scale
    maps = build_epoch_maps(embedding, 2, {1: flipped}, {1: np.ones(n)})
    np.testing.assert_allclose(maps.view_at("pca", 1), maps.view_at("pca", 2), atol=1e-4)
    assert maps.predictions_at(1).tolist() == [1] * n and maps.predictions_at(2).tolist() == [0] * n  # the map's own
    with pytest.raises(ValueError, match="maps are for epochs 1, 2"):
        maps.view_at("pca", 7)
    with pytest.raises(ValueError, match="one row per map digit"):
        build_epoch_maps(embedding, 2, {1: flipped[:5]}, {1: np.ones(n)})


@pytest.fixture(scope="module")
def scrubbed_run(tmp_path_factory, mnist):
    """An MLP run of 3 epochs, a checkpoint each, with its map of 200 digits and its map through the epochs."""
    runs_dir = tmp_path_factory.mktemp("epoch_map_runs")
    config = preset_config("mlp", epochs=EPOCHS, train_size=600, batch_size=64, hidden_units=32, validation="none")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(EMBEDDING_DIGITS_ENV, str(MAP_DIGITS))
        run = RecordedRun(config, runs_dir=runs_dir, name="scrubbed", mnist=mnist)
        events = list(run)
    assert run.wait_for_feature_files(timeout=300) and run.feature_files.error is None
    assert events[-1].test_accuracy is not None
    assert list_checkpoints(runs_dir, "scrubbed") == [1, 2, 3]
    return runs_dir, run.writer.path


def test_a_run_with_checkpoints_writes_the_map_at_each_kept_epoch(scrubbed_run, mnist):
    runs_dir, folder = scrubbed_run
    embedding, maps = EmbeddingMap.load(folder / EMBEDDING_FILE), EpochMaps.load(folder / EPOCH_MAPS_FILE)
    assert maps.epochs.tolist() == [1, 2, 3] and maps.anchor_epoch == 3
    assert np.array_equal(maps.indices, embedding.indices) and len(maps.indices) == MAP_DIGITS
    np.testing.assert_array_equal(maps.view_at("pca", 3), embedding.views["pca"])  # the final epoch's view is the map's
    np.testing.assert_array_equal(maps.predictions_at(3), embedding.y_pred)
    for epoch in (1, 2):
        _, probabilities = load_checkpoint_predictions(runs_dir, "scrubbed", epoch)
        np.testing.assert_array_equal(maps.predictions_at(epoch), probabilities[maps.indices].argmax(axis=1))
    assert set(maps.meta["seconds"]) >= {"features", "pca", "total"}

    images = to_model_input(mnist.x_test[maps.indices])
    for epoch in (1, 2):
        features, _ = numpy_features_and_logits(load_checkpoint_numpy_model(runs_dir, "scrubbed", epoch))(images)
        stored = maps.view_at("pca", epoch).astype(np.float64)
        assert residual(own_plane(features), stored) < 1e-3  # its own features, only turned, scaled and shifted
        rotation, scale, shift = similarity_fit(stored, maps.view_at("pca", epoch + 1))
        np.testing.assert_allclose(rotation, np.eye(2), atol=1e-3)  # already lined up with the next epoch
        assert scale == pytest.approx(1.0, abs=1e-3)
        assert np.abs(shift).max() < 1e-3 * np.abs(stored).max()
    assert not np.allclose(maps.view_at("pca", 1), maps.view_at("pca", 3), atol=1e-2)  # the digits moved


def test_the_cli_computes_the_maps_through_the_epochs_from_the_numpy_checkpoints(scrubbed_run, capsys):
    runs_dir, folder = scrubbed_run
    worker = EpochMaps.load(folder / EPOCH_MAPS_FILE)
    (folder / EPOCH_MAPS_FILE).unlink()
    assert cli(["embedding", "--run", "scrubbed", "--runs-dir", str(runs_dir), "--digits", str(MAP_DIGITS)]) == 0
    assert "the map at 3 kept epochs" in capsys.readouterr().out
    again = EpochMaps.load(folder / EPOCH_MAPS_FILE)
    assert again.epochs.tolist() == [1, 2, 3] and np.array_equal(again.indices, worker.indices)
    for epoch in (1, 2):  # NumPy's features are Keras's to float32 rounding: the same aligned views
        assert residual(again.view_at("pca", epoch), worker.view_at("pca", epoch)) < 1e-3
        np.testing.assert_array_equal(again.predictions_at(epoch), worker.predictions_at(epoch))


def test_a_damaged_epoch_maps_file_is_refused(tmp_path, scrubbed_run):
    _, folder = scrubbed_run
    arrays = dict(np.load(folder / EPOCH_MAPS_FILE))
    arrays["pca"] = arrays["pca"][:, :10]
    np.savez(tmp_path / "short.npz", **arrays)
    with pytest.raises(EpochMapsFileError, match="do not fit together.*pca"):
        EpochMaps.load(tmp_path / "short.npz")


def map_page(runs_dir, monkeypatch) -> AppTest:
    monkeypatch.setenv("MNIST_LAB_RUNS_DIR", str(runs_dir))
    at = AppTest.from_file(str(ROOT / "pages" / "map.py"), default_timeout=60).run()
    label = next(option for option in at.selectbox(key="map_model").options if option.startswith("scrubbed"))
    return at.selectbox(key="map_model").set_value(label).run()


def plotted(at: AppTest) -> dict:
    """The map chart's digits: each digit trace's points, and the mistakes' count."""
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    digits = {trace["name"]: np.stack([plotly_array(trace["x"]), plotly_array(trace["y"])], axis=1)
              for trace in chart["data"] if trace["name"].isdigit()}
    mistakes = next(trace for trace in chart["data"] if trace["name"].startswith("mistakes"))
    places = np.stack([plotly_array(mistakes["x"]), plotly_array(mistakes["y"])], axis=1).reshape(-1, 2)
    return {"digits": digits, "mistakes": len(places), "mistake_places": places}


def test_the_map_pages_scrubber_moves_the_digits_to_each_epochs_places(scrubbed_run, monkeypatch):
    runs_dir, folder = scrubbed_run
    maps, embedding = EpochMaps.load(folder / EPOCH_MAPS_FILE), EmbeddingMap.load(folder / EMBEDDING_FILE)
    at = map_page(runs_dir, monkeypatch)
    assert not at.exception and not at.error
    assert at.select_slider(key="map_epoch").value == 3  # it opens on the model the run kept
    at.radio(key="map_view").set_value("pca").run()
    shown = {}
    for epoch in (3, 1):
        at.select_slider(key="map_epoch").set_value(epoch).run()
        assert not at.exception and not at.error
        shown[epoch] = plotted(at)
        zeros = embedding.y_true == 0
        np.testing.assert_allclose(shown[epoch]["digits"]["0"], maps.view_at("pca", epoch)[zeros], rtol=1e-5)
        assert shown[epoch]["mistakes"] == int((embedding.y_true != maps.predictions_at(epoch)).sum())
        assert any(f"misclassified after epoch {epoch}" in caption.value for caption in at.caption)
    assert not np.allclose(shown[1]["digits"]["0"], shown[3]["digits"]["0"], atol=1e-2)

    at.radio(key="map_view").set_value("tsne").run()  # t-SNE: the kept model's places, epoch 1's mistakes
    assert at.select_slider(key="map_epoch").value == 1 and not at.exception
    tsne = plotted(at)
    np.testing.assert_allclose(tsne["digits"]["0"], embedding.views["tsne"][embedding.y_true == 0], rtol=1e-5)
    wrong_at_1, wrong_at_3 = embedding.y_true != maps.predictions_at(1), embedding.y_true != maps.predictions_at(3)
    assert (wrong_at_1 != wrong_at_3).any()  # the run's epochs 1 and 3 disagree somewhere: the check below can tell them apart
    np.testing.assert_allclose(tsne["mistake_places"], embedding.views["tsne"][wrong_at_1], rtol=1e-5)
    assert any("the places are those of epoch 3" in caption.value for caption in at.caption)


def test_a_map_without_epochs_says_what_it_shows_and_offers_no_scrubber(scrubbed_run, monkeypatch, tmp_path):
    runs_dir, folder = scrubbed_run
    kept = tmp_path / EPOCH_MAPS_FILE
    (folder / EPOCH_MAPS_FILE).rename(kept)  # as a run whose map was computed before maps followed the epochs
    try:
        at = map_page(runs_dir, monkeypatch)
        assert not at.exception and not at.error
        assert not [slider for slider in at.select_slider if slider.key == "map_epoch"]
        assert any("its other epochs have no map" in caption.value and "python -m core embedding --run scrubbed"
                   in caption.value for caption in at.caption)
        assert len(at.get("plotly_chart")) == 1
    finally:
        kept.rename(folder / EPOCH_MAPS_FILE)
