"""The embedding map: its file round-trips, a digit placed on it lands on itself, a run computes its map and digit
statistics when it ends (in the process that trained it), and `python -m core embedding` computes them for a run
that has none.

The oracles: a map digit's own features must place it at its own point with itself as nearest neighbour; the map's
predictions must be the run's own saved test predictions at those indices; the threshold must keep its quantile of
the map digits' scores, computed again here from the run's NumPy model.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.cli import main as cli
from core.config.train_config import preset_config
from core.data.splits import to_model_input
from core.embedding.embedding_map import EMBEDDING_FILE, EmbeddingFileError, EmbeddingMap
from core.models.penultimate import numpy_features_and_logits
from core.novelty.digit_statistics import DETECTOR_SIGNAL, NOVELTY_FILE, DigitStatistics
from core.novelty.signals import auroc
from core.runs.background_feature_files import ONE_MAP_AT_A_TIME
from core.runs.feature_files import EMBEDDING_DIGITS_ENV, MIN_MAP_DIGITS
from core.runs.recorded_run import RecordedRun
from core.runs.run_detector import DetectorImages, write_run_detector
from core.runs.store import NUMPY_MODEL_FILE, load_numpy_model, load_numpy_model_file, load_predictions

MAP_DIGITS = 300
ROOT = Path(__file__).resolve().parents[1]


def synthetic_map(rng) -> EmbeddingMap:
    n, m, d, k = 60, 40, 12, 5
    features = rng.normal(0, 1, (n, d)).astype(np.float32)
    mean, basis = features.mean(axis=0), np.linalg.svd(features - features.mean(axis=0), full_matrices=False)[2][:k].T
    reduced = (features - mean) @ basis
    return features, EmbeddingMap(
        method="tsne", indices=np.arange(100, 100 + n), y_true=rng.integers(0, 10, n), y_pred=rng.integers(0, 10, n),
        pca_mean=mean.astype(np.float32), pca_basis=basis.astype(np.float32), reduced=reduced.astype(np.float16),
        views={"pca": reduced[:, :2].astype(np.float32), "tsne": rng.normal(0, 10, (n, 2)).astype(np.float32)},
        train_indices=np.arange(m), train_labels=rng.integers(0, 10, m),
        train_reduced=rng.normal(0, 1, (m, k)).astype(np.float16), meta={"seconds": {"total": 1.5}})


def test_the_map_file_round_trips_and_refuses_a_damaged_one(tmp_path):
    _, embedding = synthetic_map(np.random.default_rng(0))
    embedding.save(tmp_path / EMBEDDING_FILE)
    again = EmbeddingMap.load(tmp_path / EMBEDDING_FILE)
    assert again.method == "tsne" and again.meta["seconds"] == {"total": 1.5}
    for name in ("indices", "y_true", "y_pred", "pca_mean", "pca_basis", "reduced", "train_indices", "train_labels", "train_reduced"):
        assert np.array_equal(getattr(again, name), getattr(embedding, name)), name
    assert set(again.views) == {"pca", "tsne"} and all(np.array_equal(again.views[v], embedding.views[v]) for v in again.views)
    arrays = dict(np.load(tmp_path / EMBEDDING_FILE))
    arrays["tsne"] = arrays["tsne"][:10]
    np.savez(tmp_path / "short.npz", **arrays)
    with pytest.raises(EmbeddingFileError, match="do not fit together.*tsne"):
        EmbeddingMap.load(tmp_path / "short.npz")


def test_a_map_digit_placed_again_lands_on_itself():
    features, embedding = synthetic_map(np.random.default_rng(1))
    for i in (0, 17, 59):
        placement = embedding.place(features[i], neighbours=5)
        assert placement.nearest_test[0] == i
        assert placement.coordinates["tsne"] == pytest.approx(tuple(embedding.views["tsne"][i]), abs=0.1)  # float16 PCA: not exactly 0 away
        assert placement.coordinates["pca"] == pytest.approx(tuple(embedding.views["pca"][i]), abs=1e-4)
        assert len(placement.nearest_train) == 5
    with pytest.raises(ValueError, match="must have 12 values"):
        embedding.place(np.zeros(7))


def nearest(points: np.ndarray, among: np.ndarray, exclude_self: bool = False) -> np.ndarray:
    """For each of `points`, the index of its nearest point in `among` (itself left out where they are the same set)."""
    found = []
    for start in range(0, len(points), 500):
        chunk = points[start:start + 500]
        distances = ((chunk[:, None, :] - among[None, :, :]) ** 2).sum(axis=-1)
        if exclude_self:
            distances[np.arange(len(chunk)), np.arange(start, start + len(chunk))] = np.inf
        found.append(distances.argmin(axis=1))
    return np.concatenate(found)


def test_on_the_shipped_map_the_4s_and_9s_touch():
    """Issue 20's "Done means": on the shipped model's map, as the Map page first shows it, a learner sees the 4s
    and 9s touch. For most 4s the nearest digit of another kind is a 9, and some 4s lie right beside a 9."""
    embedding = EmbeddingMap.load(ROOT / "pretrained" / "mnist_fast.embedding.npz")
    view = list(embedding.views)[0]  # the page's radio lists the views in this order and starts on the first
    assert view == embedding.method == "tsne"
    places, labels = embedding.views[view].astype(np.float64), embedding.y_true
    fours = labels == 4
    nearest_other_kind = labels[~fours][nearest(places[fours], places[~fours])]
    counts = np.bincount(nearest_other_kind, minlength=10)
    assert counts.argmax() == 9 and counts[9] > fours.sum() / 2, f"the 4s' nearest other digits: {counts.tolist()}"
    beside = labels[nearest(places, places, exclude_self=True)]
    assert np.sum(fours & (beside == 9)) >= 1, "no 4 has a 9 as its nearest digit: the two groups do not touch"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, mnist):
    runs_dir = tmp_path_factory.mktemp("embedding_runs")
    config = preset_config("mlp", epochs=1, train_size=600, batch_size=64, hidden_units=32, validation="none")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(EMBEDDING_DIGITS_ENV, str(MAP_DIGITS))
        run = RecordedRun(config, runs_dir=runs_dir, name="mapped", mnist=mnist)
        events = list(run)
    assert events[-1].test_accuracy is not None
    assert run.wait_for_feature_files(timeout=300)
    return runs_dir, run.writer.path


def test_a_run_computes_its_map_and_digit_statistics_when_it_ends(finished_run, mnist):
    runs_dir, folder = finished_run
    embedding = EmbeddingMap.load(folder / EMBEDDING_FILE)
    assert len(embedding.indices) == MAP_DIGITS and list(embedding.indices) == sorted(set(embedding.indices))
    y_true, probabilities = load_predictions("mapped", runs_dir)
    assert np.array_equal(embedding.y_true, y_true[embedding.indices])
    assert np.array_equal(embedding.y_pred, probabilities[embedding.indices].argmax(axis=1))  # the run's own predictions
    assert embedding.views["tsne"].shape == (MAP_DIGITS, 2) and np.isfinite(embedding.views["tsne"]).all()
    assert embedding.views["tsne"].std(axis=0).min() > 0  # spread out, not collapsed
    assert set(embedding.meta["seconds"]) >= {"features", "statistics", "pca", "tsne", "total"}

    function = numpy_features_and_logits(load_numpy_model("mapped", runs_dir), pooled=True)  # what the web server computes
    images = to_model_input(mnist.x_test[embedding.indices])
    features, logits, pooled = function(images)
    statistics = DigitStatistics.load(folder / NOVELTY_FILE)
    assert statistics.feature_size == features.shape[1] == 32
    assert statistics.signal == "combined" and pooled is None and not statistics.needs_pooled  # an MLP: three signals
    assert set(statistics.scales) == {"nearest_digits", "energy", "pixel_distance"}
    kept = np.mean(statistics.scores(features, logits, images=images[..., 0]) <= statistics.threshold)
    assert kept == pytest.approx(statistics.quantile, abs=0.01)
    placement = embedding.place(features[7])
    assert placement.nearest_test[0] == 7  # a map digit, placed again from the NumPy model's features, finds itself


def test_the_cli_computes_the_files_for_a_run_that_has_none(finished_run, capsys):
    runs_dir, folder = finished_run
    (folder / EMBEDDING_FILE).unlink()
    (folder / NOVELTY_FILE).unlink()
    assert cli(["embedding", "--run", "mapped", "--runs-dir", str(runs_dir), "--digits", "200"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert len(EmbeddingMap.load(folder / EMBEDDING_FILE).indices) == 200
    assert DigitStatistics.load(folder / NOVELTY_FILE).digits_thresholded == 200
    map_written = (folder / EMBEDDING_FILE).stat().st_mtime_ns
    (folder / NOVELTY_FILE).unlink()  # a run from before the combined score: its statistics alone, the map kept
    assert cli(["embedding", "--run", "mapped", "--runs-dir", str(runs_dir), "--digits", "200", "--statistics-only"]) == 0
    assert "novelty.npz" in capsys.readouterr().out and (folder / EMBEDDING_FILE).stat().st_mtime_ns == map_written
    assert DigitStatistics.load(folder / NOVELTY_FILE).signal == "combined"
    assert cli(["embedding", "--run", "no-such-run", "--runs-dir", str(runs_dir)]) == 2
    assert "no saved model" in capsys.readouterr().err
    assert cli(["embedding", "--run", "mapped", "--runs-dir", str(runs_dir), "--digits", "5"]) == 2
    assert "--digits must be from 100" in capsys.readouterr().err


def test_a_run_ends_before_its_map_is_written_so_its_worker_can_take_the_next_job(tmp_path, mnist, monkeypatch):
    # The map's thread waits for ONE_MAP_AT_A_TIME, held here: the run's events must all come (the worker then
    # takes its next job) while the files are still to be written, and they are written once it is let go.
    monkeypatch.setenv(EMBEDDING_DIGITS_ENV, str(MIN_MAP_DIGITS))
    config = preset_config("mlp", epochs=1, train_size=300, batch_size=64, hidden_units=16, validation="none")
    with ONE_MAP_AT_A_TIME:
        run = RecordedRun(config, runs_dir=tmp_path, name="later", mnist=mnist)
        events = list(run)
        assert events[-1].status == "completed" and events[-1].test_accuracy is not None
        assert not (run.writer.path / EMBEDDING_FILE).exists() and not (run.writer.path / NOVELTY_FILE).exists()
        assert not run.wait_for_feature_files(timeout=0.1)
    assert run.wait_for_feature_files(timeout=300) and run.feature_files.error is None
    embedding = EmbeddingMap.load(run.writer.path / EMBEDDING_FILE)
    assert len(embedding.indices) == MIN_MAP_DIGITS and embedding.meta["model_epoch"] == 1
    assert DigitStatistics.load(run.writer.path / NOVELTY_FILE).feature_size == 16


def test_the_cli_train_exits_only_once_the_map_is_written(tmp_path):
    # `python -m core train` trains in a worker process, whose map is written on a thread after the run's end:
    # the worker, and so the command, must not exit before it is done.
    runs_dir = tmp_path / "runs"
    done = subprocess.run([sys.executable, "-m", "core", "train", "--model", "mlp", "--epochs", "1", "--train-size",
                           "300", "--hidden-units", "16", "--json", "--runs-dir", str(runs_dir)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, EMBEDDING_DIGITS_ENV: str(MIN_MAP_DIGITS)})
    assert done.returncode == 0, done.stderr[-3000:]
    folder = Path(json.loads(done.stdout.splitlines()[-1])["run_dir"])
    assert len(EmbeddingMap.load(folder / EMBEDDING_FILE).indices) == MIN_MAP_DIGITS
    assert (folder / NOVELTY_FILE).is_file()


def test_a_run_fits_its_own_not_a_digit_detector_from_the_shipped_images_and_mnist(finished_run, mnist, tmp_path):
    """`core.runs.run_detector` on a copy of the run's files: the detector reads the run's own model, its threshold
    sits at the statistics' quantile of the map digits, and it scores the shipped synthetic non-digits above the
    map's real digits. Without the images file (or with a damaged one) the run's statistics are left as they were."""
    _, folder = finished_run
    indices = EmbeddingMap.load(folder / EMBEDDING_FILE).indices  # MAP_DIGITS, or fewer after the CLI's test
    for name in (NOVELTY_FILE, NUMPY_MODEL_FILE):
        shutil.copyfile(folder / name, tmp_path / name)
    before = (tmp_path / NOVELTY_FILE).read_bytes()
    with pytest.raises(FileNotFoundError, match="write_detector_images.py"):
        write_run_detector(tmp_path, mnist, len(indices), images_path=tmp_path / "none.npz")
    (tmp_path / "damaged.npz").write_text("not an npz")
    with pytest.raises(ValueError, match="write_detector_images.py"):
        write_run_detector(tmp_path, mnist, len(indices), images_path=tmp_path / "damaged.npz")
    assert (tmp_path / NOVELTY_FILE).read_bytes() == before

    write_run_detector(tmp_path, mnist, len(indices), from_mnist={"raw": 300, "redrawn": 100, "traced": 100, "pairs": 100})
    statistics = DigitStatistics.load(tmp_path / NOVELTY_FILE)
    assert statistics.signal == DETECTOR_SIGNAL and statistics.detector_parts == tuple(statistics.scales)
    assert "bench/write_detector_images.py" in statistics.detector_fitted_on and "300 raw" in statistics.detector_fitted_on
    function = numpy_features_and_logits(load_numpy_model_file(tmp_path / NUMPY_MODEL_FILE, "the run"), pooled=True)
    map_images = to_model_input(mnist.x_test[indices])
    features, logits, pooled = function(map_images)
    digit_scores = statistics.scores(features, logits, images=map_images[..., 0], pooled=pooled)
    assert np.mean(digit_scores <= statistics.threshold) == pytest.approx(statistics.quantile, abs=0.01)
    others = DetectorImages.load().non_digits[::8]
    other_features, other_logits, other_pooled = function(others[..., None])
    assert auroc(digit_scores, statistics.scores(other_features, other_logits, images=others, pooled=other_pooled)) > 0.9
