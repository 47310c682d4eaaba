"""Where a page's first paint goes after the server's first message, timed inside the page.

`bench/first_paint.py` waited for the title with Playwright's `wait_for(state="visible")`, which
checks at 0, 20, 70, 170 and 270 ms and then every 500 ms: its figures moved in steps of about half
a second (a title painted 50 ms later can read 500 ms later); since 2026-12-06 it checks at every
animation frame. The "locator" column here keeps the old wait, to show that step. This bench times the same visits in
the page itself: a script added before Streamlit's own records when the websocket's first message
arrives and the first frame after the page's `<h1>` title is attached (`requestAnimationFrame`),
on the page's clock, and counts the messages that arrived before the title. It prints the
locator's figure beside them.

For each app (the one-line `st.title` app first, then `dashboard/app.py`'s pages, then any
`--app FILE[:view]`, e.g. an older entry script copied into dashboard/), `--servers` fresh servers
in turn, each with a first visitor and the next one; medians, and each visit's gap.

Usage:
    .venv/bin/python bench/first_paint_timeline.py [--servers 3] [--pages "" train] [--app FILE[:view]] [--out FILE]
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

# Runs in the page before Streamlit's code: the first message's time, the title's first frame, messages before it.
TIMELINE = """(() => {
    const marks = window.__firstPaint = {messages: 0};
    const Native = window.WebSocket;
    window.WebSocket = function (...args) {
        const socket = new Native(...args);
        socket.addEventListener("message", () => {
            marks.messages += 1;
            if (marks.first === undefined) marks.first = performance.now();
        });
        return socket;
    };
    window.WebSocket.prototype = Native.prototype;
    Object.assign(window.WebSocket, Native);
    new MutationObserver(() => {
        if (marks.attached === undefined && document.querySelector("[data-testid='stMain'] h1")) {
            marks.attached = performance.now();
            marks.before_title = marks.messages;
            requestAnimationFrame(() => { marks.painted = performance.now(); });
        }
    }).observe(document, {childList: true, subtree: true});
})();"""


def visit(browser, server: LiveServer, view: str) -> dict[str, float]:
    """One new visitor: in-page ms from navigation start to the first message and to the painted title,
    the messages before the title, and the locator's seconds to the visible title (bench/first_paint.py's old wait)."""
    page = new_page(browser)
    page.context.add_init_script(TIMELINE)
    started = time.perf_counter()
    page.goto(f"{server.url}/{view}", wait_until="commit")
    page.locator("[data-testid='stMain'] h1").first.wait_for(state="visible", timeout=120_000)
    locator = time.perf_counter() - started
    page.wait_for_function("() => window.__firstPaint.painted !== undefined", timeout=120_000)
    wait_idle(page, 120_000)
    marks = page.evaluate("window.__firstPaint")
    page.context.close()
    return {"first": marks["first"], "painted": marks["painted"], "gap": marks["painted"] - marks["first"],
            "before": marks["before_title"], "messages": marks["messages"], "locator": locator * 1000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--pages", nargs="*", default=["", "train"])
    parser.add_argument("--app", action="append", default=[], help="another entry script to time, FILE[:view]")
    parser.add_argument("--out")
    args = parser.parse_args()
    transcript = Transcript()
    say = transcript.say

    baseline = Path(tempfile.mkdtemp(prefix="first-paint-")) / "baseline_app.py"
    baseline.write_text("import streamlit as st\nst.title('Baseline')\n")
    specs = [(str(baseline), "", "baseline (one-line app)")]
    specs += [("dashboard/app.py", view, view or "data") for view in args.pages]
    specs += [(spec.partition(":")[0], spec.partition(":")[2], spec) for spec in args.app]
    say(f"CPU: {cpu_model()} ({os.cpu_count()} cores); load average at start: {load_text()}")
    say("ms from navigation start, in the page: first message, title painted, gap between them (messages before"
        " the title / in the run); locator: the same visit timed as bench/first_paint.py did before Dec 6")
    visits: dict[tuple[int, int], list[dict]] = {}
    with chromium() as browser:
        for _ in range(args.servers):  # servers in turn, app after app: the load falls on every app alike
            for index, (app, view, _) in enumerate(specs):
                server = LiveServer(Path(tempfile.mkdtemp(prefix="first-paint-")) / "runs", fresh_log("first_paint_timeline"),
                                    app=app).start()
                try:
                    for visitor in (0, 1):
                        visits.setdefault((index, visitor), []).append(visit(browser, server, view))
                finally:
                    server.stop()
    say(f"load average at end: {load_text()}")
    for index, (_, _, label) in enumerate(specs):
        for visitor, who in ((0, "fresh server"), (1, "next visitor")):
            rows = visits[(index, visitor)]
            median = {key: statistics.median(row[key] for row in rows) for key in ("first", "painted", "gap", "locator")}
            say(f"{label:<24} {who:<13} first {median['first']:5.0f}  painted {median['painted']:5.0f}  "
                f"gap {median['gap']:4.0f}  locator {median['locator']:5.0f}   each gap: "
                + " ".join(f"{row['gap']:.0f} ({row['before']}/{row['messages']})" for row in rows))
    if args.out:
        transcript.write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
