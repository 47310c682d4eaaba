"""Fork and Resume from the Runs page in a real browser (issue 19).

A learner forks a 3-epoch LeNet-5 run from epoch 1 with ten times its learning rate: the Train form
opens with the parent's settings, the fork trains on the server's own worker, and on the Runs overlay
its curve starts at epoch 2, on the same chart as its parent's. Then they resume the parent for one
more epoch: it is the same run, with 4 epochs.
"""

import base64
import re
import shutil

import numpy as np
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from core.runs.checkpoints import list_checkpoints
from core.runs.store import list_runs, load_run
from live_server import SCREENSHOTS_DIR, assert_page_clean, chromium, fresh_log, new_page, open_view, running_server, wait_idle, wait_text

END_TIMEOUT_MS = 300_000  # a worker's TensorFlow start and a few tiny epochs on a loaded 2-core box; never a speed check
PARENT = "parent-lenet5"
OVERLAY = ".st-key-runs_overlay_chart .js-plotly-plot"
TRACES = """(selector) => {
    const plot = document.querySelector(selector);
    if (!plot || !plot.data || !plot.data.length) return null;
    return plot.data.map(trace => ({name: trace.name, x: trace.x}));
}"""


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory, checkpointed_lenet5):
    """The session's 3-epoch LeNet-5 run (tests/conftest.py), copied in as PARENT: the resume changes it."""
    runs_dir = tmp_path_factory.mktemp("fork_server") / "runs"
    shutil.copytree(checkpointed_lenet5, runs_dir / PARENT)
    parent = load_run(PARENT, runs_dir)
    assert parent.status == "completed" and len(parent.epochs) == 3 and list_checkpoints(runs_dir, PARENT) == [1, 2, 3]
    return runs_dir


@pytest.fixture(scope="module")
def server(runs_dir):
    with running_server(runs_dir, fresh_log("fork_resume")) as live:
        yield live


@pytest.fixture(scope="module")
def page(server):
    with chromium() as browser:
        page = new_page(browser)
        yield page
        page.context.close()


PROJECTOR = {"width": 1280, "height": 720}
IN_VIEW = """([selector, height]) => {
    document.querySelector("[data-testid='stMain']")?.scrollTo(0, 0);
    const element = document.querySelector(selector);
    if (!element) return null;
    const box = element.getBoundingClientRect();
    return {top: box.top, bottom: box.bottom, inView: box.height > 0 && box.top >= 0 && box.bottom <= height};
}"""


def in_view_on_a_projector(page, selector: str) -> dict:
    """`selector`'s box at 1280x720, the page at its top: waited for until it lies in the window (a layout that
    moves as widgets arrive), else the last box seen, for the assertion's message."""
    try:
        page.wait_for_function(f"(arg) => ({IN_VIEW})(arg)?.inView", arg=[selector, PROJECTOR["height"]], timeout=10_000)
    except PlaywrightTimeout:
        pass
    return page.evaluate(f"(arg) => ({IN_VIEW})(arg)", [selector, PROJECTOR["height"]])


def overlay_traces(page) -> list[dict]:
    """The Runs overlay's traces (name and x values as ints), once plotly has drawn them."""
    page.wait_for_function(f"() => ({TRACES})({OVERLAY!r})", timeout=60_000)
    traces = page.evaluate(f"() => ({TRACES})({OVERLAY!r})")
    for trace in traces:
        x = trace["x"] or []
        if isinstance(x, dict):  # plotly's typed-array form
            x = np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"])
        trace["x"] = [int(value) for value in x]
    return traces


def open_parent(page, server) -> None:
    open_view(page, server, "runs", f"run={PARENT}")
    page.get_by_role("button", name=re.compile(r"^Fork from epoch \d+$")).wait_for(state="visible")
    wait_idle(page)


def pick_fork_epoch(page, epoch: int, attempts: int = 5) -> None:
    """Pick `epoch` in the Fork menu, as a visitor does: open it, click the epoch. A rerun that lands
    right after the page went idle (a new visitor's cookie) redraws the menu closed: open it again."""
    menu = page.locator(f".st-key-runs_fork_epoch_{PARENT} [data-testid='stSelectbox']")
    option = page.locator("[role='option']", has_text=re.compile(rf"^{epoch}$"))
    button = page.get_by_role("button", name=f"Fork from epoch {epoch}")
    for _ in range(attempts):
        menu.click()
        try:
            option.wait_for(state="visible", timeout=5_000)
            option.click()
            button.wait_for(state="visible", timeout=10_000)
            return
        except PlaywrightTimeout:
            wait_idle(page)
    raise AssertionError(f"the Fork menu never offered epoch {epoch}")


def test_a_fork_with_ten_times_the_learning_rate_continues_the_parents_curve(server, page, runs_dir):
    open_parent(page, server)
    pick_fork_epoch(page, 1)
    page.get_by_role("button", name="Fork from epoch 1").click()

    wait_text(page, re.compile(rf"Fork of run {PARENT} from epoch 1"))
    wait_idle(page)
    size = page.viewport_size
    page.set_viewport_size(PROJECTOR)  # a class's projector: the note and Start both in view, no scrolling
    try:
        boxes = {selector: in_view_on_a_projector(page, selector) for selector in (".st-key-train_fork_note",
                                                                                  ".st-key-train_start")}
        SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS_DIR / "train-fork-projector-1280x720.png"))
        for selector, box in boxes.items():
            assert box and box["inView"], f"{selector} is not in the 1280x720 window: {box}"
    finally:
        page.set_viewport_size(size)
    rate = page.locator(".st-key-train_learning_rate input")
    assert float(rate.input_value()) == pytest.approx(0.01)  # the parent's settings fill the form
    rate.fill("0.1")
    rate.press("Enter")
    # The Enter's run answered: the page writes the form into the address bar (wait_idle alone could look before
    # that run had begun, and Start would then be pressed while it redraws the form).
    page.wait_for_url(re.compile(r"[?&]learning_rate=0\.1(&|$)"))
    wait_idle(page)
    page.locator(".st-key-train_start").get_by_role("button", name="Start training").click()
    wait_text(page, re.compile(rf"fork of {PARENT} at epoch 1"))
    page.locator("[data-testid='stAlert']", has_text=re.compile(r"^completed: ")).wait_for(timeout=END_TIMEOUT_MS)
    assert_page_clean(page)

    [fork] = [run for run in list_runs(runs_dir) if run.parent]
    assert fork.parent == {"run": PARENT, "epoch": 1} and fork.config["learning_rate"] == pytest.approx(0.1)
    assert [e["epoch"] for e in fork.epochs] == [2, 3, 4]

    open_view(page, server, "runs")
    wait_idle(page)
    traces = overlay_traces(page)
    firsts = {trace["name"]: trace["x"][0] for trace in traces if trace["x"]}
    fork_traces = [name for name in firsts if name.startswith("lr 0.1 ")]
    parent_traces = [name for name in firsts if name.startswith("lr 0.01 ")]
    assert fork_traces and parent_traces, firsts  # both runs on the one chart
    assert all(firsts[name] == 2 for name in fork_traces), firsts  # the fork's first x: its parent's epoch 1, + 1
    assert all(firsts[name] == 1 for name in parent_traces), firsts
    assert_page_clean(page)


def test_resuming_the_parent_for_one_more_epoch_gives_it_a_fourth(server, page, runs_dir):
    open_parent(page, server)
    page.get_by_role("button", name="Resume for 1 more epoch").click()
    wait_text(page, re.compile(r"resumed from epoch 3"))
    page.locator("[data-testid='stAlert']", has_text=re.compile(r"^completed: ")).wait_for(timeout=END_TIMEOUT_MS)
    wait_text(page, re.compile(rf"Saved as run {PARENT}"))
    assert_page_clean(page)

    parent = load_run(PARENT, runs_dir)
    assert parent.status == "completed" and [e["epoch"] for e in parent.epochs] == [1, 2, 3, 4]
    open_view(page, server, "runs")
    wait_idle(page)
    parent_x = [trace["x"] for trace in overlay_traces(page) if trace["name"].startswith("lr 0.01 ")]
    assert parent_x and all(x == [1, 2, 3, 4] for x in parent_x), parent_x
    assert_page_clean(page)
