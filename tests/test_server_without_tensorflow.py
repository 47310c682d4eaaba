"""The web server's side of Draw, Inspect and Errors never imports TensorFlow for a model with a NumPy file.

Each check runs in a fresh interpreter: in this one, other tests have long imported TensorFlow.
A model without a NumPy file (an old run, or layers NumPy cannot run) is still loaded, with
Keras, and the pages say so.
"""

import base64
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("MNIST_PATH", str(Path(__file__).resolve().parents[2] / "shared/data/mnist.npz"))

import numpy as np
import pytest
from PIL import Image

import core  # noqa: F401  (before anything imports TensorFlow)
from core.config.train_config import preset_config
from core.data.splits import to_model_input
from core.runs.store import NUMPY_MODEL_FILE
from core.training.events import COMPLETED, TrainingEnd

keras = pytest.importorskip("keras")
AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

from core.models.keras_models import build_keras_model  # noqa: E402
from core.runs.run_writer import RunWriter  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CANVAS_SIZE = 280
TENSORFLOW_CAPTION = "This model is loaded with TensorFlow (slower first load)"


def save_run(runs_dir: Path, name: str, config, mnist, model=None) -> Path:
    """A finished run folder as `RecordedRun` leaves it, for an untrained `model` (default: `config`'s)."""
    model = model or build_keras_model(config, steps_per_epoch=1)
    writer = RunWriter(config, runs_dir=runs_dir, name=name)
    writer.save_model(model)
    probabilities = model.predict(to_model_input(mnist.x_test), batch_size=1000, verbose=0)
    writer.save_predictions(mnist.y_test, probabilities)
    test_accuracy = float((probabilities.argmax(axis=1) == mnist.y_test).mean())
    writer.finish(TrainingEnd(COMPLETED, "all 1 epochs ran", 1), test_loss=1.0, test_accuracy=test_accuracy)
    return writer.path


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory, mnist):
    """A conv run and a softmax-regression run, each with its NumPy file, as training saves them."""
    runs_dir = tmp_path_factory.mktemp("runs")
    save_run(runs_dir, "lenet5-run", preset_config("lenet5", hidden_units=32), mnist)
    save_run(runs_dir, "softmax-run", preset_config("softmax"), mnist)
    assert all((runs_dir / name / NUMPY_MODEL_FILE).is_file() for name in ("lenet5-run", "softmax-run"))
    return runs_dir


def run_fresh_python(script: str, runs_dir: Path, tmp_path: Path) -> dict:
    """Run `script` in a new interpreter from the project root; it prints one JSON object last."""
    path = tmp_path / "script.py"
    path.write_text(script)
    env = {**os.environ, "MNIST_LAB_RUNS_DIR": str(runs_dir), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


SERVER_SIDE = """
import json, sys
import dashboard.model_cache as model_cache  # streamlit, core.data.mnist, core.drawing.live_prediction, core.runs.model_sources
from core.data.mnist import load_mnist
from core.data.splits import to_model_input
from core.figures.network_view import conv_filters, dense_input_weights, feature_maps
from core.runs.model_sources import model_sources, predictions_on_test_set

mnist = load_mnist(download=False)
image = to_model_input(mnist.x_test[:1])[0, :, :, 0]
report = {}
for source in model_sources():
    predictor = model_cache.predictor_for(source)
    model = predictor.numpy_model or predictor.model
    weights = dense_input_weights(model)
    report[source.run_name or "shipped"] = {
        "backend": predictor.backend, "note": source.tensorflow_note,
        "digit": int(predictor.probabilities(image).argmax()),
        "maps": [list(maps.maps.shape) for maps in feature_maps(model, image)],
        "filters": [list(layer.filters.shape) for layer in conv_filters(model)],
        "weights": None if weights is None else list(weights.shape),
    }
shipped = model_sources()[0]
y_true, probabilities = predictions_on_test_set(shipped, mnist)
report["shipped_test_accuracy"] = float((probabilities.argmax(axis=1) == y_true).mean())
report["tensorflow"] = "tensorflow" in sys.modules
report["keras"] = "keras" in sys.modules
print(json.dumps(report))
"""


def test_server_side_modules_predict_and_show_feature_maps_without_tensorflow(runs_dir, tmp_path, mnist):
    report = run_fresh_python(SERVER_SIDE, runs_dir, tmp_path)
    assert report["tensorflow"] is False and report["keras"] is False
    shipped = report["shipped"]
    assert shipped["backend"] == "numpy" and shipped["note"] is None
    assert shipped["digit"] == mnist.y_test[0]
    assert shipped["maps"] == [[24, 24, 16], [8, 8, 32]] and shipped["filters"] == [[16, 5, 5], [32, 5, 5]]
    assert report["shipped_test_accuracy"] >= 0.98
    assert report["lenet5-run"]["maps"] == [[28, 28, 6], [10, 10, 16]] and report["lenet5-run"]["note"] is None
    assert report["softmax-run"]["weights"] == [10, 28, 28] and report["softmax-run"]["maps"] == []


def canvas_state(digit: np.ndarray) -> dict:
    """What the canvas component sends after a drawing: an MNIST digit, white on black, as a PNG."""
    picture = Image.fromarray(digit).resize((CANVAS_SIZE, CANVAS_SIZE), Image.Resampling.BILINEAR)
    rgba = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8)
    rgba[..., :3] = np.asarray(picture)[..., None]
    rgba[..., 3] = 255
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    data_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": data_url}, "backgroundFit": None}


PAGES = """
import json, sys
from streamlit.testing.v1 import AppTest

CANVAS = json.loads(open({canvas!r}).read())
PAGES = {pages!r}
report = {{}}
draw = AppTest.from_file(f"{{PAGES}}/draw.py", default_timeout=120)
draw.session_state["draw_canvas"] = CANVAS
draw.run()
assert not draw.exception and not draw.error, (draw.exception, draw.error)
report["draw"] = [metric.value for metric in draw.metric if metric.label == "Prediction"]
draw.selectbox(key="draw_model").set_value("Compare all models").run()
assert not draw.exception and not draw.error, (draw.exception, draw.error)
report["compare"] = len(draw.dataframe[0].value)
for name in ("inspect", "errors"):
    at = AppTest.from_file(f"{{PAGES}}/{{name}}.py", default_timeout=120).run()
    assert not at.exception and not at.error, (name, at.exception, at.error)
    report[name] = {{}}
    for option in at.selectbox[0].options:
        at.selectbox[0].set_value(option).run()
        assert not at.exception and not at.error, (name, option, at.exception, at.error)
        report[name][option.split(" ")[0]] = [subheader.value for subheader in at.subheader]
report["captions"] = [caption.value for caption in draw.caption]
atlas = AppTest.from_file(f"{{PAGES}}/map.py", default_timeout=120)
atlas.session_state["latest_drawing"] = draw.session_state["latest_drawing"]
atlas.run()
report["map"] = {{}}
for option in atlas.selectbox[0].options:  # the shipped model has a map; the runs, trained without, say so
    atlas.selectbox[0].set_value(option).run()
    assert not atlas.exception and not atlas.error, (option, atlas.exception, atlas.error)
    report["map"][option.split(" ")[0]] = [subheader.value for subheader in atlas.subheader] or [info.value[:120] for info in atlas.info]
report["map_libraries"] = any(name in sys.modules for name in ("openTSNE", "sklearn", "umap", "numba"))
report["tensorflow"] = "tensorflow" in sys.modules
report["keras"] = "keras" in sys.modules
print(json.dumps(report))
"""


def test_draw_inspect_and_errors_pages_never_import_tensorflow(runs_dir, tmp_path, mnist):
    canvas = tmp_path / "canvas.json"
    canvas.write_text(json.dumps(canvas_state(mnist.x_test[0])))
    report = run_fresh_python(PAGES.format(canvas=str(canvas), pages=str(ROOT / "pages")), runs_dir, tmp_path)
    assert report["tensorflow"] is False and report["keras"] is False
    assert report["draw"] == [str(mnist.y_test[0])]
    assert report["compare"] == 3  # the shipped model and both runs
    assert set(report["inspect"]) == set(report["errors"]) == {"shipped", "lenet5-run", "softmax-run"}
    assert report["inspect"]["shipped"] == report["inspect"]["lenet5-run"] == ["Filters", "Feature maps"]
    assert report["inspect"]["softmax-run"] == ["What each digit's score looks for"]
    assert all("Confusion matrix" in subheaders for subheaders in report["errors"].values())
    assert not any(TENSORFLOW_CAPTION in caption for caption in report["captions"])
    assert report["map_libraries"] is False  # the map and the drawing's place on it, in NumPy: no openTSNE, no scikit-learn
    assert report["map"]["shipped"] == ["Your drawing (★) and its nearest digits"]
    assert all("has no embedding map yet" in report["map"][run][0] for run in ("lenet5-run", "softmax-run")), report["map"]


# --- models without a NumPy file still work, with Keras, and the pages say so ------------------


@pytest.fixture
def runs_without_numpy_files(tmp_path, monkeypatch, mnist):
    """An old run (saved before NumPy files) and a run whose model NumPy cannot run (functional)."""
    runs_dir = tmp_path / "runs"
    old = save_run(runs_dir, "old-run", preset_config("lenet5", hidden_units=32), mnist)
    (old / NUMPY_MODEL_FILE).unlink()
    inputs = keras.Input((28, 28, 1))
    functional = keras.Model(inputs, keras.layers.Dense(10, "softmax")(keras.layers.Flatten()(inputs)))
    save_run(runs_dir, "functional-run", preset_config("softmax"), mnist, model=functional)
    monkeypatch.setenv("MNIST_LAB_RUNS_DIR", str(runs_dir))
    return runs_dir


def page_with(name: str, run_name: str, key: str, canvas: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=60)
    if canvas is not None:
        at.session_state["draw_canvas"] = canvas
    at.run()
    [option] = [option for option in at.selectbox(key=key).options if option.startswith(run_name)]
    at.selectbox(key=key).set_value(option).run()
    assert not at.exception and not at.error, (at.exception, at.error)
    return at


def tensorflow_captions(at: AppTest) -> list[str]:
    """The TensorFlow captions as a visitor reads them (their markdown escapes undone: the note can quote a file)."""
    shown = [re.sub(r"\\(.)", r"\1", caption.value).replace("\u2060", "") for caption in at.caption]
    return [caption for caption in shown if "TensorFlow" in caption]


def test_an_old_run_is_inspected_with_keras_and_the_page_says_so(runs_without_numpy_files):
    at = page_with("inspect", "old-run", "inspect_model")
    assert [s.value for s in at.subheader] == ["Filters", "Feature maps"]
    [caption] = tensorflow_captions(at)
    assert caption.startswith(TENSORFLOW_CAPTION) and "saved before runs kept a NumPy copy" in caption


def test_an_untranslatable_run_draws_with_keras_and_the_page_says_why(runs_without_numpy_files, mnist):
    at = page_with("draw", "functional-run", "draw_model", canvas=canvas_state(mnist.x_test[0]))
    assert [m for m in at.metric if m.label == "Prediction"]
    [caption] = tensorflow_captions(at)
    assert caption.startswith(TENSORFLOW_CAPTION) and "its layers could not be run in NumPy" in caption
    assert "Sequential" in caption  # the recorded reason
    at.selectbox(key="draw_model").set_value("Compare all models").run()
    [caption] = tensorflow_captions(at)
    assert "old-run" in caption and "functional-run" in caption and "shipped model" not in caption


def test_errors_reads_saved_predictions_without_loading_the_model_so_says_nothing(runs_without_numpy_files):
    at = page_with("errors", "old-run", "errors_model")
    assert at.get("plotly_chart") and not tensorflow_captions(at)
