"""Each page's first paint on a fresh server, in Chromium: time to its title, and to its first content.

For every page, a fresh server (nothing cached, workers just spawned) and a fresh browser context:
the time from `goto` to the page's `<h1>` title being visible, and to the page's script run ending
(its content drawn), with the steps on the way: the HTML parsed, the websocket opened (Streamlit's
JavaScript loaded and run), the server's first message. The target (issue 12): the title within
1 s, before any slow load. The same figures for a one-line `st.title` app show what Streamlit and
the browser take before any code of ours runs; its servers are interleaved with ours (one before
each of our pages), so the ratio is side by side on a machine whose load comes and goes.

Usage:
    .venv/bin/python bench/first_paint.py [--rounds 2] [--out bench/results/first_paint.txt]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from live_server import LiveServer, chromium, fresh_log, new_page, wait_idle  # noqa: E402
from shared_machine import Transcript, cpu_model, load_text  # noqa: E402

PAGES = ["", "train", "sweep", "runs", "inspect", "errors", "draw"]
TITLE_PAINTED = """() => {
    const title = document.querySelector("[data-testid='stMain'] h1");
    if (!title) return false;
    const box = title.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(title).visibility !== "hidden";
}"""
ROUNDS = 2  # servers per page; the baseline's figures vary by a few tenths from one server to the next
BASELINE = "baseline"  # the one-line app's row


def visit(browser, server, view: str) -> tuple[float, float, dict[str, float]]:
    """A new visitor (fresh context) opens `view`: seconds to its title, to its script run's end, and
    to the steps on the way (the HTML parsed, the websocket opened by the loaded JavaScript, the
    server's first message on it)."""
    page = new_page(browser)
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        marks.setdefault(name, time.perf_counter() - started)

    def on_socket(socket) -> None:
        mark("socket")
        socket.on("framereceived", lambda _payload: mark("first message"))

    page.on("domcontentloaded", lambda _page: mark("html"))
    page.on("websocket", on_socket)
    started = time.perf_counter()
    page.goto(f"{server.url}/{view}", wait_until="commit")
    # Checked at every animation frame in the page (a locator's visible-wait re-checks every 500 ms after
    # its first few tries: the figure read in half-second steps, bench/first_paint_timeline.py).
    page.wait_for_function(TITLE_PAINTED, timeout=120_000, polling="raf")
    title = time.perf_counter() - started
    wait_idle(page, 120_000)
    done = time.perf_counter() - started
    page.context.close()
    return title, done, marks


def steps(marks: dict[str, float]) -> str:
    return " · ".join(f"{name} {marks[name]:.2f}" for name in ("html", "socket", "first message") if name in marks)


def first_paint(browser, view: str, app: str = "dashboard/app.py") -> tuple[tuple, tuple]:
    """(fresh server's first visitor, the next visitor of that server)."""
    runs_dir = Path(tempfile.mkdtemp(prefix="first-paint-")) / "runs"
    server = LiveServer(runs_dir, fresh_log(f"first_paint_{view or 'data'}"), app=app).start()
    try:
        return visit(browser, server, view), visit(browser, server, view)
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="fresh servers per page, each beside a baseline's")
    parser.add_argument("--out")
    args = parser.parse_args()
    transcript = Transcript()
    say = transcript.say

    say(f"CPU: {cpu_model()} ({os.cpu_count()} cores); load average at start: {load_text()}")
    say("goto -> title visible / content drawn, for a fresh server's first visitor, then for its next visitor")
    say(f"side by side: each page's server starts right after a one-line st.title app's, {args.rounds} rounds over "
        "the pages, so load that comes and goes falls on both alike; figures are medians over the rounds")
    baseline = Path(tempfile.mkdtemp(prefix="first-paint-")) / "baseline_app.py"
    baseline.write_text("import streamlit as st\nst.title('Baseline')\n")
    visits: dict[str, list[tuple]] = {view: [] for view in [BASELINE, *PAGES]}
    with chromium() as browser:
        for _ in range(args.rounds):
            for view in PAGES:
                visits[BASELINE].append(first_paint(browser, "", app=str(baseline)))
                visits[view].append(first_paint(browser, view))
    titles, warm_titles = {}, {}
    for view, pairs in visits.items():
        titles[view] = statistics.median(cold[0] for cold, _ in pairs)
        warm_titles[view] = statistics.median(warm[0] for _, warm in pairs)
        done = statistics.median(cold[1] for cold, _ in pairs)
        warm_done = statistics.median(warm[1] for _, warm in pairs)
        (_, _, marks), (_, _, warm_marks) = pairs[-1]
        say(f"{view or 'data':<9} first visitor {titles[view]:>5.2f} s / {done:>5.2f} s   "
            f"next visitor {warm_titles[view]:>5.2f} s / {warm_done:>5.2f} s   ({len(pairs)} servers)")
        say(f"{'':<10}on the way (the last): {steps(marks)}   next visitor: {steps(warm_marks)}")
    say(f"load average at end: {load_text()}")
    ours = [titles[view] for view in PAGES]
    ours_warm = [warm_titles[view] for view in PAGES]
    say(f"fresh server: slowest_title_s={max(ours):.2f} median_title_s={statistics.median(ours):.2f} (target <= 1.0)")
    say(f"next visitor: slowest_title_s={max(ours_warm):.2f} median_title_s={statistics.median(ours_warm):.2f} "
        "(target <= 1.0)")
    say(f"against the one-line app, side by side: fresh server {statistics.median(ours) / titles[BASELINE]:.2f}x, "
        f"next visitor {statistics.median(ours_warm) / warm_titles[BASELINE]:.2f}x (median title / baseline title; "
        f"target <= 1.2x); slowest page {max(ours) / titles[BASELINE]:.2f}x / {max(ours_warm) / warm_titles[BASELINE]:.2f}x")
    if args.out:
        transcript.write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
