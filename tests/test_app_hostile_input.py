"""Issue 12 on the pages, with AppTest: visitor text never renders as markdown, links with tracking
parameters or bad values still apply what is good, every page survives a bad dataset, and a
symlinked model or predictions file is refused on Inspect, Errors and Draw.

The oracle for "does not render" is markdown-it-py (CommonMark, as Streamlit's react-markdown):
each element's markdown is rendered to HTML, which must hold no `<a>`, `<img>`, `<strong>` or
`<em>` and must show the visitor's value as literal text. KaTeX is not CommonMark: a `$` must
never be left unescaped. `tests/test_browser_hostile_links.py` checks the same in Chromium.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import shutil
import signal
import time
from pathlib import Path

os.environ.setdefault("MNIST_PATH", str(Path(__file__).resolve().parents[2] / "shared/data/mnist.npz"))

import numpy as np
import pytest
from PIL import Image

import core  # noqa: F401  (before anything imports TensorFlow)
import core.data.mnist
from core.config.train_config import preset_config
from core.runs.recorded_run import RecordedRun
from core.runs.store import MODEL_FILE, NUMPY_MODEL_FILE, PREDICTIONS_FILE, RUNS_DIR_ENV, STATUS_FILE

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest
MarkdownIt = pytest.importorskip("markdown_it").MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard" / "app.py")
MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
RENDERED_TAGS = re.compile(r"<(a|img|strong|em|h[1-6]|table|del)\b")
LINK = "[Session expired, click here to log in](https://evil.example/login)"
IMAGE = "![pixel](http://127.0.0.2:9/tracker.png)"
FORMULA = "$\\frac{1}{0}$ **bold**"
CANVAS_SIZE = 280


def open_page(page: str | None = None, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if page:
        at.switch_page(f"../pages/{page}.py")
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def page(name: str) -> AppTest:
    return AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=60)


def rendered(markdown: str) -> str:
    return MARKDOWN.render(markdown)


def assert_shown_as_text(markdown: str, *values: str) -> None:
    """`markdown` renders no link, image or emphasis, leaves no `$` for KaTeX, and shows each value literally."""
    output = rendered(markdown)
    assert not RENDERED_TAGS.search(output), output
    assert not re.search(r"(?<!\\)\$", markdown), markdown
    text = re.sub(r"\s+", " ", output).replace("\u2060", "")  # the word joiners that stop GFM's autolinks
    bare = html.unescape(re.sub(r"<[^>]+>", "", output))
    assert not re.search(r"(?i)(https?://|www\.)|[-.\w+]+@[-\w]+\.", bare), bare  # nothing left for GFM to autolink
    for value in values:
        assert html.escape(value, quote=False) in text, (value, text)


def assert_no_link_image_or_formula(markdown: str) -> None:
    """For a page's own markdown (which may be bold): no link, no image, no `$` left for KaTeX."""
    assert not re.search(r"<(a|img)\b", rendered(markdown)), markdown
    assert not re.search(r"(?<!\\)\$", markdown), markdown


def every_markdown(at: AppTest) -> list[str]:
    """The markdown bodies of every element that renders markdown."""
    return [element.value for kind in ("error", "warning", "info", "success", "caption", "markdown")
            for element in at.get(kind)]


# --- the Train page's link --------------------------------------------------------------------


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv(RUNS_DIR_ENV, str(folder))
    return folder


def test_a_link_or_an_image_in_any_query_value_or_key_does_not_render(runs_dir):
    # Issue 12 item 4: these rendered, as a link, an image loaded from any server, KaTeX and bold.
    at = open_page("train", {"model": LINK, "epochs": IMAGE, "learning_rate": FORMULA, f"x{LINK}": "1"})
    [box] = [element.value for element in at.error]
    assert "were not applied" in box
    assert_shown_as_text(box, repr(LINK), repr(IMAGE), repr(FORMULA))  # quoted as Python literals
    for markdown in every_markdown(at):
        assert_no_link_image_or_formula(markdown)
    [ignored] = [c.value for c in at.caption if "Ignored in this page" in c.value]
    assert_shown_as_text(ignored, f"x{LINK}"[:39] + "…")  # the key, cut to 40 characters


def test_a_tracking_parameter_does_not_refuse_the_link(runs_dir):
    # Issue 12 item 8: `utm_source` made the whole link refused.
    at = open_page("train", {"model": "mlp", "learning_rate": "0.5", "utm_source": "newsletter", "fbclid": "IwAR0"})
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="train_model").value == "mlp"
    assert at.number_input(key="train_learning_rate").value == 0.5
    [ignored] = [c.value for c in at.caption if "Ignored in this page" in c.value]
    assert "utm" in ignored and "fbclid" in ignored


def test_bad_link_values_are_listed_one_by_one_and_the_good_ones_applied(runs_dir):
    at = open_page("train", {"model": "mlp", "epochs": "-3", "learning_rate": "0.5", "dropout": "lots"})
    [box] = [element.value for element in at.error]
    items = [line for line in box.splitlines() if line.startswith("- ")]
    assert len(items) == 2 and "epochs" in items[0].replace("\\", "") and "dropout" in items[1].replace("\\", "")
    assert at.selectbox(key="train_model").value == "mlp"
    assert at.number_input(key="train_learning_rate").value == 0.5
    assert at.number_input(key="train_epochs").value == 30  # mlp's preset, as the bad value was skipped
    assert not at.button(key="train_start").disabled


def test_a_huge_model_value_is_cut_in_the_error_box(runs_dir):
    # Issue 12 item 7: 100,000 characters in gave a 100,176-character box.
    at = open_page("train", {"model": "x" * 100_000})
    [box] = [element.value for element in at.error]
    assert len(box) < 1000


# --- a saved run, and its damaged copies -------------------------------------------------------


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A finished 1-epoch MLP run (model.keras, model.numpy.npz, predictions.npz); tests copy it."""
    folder = tmp_path_factory.mktemp("saved")
    *_, done = RecordedRun(preset_config("mlp", epochs=1, train_size=300, batch_size=32, validation_size=500),
                           runs_dir=folder, name="mlp-saved")
    assert done.status == "completed"
    assert (folder / "mlp-saved" / NUMPY_MODEL_FILE).is_file()
    return folder / "mlp-saved"


def copied_run(saved_run: Path, runs_dir: Path, name: str = "victim") -> Path:
    return Path(shutil.copytree(saved_run, runs_dir / name))


def label_of(at: AppTest, key: str, run_name: str) -> str:
    matches = [option for option in at.selectbox(key=key).options if option.startswith(run_name)]
    assert len(matches) == 1, at.selectbox(key=key).options
    return matches[0]


def canvas_state(digit: np.ndarray) -> dict:
    """What the canvas sends after a drawing: an MNIST digit, white on black, as a PNG."""
    picture = Image.fromarray(digit).resize((CANVAS_SIZE, CANVAS_SIZE), Image.Resampling.BILINEAR)
    rgba = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8)
    rgba[..., :3] = np.asarray(picture)[..., None]
    rgba[..., 3] = 255
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    data_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": data_url}, "backgroundFit": None}


def open_run_on(name: str, run_name: str, mnist) -> AppTest:
    """Page `name` with run `run_name` picked (and, on Draw, a digit drawn)."""
    at = page(name).run()
    assert not at.exception, at.exception
    key = at.selectbox[0].key
    at.selectbox(key=key).set_value(label_of(at, key, run_name)).run()
    if name == "draw":
        at.session_state["draw_canvas"] = canvas_state(mnist.x_test[0])
        at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("name", ["inspect", "errors", "draw"])
@pytest.mark.parametrize("linked", [MODEL_FILE, NUMPY_MODEL_FILE])
def test_a_symlinked_model_file_is_refused_with_a_message_on_each_page(name, linked, saved_run, runs_dir, tmp_path, mnist):
    # Issue 12 item 5: Inspect, Draw and Errors followed a symlinked model.keras.
    run = copied_run(saved_run, runs_dir)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.move(run / linked, outside / linked)
    (run / linked).symlink_to(outside / linked)  # a valid model, outside the runs directory
    if linked == MODEL_FILE:
        (run / NUMPY_MODEL_FILE).unlink()  # so that the page must open model.keras
    if name == "errors":
        (run / PREDICTIONS_FILE).unlink()  # so that the page must run the model
    before = (outside / linked).read_bytes()
    at = open_run_on(name, "victim", mnist)
    messages = [element.value.replace("\\", "") for element in at.error]
    assert any(f"{linked} is a symbolic link, which is never followed" in m for m in messages), messages
    assert (outside / linked).read_bytes() == before


def test_a_symlinked_predictions_file_is_refused_on_errors(saved_run, runs_dir, tmp_path, mnist):
    run = copied_run(saved_run, runs_dir)
    outside = tmp_path / PREDICTIONS_FILE
    shutil.move(run / PREDICTIONS_FILE, outside)
    (run / PREDICTIONS_FILE).symlink_to(outside)
    at = open_run_on("errors", "victim", mnist)
    messages = [element.value.replace("\\", "") for element in at.error]
    assert any(f"{PREDICTIONS_FILE} is a symbolic link, which is never followed" in m for m in messages), messages
    assert not at.metric  # no accuracy read from the outside file


def test_a_hostile_reason_in_a_run_folder_does_not_render_on_runs_and_errors(saved_run, runs_dir):
    run = copied_run(saved_run, runs_dir)
    for file in (MODEL_FILE, NUMPY_MODEL_FILE, PREDICTIONS_FILE):
        (run / file).unlink()
    status = json.loads((run / STATUS_FILE).read_text())
    status.update(status="failed", reason=f"{LINK} {IMAGE} {FORMULA}", test_accuracy=None)
    (run / STATUS_FILE).write_text(json.dumps(status))
    at = open_page("runs")
    for markdown in every_markdown(at):
        assert_no_link_image_or_formula(markdown)
    assert any(LINK in html.unescape(rendered(m)).replace("\u2060", "") for m in every_markdown(at))
    at = page("errors").run()
    [choice] = [option for option in at.selectbox(key="errors_model").options if option.startswith("victim")]
    at.selectbox(key="errors_model").set_value(choice).run()
    assert not at.exception
    [info] = [element.value for element in at.info]
    assert_shown_as_text(info, LINK, IMAGE, FORMULA)


# --- every page, with a missing or a truncated dataset ------------------------------------------


@pytest.fixture(params=["missing", "truncated"])
def bad_dataset(request, tmp_path, monkeypatch):
    """MNIST_PATH at a missing file (and nothing else to fall back on), or at half of the real file."""
    real = Path(os.environ["MNIST_PATH"])
    path = tmp_path / "mnist_copy.npz"
    if request.param == "truncated":
        data = real.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    monkeypatch.setenv("MNIST_PATH", str(path))
    monkeypatch.setattr(core.data.mnist, "PROJECT_MNIST_PATH", tmp_path / "no" / "mnist.npz")
    monkeypatch.setattr(core.data.mnist, "KERAS_CACHE_PATH", tmp_path / "none" / "mnist.npz")
    return path


@pytest.mark.parametrize("name", ["data", "train", "runs", "inspect", "errors", "draw"])
def test_every_page_survives_a_bad_dataset_with_the_data_pages_message(name, bad_dataset, runs_dir):
    # Issue 12 item 6: an uncaught DatasetError on Errors; Inspect generic when missing, blank when truncated.
    at = open_page(name)  # through the router: Data, Train and Runs link to other pages
    assert at.title, "the page drew nothing"
    if name in ("data", "inspect", "errors"):  # the pages that show MNIST's images or score its test set
        [message] = [element.value.replace("\\", "") for element in at.error]
        assert message.startswith("MNIST could not be loaded.") and bad_dataset.name in message, message


# --- the ending of a training that saved no model ----------------------------------------------


def worker_pids() -> list[int]:
    """This process's training workers (multiprocessing `spawn` children), from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"spawn_main" in command:
            pids.append(int(entry.name))
    return pids


def rerun_until(at: AppTest, done, what: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds  # an upper bound for a worker's first job on a busy 2-core box
    while not done(at):
        assert time.monotonic() < deadline, f"{what} did not happen"
        time.sleep(1)
        at.run()
        assert not at.exception, at.exception


def test_a_run_that_saved_no_model_is_not_called_saved(runs_dir):
    # Issue 12 item 8: "Saved as run …" on a run without a model, and "kept.." after a reason ending in a period.
    at = open_page("train", {"model": "mlp", "epochs": "1000", "batch_size": "32", "train_size": "30000",
                             "validation_size": "500", "patience": "0"})
    at.button(key="train_start").click().run()
    rerun_until(at, lambda at: at.metric and at.metric[0].value != "0", "the first epoch")
    for pid in worker_pids():  # the worker dies mid-run, as to the kernel's OOM killer
        os.kill(pid, signal.SIGKILL)
    rerun_until(at, lambda at: at.error, "the ending")
    [ending] = [element.value for element in at.error]
    shown = ending.replace("\\", "")
    assert shown.startswith("**interrupted**: ") and "its finished epochs are kept." in shown
    assert "Saved as run" not in shown and ".." not in shown
    [run] = [path.name for path in runs_dir.iterdir()]
    assert "No model was saved; its " in shown and f"finished epoch(s) are kept in run `{run}`." in shown
