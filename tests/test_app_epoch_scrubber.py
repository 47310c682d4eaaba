"""The epoch scrubber on Inspect, Errors and Draw, run headless with AppTest on a real checkpointed run."""

import base64
import io
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import core  # noqa: F401  (before anything imports TensorFlow)
from core.config.train_config import preset_config
from core.figures.confusion import confusion_matrix
from core.figures.network_view import conv_filters
from core.runs.checkpoints import list_checkpoints, load_checkpoint_numpy_model, load_checkpoint_predictions
from core.runs.recorded_run import RecordedRun
from dashboard.epoch_scrubber import PLAY_SECONDS

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

ROOT = Path(__file__).resolve().parents[1]
CANVAS_SIZE = 280


def page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=60)


def train(config, runs_dir: Path) -> str:
    for event in RecordedRun(config, runs_dir=runs_dir):
        pass
    assert event.status == "completed", event
    return event.name


@pytest.fixture(scope="module")
def checkpointed_runs(tmp_path_factory, checkpointed_lenet5):
    """A LeNet-5 run with a checkpoint for each of its 3 epochs (the session's, copied), and one trained without
    checkpoints."""
    runs_dir = tmp_path_factory.mktemp("runs")
    scrubbed = checkpointed_lenet5.name
    shutil.copytree(checkpointed_lenet5, runs_dir / scrubbed)
    plain = train(preset_config("lenet5", epochs=2, train_size=300, batch_size=32, checkpoint_budget_mb=0.0), runs_dir)
    assert list_checkpoints(runs_dir, scrubbed) == [1, 2, 3] and list_checkpoints(runs_dir, plain) == []
    return runs_dir, scrubbed, plain


@pytest.fixture
def runs(checkpointed_runs, monkeypatch):
    runs_dir, _, _ = checkpointed_runs
    monkeypatch.setenv("MNIST_LAB_RUNS_DIR", str(runs_dir))
    return checkpointed_runs


def pick(at: AppTest, key: str, run_name: str) -> AppTest:
    label = next(option for option in at.selectbox(key=key).options if option.startswith(run_name))
    return at.selectbox(key=key).set_value(label).run()


def plotly_array(value) -> np.ndarray:
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return flat.reshape([int(n) for n in value.get("shape", str(flat.size)).split(",")])
    return np.asarray(value)


def test_inspect_scrubber_shows_the_filters_of_the_chosen_epoch(runs):
    runs_dir, scrubbed, _ = runs
    at = pick(page("inspect").run(), "inspect_model", scrubbed)
    assert not at.exception and not at.error
    slider = at.select_slider(key="inspect_epoch")
    assert slider.options == ["1", "2", "3"] and slider.value == 3
    assert [s.value for s in at.subheader][:2] == ["Filters after epoch 3", "Feature maps after epoch 3"]
    last = [image.proto.imgs[0].url for image in at.get("image")]  # /media/<hash of the PNG>.png
    slider.set_value(1).run()
    assert not at.exception
    assert [s.value for s in at.subheader][:2] == ["Filters after epoch 1", "Feature maps after epoch 1"]
    first = [image.proto.imgs[0].url for image in at.get("image")]
    assert len(first) == len(last) == 5  # 2 layers' filters, the test digit, 2 layers' feature maps
    assert first[0] != last[0] and first[1] != last[1]  # other pictures of both layers' filters
    epoch1 = conv_filters(load_checkpoint_numpy_model(runs_dir, scrubbed, 1))[0].filters
    epoch3 = conv_filters(load_checkpoint_numpy_model(runs_dir, scrubbed, 3))[0].filters
    assert not np.allclose(epoch1, epoch3)


def test_inspect_distributions_have_a_row_per_kept_epoch(runs):
    runs_dir, scrubbed, _ = runs
    at = pick(page("inspect").run(), "inspect_model", scrubbed)
    assert "Distributions, epoch by epoch" in [s.value for s in at.subheader]
    charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    titles = [chart["layout"]["title"]["text"] for chart in charts]
    assert titles[:5] == ["conv2d/kernel", "conv2d_1/kernel", "dense/kernel", "dense_1/kernel", "dense_2/kernel"] or \
        sum(title.endswith("/kernel") for title in titles) == 5, titles
    assert sum(title.endswith("/activations") for title in titles) == 5
    first_kernel = next(chart for chart in charts if chart["layout"]["title"]["text"].endswith("/kernel"))
    z = plotly_array(first_kernel["data"][0]["z"])
    assert z.shape[0] == 3  # epochs 1, 2, 3
    np.testing.assert_allclose(z.sum(axis=1), 1.0)


def test_errors_scrubber_shows_each_epochs_confusion_matrix_and_what_changed(runs):
    runs_dir, scrubbed, _ = runs
    at = pick(page("errors").run(), "errors_model", scrubbed)
    assert not at.exception and not at.error
    matrices = {}
    for epoch in (1, 2, 3):
        y_true, probabilities = load_checkpoint_predictions(runs_dir, scrubbed, epoch)
        matrices[epoch] = confusion_matrix(y_true, probabilities.argmax(axis=1))
    for epoch in (1, 2, 3):
        at.select_slider(key="errors_epoch").set_value(epoch).run()
        assert not at.exception
        assert at.subheader[0].value == f"Confusion matrix after epoch {epoch}"
        chart = json.loads(at.get("plotly_chart")[0].proto.spec)
        np.testing.assert_array_equal(plotly_array(chart["data"][0]["z"]), matrices[epoch])
        assert at.metric[0].value == f"{np.trace(matrices[epoch]) / 10_000:.2%}"
        if epoch == 1:
            assert len(chart["data"]) == 2  # nothing before the first epoch to compare with
            continue
        change = matrices[epoch] - matrices[epoch - 1]
        marks = chart["data"][2]
        cells = sorted(zip(np.rint(plotly_array(marks["y"]) + 0.32).astype(int), np.rint(plotly_array(marks["x"]) - 0.32).astype(int)))
        assert cells == sorted(zip(*np.nonzero(change)))
        assert sorted(plotly_array(marks["customdata"]).tolist()) == sorted(change[np.nonzero(change)].tolist())


def test_draw_chart_follows_the_drawing_across_the_kept_epochs(runs, mnist):
    runs_dir, scrubbed, _ = runs
    at = page("draw")
    at.session_state["draw_canvas"] = canvas_state(mnist.x_test[0])
    at.run()
    pick(at, "draw_model", scrubbed)
    assert not at.exception and not at.error
    chart = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "epoch by epoch" in json.dumps(json.loads(c.proto.spec)["layout"].get("title", "")))
    assert [trace["name"] for trace in chart["data"]] == [str(d) for d in range(10)]
    image = at.session_state["latest_drawing"].reshape(1, 28, 28, 1)
    for digit, trace in enumerate(chart["data"]):
        assert plotly_array(trace["x"]).tolist() == [1, 2, 3]
        expected = [load_checkpoint_numpy_model(runs_dir, scrubbed, epoch)(image)[0, digit] for epoch in (1, 2, 3)]
        np.testing.assert_allclose(plotly_array(trace["y"]), expected, rtol=1e-5, atol=1e-7)
    at.select_slider(key="draw_epoch").set_value(1).run()
    answer = next(m for m in at.metric if m.label.startswith("After epoch"))
    assert answer.label == "After epoch 1"
    expected = load_checkpoint_numpy_model(runs_dir, scrubbed, 1)(image)[0]
    assert answer.value == str(int(expected.argmax()))


def test_play_steps_to_the_last_epoch_and_stops(runs):
    _, scrubbed, _ = runs
    at = pick(page("errors").run(), "errors_model", scrubbed)
    assert at.select_slider(key="errors_epoch").value == 3
    at.button(key="errors_play").click().run()  # at the last epoch, Play starts again from the first
    assert at.select_slider(key="errors_epoch").value == 1
    assert at.button(key="errors_play").label == "Pause"
    seen = [1]
    for _ in range(6):
        time.sleep(PLAY_SECONDS)
        at.run()  # what the play fragment's timer does: a run after each tick
        assert not at.exception
        seen.append(at.select_slider(key="errors_epoch").value)
    assert seen[:3] == [1, 2, 3] and set(seen[3:]) == {3}  # one epoch a tick, then it stays at the last
    assert at.button(key="errors_play").label == "Play"
    assert at.subheader[0].value == "Confusion matrix after epoch 3"


@pytest.mark.parametrize("name", ["inspect", "errors", "draw"])
def test_a_run_without_checkpoints_has_no_scrubber(runs, name, mnist):
    _, _, plain = runs
    at = page(name)
    at.session_state["draw_canvas"] = canvas_state(mnist.x_test[0])
    at.run()
    pick(at, f"{name}_model", plain)
    assert not at.exception and not at.error
    assert not at.select_slider
    assert not any("after epoch" in s.value.lower() for s in at.subheader)


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


@pytest.fixture
def copied_run(checkpointed_runs, tmp_path, monkeypatch):
    """A copy of the checkpointed run in a runs directory of its own, to damage."""
    runs_dir, scrubbed, _ = checkpointed_runs
    copy = tmp_path / "runs"
    shutil.copytree(runs_dir / scrubbed, copy / scrubbed)
    monkeypatch.setenv("MNIST_LAB_RUNS_DIR", str(copy))
    return copy, scrubbed


def test_a_damaged_checkpoint_says_which_epoch_and_the_fix(copied_run):
    runs_dir, scrubbed = copied_run
    (runs_dir / scrubbed / "checkpoints" / "epoch-0002" / "predictions.npz").write_bytes(b"not a zip file")
    at = pick(page("errors").run(), "errors_model", scrubbed)
    assert not at.error  # epoch 3 shows, only its changes since epoch 2 are not marked
    assert at.subheader[0].value == "Confusion matrix after epoch 3"
    assert len(json.loads(at.get("plotly_chart")[0].proto.spec)["data"]) == 2
    assert any("No changes marked" in caption.value and "epoch 2" in caption.value.replace("\\", "") for caption in at.caption)
    at.select_slider(key="errors_epoch").set_value(2).run()
    assert not at.exception
    assert len(at.error) == 1
    shown = at.error[0].value.replace("\\", "")  # as markdown, every punctuation mark escaped
    assert f"Run '{scrubbed}', epoch 2: predictions.npz is corrupt" in shown
    assert "Pick another epoch, or delete the run and retrain." in shown
    at.select_slider(key="errors_epoch").set_value(1).run()  # the other epochs still show
    assert not at.error and at.subheader[0].value == "Confusion matrix after epoch 1"


def test_a_checkpoint_removed_while_shown_falls_back_to_a_kept_epoch(copied_run):
    runs_dir, scrubbed = copied_run
    at = pick(page("inspect").run(), "inspect_model", scrubbed)
    at.select_slider(key="inspect_epoch").set_value(2).run()
    shutil.rmtree(runs_dir / scrubbed / "checkpoints" / "epoch-0002")  # as the budget's pruning would
    at.run()
    assert not at.exception and not at.error
    assert at.select_slider(key="inspect_epoch").options == ["1", "3"]
    assert at.select_slider(key="inspect_epoch").value == 3
    assert at.subheader[0].value == "Filters after epoch 3"
