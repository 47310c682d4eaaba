"""Draw page in a real browser: strokes drawn with the mouse on the canvas reach the shipped model.

The canvas lives in an open shadow root, which AppTest cannot draw on; Playwright's mouse can.
The oracle is the digit drawn: a clear "1", "7" and "0" must be read as 1, 7 and 0 by the
shipped pretrained model (no training needed). A two-stroke 7 is also the very first thing a new
visitor (a browser without the visitor cookie) draws, on a desktop and a phone-sized window: the
first run then set the cookie, and the canvas must keep its first stroke through the next run.
"""

import math

import pytest

from canvas_watch import CANVAS_EMPTY, CANVAS_HOST, CANVAS_IN_PLACE, CANVAS_TOOLBAR_SHOWN
from live_server import (
    assert_page_clean, chromium, fresh_log, new_page, open_view, running_server, screenshot, wait_run_over, wait_text,
)

CANVAS = "div[data-testid='stBidiComponentIsolated'] canvas.upper-canvas"
DRAWING_LAYER = "div[data-testid='stBidiComponentIsolated'] canvas.lower-canvas"  # Fabric paints the strokes here
HINT = "Draw a digit on the black square"
PREDICTION_TIMEOUT_MS = 60_000  # first prediction loads TensorFlow and the model
ONE = [(0.5, 0.15), (0.5, 0.5), (0.5, 0.85)]
ZERO = [(0.5 + 0.22 * math.sin(t), 0.5 - 0.33 * math.cos(t)) for t in
        (2 * math.pi * i / 24 for i in range(26))]  # an ellipse, closed, its ends overlapping
SEVEN_BAR = [(0.25, 0.2), (0.5, 0.2), (0.75, 0.2)]
SEVEN_LEG = [(0.75, 0.2), (0.6, 0.5), (0.45, 0.85)]  # from the bar's right end down to the left
DESKTOP, PROJECTOR, PHONE = {"width": 1400, "height": 1000}, {"width": 1280, "height": 720}, {"width": 390, "height": 844}
ANSWER = {"canvas": CANVAS, "prediction": "[data-testid='stMetric']", "probability bars": "[data-testid='stPlotlyChart']"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("draw_server")
    with running_server(root / "runs", fresh_log("draw")) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    with chromium() as live:
        yield live


@pytest.fixture(scope="module")
def shared_page(server, browser):
    page = new_page(browser)
    open_view(page, server, "draw")
    page.locator(CANVAS).wait_for(state="visible")
    yield page
    page.context.close()


@pytest.fixture
def draw_page(shared_page):
    """The Draw page of one browser session, with an empty canvas (cleared after earlier tests)."""
    if prediction_metric(shared_page).count():
        clear(shared_page)
    shared_page.locator(CANVAS).wait_for(state="visible")
    return shared_page


def canvas_box(page) -> dict:
    """The canvas's bounding box, once the canvas is where it stays (`canvas_watch.py`)."""
    page.wait_for_function(CANVAS_IN_PLACE, timeout=PREDICTION_TIMEOUT_MS)
    box = page.locator(CANVAS).bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, f"canvas not laid out: {box}"
    return box


def stroke(page, points, steps: int = 4) -> None:
    """Draw one stroke through `points`, given as fractions (x, y) of the canvas size."""
    box = canvas_box(page)
    absolute = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in points]
    page.mouse.move(*absolute[0])
    page.mouse.down()
    for point in absolute[1:]:
        page.mouse.move(*point, steps=steps)
    page.mouse.up()


def prediction_metric(page):
    return page.locator("[data-testid='stMetric']", has_text="Prediction")


def model_input_src(page) -> str | None:
    """The URL of the "What the model sees" image (Streamlit names media by content), or None."""
    image = page.locator("[data-testid='stImage'] img")
    return image.first.get_attribute("src") if image.count() else None


def draw(page, *strokes) -> int:
    """Draw `strokes` one by one (`draw_strokes`), then read the answer.

    Returns:
        The digit the "Prediction" metric shows for the whole drawing, or "?" where the page says it does not
        look like a digit.
    """
    draw_strokes(page, *strokes)
    value = prediction_metric(page).locator("[data-testid='stMetricValue']").inner_text().strip()
    return int(value) if value.isdigit() else value  # "?": the drawing so far does not look like a digit (a lone bar)


def draw_strokes(page, *strokes) -> None:
    """Draw `strokes` one by one, each once the canvas is in place; after each, wait until the page has classified
    the drawing so far (the metric's label varies: "Prediction", or "After epoch N" for a scrubbed run)."""
    for points in strokes:
        # `before` must be the input of the drawing so far, not of a run still drawing it: back from another page, the
        # Prediction metric shows before its run draws the model input under it, and `before`, read then, was nothing;
        # the kept drawing's input, drawn next, passed for the new stroke's (CI read the kept bar's "?" for a 7).
        wait_run_over(page, PREDICTION_TIMEOUT_MS)
        before = model_input_src(page)
        stroke(page, points)
        wait_classified(page, before, PREDICTION_TIMEOUT_MS)


def wait_classified(page, before: str | None, timeout: int) -> None:
    """Wait until a new model input is shown and the script run that drew it has finished.

    Waiting for both means the metric below is this drawing's (a stale one from the previous
    stroke would pass otherwise).
    """
    page.wait_for_function(
        """(before) => {
            const image = document.querySelector("[data-testid='stImage'] img");
            const app = document.querySelector("[data-testid='stApp']");
            return image && image.src && image.getAttribute("src") !== before
                && app.getAttribute("data-test-script-state") === "notRunning";
        }""",
        arg=before,
        timeout=timeout,
    )


def clear(page) -> None:
    """Press Clear and wait until its run is over and the canvas has emptied: hint shown, no drawing, no ink.

    The canvas empties itself when Clear's run reaches it (`dashboard/draw_canvas.py`); a stroke drawn before
    that lands on the old drawing, which is then wiped, stroke and all, as a visitor would see.
    """
    page.locator(".st-key-draw_clear button").click()
    page.wait_for_function(
        """(hint) => {
            const app = document.querySelector("[data-testid='stApp']");
            return app.getAttribute("data-test-script-state") === "notRunning"
                && app.innerText.includes(hint)
                && !document.querySelector("[data-testid='stImage'] img")
                && !document.querySelector("[data-testid='stMetric']")
                && document.querySelectorAll("div[data-testid='stBidiComponentIsolated']").length === 1
                && (%s)();
        }""" % CANVAS_EMPTY,
        arg=HINT,
        timeout=PREDICTION_TIMEOUT_MS,
    )
    page.locator(CANVAS).wait_for(state="visible")


def test_empty_canvas_shows_a_hint_not_a_prediction(draw_page):
    wait_text(draw_page, HINT)
    assert prediction_metric(draw_page).count() == 0


def test_a_drawn_one_is_read_as_1(draw_page):
    assert draw(draw_page, ONE) == 1
    assert draw_page.get_by_text(HINT).count() == 0


# Counts, from now on in this page, presses of the canvas toolbar's send button and websocket messages over
# 1,000 bytes (a rerun request carrying the drawing's PNG); `window.__strokeSends.restore()` undoes the count.
COUNT_SENDS = """(canvas) => {
    const counts = window.__strokeSends = {presses: 0, drawings: 0};
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (data) {
        if ((data.byteLength ?? data.size ?? data.length ?? 0) > 1000) counts.drawings += 1;
        return send.call(this, data);
    };
    const button = canvas.getRootNode().querySelector("button[aria-label='Update the app with this drawing']");
    const press = () => { counts.presses += 1; };
    button.addEventListener("click", press, true);
    Object.defineProperty(counts, "restore", {value: () => {
        WebSocket.prototype.send = send;
        button.removeEventListener("click", press, true);
    }});
}"""


def test_a_stroke_is_posted_once_at_its_release_by_the_canvas_send_button(draw_page):
    """The canvas alone posts a stroke 200 ms after the mouse's release (a debounce); Draw's script presses the
    canvas's own send button at the release instead, which cancels that wait: one press, one post, per stroke."""
    draw_page.locator(CANVAS).evaluate(COUNT_SENDS)
    try:
        assert draw(draw_page, ONE) == 1
        draw_page.wait_for_timeout(1000)  # give a second, debounced post the time to happen (a pause, then the check)
        counts = draw_page.evaluate("() => ({presses: window.__strokeSends.presses, drawings: window.__strokeSends.drawings})")
    finally:
        draw_page.evaluate("() => window.__strokeSends.restore()")
    assert counts["presses"] >= 1, "the release did not press the canvas's send button"
    assert counts["drawings"] == counts["presses"], f"a stroke was posted more than once (or not by the press): {counts}"


def inked(page, points) -> list[bool]:
    """Whether the canvas shows ink at each of `points` (fractions of its size), read from its pixels."""
    return page.locator(DRAWING_LAYER).last.evaluate(
        """(canvas, points) => {
            const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
            return points.map(([x, y]) => {
                const at = 4 * (Math.round(y * (canvas.height - 1)) * canvas.width + Math.round(x * (canvas.width - 1)));
                return pixels[at] > 128;  // white ink on black
            });
        }""",
        [list(point) for point in points],
    )


def test_a_seven_drawn_stroke_by_stroke_is_read_as_7(draw_page):
    assert draw(draw_page, SEVEN_BAR, SEVEN_LEG) == 7  # a visitor whose cookie is set already
    screenshot(draw_page, "draw")
    assert_page_clean(draw_page)


def test_each_drawing_right_after_clear_is_predicted(draw_page):
    """Clear, then a drawing at once, four times in a row: each drawing's one stroke reaches the server and the
    drawing's own prediction appears (a 1 and a 0 alternate: the one before it would be wrong). Clear mounted a new
    canvas, which lay lower until its stylesheet had loaded: a stroke aimed then missed it (`bench/clear_stroke.py`)."""
    for digit, points in [(1, ONE), (0, ZERO), (1, ONE), (0, ZERO)]:
        clear(draw_page)
        assert draw(draw_page, points) == digit
    assert_page_clean(draw_page)


def wait_data_page(page) -> None:
    """Wait until the Data page has replaced Draw: its title, a heading that only Data's run draws (Draw with a
    drawing already shows "MNIST" in its "as MNIST's digits were" caption, so waiting on that text returned at once,
    and the Draw page's metric, still shown, then passed for the prediction made again on the return)."""
    page.get_by_role("heading", name="MNIST training lab", exact=True).wait_for(state="visible")
    page.locator("[data-testid='stMetric']", has_text="Prediction").wait_for(state="detached")


def test_the_drawing_is_kept_across_pages(draw_page):
    first = draw(draw_page, SEVEN_BAR)  # a lone bar: "?" or a digit
    draw_page.locator("[data-testid='stSidebarNav'] a", has_text="Data").first.click()
    wait_data_page(draw_page)
    draw_page.locator("[data-testid='stSidebarNav'] a", has_text="Draw").first.click()
    prediction_metric(draw_page).wait_for(state="visible", timeout=PREDICTION_TIMEOUT_MS)  # predicted again, no new stroke
    assert prediction_metric(draw_page).locator("[data-testid='stMetricValue']").inner_text().strip() == str(first)
    # The first stroke after the return adds to the kept drawing (it used to empty the canvas, bar and leg alike).
    assert draw(draw_page, SEVEN_LEG) == 7
    assert inked(draw_page, [SEVEN_BAR[0], SEVEN_LEG[-1], (0.1, 0.9)]) == [True, True, False]
    assert_page_clean(draw_page)
    clear(draw_page)  # Clear still empties it, and a later visit starts blank
    draw_page.locator("[data-testid='stSidebarNav'] a", has_text="Data").first.click()
    wait_data_page(draw_page)
    draw_page.locator("[data-testid='stSidebarNav'] a", has_text="Draw").first.click()
    wait_text(draw_page, HINT)
    assert prediction_metric(draw_page).count() == 0


def off_screen(page, selectors: dict[str, str]) -> list[str]:
    """The names of the elements (given by selector) not wholly inside the window, the page scrolled to its top."""
    window = page.viewport_size
    outside = []
    for name, selector in selectors.items():
        box = page.locator(selector).first.bounding_box()
        if not box or box["x"] < 0 or box["y"] < 0 or box["x"] + box["width"] > window["width"] \
                or box["y"] + box["height"] > window["height"]:
            outside.append(f"{name} at {box}")
    return outside


def toolbar_covers(page) -> list[str]:
    """The controls that the canvas's toolbar, shown as the pointer rests on the canvas, lies over (it shows on
    hover, and on a phone after a tap): its delete button once sat on the brush slider's thumb."""
    page.locator(CANVAS).hover()
    page.wait_for_function(CANVAS_TOOLBAR_SHOWN, timeout=10_000)
    bar = page.locator(f"{CANVAS_HOST} .dc-toolbar-card").bounding_box()  # Playwright's selectors enter its shadow root
    covered = []
    for name, selector in {"the Model box": ".st-key-draw_model",
                           "the brush slider": ".st-key-draw_brush"}.items():
        box = page.locator(selector).first.bounding_box()
        if bar["x"] < box["x"] + box["width"] and box["x"] < bar["x"] + bar["width"] \
                and bar["y"] < box["y"] + box["height"] and box["y"] < bar["y"] + bar["height"]:
            covered.append(f"{name} at {box} (toolbar at {bar})")
    return covered


@pytest.mark.parametrize("viewport", [DESKTOP, PROJECTOR, PHONE], ids=["desktop", "projector", "phone"])
def test_a_new_visitors_first_strokes_are_kept(server, browser, viewport):
    """A fresh browser (no visitor cookie) opens Draw and draws a 7 in two strokes as its very first action;
    the canvas, the answer and its bars are then all on screen without scrolling."""
    page = new_page(browser)
    try:
        assert not page.context.cookies(), "a fresh context starts without cookies"
        page.set_viewport_size(viewport)
        page.goto(f"{server.url}/draw", wait_until="domcontentloaded")  # on a phone the sidebar is closed
        page.locator(CANVAS).wait_for(state="visible")
        assert draw(page, SEVEN_BAR, SEVEN_LEG) == 7
        # Both strokes are still on the canvas (the bar's left end, the leg's foot), not the leg alone.
        assert inked(page, [SEVEN_BAR[0], SEVEN_LEG[-1], (0.1, 0.9)]) == [True, True, False]
        assert "mnist_lab_visitor" in [cookie["name"] for cookie in page.context.cookies()]
        assert page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollTop") == 0
        assert off_screen(page, ANSWER) == [], f"at {viewport}, drawing and answer need a scroll"
        assert toolbar_covers(page) == [], f"at {viewport}, the canvas's toolbar covers controls"
        screenshot(page, f"draw_first_seven_{viewport['width']}x{viewport['height']}")
        assert_page_clean(page)
    finally:
        page.context.close()


@pytest.mark.parametrize("viewport, closes", [(PHONE, True), (DESKTOP, False)], ids=["phone", "desktop"])
def test_picking_a_page_closes_the_sidebar_on_a_narrow_screen_only(server, browser, viewport, closes):
    """On a phone-sized window the sidebar covers the page: picking a page in it closes it. Streamlit does so
    itself only for a phone's user agent; a desktop's (this browser's) at 390 px kept it open over the page."""
    page = new_page(browser)
    try:
        page.set_viewport_size(viewport)
        page.goto(f"{server.url}/draw", wait_until="domcontentloaded")
        page.locator(CANVAS).wait_for(state="visible")
        sidebar = page.locator("[data-testid='stSidebar']")
        if sidebar.get_attribute("data-collapsed") == "true":  # a narrow window starts with it closed
            page.locator("[data-testid='stExpandSidebarButton']").click()
        page.wait_for_function("() => document.querySelector(\"[data-testid='stSidebar']\").dataset.collapsed === 'false'")
        page.locator("[data-testid='stSidebarNav'] a", has_text="Data").first.click()
        wait_text(page, "MNIST training lab")
        if closes:
            page.wait_for_function("() => document.querySelector(\"[data-testid='stSidebar']\").dataset.collapsed === 'true'")
        else:
            page.wait_for_timeout(1000)  # give a wrong close the time to happen (a pause, then the check)
            assert sidebar.get_attribute("data-collapsed") == "false"
        assert_page_clean(page)
    finally:
        page.context.close()


def test_a_new_visitors_strokes_are_kept_on_a_hosted_server_with_its_heartbeat(browser, tmp_path):
    """Hosted (a teacher password set: the sidebar holds its sign-in box) with a heartbeat fragment every 0.45 s:
    a fresh browser's two-stroke 7, with several heartbeats between the strokes, keeps both strokes."""
    hosted = {"MNIST_LAB_TEACHER_PASSWORD": "draw18-teacher", "MNIST_LAB_ABANDONED_AFTER_MINUTES": "0.03"}
    with running_server(tmp_path / "runs", fresh_log("draw_hosted"), extra_env=hosted) as server:
        page = new_page(browser)
        try:
            page.goto(f"{server.url}/draw", wait_until="domcontentloaded")
            page.locator(CANVAS).wait_for(state="visible")
            draw(page, SEVEN_BAR)
            page.wait_for_timeout(2000)  # about four heartbeats (each a fragment run) before the second stroke
            assert draw(page, SEVEN_LEG) == 7
            assert inked(page, [SEVEN_BAR[0], SEVEN_LEG[-1], (0.1, 0.9)]) == [True, True, False]
            assert_page_clean(page)
        finally:
            page.context.close()
