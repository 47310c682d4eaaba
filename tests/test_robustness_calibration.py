"""A run's report card in core: the robustness sweep, the calibration error and temperature scaling, their CLI.

One small MLP run (2,000 training images, two epochs) is trained once for the module: its NumPy
forward pass is a few milliseconds for the 10,000 test digits, so the sweeps here run on the
whole test set, as the report does.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

from core.calibration.ece import expected_calibration_error, reliability_bins
from core.calibration.run_calibration import cached_calibration, calibrate_run
from core.calibration.temperature import apply_temperature, fit_temperature
from core.config.train_config import preset_config
from core.figures.report_charts import digit_strip, reliability_figure, robustness_figure
from core.robustness.perturbations import PERTURBATIONS, perturbation, rotate, scale, shift, thickness
from core.robustness.report_process import compute_report
from core.robustness.sweep import (
    PROGRESS_FILE, ROBUSTNESS_FILE, cached_samples, cached_sweep, level_count, robustness_sweep, sweep_run,
)
from core.runs.recorded_run import RecordedRun
from core.runs.store import RUNS_DIR_ENV, RunError, load_numpy_model, load_predictions, load_run

from live_server import PROJECT_ROOT


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist):
    """`(runs_dir, run name)` of one finished MLP run with a NumPy model."""
    runs_dir = tmp_path_factory.mktemp("report") / "runs"
    config = preset_config("mlp", epochs=2, train_size=2000, validation_size=500, batch_size=50, activation="relu",
                           initializer="he_normal", optimizer="adam", learning_rate=1e-3)
    events = list(RecordedRun(config, runs_dir=runs_dir, name="mlp-report", mnist=mnist))
    assert events[-1].test_accuracy is not None
    return runs_dir, "mlp-report"


def test_ece_matches_a_hand_worked_example():
    probabilities = np.array([
        [0.90, 0.05, 0.05],  # confidence 0.90, right   -> bin (0.5, 1]
        [0.10, 0.80, 0.10],  # confidence 0.80, wrong   -> bin (0.5, 1]
        [0.20, 0.20, 0.60],  # confidence 0.60, right   -> bin (0.5, 1]
        [0.45, 0.35, 0.20],  # confidence 0.45, right   -> bin [0, 0.5]
        [0.50, 0.30, 0.20],  # confidence 0.50 (an upper edge: the lower bin), wrong
    ])
    y_true = np.array([0, 0, 2, 0, 1])
    # high bin: 3 images, confidence (0.9 + 0.8 + 0.6) / 3 = 0.7667, accuracy 2/3: gap 0.1
    # low bin: 2 images, confidence (0.45 + 0.5) / 2 = 0.475, accuracy 1/2: gap 0.025
    # ECE = 3/5 * 0.1 + 2/5 * 0.025 = 0.07
    assert expected_calibration_error(probabilities, y_true, bins=2) == pytest.approx(0.07, abs=1e-12)
    low, high = reliability_bins(probabilities, y_true, bins=2)
    assert (low["count"], high["count"]) == (2, 3)
    assert low["confidence"] == pytest.approx(0.475) and low["accuracy"] == 0.5
    assert high["confidence"] == pytest.approx(2.3 / 3) and high["accuracy"] == pytest.approx(2 / 3)
    # one bin: |mean confidence - accuracy| = |3.25 / 5 - 3 / 5|
    assert expected_calibration_error(probabilities, y_true, bins=1) == pytest.approx(0.05, abs=1e-12)


def test_ece_refuses_mismatched_shapes_and_bins_naming_them():
    with pytest.raises(ValueError, match=r"probabilities.shape=\(2, 3\), len\(y_true\)=3"):
        expected_calibration_error(np.full((2, 3), 1 / 3), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="bins=0"):
        expected_calibration_error(np.full((2, 3), 1 / 3), np.array([0, 1]), bins=0)


def test_temperature_recovers_a_known_over_confidence_and_lowers_ece():
    """Labels drawn from softmax(z / 2), the model says softmax(z): over-sure by a temperature of 2."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (20_000, 10))
    y = np.argmax(logits / 2 + rng.gumbel(size=logits.shape), axis=1)  # a draw from softmax(logits / 2)
    over_sure = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    temperature = fit_temperature(over_sure[:10_000], y[:10_000])
    assert temperature == pytest.approx(2.0, rel=0.05)
    before = expected_calibration_error(over_sure[10_000:], y[10_000:])
    after = expected_calibration_error(apply_temperature(over_sure[10_000:], temperature), y[10_000:])
    assert after < before / 3
    with pytest.raises(ValueError, match="temperature=0"):
        apply_temperature(over_sure, 0)


def test_identity_levels_leave_the_digits_as_they_are_and_the_others_change_them(mnist):
    digits = mnist.x_test[:50].astype(np.float32) / 255
    for sweep in PERTURBATIONS.values():
        assert sweep.identity in sweep.levels
        assert sweep.apply(digits, sweep.identity) is digits
        for level in sweep.levels:
            changed = sweep.apply(digits, level)
            assert changed.shape == digits.shape and changed.min() >= 0 and changed.max() <= 1
            assert (level == sweep.identity) == np.array_equal(changed, digits), (sweep.name, level)
    assert np.array_equal(shift(digits, 3)[:, :, 3:], digits[:, :, :-3])
    assert np.array_equal(shift(shift(digits, -2), 2)[:, :, 2:-2], digits[:, :, 2:-2])
    np.testing.assert_allclose(rotate(digits, 180), digits[:, ::-1, ::-1], atol=1e-5)
    assert (thickness(digits, 1).sum() > digits.sum() > thickness(digits, -1).sum())
    rows = np.arange(28)
    spread = lambda x: float(((x.sum(axis=(0, 2)) / x.sum()) * np.abs(rows - 13.5)).sum())  # noqa: E731
    assert spread(scale(digits, 0.6)) < spread(digits) < spread(scale(digits, 1.4))
    with pytest.raises(ValueError, match="'blur'.*rotation"):
        perturbation("blur")


def test_the_unperturbed_level_is_the_runs_test_accuracy_exactly(trained, mnist):
    runs_dir, name = trained
    model = load_numpy_model(name, runs_dir)
    seen = []
    results, samples = robustness_sweep(model, mnist.x_test, mnist.y_test, names=("rotation",),
                                        on_level=lambda done, total, result: seen.append((done, total)))
    test_accuracy = load_run(name, runs_dir).test_accuracy
    assert [r["accuracy"] for r in results if r["level"] == 0] == [test_accuracy]
    assert [(r["perturbation"], r["level"]) for r in results] == [("rotation", level) for level in PERTURBATIONS["rotation"].levels]
    assert seen == [(done, 7) for done in range(1, 8)] and level_count(PERTURBATIONS) == 30
    rotation = {r["level"]: r["accuracy"] for r in results if r["perturbation"] == "rotation"}
    assert rotation[45] < rotation[0] and rotation[-45] < rotation[0]
    assert samples["rotation"].shape == (7, 10, 28, 28) and samples["rotation"].dtype == np.uint8
    assert np.array_equal(samples["rotation"][3], mnist.x_test[[3, 2, 1, 18, 4, 8, 11, 0, 61, 7]])  # the first of each digit


def test_levels_computed_two_at_a_time_give_what_one_at_a_time_gives_in_the_same_order(trained, mnist):
    runs_dir, name = trained
    model = load_numpy_model(name, runs_dir)
    names = ("shift", "noise", "contrast")  # seeded noise drawn in two threads at once; the identity in all three
    seen = []
    one_results, one_samples = robustness_sweep(model, mnist.x_test, mnist.y_test, names=names, threads=1)
    two_results, two_samples = robustness_sweep(model, mnist.x_test, mnist.y_test, names=names, threads=2,
                                                on_level=lambda done, total, result: seen.append((done, total, result)))
    assert two_results == one_results
    assert list(two_samples) == list(one_samples) == list(names)
    assert all(np.array_equal(two_samples[key], one_samples[key]) for key in names)
    evaluated = [(r["perturbation"], r["level"]) for r in one_results
                 if r["level"] != PERTURBATIONS[r["perturbation"]].identity or r["perturbation"] == "shift"]
    assert [(done, total) for done, total, _ in seen] == [(done, level_count(names)) for done in range(1, len(evaluated) + 1)]
    assert [(result["perturbation"], result["level"]) for _, _, result in seen] == evaluated  # in order, the identity once
    assert len({r["accuracy"] for r in one_results}) > 5
    with pytest.raises(ValueError, match="`threads`: 0"):
        robustness_sweep(model, mnist.x_test, mnist.y_test, names=names, threads=0)


def test_cli_prints_one_json_line_per_perturbation_and_level_and_caches_the_sweep(trained):
    runs_dir, name = trained
    command = [sys.executable, "-m", "core", "robustness", "--run", name, "--runs-dir", str(runs_dir), "--json"]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(line["perturbation"], line["level"]) for line in lines] == [
        (name_, level) for name_, p in PERTURBATIONS.items() for level in p.levels]
    assert all(set(line) == {"perturbation", "level", "accuracy"} and 0 <= line["accuracy"] <= 1 for line in lines)
    test_accuracy = load_run(name, runs_dir).test_accuracy
    assert {line["accuracy"] for line in lines if line["level"] == PERTURBATIONS[line["perturbation"]].identity} == {test_accuracy}
    cached = cached_sweep(name, runs_dir)
    assert cached["results"] == lines and cached["images"] == 10_000
    assert not (runs_dir / name / PROGRESS_FILE).exists()
    assert {key: strip.shape for key, strip in cached_samples(name, runs_dir).items()} == {
        key: (len(p.levels), 10, 28, 28) for key, p in PERTURBATIONS.items()}
    assert sweep_run(name, runs_dir) == cached  # a second call reads the cache
    saved = (runs_dir / name / ROBUSTNESS_FILE).read_text()
    (runs_dir / name / ROBUSTNESS_FILE).write_text("{not json")
    assert cached_sweep(name, runs_dir) is None  # a damaged cache is not trusted: the next call computes anew
    (runs_dir / name / ROBUSTNESS_FILE).write_text(saved)


def test_calibration_cli_and_temperature_never_lowers_accuracy(trained):
    runs_dir, name = trained
    command = [sys.executable, "-m", "core", "calibration", "--run", name, "--runs-dir", str(runs_dir), "--json"]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    [line] = [json.loads(text) for text in done.stdout.splitlines()]
    assert set(line) == {"ece", "ece_after_temperature", "temperature"}
    result = cached_calibration(name, runs_dir)
    assert line == {key: result[key] for key in line}
    assert result["accuracy"] == load_run(name, runs_dir).test_accuracy
    assert result["accuracy_after_temperature"] == result["accuracy"]  # the top class never changes
    y_test, probabilities = load_predictions(name, runs_dir)
    assert result["ece"] == expected_calibration_error(probabilities, y_test)  # on the run's own test predictions
    assert result["ece_after_temperature"] == expected_calibration_error(apply_temperature(probabilities, line["temperature"]), y_test)
    assert "validation split (500 held-out" in result["fitted_on"]
    assert sum(row["count"] for row in result["bins"]) == 10_000


def test_a_run_without_a_numpy_model_is_refused_with_the_fix(trained, tmp_path):
    runs_dir, name = trained
    (runs_dir / name / "model.numpy.npz").rename(tmp_path / "moved.npz")
    try:
        with pytest.raises(RunError, match="no NumPy model file .model.numpy.npz.: a robustness sweep"):
            sweep_run(name, runs_dir, recompute=True)
        done = subprocess.run([sys.executable, "-m", "core", "calibration", "--run", name, "--runs-dir", str(runs_dir),
                               "--recompute"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 2 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr
        compute_report(name, str(runs_dir))  # the report process leaves the reason for the page
        assert "no NumPy model file" in (runs_dir / name / "report_error.txt").read_text()
    finally:
        (tmp_path / "moved.npz").rename(runs_dir / name / "model.numpy.npz")


def test_robustness_small_multiples_overlay_runs_with_one_legend_entry_each():
    perturbations = [("rotation", "degrees"), ("noise", "sigma")]
    runs = {"plain": {"rotation": [(-30, 0.8), (0, 0.99), (30, 0.8)], "noise": [(0.0, 0.99), (0.5, 0.4)]},
            "augmented": {"rotation": [(-30, 0.95), (0, 0.99), (30, 0.96)]}}
    figure = robustness_figure(perturbations, runs, columns=2)
    drawn = [(trace.name, trace.xaxis, list(trace.x), list(trace.y)) for trace in figure.data]
    assert drawn == [("plain", "x", [-30, 0, 30], [0.8, 0.99, 0.8]), ("plain", "x2", [0.0, 0.5], [0.99, 0.4]),
                     ("augmented", "x", [-30, 0, 30], [0.95, 0.99, 0.96])]
    assert [trace.showlegend for trace in figure.data] == [True, False, True]
    assert [a.text for a in figure.layout.annotations] == ["rotation", "noise"]
    bins = [{"low": 0.0, "high": 0.5, "count": 0, "confidence": None, "accuracy": None},
            {"low": 0.5, "high": 1.0, "count": 4, "confidence": 0.9, "accuracy": 0.75}]
    figure = reliability_figure(bins, bins, 1.5)
    assert [(t.name, list(t.x)) for t in figure.data[1:]] == [("as trained", [0.9]), ("temperature 1.50", [0.9])]
    strip = np.arange(2 * 3 * 28 * 28).reshape(2, 3, 28, 28).astype(np.uint8)
    image = digit_strip(strip, gap=2)
    assert image.shape == (58, 88) and np.array_equal(image[30:58, 60:88], strip[1, 2])


def test_the_report_process_computes_both_without_tensorflow(trained):
    """What the Report page's process runs, in a fresh interpreter: both results cached, TensorFlow never imported."""
    runs_dir, name = trained
    script = (f"import sys; from core.robustness.report_process import compute_report; "
              f"import core.figures.report_charts, core.report_cli; compute_report({name!r}, {str(runs_dir)!r}); "
              f"print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]
    assert cached_sweep(name, runs_dir) is not None and cached_calibration(name, runs_dir) is not None
    assert not (runs_dir / name / "report_error.txt").exists()


def test_draw_shows_the_runs_calibrated_probabilities_when_toggled(trained, mnist, monkeypatch):
    from streamlit.testing.v1 import AppTest
    from test_app_inspect_errors_draw import canvas_state, plotly_array, plotly_figure

    runs_dir, name = trained
    temperature = calibrate_run(name, runs_dir, mnist)["temperature"]
    monkeypatch.setenv(RUNS_DIR_ENV, str(runs_dir))
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "draw.py"), default_timeout=60)
    at.session_state["draw_canvas"] = canvas_state(mnist.x_test[0])
    at.run()
    [label] = [option for option in at.selectbox(key="draw_model").options if option.startswith(name)]
    at.selectbox(key="draw_model").set_value(label).run()
    raw = plotly_array(plotly_figure(at, 0)["data"][0]["y"]).astype(np.float64)
    toggle = at.toggle(key="draw_calibrated")
    assert toggle.label == f"Calibrated (temperature {temperature:.2f})" and toggle.value is False
    toggle.set_value(True).run()
    assert not at.exception
    calibrated = plotly_array(plotly_figure(at, 0)["data"][0]["y"]).astype(np.float64)
    np.testing.assert_allclose(calibrated, apply_temperature(raw[None], temperature)[0], rtol=1e-5, atol=1e-7)
    assert calibrated.argmax() == raw.argmax() and not np.allclose(calibrated, raw)
