"""A server killed mid-training: after a restart on the same runs directory, nothing is lost silently.

The server is SIGKILLed (no shutdown code runs) while a training started from the browser is
between epochs. The oracle is the run folder itself: every epoch line it holds must be shown
by the restarted server's Runs page, with the run marked interrupted; and the Train page link
that followed the job must say the job is gone, not spin forever.
"""

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest

from live_server import (
    LiveServer, assert_page_clean, chromium, fresh_log, new_page, open_view, screenshot, wait_text,
)

TRAIN_QUERY = "model=mlp&train_size=1000&validation_size=500&epochs=500&patience=0"  # far longer than the test
EPOCHS_BEFORE_KILL = 3
CURVE_TIMEOUT_MS = 180_000  # the first epochs: TensorFlow import, data, tracing, on a shared 2-core box
COUNT_POINTS = """() => {
    const plot = document.querySelector(".st-key-train_loss_chart .js-plotly-plot");
    return plot && plot.data ? Math.max(0, ...plot.data.map(trace => (trace.x || []).length)) : -1;
}"""


@pytest.fixture(scope="module")
def browser():
    with chromium() as live:
        yield live


def test_a_killed_training_is_shown_interrupted_with_its_epochs_after_a_restart(tmp_path, browser):
    runs_dir, log = tmp_path / "runs", fresh_log("crash")
    first = LiveServer(runs_dir, log).start()
    try:
        page = new_page(browser)
        open_view(page, first, "train", TRAIN_QUERY)
        page.locator(".st-key-train_start").get_by_role("button", name="Start training").click()
        page.wait_for_function(f"() => ({COUNT_POINTS})() >= {EPOCHS_BEFORE_KILL}", timeout=CURVE_TIMEOUT_MS)
        job = parse_qs(urlparse(page.url).query)["job"][0]
        assert_page_clean(page)
        first.kill()  # SIGKILL mid-training: no `finally`, no status update, no model saved
    finally:
        first.stop()
    page.context.close()

    [run] = list(runs_dir.iterdir())
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "running", "the killed process should not have had time to record an ending"
    epochs_on_disk = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    assert len(epochs_on_disk) >= EPOCHS_BEFORE_KILL

    second = LiveServer(runs_dir, log).start()
    try:
        page = new_page(browser)
        open_view(page, second, "runs")
        page.get_by_role("heading", name="Runs", exact=True).wait_for()
        line = wait_text(page, re.compile(r"^interrupted: ")).inner_text()
        assert f"{len(epochs_on_disk)} finished epoch(s) kept" in line, line
        # The overlaid curve holds every epoch on disk: the run is the newest, so it is overlaid by default.
        page.wait_for_function(
            """(n) => {
                const plot = document.querySelector(".js-plotly-plot");
                return plot && plot.data && Math.max(0, ...plot.data.map(t => (t.x || []).length)) === n;
            }""",
            arg=len(epochs_on_disk),
            timeout=60_000,
        )
        screenshot(page, "runs_after_crash")
        assert_page_clean(page)

        # The old Train link: its job died with the first server, and the page says so.
        open_view(page, second, "train", f"job={job}")
        wait_text(page, "no longer known to the server")
        assert page.locator(".st-key-train_start").get_by_role("button", name="Start training").is_enabled()
        assert_page_clean(page)
        page.context.close()
    finally:
        second.stop()
