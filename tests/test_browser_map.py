"""The embedding map in a real Chromium: Draw places the drawing on the shipped model's map with its nearest digits,
the Map page shows the 5,000 digits with the drawing among them, a mouse click on a mistake shows that digit and
opens its cell in Errors (on a phone, a tap shows it), a scribble is called "not a digit", and neither the
browser nor the server (nor its workers) sends a request off 127.0.0.1 (tests/network_watch.py).

One server and one browser session for the file (a drawing made on Draw is what Map places); no training: the
shipped model ships its map and digit statistics.
"""

import re
from urllib.parse import urlparse

import numpy as np
import pytest

from core.figures.embedding_picture import PICTURE_SIZE, picture_position
from core.runs.feature_files import read_embedding_map
from core.runs.model_sources import model_sources
from live_server import (
    assert_page_clean, chromium, click_nav, fresh_log, new_page, open_view, running_server, screenshot, wait_idle,
    wait_text,
)
from network_watch import logged_calls, outside_calls, watch_environment
from plotly_watch import AFTERPLOT_HOOK
from test_browser_draw import CANVAS, PREDICTION_TIMEOUT_MS, SEVEN_BAR, SEVEN_LEG, clear, draw, draw_strokes

PHONE_WITH_TOUCH = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
SCRIBBLE = [(0.15, 0.3), (0.85, 0.25), (0.2, 0.5), (0.8, 0.45), (0.25, 0.75), (0.9, 0.8)]  # a zigzag, no digit
# Draw's map picture: where its gold star's pixels are, as fractions of the picture's width and height.
STAR_IN_PICTURE = """() => {
    const img = document.querySelector(".st-key-draw_map [data-testid='stImage'] img");
    if (!img || !img.complete || !img.naturalWidth) return null;
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(img, 0, 0);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0, x = 0, y = 0;
    for (let i = 0; i < pixels.length; i += 4) {
        if (pixels[i] === 255 && pixels[i + 1] === 215 && pixels[i + 2] === 0) {  // the star's gold
            n++;
            x += (i / 4) % canvas.width;
            y += Math.floor(i / 4 / canvas.width);
        }
    }
    return n ? {x: x / n / canvas.width, y: y / n / canvas.height, gold: n, width: canvas.width} : null;
}"""
# The plotly chart holding the drawing's star, as plotly last drew it (tests/plotly_watch.py: the scatter is WebGL,
# its points are not in the DOM): its digit traces' point count and bounds, and the star's place.
MAP_WITH_DRAWING = """() => {
    for (const plot of document.querySelectorAll('.js-plotly-plot')) {
        const traces = plot.__drawn || [];
        const star = traces.find(trace => trace.name === 'your drawing');
        if (!star) continue;
        const digits = traces.filter(trace => /^[0-9]$/.test(trace.name));
        const xs = digits.flatMap(trace => trace.x), ys = digits.flatMap(trace => trace.y);
        return {digits: digits.map(trace => trace.name), points: xs.length, star: [star.x[0], star.y[0]],
                bounds: [[Math.min(...xs), Math.min(...ys)], [Math.max(...xs), Math.max(...ys)]]};
    }
    return null;
}"""
# Where the map's points are on the screen: plotly's own axes (`d2p`, data to pixels) from the corner of the plot
# area (its drag layer, which takes the clicks), for each `[x, y]` given; and the drawing's star, if drawn.
MAP_PIXELS = """(places) => {
    const plot = document.querySelector("[class*='st-key-map_chart_'] .js-plotly-plot");
    const traces = plot && plot.__drawn;
    const digits = (traces || []).filter(trace => /^[0-9]$/.test(trace.name));
    if (digits.reduce((n, trace) => n + trace.x.length, 0) < places.length) return null;  // not drawn yet
    const box = plot.querySelector('.nsewdrag').getBoundingClientRect();
    const xaxis = plot._fullLayout.xaxis, yaxis = plot._fullLayout.yaxis;
    const pixel = ([x, y]) => [box.left + xaxis.d2p(x), box.top + yaxis.d2p(y)];
    const star = traces.find(trace => trace.name === 'your drawing');
    return {points: places.map(pixel), star: star ? pixel([star.x[0], star.y[0]]) : null};
}"""
# True once a press on the map now would be a new tap, not the second of a double tap (plotly's `doubleClickDelay`
# after its last press; a double tap resets the axes and Streamlit drops the selection).
NOT_A_DOUBLE_TAP = """() => {
    const plot = document.querySelector("[class*='st-key-map_chart_'] .js-plotly-plot");
    return Date.now() - plot._mouseDownTime > plot._context.doubleClickDelay;
}"""
# The clicked digit's picture on the Map page, as grey levels at the centre of each of its 28x28 pixels.
CLICKED_DIGIT = """(caption) => {
    const image = [...document.querySelectorAll("[data-testid='stImage']")].find(
        element => element.innerText.includes(caption));
    const img = image && image.querySelector('img');
    if (!img || !img.complete || !img.naturalWidth) return null;
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(img, 0, 0);
    const zoom = img.naturalWidth / 28, half = Math.floor(zoom / 2);
    const levels = [];
    for (let row = 0; row < 28; row++) {
        for (let column = 0; column < 28; column++) {
            levels.push(context.getImageData(column * zoom + half, row * zoom + half, 1, 1).data[0]);
        }
    }
    return levels;
}"""


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    root = tmp_path_factory.mktemp("map_server")
    watch_log = root / "network.jsonl"
    with running_server(root / "runs", fresh_log("map"), watch_environment(root / "watch", watch_log)) as live:
        yield live, watch_log


@pytest.fixture(scope="module")
def page(watched):
    server, _ = watched
    with chromium() as browser:
        page = new_page(browser)
        page.context.add_init_script(AFTERPLOT_HOOK)
        open_view(page, server, "draw")
        page.locator(CANVAS).wait_for(state="visible")
        yield page
        page.context.close()


def map_with_drawing(page) -> dict:
    page.wait_for_function(f"() => ({MAP_WITH_DRAWING})() !== null", timeout=PREDICTION_TIMEOUT_MS)
    return page.evaluate(MAP_WITH_DRAWING)


def test_draw_places_the_drawing_on_the_map_with_its_nearest_digits(page):
    draw_strokes(page, SEVEN_BAR, SEVEN_LEG)
    # Draw shows the map as a picture (a plotly scatter of 5,000 points cost each stroke ~0.5 s in the browser):
    # its star is where the Map page's chart puts the drawing, checked on the Map page below.
    page.wait_for_function(f"() => ({STAR_IN_PICTURE})() !== null", timeout=PREDICTION_TIMEOUT_MS)
    star = page.evaluate(STAR_IN_PICTURE)
    assert star["width"] == PICTURE_SIZE and star["gold"] > 100  # sent at its full size: sharp on a projector
    wait_text(page, re.escape("★ your drawing (predicted 7)"))
    wait_text(page, "Nearest training digits")
    assert page.locator("[data-testid='stMetric']", has_text="Prediction").locator("[data-testid='stMetricValue']").inner_text().strip() == "7"
    wait_text(page, "Looks like a digit")
    screenshot(page, "map_draw_seven")
    assert_page_clean(page)
    MAP_STATE["star_on_draw"] = (star["x"], star["y"])


MAP_STATE: dict = {}


def test_the_map_page_shows_every_digit_and_the_drawing_among_them(page):
    click_nav(page, "Map")
    wait_text(page, "test digits,")
    wait_idle(page)
    shown = map_with_drawing(page)
    assert shown["points"] == 5000  # drawn by plotly
    if "star_on_draw" in MAP_STATE:  # the same view (t-SNE), the same drawing: the same place on Draw's picture
        expected = picture_position(np.array(shown["bounds"]), np.array([shown["star"]]))[0] / PICTURE_SIZE
        assert MAP_STATE["star_on_draw"] == pytest.approx(tuple(expected), abs=0.01)
    wait_text(page, "Your drawing")
    screenshot(page, "map_page")
    assert_page_clean(page)


def isolated_mistake(pixels: np.ndarray, mistakes: np.ndarray, star) -> tuple[int, float]:
    """The mistake farthest from every other digit on the screen (and 30 px clear of the drawing's star), and that
    distance in pixels: a click on it can only mean it."""
    best, best_gap = -1, -1.0
    for where in mistakes:
        distances = np.hypot(*(pixels - pixels[where]).T)
        distances[where] = np.inf
        if star is not None and np.hypot(*(np.asarray(star) - pixels[where])) < 30:
            continue
        if distances.min() > best_gap:
            best, best_gap = int(where), float(distances.min())
    return best, best_gap


def test_a_click_on_a_mistake_shows_that_digit_and_opens_it_in_errors(page, watched, mnist):
    server, _ = watched
    (source,) = model_sources(server.runs_dir)  # the shipped model: this server trains nothing
    embedding = read_embedding_map(source)  # what the page must show comes from the map's file
    view = list(embedding.views)[0]  # the view the page opens on
    if urlparse(page.url).path.rstrip("/") != "/map":
        # Only from another page: a click on Map's link while on Map reruns it, and its caption below is shown
        # already, so nothing would tell when that run's redraw of the chart is over before the chart is read
        # and clicked.
        click_nav(page, "Map")
    wait_text(page, "test digits,")
    wait_idle(page)
    page.locator("[class*='st-key-map_chart_'] .js-plotly-plot").scroll_into_view_if_needed()
    places = embedding.views[view].tolist()
    page.wait_for_function(f"places => ({MAP_PIXELS})(places) !== null", arg=places)
    drawn = page.evaluate(MAP_PIXELS, places)
    where, gap = isolated_mistake(np.array(drawn["points"]), np.flatnonzero(embedding.mistakes), drawn["star"])
    assert gap >= 3, f"no mistake stands 3 px clear of the other digits on the screen (the best: {gap:.1f} px)"
    index, true_digit, predicted = (int(values[where]) for values in (embedding.indices, embedding.y_true, embedding.y_pred))

    page.mouse.click(*drawn["points"][where])  # the mouse moves there (plotly hovers the point), presses, releases
    caption = f"test #{index}: true {true_digit}, predicted {predicted}"
    wait_text(page, re.escape(caption))
    page.wait_for_function(f"caption => ({CLICKED_DIGIT})(caption) !== null", arg=caption)
    shown = np.array(page.evaluate(CLICKED_DIGIT, caption), dtype=np.float64).reshape(28, 28)
    digit = mnist.x_test[index].astype(np.float64)
    assert np.abs(shown - digit * 255 / digit.max()).max() <= 2  # that test digit's picture, scaled to white
    assert_page_clean(page)  # the click used to raise in the page (KeyError on the customdata Chromium sends)
    screenshot(page, "map_clicked_mistake")

    page.locator(".st-key-map_open_errors").get_by_role("button", name="Open in Errors").click()
    wait_text(page, re.escape(f"True {true_digit}, predicted {predicted}: "))
    wait_text(page, re.escape(f"#{index} · {true_digit}→{predicted} · "))  # the digit in its cell's gallery
    assert page.url.endswith("/errors")
    assert_page_clean(page)


def test_on_a_phone_a_tap_on_a_dot_shows_that_digit_and_a_tap_on_another_shows_that_one(page, watched):
    """On a touch screen plotly selects, at a tap, the point its last hover found, and hovers the tapped point only
    after that (plotly.js 3.8's dragbox: `selectOnClick`, then `Fx.click`): without `dashboard/map_touch.py`'s hover
    at the touch's start, a first tap on a dot showed only its label, and a tap on a second dot showed the first."""
    server, _ = watched
    (source,) = model_sources(server.runs_dir)
    embedding = read_embedding_map(source)
    places = embedding.views[list(embedding.views)[0]].tolist()
    phone = new_page(page.context.browser, **PHONE_WITH_TOUCH)
    try:
        phone.context.add_init_script(AFTERPLOT_HOOK)
        phone.goto(f"{server.url}/map", wait_until="domcontentloaded")
        wait_text(phone, re.escape("Click or tap a dot to see it"))
        wait_idle(phone)
        phone.locator("[class*='st-key-map_chart_'] .js-plotly-plot").scroll_into_view_if_needed()
        phone.wait_for_function(f"places => ({MAP_PIXELS})(places) !== null", arg=places)
        drawn = phone.evaluate(MAP_PIXELS, places)
        mistakes = np.flatnonzero(embedding.mistakes)
        first, gap = isolated_mistake(np.array(drawn["points"]), mistakes, None)
        second, second_gap = isolated_mistake(np.array(drawn["points"]), mistakes[mistakes != first], None)
        # the hover takes the dot nearest the touch: one 2 px clear of the others is the one under a tap on its centre
        assert min(gap, second_gap) >= 2, f"no two mistakes stand 2 px clear of the other digits on a phone ({gap:.1f}, {second_gap:.1f} px)"
        for where in (first, second):
            index, true_digit, predicted = (int(values[where]) for values in (embedding.indices, embedding.y_true, embedding.y_pred))
            phone.wait_for_function(NOT_A_DOUBLE_TAP)  # a quick second tap would reset the axes instead
            phone.touchscreen.tap(*drawn["points"][where])
            wait_text(phone, re.escape(f"test #{index}: true {true_digit}, predicted {predicted}"))
        screenshot(phone, "map_phone_tapped_mistake")
        assert_page_clean(phone)
    finally:
        phone.context.close()


def test_a_scribble_is_not_a_digit(page):
    click_nav(page, "Draw")
    page.locator(CANVAS).wait_for(state="visible")
    wait_idle(page)
    if page.locator("[data-testid='stMetric']").count():
        clear(page)
    assert draw(page, SCRIBBLE) == "?"
    wait_text(page, "That does not look like a digit")
    screenshot(page, "map_draw_scribble")
    assert_page_clean(page)


def test_nothing_left_the_host(watched):
    _, watch_log = watched
    assert any(entry["event"] == "watch.start" for entry in logged_calls(watch_log)), "the watch never started"
    assert outside_calls(watch_log) == []
