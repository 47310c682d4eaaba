"""The epoch scrubber in a real browser: moving it changes Inspect's filters, Errors' confusion
matrix and Map's points, and Play runs the epochs forward to the last one and stops.

The run is real: LeNet-5 trained for 3 epochs with a checkpoint per epoch (the session's, tests/conftest.py). The oracle for the
confusion matrix is the checkpoint's own predictions; for the map, its map files (of 200 test digits, computed by
`python -m core embedding` from the checkpoints); for the filters, that their pictures change.
"""

import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from core.cli import main as cli
from core.embedding.embedding_map import EMBEDDING_FILE, EmbeddingMap
from core.embedding.epoch_maps import EPOCH_MAPS_FILE, EpochMaps
from core.figures.confusion import confusion_matrix
from core.runs.checkpoints import list_checkpoints, load_checkpoint_predictions
from live_server import assert_page_clean, chromium, fresh_log, new_page, running_server, screenshot, wait_idle, wait_text
from plotly_watch import AFTERPLOT_HOOK, DRAWN_SINCE
from test_browser_draw import CANVAS, SEVEN_BAR, SEVEN_LEG, draw_strokes

SLIDER = "[data-testid='stSlider'] input[type='range']"  # the thumb's hidden range input, which takes the keys
SHOTS = Path(os.environ.get("SCRUB_SHOTS_DIR", "/tmp/shots-scrub19"))
SIZES = {"1400x1000": (1400, 1000), "1280x720": (1280, 720), "390x844": (390, 844)}
MAP_DIGITS = 200  # a small map: its t-SNE costs little, and its files are the map test's oracle


@pytest.fixture(scope="module")
def trained(tmp_path_factory, checkpointed_lenet5):
    """The session's checkpointed LeNet-5 run, copied into the server's runs directory."""
    runs_dir = tmp_path_factory.mktemp("scrub_server") / "runs"
    shutil.copytree(checkpointed_lenet5, runs_dir / checkpointed_lenet5.name)
    assert list_checkpoints(runs_dir, checkpointed_lenet5.name) == [1, 2, 3]
    return runs_dir, checkpointed_lenet5.name


@pytest.fixture(scope="module")
def server(trained):
    runs_dir, _ = trained
    with running_server(runs_dir, fresh_log("scrubber")) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    with chromium() as live:
        yield live


def open_view_any_width(page, server, view: str, query: str = "") -> None:
    """Like `open_view`, for a window where the sidebar starts closed too (a phone's)."""
    page.goto(f"{server.url}/{view}{'?' + query if query else ''}", wait_until="domcontentloaded")
    page.locator("[data-testid='stApp']").wait_for(state="attached")


def open_run(page, server, view: str, name: str, heading: str):
    open_view_any_width(page, server, view, f"run={name}")
    wait_text(page, re.compile(f"^{heading} after epoch 3$"))
    wait_idle(page)


def scrub_to_first(page, heading: str) -> None:
    page.locator(SLIDER).first.focus()
    for _ in range(2):  # epoch 3 → 2 → 1, as a visitor's arrow keys move it
        page.keyboard.press("ArrowLeft")
    wait_text(page, re.compile(f"^{heading} after epoch 1$"))
    wait_idle(page)


def filter_pictures(page) -> list[str]:
    return page.locator("[data-testid='stImage'] img").evaluate_all("images => images.map(image => image.src)")


def shown_matrix(page) -> np.ndarray:
    # Plotly may still be drawing the chart after the page went idle (its div there, `data` not yet): wait for it.
    page.wait_for_function("""() => { const plot = document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot");
                                      return !!(plot && plot.data && plot.data[0] && plot.data[0].z); }""", timeout=60_000)
    z = page.locator("[data-testid='stPlotlyChart'] .js-plotly-plot").first.evaluate("plot => plot.data[0].z")
    if isinstance(z, dict):  # plotly's typed-array form
        import base64

        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(10, 10)
    return np.asarray(z)


def matrix_after(page, earlier: list[np.ndarray], timeout_s: float = 60) -> np.ndarray:
    """The confusion matrix shown once it is none of `earlier` (those shown before the action).

    Plotly redraws a chart in a promise chain of its own (Streamlit's PlotlyChart queues `Plotly.react` after the
    draw before it), so the chart can still hold the last epoch's numbers when the run that sent the new ones has
    ended: the page going idle does not prove the chart was redrawn."""
    deadline = time.monotonic() + timeout_s
    shown = shown_matrix(page)
    while any(np.array_equal(shown, matrix) for matrix in earlier):
        assert time.monotonic() < deadline, f"the confusion matrix still shows an earlier epoch's:\n{shown}"
        time.sleep(0.2)
        shown = shown_matrix(page)
    return shown


def test_scrubbing_changes_the_filters(server, browser, trained):
    _, name = trained
    page = new_page(browser)
    try:
        open_run(page, server, "inspect", name, "Filters")
        before = filter_pictures(page)
        assert len(before) >= 2
        scrub_to_first(page, "Filters")
        after = filter_pictures(page)
        assert after[0] != before[0] and after[1] != before[1]  # both layers' filters, drawn again for epoch 1
        assert_page_clean(page)
    finally:
        page.context.close()


def test_scrubbing_changes_the_confusion_matrix_and_play_runs_to_the_end(server, browser, trained):
    runs_dir, name = trained
    expected = {epoch: confusion_matrix(y, p.argmax(axis=1))
                for epoch, (y, p) in ((e, load_checkpoint_predictions(runs_dir, name, e)) for e in (1, 2, 3))}
    assert not np.array_equal(expected[1], expected[3])
    page = new_page(browser)
    try:
        open_run(page, server, "errors", name, "Confusion matrix")
        np.testing.assert_array_equal(shown_matrix(page), expected[3])
        scrub_to_first(page, "Confusion matrix")
        np.testing.assert_array_equal(matrix_after(page, [expected[3]]), expected[1])
        page.get_by_role("button", name=re.compile("Play")).click()
        wait_text(page, re.compile("^Confusion matrix after epoch 2$"))
        wait_text(page, re.compile("^Confusion matrix after epoch 3$"))
        page.get_by_role("button", name=re.compile("Play")).wait_for(state="visible")  # stopped: Pause is Play again
        wait_idle(page)
        # Shown on the way: epoch 1's, then epoch 2's (those of them that are not epoch 3's too).
        on_the_way = [expected[e] for e in (1, 2) if not np.array_equal(expected[e], expected[3])]
        np.testing.assert_array_equal(matrix_after(page, on_the_way), expected[3])
        assert_page_clean(page)
    finally:
        page.context.close()


@pytest.mark.parametrize("size", SIZES)
def test_screenshots_of_the_scrubbed_views(server, browser, trained, size):
    """Not a check of looks: the pages at three window sizes on epoch 1, saved to look at, and clean."""
    _, name = trained
    page = new_page(browser)
    page.set_viewport_size(dict(zip(("width", "height"), SIZES[size])))
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        for view, heading in (("inspect", "Filters"), ("errors", "Confusion matrix")):
            open_run(page, server, view, name, heading)
            scrub_to_first(page, heading)
            (SHOTS / f"{view}-{size}.png").write_bytes(screenshot(page, f"scrub-{view}-{size}").read_bytes())
            assert_page_clean(page)
        open_view_any_width(page, server, "draw")
        page.locator(CANVAS).wait_for(state="visible")
        page.locator("[data-testid='stSelectbox']").first.click()
        page.get_by_role("option", name=re.compile(re.escape(name))).click()
        draw_strokes(page, SEVEN_BAR, SEVEN_LEG)
        wait_text(page, "epoch by epoch")
        wait_idle(page)
        (SHOTS / f"draw-{size}.png").write_bytes(screenshot(page, f"scrub-draw-{size}").read_bytes())
        assert_page_clean(page)
    finally:
        page.context.close()


@pytest.fixture(scope="module")
def mapped(trained) -> tuple[str, EmbeddingMap, EpochMaps]:
    """The run's map and its map through the epochs, computed from its checkpoints as `python -m core embedding` does."""
    runs_dir, name = trained
    assert cli(["embedding", "--run", name, "--runs-dir", str(runs_dir), "--digits", str(MAP_DIGITS)]) == 0
    folder = runs_dir / name
    return name, EmbeddingMap.load(folder / EMBEDDING_FILE), EpochMaps.load(folder / EPOCH_MAPS_FILE)


def drawn_map(page, epoch: int, since: float, earlier: dict[str, np.ndarray] | None = None,
              timeout_s: float = 60) -> dict[str, np.ndarray]:
    """The map as plotly drew it after `since` for `epoch` (its caption says so), once it is not `earlier` (the map
    drawn before the action): `(n, 2)` places per trace name.

    Plotly draws each figure twice, the second time a few tenths of a second after the first (0.2-0.8 s here, both
    after the run that sent it had ended): `since`, read after the first drawing of the map before the action,
    could come before its second, which then passed for the action's map."""
    wait_text(page, f"misclassified after epoch {epoch}")
    deadline = time.monotonic() + timeout_s
    while True:
        traces = page.wait_for_function(DRAWN_SINCE, arg=["^mistakes", since]).json_value()
        shown = {trace["name"]: np.stack([trace["x"], trace["y"]], axis=1).reshape(-1, 2) for trace in traces}
        if earlier is None or not same_map(shown, earlier):
            return shown
        assert time.monotonic() < deadline, "the map still shows the one drawn before the action"
        time.sleep(0.2)


def same_map(one: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> bool:
    return one.keys() == other.keys() and all(np.array_equal(one[name], other[name]) for name in one)


def assert_map_is(shown: dict[str, np.ndarray], places: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray) -> None:
    """Every digit trace at its digits' places, in file order, and the mistakes marked where the model was wrong."""
    for digit in range(10):
        np.testing.assert_allclose(shown[str(digit)], places[y_true == digit], rtol=1e-5, atol=1e-6)
    wrong = y_true != y_pred
    np.testing.assert_allclose(shown[f"mistakes ({int(wrong.sum())})"], places[wrong], rtol=1e-5, atol=1e-6)


def test_scrubbing_moves_the_map_to_each_epochs_places(server, browser, mapped):
    name, embedding, maps = mapped
    assert maps.epochs.tolist() == [1, 2, 3] and len(maps.indices) == MAP_DIGITS
    page = new_page(browser)
    page.context.add_init_script(AFTERPLOT_HOOK)
    try:
        open_view_any_width(page, server, "map", f"run={name}")
        now = lambda: page.evaluate("performance.now()")  # noqa: E731
        shown = drawn_map(page, 3, 0)
        assert_map_is(shown, embedding.views["tsne"], embedding.y_true, maps.predictions_at(3))  # the kept model's
        wait_idle(page)
        since = now()
        page.locator(".st-key-map_view_controls").get_by_text("PCA").first.click()
        shown = drawn_map(page, 3, since, earlier=shown)
        assert_map_is(shown, maps.view_at("pca", 3), embedding.y_true, maps.predictions_at(3))
        wait_idle(page)
        since = now()
        page.locator(SLIDER).first.focus()
        page.keyboard.press("ArrowLeft")  # epoch 3 -> 2: each digit moves to its place in epoch 2's own PCA
        shown = drawn_map(page, 2, since, earlier=shown)
        assert_map_is(shown, maps.view_at("pca", 2), embedding.y_true, maps.predictions_at(2))
        assert not np.allclose(maps.view_at("pca", 2), maps.view_at("pca", 3), atol=1e-2)  # a move the check can see
        wait_idle(page)
        since = now()
        page.locator(".st-key-map_view_controls").get_by_text("t-SNE").first.click()  # the kept model's places, epoch 2's mistakes
        assert_map_is(drawn_map(page, 2, since, earlier=shown), embedding.views["tsne"], embedding.y_true,
                      maps.predictions_at(2))
        assert_page_clean(page)
    finally:
        page.context.close()
