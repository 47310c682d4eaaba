"""Trainings run in worker processes, seen from a real browser against a real server.

Two sessions press Start: the second's job waits and its page shows its place and an estimated
start. Then one session visits every page, and the server process itself must not have loaded
TensorFlow: its memory map (`/proc/<pid>/maps`) holds no TensorFlow library, while a worker does.
"""

import re
from pathlib import Path

import pytest

from live_server import (
    assert_page_clean, chromium, click_nav, fresh_log, new_page, open_view, process_tree_rss, running_server,
    screenshot, wait_idle, wait_text,
)

LONG_QUERY = "model=mlp&train_size=1000&validation_size=500&epochs=500&patience=0"
SHORT_QUERY = "model=mlp&train_size=1000&validation_size=500&epochs=1&patience=0"
START_TIMEOUT_MS = 180_000
# Each page in the sidebar, and the title its own run draws first (`dashboard/app.py`): its answer to the click.
PAGES = {"Data": "MNIST training lab", "Train": "Train", "Runs": "Runs", "Inspect": "Inspect a model", "Errors": "Errors",
         "Draw": "Draw a digit"}


def loaded_tensorflow(pid: int) -> bool:
    """Whether process `pid` (alone, not its children) has a TensorFlow shared library mapped."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return bool(re.search(r"tensorflow|_pywrap_tf", maps))


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("workers_server")
    with running_server(root / "runs", fresh_log("workers")) as live:
        yield live


def start_training(page, server, query):
    open_view(page, server, "train", query)
    start = page.locator(".st-key-train_start").get_by_role("button", name="Start training")
    start.wait_for(state="visible")
    start.click()
    page.wait_for_url(re.compile(r"[?&]job="), timeout=START_TIMEOUT_MS)


def test_a_queued_job_shows_its_position_and_estimated_start_and_the_server_never_loads_tensorflow(server):
    with chromium() as browser:
        first, second = new_page(browser), new_page(browser)
        start_training(first, server, LONG_QUERY)
        wait_text(first, r"^Epoch \d+ of 500", timeout_ms=START_TIMEOUT_MS)
        start_training(second, server, SHORT_QUERY)
        waiting = wait_text(second, r"Waiting in the queue: position 1: starts in about", timeout_ms=START_TIMEOUT_MS)
        assert re.search(r"around \d\d:\d\d", waiting.inner_text())
        screenshot(second, "workers-queued")
        first.locator(".st-key-train_stop").get_by_role("button").click()
        wait_text(second, r"^completed", timeout_ms=START_TIMEOUT_MS)
        assert_page_clean(first)
        assert_page_clean(second)

        for title, heading in PAGES.items():  # every page, as a visitor would click through them
            click_nav(second, title)
            # The page's own title, then the end of its run: wait_idle alone could look before the click's run had
            # begun, and the next click would then cut the page short (its error box, or its import of TensorFlow,
            # never seen).
            second.get_by_role("heading", name=heading, exact=True).wait_for(state="visible", timeout=START_TIMEOUT_MS)
            wait_idle(second)
            second.wait_for_timeout(500)
            assert_page_clean(second)
        workers = [pid for pid in children_of(server.pid) if loaded_tensorflow(pid)]

    assert not loaded_tensorflow(server.pid), "the server process loaded TensorFlow"
    assert workers, "no worker process with TensorFlow: where did the trainings run?"
    assert process_tree_rss(server.pid) > 0
