"""Where a Draw stroke's time goes in Chromium: mouse-up -> the canvas posts -> the rerun's deltas -> the overlay shown.

Run: `PYTHONPATH=. .venv/bin/python bench/stroke_trace.py [--strokes 20] [--method "Integrated gradients"]`
(needs Chromium, as the browser tests do).

A dashboard server on a free port and a headless Chromium (as `bench/attribution_browser.py`); the
shipped model. A script run in the page before Streamlit's own code stamps, in `performance.now()`
milliseconds: the mouse's release on the canvas, each websocket message the page sends (the rerun
request carrying the drawing) and receives (the rerun's deltas; the first is the script's start, the
last its end), the overlay's new `src` in the DOM and its picture decoded, every media request
(Streamlit serves `st.image` pictures over HTTP: one request each), the page's long tasks (main
thread busy > 50 ms), and the moment the app's script state is back to "notRunning". Prints, per
phase, the median and p95 from the mouse's release, and per stroke the messages, bytes and requests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError  # noqa: E402

from attribution_browser import CANVAS, METHODS, STROKES_PER_DRAWING, clear, draw_stroke, pick_method, wait_new_overlay, overlay_src  # noqa: E402
from live_server import chromium, fresh_log, new_page, open_view, running_server  # noqa: E402
from shared_machine import cpu_model  # noqa: E402

STAMPS = """
window.__trace = {sent: [], received: [], up: null, src: null, decoded: null, done: null};
const trace = window.__trace;
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
    trace.sent.push([performance.now(), data.byteLength ?? data.size ?? data.length ?? 0]);
    if (!this.__traced) {
        this.__traced = true;
        this.addEventListener("message", (event) => trace.received.push([performance.now(), event.data.byteLength ?? event.data.size ?? 0]));
    }
    return send.call(this, data);
};
trace.long = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) trace.long.push([e.startTime, e.duration]); }).observe({type: "longtask"});
document.addEventListener("pointerup", () => { trace.up = performance.now(); }, true);
new MutationObserver(() => {
    const image = document.querySelector(".st-key-draw_attribution [data-testid='stImage'] img");
    if (image && image.getAttribute("src") !== trace.lastSrc) {
        trace.lastSrc = image.getAttribute("src");
        trace.src = performance.now();
        const stamped = trace.lastSrc;
        image.decode().then(() => { if (trace.lastSrc === stamped) trace.decoded = performance.now(); }).catch(() => {});
    }
    const app = document.querySelector("[data-testid='stApp']");
    if (app && app.getAttribute("data-test-script-state") === "notRunning" && trace.up !== null && trace.done === null
            && trace.received.some(([t]) => t > trace.up)) trace.done = performance.now();
}).observe(document, {childList: true, subtree: true, attributes: true, attributeFilter: ["src", "data-test-script-state"]});
"""

RESET = "() => { const t = window.__trace; t.sent = []; t.received = []; t.long = []; t.up = null; t.src = null; t.decoded = null; t.done = null; }"
READ = """() => {
    const t = window.__trace;
    const media = performance.getEntriesByType("resource").filter(e => e.name.includes("/media/") && e.startTime > t.up);
    performance.clearResourceTimings();
    return {long: t.long, up: t.up, sent: t.sent, received: t.received, src: t.src, decoded: t.decoded, done: t.done,
            media: media.map(e => [e.startTime, e.responseEnd, e.transferSize, e.name.slice(-12)])};
}"""


def phases(trace: dict) -> dict[str, float]:
    """Milliseconds from the mouse's release to each phase of one stroke's trip."""
    up = trace["up"]
    sent = [t for t, size in trace["sent"] if t >= up and size > 1000]  # the rerun request with the drawing (a PNG)
    received = [t for t, _ in trace["received"] if t >= up]
    media = trace["media"]
    return {
        "rerun request sent (the canvas's PNG posted)": sent[0] - up if sent else float("nan"),
        "first delta received (the script started)": received[0] - up if received else float("nan"),
        "overlay src in the DOM": trace["src"] - up if trace["src"] else float("nan"),
        "overlay picture decoded": trace["decoded"] - up if trace["decoded"] else float("nan"),
        "last delta received (the script ended)": received[-1] - up if received else float("nan"),
        "script state notRunning in the DOM": trace["done"] - up if trace["done"] else float("nan"),
        "last media response end": max(end for _, end, _, _ in media) - up if media else float("nan"),
        "long tasks (>50 ms) in the page, total ms": float(sum(d for s, d in trace["long"] if s >= up)),
        "long tasks, end of the last": max((s + d for s, d in trace["long"] if s >= up), default=up) - up,
        "rerun requests sent (messages over 1,000 bytes)": float(len(sent)),
        "messages received": float(len(received)),
        "bytes received": float(sum(size for t, size in trace["received"] if t >= up)),
        "bytes sent": float(sum(size for t, size in trace["sent"] if t >= up)),
        "media requests": float(len(media)),
        "media bytes": float(sum(size for _, _, size, _ in media)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strokes", type=int, default=20, help="timed strokes per method")
    parser.add_argument("--method", action="append", choices=list(METHODS), help="a method to trace (default: all)")
    args = parser.parse_args()
    os.environ.setdefault("MNIST_PATH", str(ROOT.parent / "shared" / "data" / "mnist.npz"))
    print(f"machine: {os.cpu_count()} CPUs, {cpu_model()}, load average "
          + " / ".join(f"{value:.2f}" for value in os.getloadavg()) + " (1 / 5 / 15 min)")
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder, running_server(Path(folder) / "runs", fresh_log("stroke_trace")) as server, \
            chromium() as browser:
        page = new_page(browser)
        page.context.add_init_script(STAMPS)
        open_view(page, server, "draw")
        page.locator(CANVAS).wait_for(state="visible")
        draw_stroke(page, rng)
        wait_new_overlay(page, None)
        for method in args.method or list(METHODS):
            pick_method(page, method)
            rows, lost = [], 0
            for index in range(args.strokes):
                if index % STROKES_PER_DRAWING == 0:
                    clear(page)
                before = overlay_src(page)
                page.evaluate(RESET)
                draw_stroke(page, rng)
                try:
                    wait_new_overlay(page, before, 15_000)
                except PlaywrightTimeoutError:  # not timed (none since Clear empties the canvas in place: bench/clear_stroke.py)
                    lost += 1
                    continue
                page.wait_for_function("() => window.__trace.done !== null && window.__trace.decoded !== null", timeout=15_000)
                page.wait_for_timeout(100)  # late media responses
                rows.append(phases(page.evaluate(READ)))
            print(f"{method} ({len(rows)} strokes, {lost} not seen by the server within 15 s), from the mouse's release:")
            for name in rows[0]:
                values = np.array([row[name] for row in rows])
                print(f"  {name:<48} median {np.nanmedian(values):9.1f}   p95 {np.nanpercentile(values, 95):9.1f}")
        page.context.close()
    print("load average at the end " + " / ".join(f"{value:.2f}" for value in os.getloadavg()))


if __name__ == "__main__":
    main()
