"""Attribution in a real browser: the red-and-blue overlay on Draw (for the prediction, then for another digit
and another method) and on the Errors gallery, with no request leaving the host.

The server runs under the network watch (`tests/network_watch.py`): its process tree's lookups and
connects are logged, and any to an outside host refused and listed. The browser's own requests are
watched by `new_page` (`assert_page_clean`). The oracle for "the overlay renders" is the picture's
pixels: a map of a real digit toward its prediction has red in it.
"""

import re

import pytest

from live_server import assert_page_clean, chromium, fresh_log, new_page, open_view, running_server, screenshot, wait_idle, wait_text
from network_watch import logged_calls, outside_calls, watch_environment
from test_browser_draw import CANVAS, SEVEN_BAR, SEVEN_LEG, clear, draw

DRAW_OVERLAY = ".st-key-draw_attribution [data-testid='stImage'] img"
GALLERY_IMAGES = "[data-testid='stMain'] [data-testid='stImage'] img"
GALLERY_TIMEOUT_MS = 120_000  # the shipped model's test-set predictions first (4-8 s on two busy cores), then the maps
COUNT_RED = """async (image) => {
    if (!image.complete) { await new Promise(done => image.addEventListener("load", done, {once: true})); }
    const canvas = document.createElement("canvas");
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let red = 0;
    for (let at = 0; at < pixels.length; at += 4) {
        if (pixels[at] > 170 && pixels[at + 1] < 130 && pixels[at + 2] < 130) red += 1;
    }
    return red;
}"""


@pytest.fixture(scope="module")
def watched_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("attribution_server")
    watch_log = root / "network.jsonl"
    env = watch_environment(root / "watch", watch_log)
    with running_server(root / "runs", fresh_log("attribution"), extra_env=env) as live:
        yield live, watch_log


@pytest.fixture(scope="module")
def browser():
    with chromium() as live:
        yield live


def pick(page, key: str, option: str) -> None:
    """Choose `option` in the select box whose widget key is `key`."""
    page.locator(f".st-key-{key} [data-testid='stSelectbox']").click()
    page.get_by_role("option", name=option, exact=True).click()


def red_pixels(page, selector: str) -> int:
    return page.locator(selector).first.evaluate(COUNT_RED)


def test_draw_shows_why_and_what_would_make_it_another_digit(watched_server, browser):
    server, _ = watched_server
    page = new_page(browser)
    try:
        open_view(page, server, "draw")
        page.locator(CANVAS).wait_for(state="visible")
        assert draw(page, SEVEN_BAR, SEVEN_LEG) == 7
        page.locator(DRAW_OVERLAY).wait_for(state="visible")
        wait_text(page, "^Why 7\\?$")
        wait_text(page, "Red: ink that raised the model's score for 7")
        assert red_pixels(page, DRAW_OVERLAY) > 100, "the strokes that made it a 7 are drawn red"

        pick(page, "draw_target", "4 (what would make it a 4?)")
        wait_text(page, "^Why 4\\?$")
        wait_text(page, "Red: ink that raised the model's score for 4")
        assert int(page.locator("[data-testid='stMetric'] [data-testid='stMetricValue']").first.inner_text()) == 7

        pick(page, "draw_method", "Grad-CAM")
        wait_text(page, "the last convolution found for 4")
        pick(page, "draw_target", "the prediction")
        wait_text(page, "^Why 7\\?$")
        wait_idle(page)
        assert red_pixels(page, DRAW_OVERLAY) > 100
        screenshot(page, "attribution_draw")

        clear(page)  # the overlay goes with the drawing; the chosen method stays for the next one
        assert draw(page, [(0.5, 0.15), (0.5, 0.5), (0.5, 0.85)]) == 1
        wait_text(page, "the last convolution found for 1")
        assert_page_clean(page)
    finally:
        page.context.close()


def test_the_errors_gallery_shows_why_each_digit_was_misread(watched_server, browser):
    server, _ = watched_server
    page = new_page(browser)
    try:
        open_view(page, server, "errors")
        heading = wait_text(page, re.compile(r"^True \d, predicted \d: "), GALLERY_TIMEOUT_MS).inner_text()
        true_label, predicted_label = re.match(r"^True (\d), predicted (\d)", heading).groups()
        wait_idle(page, GALLERY_TIMEOUT_MS)  # the heading is drawn before the gallery under it
        page.locator(GALLERY_IMAGES).first.wait_for(state="visible", timeout=GALLERY_TIMEOUT_MS)
        plain = page.locator(GALLERY_IMAGES).count()
        assert plain > 0
        page.locator(".st-key-errors_attribution label").first.click()
        wait_text(page, f"Red: ink that raised the model's score for {predicted_label}", GALLERY_TIMEOUT_MS)
        wait_idle(page, GALLERY_TIMEOUT_MS)
        assert page.locator(GALLERY_IMAGES).count() == min(plain, 32)
        assert red_pixels(page, GALLERY_IMAGES) > 20, "the strokes behind the misreading are drawn red"
        page.locator(".st-key-errors_toward label", has_text="the true digit").click()
        wait_text(page, f"Red: ink that raised the model's score for {true_label}", GALLERY_TIMEOUT_MS)
        wait_idle(page, GALLERY_TIMEOUT_MS)
        page.get_by_text("Computing the attributions").wait_for(state="detached", timeout=GALLERY_TIMEOUT_MS)
        assert page.locator(GALLERY_IMAGES).count() == min(plain, 32)
        screenshot(page, "attribution_errors")
        assert_page_clean(page)
    finally:
        page.context.close()


def test_no_request_left_the_host(watched_server):
    server, watch_log = watched_server
    assert any(entry["event"] == "watch.start" for entry in logged_calls(watch_log)), "the server ran unwatched"
    assert outside_calls(watch_log) == []
