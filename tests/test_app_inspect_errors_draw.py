"""The Inspect, Errors and Draw pages, run headless with AppTest on real MNIST and real saved runs."""

import base64
import io
import json
import os
from pathlib import Path

os.environ.setdefault("MNIST_PATH", str(Path(__file__).resolve().parents[2] / "shared/data/mnist.npz"))

import numpy as np
import pytest
from PIL import Image

import core  # noqa: F401  (before anything imports TensorFlow)
from core.runs.pretrained import PRETRAINED_LABEL, PRETRAINED_MODEL_PATH, load_pretrained_model, pretrained_info
from core.runs.recorded_run import RecordedRun
from core.runs.store import list_runs
from core.data.splits import to_model_input
from core.config.train_config import preset_config

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("inspect", "errors", "draw")
CANVAS_SIZE = 280


def page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=60)


def train(config, runs_dir: Path) -> str:
    for event in RecordedRun(config, runs_dir=runs_dir):
        pass
    assert event.status == "completed", event
    return event.name


@pytest.fixture(scope="module")
def saved_runs(tmp_path_factory):
    """A runs directory with a tiny LeNet-5 run and a tiny softmax-regression run."""
    runs_dir = tmp_path_factory.mktemp("runs")
    lenet5 = train(preset_config("lenet5", epochs=1, train_size=300, batch_size=32), runs_dir)
    softmax = train(preset_config("softmax", epochs=5, train_size=300), runs_dir)
    return runs_dir, {"lenet5": lenet5, "softmax": softmax}


@pytest.fixture
def with_runs(saved_runs, monkeypatch):
    runs_dir, names = saved_runs
    monkeypatch.setenv("MNIST_LAB_RUNS_DIR", str(runs_dir))
    return names


@pytest.fixture
def without_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_LAB_RUNS_DIR", str(tmp_path / "no-runs-yet"))


def label_of(at: AppTest, key: str, run_name: str) -> str:
    """The option of select box `key` that names `run_name`."""
    matches = [option for option in at.selectbox(key=key).options if option.startswith(run_name)]
    assert len(matches) == 1, at.selectbox(key=key).options
    return matches[0]


def canvas_state(digit: np.ndarray) -> dict:
    """What the canvas component sends after a drawing: an MNIST digit, white on black, as a PNG."""
    picture = Image.fromarray(digit).resize((CANVAS_SIZE, CANVAS_SIZE), Image.Resampling.BILINEAR)
    rgba = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8)
    rgba[..., :3] = np.asarray(picture)[..., None]
    rgba[..., 3] = 255  # the canvas paints its black background into the image
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    data_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": data_url}, "backgroundFit": None}


def plotly_figure(at: AppTest, index: int) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def plotly_array(value) -> np.ndarray:
    """A figure's data array: plotly 6+ sends numpy arrays as base64 typed arrays."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return flat.reshape([int(n) for n in value.get("shape", str(flat.size)).split(",")])
    return np.asarray(value)


# --- every page, with and without saved runs ---------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_page_runs_without_saved_runs(name, without_runs):
    at = page(name).run()
    assert not at.exception
    assert not at.error
    assert at.selectbox  # the shipped model is always there to pick


@pytest.mark.parametrize("name", PAGES)
def test_page_runs_with_saved_runs(name, with_runs):
    at = page(name).run()
    assert not at.exception
    for run_name in with_runs.values():
        at.selectbox[0].set_value(label_of(at, at.selectbox[0].key, run_name)).run()
        assert not at.exception
        assert not at.error


def test_pages_are_routed_by_the_app(with_runs):
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60).run()
    for name in PAGES:
        at.switch_page(f"../pages/{name}.py").run()
        assert not at.exception, name
        assert at.title[0].value != name  # not the placeholder any more


# --- Errors ------------------------------------------------------------------------------------


def test_errors_confusion_matrix_counts_the_saved_predictions(with_runs, saved_runs):
    runs_dir, _ = saved_runs
    at = page("errors").run()
    at.selectbox(key="errors_model").set_value(label_of(at, "errors_model", with_runs["lenet5"])).run()
    with np.load(runs_dir / with_runs["lenet5"] / "predictions.npz") as saved:
        y_true, y_pred = saved["y_true"], saved["probabilities"].astype(np.float32).argmax(axis=1)
    expected = np.zeros((10, 10), dtype=int)
    np.add.at(expected, (y_true, y_pred), 1)
    matrix = plotly_array(plotly_figure(at, 0)["data"][0]["z"])
    np.testing.assert_array_equal(matrix, expected)
    assert matrix.sum() == 10_000


def test_errors_gallery_shows_the_chosen_cell_most_confident_first(with_runs, saved_runs, mnist):
    runs_dir, _ = saved_runs
    with np.load(runs_dir / with_runs["softmax"] / "predictions.npz") as saved:
        probabilities = saved["probabilities"].astype(np.float32)
    y_pred = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(y_pred != mnist.y_test)
    true_label, predicted_label = int(mnist.y_test[wrong[0]]), int(y_pred[wrong[0]])
    in_cell = np.flatnonzero((mnist.y_test == true_label) & (y_pred == predicted_label))

    at = page("errors").run()
    at.selectbox(key="errors_model").set_value(label_of(at, "errors_model", with_runs["softmax"])).run()
    at.selectbox(key="errors_true").set_value(true_label)
    at.selectbox(key="errors_predicted").set_value(predicted_label).run()
    assert not at.exception
    assert any(f"True {true_label}, predicted {predicted_label}: {len(in_cell)} " in s.value for s in at.subheader)
    captions = at.get("image")[0].captions
    assert len(captions) == min(len(in_cell), 16)
    shown = [int(caption.split(" ")[0].lstrip("#")) for caption in captions]
    assert set(shown) <= set(in_cell.tolist())
    confidences = probabilities[shown, predicted_label]
    assert np.all(np.diff(confidences) <= 0)  # most confident first
    assert f"{true_label}→{predicted_label}" in captions[0]
    assert f"{confidences[0]:.1%}" in captions[0]


def click_cell(at: AppTest, true_label: int, predicted_label: int) -> None:
    """What the confusion chart sends when a cell is clicked (its clickable marker is selected)."""
    key = f"errors_confusion_{at.session_state['errors_chart_version']}"
    at.session_state[key] = {
        "selection": {"points": [{"x": int(predicted_label), "y": int(true_label), "point_index": true_label * 10 + predicted_label}],
                      "point_indices": [true_label * 10 + predicted_label], "box": [], "lasso": []},
    }
    at.run()


def test_errors_clicking_a_cell_opens_its_gallery(with_runs):
    at = page("errors").run()
    at.selectbox(key="errors_model").set_value(label_of(at, "errors_model", with_runs["lenet5"])).run()
    matrix = plotly_array(plotly_figure(at, 0)["data"][0]["z"])
    true_label, predicted_label = np.unravel_index(int(matrix.argmax()), matrix.shape)
    click_cell(at, true_label, predicted_label)
    assert at.selectbox(key="errors_true").value == true_label
    assert at.selectbox(key="errors_predicted").value == predicted_label
    assert len(at.get("image")[0].captions) == min(int(matrix.max()), 16)
    outlined = plotly_figure(at, 0)["data"][1]["selectedpoints"]
    assert list(outlined) == [true_label * 10 + predicted_label]  # the chart outlines the chosen cell


def test_errors_select_boxes_win_over_an_earlier_click_and_a_click_wins_after(with_runs):
    at = page("errors").run()
    at.selectbox(key="errors_model").set_value(label_of(at, "errors_model", with_runs["lenet5"])).run()
    click_cell(at, 3, 5)
    at.selectbox(key="errors_true").set_value(1).run()  # the old click must not come back
    at.run()
    assert (at.selectbox(key="errors_true").value, at.selectbox(key="errors_predicted").value) == (1, 5)
    click_cell(at, 3, 5)  # the same cell again counts as a new click
    assert (at.selectbox(key="errors_true").value, at.selectbox(key="errors_predicted").value) == (3, 5)


def test_errors_run_without_predictions_gets_an_info(with_runs, saved_runs, tmp_path, monkeypatch):
    runs_dir, _ = saved_runs
    broken = tmp_path / "runs"
    broken.mkdir()
    source = runs_dir / with_runs["lenet5"]
    target = broken / "lenet5-unfinished"
    target.mkdir()
    for file in ("config.json", "metrics.jsonl"):
        (target / file).write_bytes((source / file).read_bytes())
    (target / "status.json").write_text(json.dumps({"status": "stopped", "reason": "stopped by request"}))
    monkeypatch.setenv("MNIST_LAB_RUNS_DIR", str(broken))
    at = page("errors").run()
    at.selectbox(key="errors_model").set_value(label_of(at, "errors_model", "lenet5-unfinished")).run()
    assert not at.exception
    assert any("no test predictions" in info.value for info in at.info)
    assert not at.get("plotly_chart")


# --- Inspect -----------------------------------------------------------------------------------


def test_inspect_conv_run_shows_filters_and_feature_maps(with_runs):
    at = page("inspect").run()
    at.selectbox(key="inspect_model").set_value(label_of(at, "inspect_model", with_runs["lenet5"])).run()
    assert [s.value for s in at.subheader] == ["Filters", "Feature maps"]
    texts = [m.value for m in at.markdown]
    # LeNet-5: conv 6x5x5 "same" on 28x28, then conv 16x5x5 "valid" on the pooled 14x14
    assert any("6 filters of 5×5" in t for t in texts) and any("16 filters of 5×5" in t for t in texts)
    assert any("6 maps of 28×28" in t for t in texts) and any("16 maps of 10×10" in t for t in texts)
    at.number_input(key="inspect_index").set_value(1).run()
    assert not at.exception
    assert any("true label 2" in caption for image in at.get("image") for caption in image.captions)  # x_test[1] is a 2


def test_inspect_feature_maps_of_the_latest_drawing(with_runs, mnist):
    at = page("inspect")
    at.session_state["latest_drawing"] = to_model_input(mnist.x_test[:1])[0, :, :, 0]
    at.run()  # opens on the newest run (softmax: no feature maps); the conv one is picked
    at.selectbox(key="inspect_model").set_value(label_of(at, "inspect_model", with_runs["lenet5"])).run()
    at.radio(key="inspect_input").set_value("My latest drawing (from Draw)").run()
    assert not at.exception
    assert any("your drawing" in caption for image in at.get("image") for caption in image.captions)


def test_inspect_softmax_run_shows_one_weight_image_per_digit(with_runs):
    at = page("inspect").run()
    at.selectbox(key="inspect_model").set_value(label_of(at, "inspect_model", with_runs["softmax"])).run()
    assert not at.exception
    assert [caption for image in at.get("image") for caption in image.captions] == [f"digit {d}" for d in range(10)]
    assert "Filters" not in [s.value for s in at.subheader]


# --- Draw --------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_draw_predicts_an_mnist_digit_drawn_on_the_canvas(index, without_runs, mnist):
    at = page("draw")
    at.session_state["draw_canvas"] = canvas_state(mnist.x_test[index])
    at.run()
    assert not at.exception
    predictions = [m for m in at.metric if m.label == "Prediction"]
    assert len(predictions) == 1
    assert predictions[0].value == str(mnist.y_test[index])
    assert at.session_state["latest_drawing"].shape == (28, 28)
    assert not at.info


def test_draw_empty_canvas_shows_a_hint_not_a_prediction(without_runs):
    at = page("draw").run()
    assert not at.exception
    assert not [m for m in at.metric if m.label == "Prediction"]
    assert any("Draw a digit" in info.value for info in at.info)


def test_draw_blank_drawing_shows_a_hint_not_a_prediction(without_runs):
    at = page("draw")
    at.session_state["draw_canvas"] = canvas_state(np.zeros((28, 28), dtype=np.uint8))
    at.run()
    assert not at.exception
    assert not [m for m in at.metric if m.label == "Prediction"]
    assert any("Draw a digit" in info.value for info in at.info)


def test_draw_compare_all_lists_every_model(with_runs, mnist):
    at = page("draw")
    at.session_state["draw_canvas"] = canvas_state(mnist.x_test[0])
    at.run()
    at.selectbox(key="draw_model").set_value("Compare all models").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) == 1 + len(with_runs)  # the shipped model and each saved run
    assert table["model"].iloc[0].startswith(PRETRAINED_LABEL)
    assert table["prediction"].iloc[0] == mnist.y_test[0]
    assert [m for m in at.metric if m.label == "Prediction"]


def test_draw_clear_button_empties_the_canvas(without_runs, mnist):
    at = page("draw")
    at.session_state["draw_canvas"] = canvas_state(mnist.x_test[0])
    at.run()
    assert [m for m in at.metric if m.label == "Prediction"]
    at.button(key="draw_clear").click().run()
    assert not [m for m in at.metric if m.label == "Prediction"]
    assert any("Draw a digit" in info.value for info in at.info)


def mounted_canvas(at: AppTest) -> tuple[str, dict]:
    """The canvas element's id (its key's: the browser remounts the canvas when it changes) and initial drawing."""
    (canvas,) = at.get("bidi_component")
    return canvas.proto.id, json.loads(canvas.proto.json)["initialDrawing"]


def test_draw_clear_empties_the_mounted_canvas_through_a_new_initial_drawing(without_runs, mnist):
    """Clear keeps the canvas's key (a new key mounted a new canvas in the browser, which lay lower until its
    stylesheet loaded: a stroke right after Clear missed it) and gives it an empty initial drawing unlike the last,
    which the mounted canvas empties itself on, each time Clear is pressed."""
    at = page("draw")
    at.session_state["draw_canvas"] = canvas_state(mnist.x_test[0])
    at.run()
    drawn_id, drawn_initial = mounted_canvas(at)
    at.button(key="draw_clear").click().run()
    cleared_id, cleared_initial = mounted_canvas(at)
    at.button(key="draw_clear").click().run()
    again_id, again_initial = mounted_canvas(at)
    assert drawn_id == cleared_id == again_id
    assert cleared_initial["objects"] == again_initial["objects"] == []
    assert len({json.dumps(initial, sort_keys=True) for initial in (drawn_initial, cleared_initial, again_initial)}) == 3
    assert any("Draw a digit" in info.value for info in at.info)


def test_draw_a_stroke_after_a_return_keeps_the_restored_drawing(without_runs, mnist):
    """Back from another page (the canvas's state dropped, its strokes and image kept), the canvas starts from the kept
    strokes and the kept image is predicted; the next stroke's run passes the same initial drawing (it passed none,
    and the browser's canvas emptied itself: the visitor's first stroke after a return wiped the drawing)."""
    at = page("draw")
    kept_strokes = {"version": "6.7.1", "objects": [{"type": "path", "path": [["M", 100, 40], ["L", 100, 240]]}]}
    rgba = np.asarray(Image.open(io.BytesIO(base64.b64decode(
        canvas_state(mnist.x_test[0])["drawing"]["data"].split(",", 1)[1]))))
    at.session_state["draw_kept_strokes"] = kept_strokes
    at.session_state["draw_kept_image"] = rgba
    at.run()
    _, restored = mounted_canvas(at)
    assert restored["objects"] == kept_strokes["objects"]
    assert [m.value for m in at.metric if m.label == "Prediction"] == [str(mnist.y_test[0])]
    at.session_state["draw_canvas"] = canvas_state(mnist.x_test[1])  # the next stroke: the canvas sends its drawing
    at.run()
    assert mounted_canvas(at)[1] == restored
    assert [m.value for m in at.metric if m.label == "Prediction"] == [str(mnist.y_test[1])]


# --- the shipped model -------------------------------------------------------------------------


def test_shipped_model_loads_in_safe_mode_and_scores_98_percent(mnist):
    assert PRETRAINED_MODEL_PATH.stat().st_size < 2_000_000
    model = load_pretrained_model()  # safe_mode=True inside
    probabilities = model.predict(to_model_input(mnist.x_test[:2000]), batch_size=500, verbose=0)
    accuracy = float((probabilities.argmax(axis=1) == mnist.y_test[:2000]).mean())
    assert accuracy >= 0.98
    assert pretrained_info()["test_accuracy"] >= 0.98


@pytest.mark.parametrize("view, key", [("inspect", "inspect_model"), ("errors", "errors_model")])
def test_a_link_with_a_run_opens_the_page_on_that_run(with_runs, view, key):
    # The links under a finished training carry ?run=<its name>: the page opens on that run, not the shipped model.
    at = page(view)
    at.query_params["run"] = with_runs["softmax"]
    at.run()
    assert not at.exception
    assert at.selectbox(key=key).value == label_of(at, key, with_runs["softmax"])
    at.selectbox(key=key).set_value(label_of(at, key, with_runs["lenet5"])).run()  # the link applies once: a pick sticks
    assert at.selectbox(key=key).value == label_of(at, key, with_runs["lenet5"])
    unknown = page(view)
    unknown.query_params["run"] = "no-such-run"
    unknown.run()
    assert not unknown.exception and not unknown.error


@pytest.mark.parametrize("view, key", [("inspect", "inspect_model"), ("errors", "errors_model")])
def test_a_local_visitor_opens_on_their_newest_run_and_the_shipped_model_stays_listed(with_runs, view, key):
    at = page(view).run()  # a local server: every run is its one user's; softmax was trained last
    assert not at.exception
    assert at.selectbox(key=key).value == label_of(at, key, with_runs["softmax"])
    assert at.selectbox(key=key).options[0].startswith("shipped model")
    at.selectbox(key=key).set_value(at.selectbox(key=key).options[0]).run()  # a pick of the shipped model sticks
    assert at.selectbox(key=key).value.startswith("shipped model")


def test_a_visitor_back_from_another_page_finds_their_newest_run_again(with_runs):
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60).run()
    at.switch_page("../pages/errors.py").run()
    assert at.selectbox(key="errors_model").value == label_of(at, "errors_model", with_runs["softmax"])
    at.switch_page("../pages/data.py").run()  # Streamlit drops the picker's state: it is not drawn there
    at.switch_page("../pages/errors.py").run()
    assert not at.exception
    assert at.selectbox(key="errors_model").value == label_of(at, "errors_model", with_runs["softmax"])  # not the shipped model


@pytest.fixture
def hosted(monkeypatch):
    """A hosted server's rules for this test (they are read once per process, so the cache is cleared either side)."""
    from dashboard.visitor import _rules_or_problem

    monkeypatch.setenv("MNIST_LAB_HOSTED", "1")
    _rules_or_problem.clear()
    yield
    monkeypatch.delenv("MNIST_LAB_HOSTED")
    _rules_or_problem.clear()


@pytest.mark.parametrize("view, key", [("inspect", "inspect_model"), ("errors", "errors_model")])
def test_a_hosted_visitor_opens_on_their_own_newest_run_not_anothers(with_runs, view, key, hosted):
    stranger = page(view).run()  # trained nothing here: the shipped model, not someone else's run
    assert not stranger.exception and stranger.selectbox(key=key).value.startswith("shipped model")
    at = page(view)
    at.session_state["session_runs"] = {with_runs["lenet5"]}  # as the Train page records this session's runs
    at.run()
    assert at.selectbox(key=key).value == label_of(at, key, with_runs["lenet5"])  # theirs, though softmax is newer
    at.session_state["session_runs"] = {with_runs["lenet5"], with_runs["softmax"]}  # they trained another since
    at.run()
    assert at.selectbox(key=key).value == label_of(at, key, with_runs["softmax"])
