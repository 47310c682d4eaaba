"""Train page in a real browser: a training survives page changes and a reload, and Stop stops it.

The training runs on the server, outside any page script; the page only polls it. So the
learning curve must keep gaining points while the user is away on another page, and a reload
(a brand-new Streamlit session) must find the job again through the `job` query parameter.
Each test continues the one before (one server, one browser session), in file order.
"""

import re
from urllib.parse import parse_qs, urlparse

import pytest

from live_server import (
    assert_page_clean, chromium, click_nav, fresh_log, new_page, open_view, running_server,
    SCREENSHOTS_DIR, screenshot, wait_idle, wait_text,
)

# The MLP on 1,000 images: epochs of a fraction of a second, and far more of them (a minute or
# more, 1,000 epochs) than the tests need, so the run is still going when Stop is pressed. Batches of 500: one
# batch-level point an epoch, so the whole run stays under the 2,000 points a job keeps (past
# them the count stops growing, and the checks below count points to see the curve grow).
EPOCHS = 1000
TRAIN_QUERY = f"model=mlp&train_size=1000&validation_size=500&epochs={EPOCHS}&patience=0&batch_size=500"
CURVE_TIMEOUT_MS = 180_000  # first epoch: TensorFlow import, data, graph tracing, on a busy 2-core box
STOP_TIMEOUT_MS = 120_000  # the current batch, then scoring the test set and saving the model
# Not a stale copy: while a page reruns, Streamlit can briefly keep the previous run's chart
# (data-stale="true") beside the new one.
LOSS_CHART = ".st-key-train_loss_chart:not([data-stale='true'])"

COUNT_POINTS = """(selector) => {
    const plot = document.querySelector(selector + " .js-plotly-plot");
    if (!plot || !plot.data) return -1;
    return Math.max(0, ...plot.data.map(trace => (trace.x || []).length));
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("train_server")
    with running_server(root / "runs", fresh_log("train")) as live:
        yield live


@pytest.fixture(scope="module")
def browser_page(server):
    with chromium() as browser:
        page = new_page(browser)
        yield page, page.context.outside_requests
        page.context.close()


@pytest.fixture(scope="module")
def page(browser_page):
    return browser_page[0]


@pytest.fixture(scope="module")
def started(server, page):
    """Start one training from the Train page; yields its job id (as the URL carries it)."""
    open_view(page, server, "train", TRAIN_QUERY)
    start = page.locator(".st-key-train_start").get_by_role("button", name="Start training")
    start.wait_for(state="visible")
    start.click()
    page.wait_for_url(re.compile(r"[?&]job="), timeout=CURVE_TIMEOUT_MS)
    job = parse_qs(urlparse(page.url).query)["job"][0]
    return job


def wait_points(page, more_than: int, timeout_ms: int = CURVE_TIMEOUT_MS) -> int:
    """Wait until the loss curve has more than `more_than` points; returns how many it has.

    The count is the one the waiting check saw, in the same evaluation: reading it again
    afterwards could land while a rerun swaps the chart element (-1), as CI once caught.
    """
    seen = page.wait_for_function(
        f"(n) => {{ const points = ({COUNT_POINTS})({LOSS_CHART!r}); return points > n ? [points] : false; }}",
        arg=more_than, timeout=timeout_ms,
    )
    return seen.json_value()[0]


def run_caption(page) -> str:
    """The job's caption line, e.g. "`mlp` · 1,000 images · … · run `mlp-2026…`"."""
    return wait_text(page, re.compile(r"· run mlp-")).inner_text()


def screenshot_path(name: str):
    """Where a window-sized screenshot goes (`screenshot()` shoots the whole page instead)."""
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS_DIR / f"{name}.png"


def test_curve_gains_points_while_training(started, page):
    first = wait_points(page, 0)
    assert first >= 1
    assert wait_points(page, first) > first
    screenshot(page, "train")
    assert_page_clean(page)


PROJECTOR = {"width": 1280, "height": 720}
PHONE = {"width": 390, "height": 844}
CHART_TOP_MAX_PX = 420  # on a 1280x720 projector, the curves start this high at most: in view without scrolling
BOX = """(selector) => {
    const element = document.querySelector(selector);
    if (!element) return null;
    const box = element.getBoundingClientRect();
    if (box.height === 0) return null;
    return {top: box.top, bottom: box.bottom, left: box.left, right: box.right};
}"""


def box_of(page, selector: str) -> dict:
    """The element's box in the window, the page scrolled to its top; waits while a rerun swaps the element."""
    page.evaluate("() => document.querySelector(\"[data-testid='stMain']\")?.scrollTo(0, 0)")
    return page.wait_for_function(BOX, arg=selector, timeout=CURVE_TIMEOUT_MS).json_value()


def test_on_a_projector_the_curves_are_in_view_without_scrolling(started, page):
    """At 1280x720, during the training, both charts start at most 420 px down and lie inside the window,
    beside each other; the Stop button is still in the window too. Layout, not speed."""
    size = page.viewport_size
    page.set_viewport_size(PROJECTOR)
    try:
        # A run of the live view drawn at the new width (a point more than it showed after the resize), in place
        # of a pause that stood in for it.
        wait_points(page, wait_points(page, 1))
        loss = box_of(page, LOSS_CHART)
        accuracy = box_of(page, ".st-key-train_accuracy_chart:not([data-stale='true'])")
        stop = box_of(page, ".st-key-train_stop")
        page.screenshot(path=str(screenshot_path("train-projector-1280x720")))
        assert 0 <= loss["top"] <= CHART_TOP_MAX_PX, f"the loss chart starts {loss['top']:.0f} px down"
        assert loss["bottom"] <= PROJECTOR["height"], f"the loss chart ends below the window: {loss}"
        assert accuracy["top"] == pytest.approx(loss["top"], abs=2) and accuracy["left"] >= loss["right"]
        assert stop["bottom"] <= PROJECTOR["height"], f"Stop is below the window: {stop}"
        assert_page_clean(page)
    finally:
        page.set_viewport_size(size)


def test_on_a_phone_the_live_view_comes_before_the_form(started, page):
    """At 390x844 the columns stack: the curves first, one under the other, each within the screen's width."""
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    try:
        wait_points(page, wait_points(page, 1))  # a run of the live view drawn at the phone's width
        loss = box_of(page, LOSS_CHART)
        accuracy = box_of(page, ".st-key-train_accuracy_chart:not([data-stale='true'])")
        model = box_of(page, ".st-key-train_model")
        page.screenshot(path=str(screenshot_path("train-phone-390x844")))
        assert loss["top"] < PHONE["height"], f"the loss chart starts below the first screen: {loss}"
        assert accuracy["top"] >= loss["bottom"] - 2, "the charts do not stack on a phone"
        assert loss["left"] >= 0 and loss["right"] <= PHONE["width"] and accuracy["right"] <= PHONE["width"]
        assert model["top"] > accuracy["bottom"], "the form comes before the live view on a phone"
        assert_page_clean(page)
    finally:
        page.set_viewport_size(size)


def test_training_goes_on_while_the_user_is_on_another_page(started, page):
    before = wait_points(page, 0)
    click_nav(page, "Data")
    wait_text(page, "MNIST training lab")
    page.locator("[data-testid='stMetric']", has_text="Training images").wait_for()
    click_nav(page, "Train")
    page.locator(LOSS_CHART).wait_for(state="visible")
    back = wait_points(page, 0)
    assert back >= before, "points were lost on the way back"
    assert wait_points(page, back) > back, "the curve stopped growing after a page change"
    assert parse_qs(urlparse(page.url).query).get("job") == [started], "the page lost its job"
    assert_page_clean(page)


def test_a_reload_finds_the_same_run(started, page):
    name_before = run_caption(page).rsplit("run ", 1)[1]
    points_before = wait_points(page, 0)
    assert_page_clean(page)
    page.reload(wait_until="domcontentloaded")  # a new Streamlit session: only the URL remembers
    assert parse_qs(urlparse(page.url).query).get("job") == [started]
    page.locator(LOSS_CHART).wait_for(state="visible")
    assert run_caption(page).rsplit("run ", 1)[1] == name_before
    after = wait_points(page, points_before - 1)
    assert wait_points(page, after) > after, "the reloaded page does not follow the run"
    assert_page_clean(page)


def test_stop_ends_the_run_as_stopped(started, page):
    points = wait_points(page, 0)
    ending = page.locator("[data-testid='stAlert']", has_text=re.compile(r"^stopped: "))
    # A raw mouse click where the button is, as a person clicks: on a loaded box the live view's
    # redraw each second can replace the button's node faster than Playwright's locator click
    # finds it stable and attached (it retried for 60 s once). A click lost to a redraw is clicked again.
    for _ in range(3):
        box = page.locator(".st-key-train_stop").get_by_role("button", name="Stop").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        try:
            ending.wait_for(state="visible", timeout=STOP_TIMEOUT_MS // 3)
            break
        except Exception:
            continue
    ending.wait_for(state="visible", timeout=STOP_TIMEOUT_MS)
    # The ending is drawn above the curves, the controls and the tiles of the same run: until that run has ended
    # (the browser knows it began, having drawn the ending), the Stop and the tiles below may still be the last
    # live view's.
    wait_idle(page)
    assert "Saved as run" in ending.inner_text()
    assert page.locator(".st-key-train_stop").count() == 0, "Stop is still offered after the run stopped"
    start = page.locator(".st-key-train_start").get_by_role("button", name="Start training")
    assert start.is_enabled(), "Start is not offered again"
    epochs_done = page.locator("[data-testid='stMetric']", has_text="Epochs done")
    done = int(epochs_done.locator("[data-testid='stMetricValue']").inner_text().replace(",", ""))
    assert done >= points, "finished epochs were lost by stopping"
    assert done < EPOCHS
    assert_page_clean(page)


# Each view, the heading it must show, and an element that proves it drew its content.
VIEWS = [
    ("Data", "MNIST training lab", "[data-testid='stImage']"),
    ("Runs", "Runs", ".js-plotly-plot"),  # the overlaid curves
    ("Inspect", "Inspect a model", "[data-testid='stImage']"),
    ("Errors", "Errors", ".js-plotly-plot"),  # the confusion matrix
    ("Sweep", "Sweep", ".st-key-sweep_start"),
    ("Draw", "Draw a digit", "div[data-testid='stBidiComponentIsolated'] canvas.upper-canvas"),
]


@pytest.mark.parametrize("title, heading, content", VIEWS, ids=[view[0] for view in VIEWS])
def test_every_view_renders_with_a_saved_run(started, page, title, heading, content):
    """After the stopped run above, each view draws without an error box (screenshots for review)."""
    click_nav(page, title)
    page.get_by_role("heading", name=heading, exact=True).wait_for(state="visible")
    page.locator(content).first.wait_for(state="visible", timeout=CURVE_TIMEOUT_MS)
    wait_idle(page)
    screenshot(page, title.lower())
    assert_page_clean(page)


def test_no_view_requested_anything_outside_this_server(started, browser_page):
    """Every view above, the Train page and its training: no font, icon, image or script from elsewhere."""
    _, outside = browser_page
    assert outside == [], f"requests left 127.0.0.1: {sorted(set(outside))[:5]}"
