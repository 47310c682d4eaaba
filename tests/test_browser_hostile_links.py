"""Issue 12 item 4 in a real browser: a link, an image, KaTeX or bold in a query value (or a key, or a
run's recorded reason) never renders, and the page makes no request beyond the server on 127.0.0.1.

The image points at 127.0.0.2: loopback, so a test never sends traffic off the machine, but not
the server's address, so a fetch of it is seen in the request log.
"""

from __future__ import annotations

import json
import shutil
from urllib.parse import urlencode

import pytest

from live_server import (
    assert_page_clean, chromium, fresh_log, new_page, open_view, running_server, wait_idle,
)

LINK = "[Session expired, click here to log in](https://evil.example/login)"
IMAGE = "![pixel](http://127.0.0.2:9/tracker.png)"
FORMULA = "$\\frac{1}{0}$ **bold**"
HOSTILE_REASON = f"{LINK} {IMAGE} {FORMULA}"
FOREIGN = "a[href*='evil.example'], img[src*='127.0.0.2'], .katex"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile_server")
    runs = root / "runs" / "victim"  # a run folder whose recorded reason is hostile
    runs.mkdir(parents=True)
    (runs / "config.json").write_text(json.dumps({"model": "mlp", "epochs": 1}))
    (runs / "status.json").write_text(json.dumps({"status": "failed", "reason": HOSTILE_REASON}))
    with running_server(root / "runs", fresh_log("hostile_links")) as live:
        yield live
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def browser_page(server):
    with chromium() as browser:
        page = new_page(browser)
        yield page, page.context.outside_requests
        page.context.close()


def test_hostile_query_values_and_keys_show_as_text_and_fetch_nothing(server, browser_page):
    page, requests = browser_page
    query = urlencode({"model": LINK, "epochs": IMAGE, "learning_rate": FORMULA, f"x{LINK}": "1", "utm_source": "mail"})
    open_view(page, server, "train", query)
    box = page.locator("[data-testid='stAlertContentError']", has_text="were not applied").first
    box.wait_for(state="visible")
    wait_idle(page)
    page.wait_for_timeout(1000)  # time for an image to be fetched, if one rendered (a pause, not a check)
    text = box.inner_text().replace("\u2060", "")  # word joiners stop GFM autolinking the bare URLs
    for value in (LINK, IMAGE, FORMULA):
        assert repr(value) in text, text  # shown literally, as the message quotes it
    assert page.locator(FOREIGN).count() == 0
    assert box.locator("a, img, strong, em").count() == 0
    ignored = page.get_by_text("Ignored in this page's link").first
    assert "utm_source" in ignored.inner_text() and ignored.locator("a, img").count() == 0
    assert requests == []
    assert_page_clean(page)


def test_a_hostile_reason_recorded_in_a_run_shows_as_text_on_runs(server, browser_page):
    page, requests = browser_page
    open_view(page, server, "runs")
    status = page.get_by_text("Session expired, click here to log in").first
    status.wait_for(state="visible")
    wait_idle(page)
    page.wait_for_timeout(1000)
    assert LINK in status.inner_text().replace("\u2060", "")
    assert page.locator(FOREIGN).count() == 0
    assert requests == []
    assert_page_clean(page)
