"""A shortened rerun storm in a real browser on a real server (the full 30-s figures are in
`bench/rerun_storm.py`): one session clicks the Train form's step buttons as fast as raw mouse
clicks go, another draws. The server must keep answering: every health check answers, every
stroke gets its prediction, and no page shows an error. No timing is asserted beyond "answered
at all" (a health check gives up at 10 s, a stroke at 30 s). After the storm, and after 30 fast
clicks on +, the address bar ends equal to the form (dashboard/address_bar.py: a query string the
browser echoes back late is no new link)."""

import sys
import time
from urllib.parse import parse_qs, urlparse

from pathlib import Path

import pytest

from core.config.train_form import default_values
from live_server import assert_page_clean, chromium, fresh_log, new_page, open_view, running_server, wait_idle

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from rerun_storm import HealthProbe, stroke  # noqa: E402

STORM_SECONDS = 8
STROKE_TIMEOUT_S = 30.0  # liveness, not speed: the bench holds strokes to 1 s


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for both tests: each uses sessions of its own (fresh browser contexts)."""
    with running_server(tmp_path_factory.mktemp("storm") / "runs", fresh_log("storm")) as live:
        yield live


def test_a_rerun_storm_leaves_the_server_answering_and_every_stroke_predicted(server):
    with chromium() as browser:
        drawer, clicker = new_page(browser), new_page(browser)
        open_view(drawer, server, "draw")
        drawer.locator("div[data-testid='stBidiComponentIsolated'] canvas.upper-canvas").first.wait_for(state="visible")
        wait_idle(drawer)
        assert stroke(drawer, 0, timeout=STROKE_TIMEOUT_S) is not None, "the first stroke got no prediction"
        open_view(clicker, server, "train", "model=mlp&epochs=2")
        wait_idle(clicker)
        buttons = [clicker.locator(f".st-key-train_epochs [data-testid='{test_id}']")
                   for test_id in ("stNumberInputStepUp", "stNumberInputStepDown")]
        targets = []
        for button in buttons:
            box = button.bounding_box()
            targets.append((box["x"] + box["width"] / 2, box["y"] + box["height"] / 2))
        clicks, strokes = 0, []
        with HealthProbe(server.url) as health:
            started = next_stroke = time.perf_counter()
            clicking = 0.0  # seconds spent clicking, strokes' waits left out: a loaded CI box still gets its storm
            while clicking < STORM_SECONDS and time.perf_counter() - started < 10 * STORM_SECONDS:
                click_started = time.perf_counter()
                clicker.mouse.click(*targets[clicks % 2])
                clicks += 1
                clicking += time.perf_counter() - click_started
                if time.perf_counter() >= next_stroke:
                    strokes.append(stroke(drawer, len(strokes) + 1, timeout=STROKE_TIMEOUT_S))
                    next_stroke = time.perf_counter() + 1.5
        assert clicks > 20 and len(strokes) >= 3
        assert all(latency < health.timeout for _, latency in health.samples), "a health check went unanswered"
        assert all(s is not None for s in strokes), f"strokes without a prediction: {strokes}"
        wait_idle(clicker)
        assert 1 <= int(clicker.locator(".st-key-train_epochs input").input_value()) <= 2 + clicks
        assert_page_clean(clicker)
        assert_page_clean(drawer)
        wait_address_bar_equal_to_form(clicker)


def wait_address_bar_equal_to_form(page, timeout_ms: int = 15_000) -> None:
    """Wait until the address bar's `epochs` equals the Epochs input's value (the link leaves out a value
    equal to the preset's); fails, naming both, when they still differ after `timeout_ms`."""
    usual = str(default_values("mlp")["epochs"])
    try:
        page.wait_for_function(
            """(usual) => {
                const input = document.querySelector(".st-key-train_epochs input");
                const linked = new URL(window.location.href).searchParams.get("epochs") ?? usual;
                return input && input.value === linked;
            }""",
            arg=usual, timeout=timeout_ms,
        )
    except Exception:
        shown = page.locator(".st-key-train_epochs input").input_value()
        raise AssertionError(f"the address bar stayed behind the form: input {shown}, URL {page.url}") from None


def test_thirty_fast_clicks_on_plus_end_with_the_input_and_the_address_bar_both_30_up(server):
    """Each click asks for a rerun; the browser's copy of the query string lags the address bar by a moment,
    so some reruns carry the one before. None of them may undo a click."""
    usual = default_values("mlp")["epochs"]
    with chromium() as browser:
        page = new_page(browser)
        open_view(page, server, "train", "model=mlp")
        wait_idle(page)
        plus = page.locator(".st-key-train_epochs [data-testid='stNumberInputStepUp']")
        box = plus.bounding_box()
        for _ in range(30):
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        wait_idle(page)
        wait_address_bar_equal_to_form(page)
        assert page.locator(".st-key-train_epochs input").input_value() == str(usual + 30)
        assert parse_qs(urlparse(page.url).query).get("epochs") == [str(usual + 30)]
        assert_page_clean(page)
