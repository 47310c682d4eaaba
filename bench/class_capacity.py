"""A class of N simulated visitors on one hosted server, through real browser sessions (issue 21, item 5).

For each N (10, 20, 40 by default), a fresh hosted server (a teacher password set, one training at a
time, an open class with a challenge), and N visitors: Chromium pages, ten browser contexts per
Chromium process, each its own cookie (its own visitor). Driven from one thread, one action at a
time, so each visitor acts every few seconds (a human pace) while the others' pages stay open,
their fragments polling:

1. each opens the Train page with a tiny training (mlp, 300 images, one epoch, its own seed);
2. each presses Start: its job is queued (or refused: the queue holds `MAX_QUEUED` waiting);
3. until every accepted training has ended (or `--minutes`): each in turn goes to the Board and
   back to Train through the sidebar (Streamlit's navigation, no reload);
4. the trainings' order of start is compared with the order of the Starts.

Measured: the health endpoint every 0.25 s (p95), a visitor's click -> page updated (Start ->
its job shown; a sidebar link -> the page's content drawn and its run idle; p95), sessions dropped
(a page's websocket closed without us navigating, or Streamlit's connection error shown), the
server process's peak RSS (and its workers'), trainings completed. The browsers run on the same 2
cores as the server: the figures are a pessimistic bound for a class whose browsers are elsewhere.

Usage:
    .venv/bin/python bench/class_capacity.py [--visitors 10 20 40] [--minutes 6] [--out bench/results/class_capacity.txt]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from core.classroom.challenge import MAX_PARAMETERS, Challenge  # noqa: E402
from core.classroom.class_ledger import ClassLedger  # noqa: E402
from live_server import (  # noqa: E402
    CHROMIUM_ARGS, CHROMIUM_PATH, LiveServer, fresh_log, new_page, open_view, process_tree_rss, require_chromium, wait_idle,
)
from playwright.sync_api import sync_playwright  # noqa: E402
from rerun_storm import HealthProbe, percentile  # noqa: E402
from shared_machine import cpu_model  # noqa: E402

PASSWORD = "capacity-bench-21"
TINY = "model=mlp&train_size=300&validation_size=100&epochs=1&batch_size=50&patience=0&hidden_units=16"
CONTEXTS_PER_BROWSER = 10
STARTED = re.compile(r"Waiting in the queue|trainings are already waiting|completed: |Test accuracy")  # or its Stop button
ACTION_TIMEOUT_MS = 60_000


def rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PeakMemory:
    """The server process's peak RSS, and its process tree's (server and training workers), polled every 0.5 s."""

    def __init__(self, pid: int):
        self.pid, self.server, self.tree = pid, 0, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._done.wait(0.5):
            self.server = max(self.server, rss(self.pid))
            self.tree = max(self.tree, process_tree_rss(self.pid))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join(timeout=10)


class Visitor:
    """One simulated learner: a browser context and its page; counts its websocket closing on its own."""

    def __init__(self, browser, index: int):
        self.index = index
        self.page = new_page(browser)
        self.navigating = False
        self.dropped = False
        self.accepted = None  # whether its Start was queued
        self.page.on("websocket", self._watch)

    def _watch(self, socket) -> None:
        socket.on("close", lambda _socket: None if self.navigating else setattr(self, "dropped", True))

    def goto(self, server, view: str, query: str = "") -> None:
        self.navigating = True
        try:
            open_view(self.page, server, view, query)
        finally:
            self.navigating = False

    def connection_error_shown(self) -> bool:
        return self.page.get_by_text("Connection error").count() > 0


def timed(action) -> float | None:
    """Seconds `action()` took, None when it failed (timed out)."""
    started = time.perf_counter()
    try:
        action()
    except Exception as error:  # a timeout: counted as a failed update
        print(f"  an action failed: {str(error).splitlines()[0][:160]}", file=sys.stderr, flush=True)
        return None
    return time.perf_counter() - started


def run_class(visitors: int, minutes: float) -> str:
    with tempfile.TemporaryDirectory() as temp:
        runs_dir = Path(temp) / "runs"
        ledger = ClassLedger(runs_dir)
        ledger.open_class(by_teacher=True)
        ledger.set_challenge(Challenge(MAX_PARAMETERS, 20_000, set_at=time.time()), by_teacher=True)
        server = LiveServer(runs_dir, fresh_log(f"bench_class_capacity_{visitors}"),
                            {"MNIST_LAB_TEACHER_PASSWORD": PASSWORD, "MNIST_LAB_MAX_CONCURRENT_TRAININGS": "1"}).start()
        updates: list[float] = []
        failed_updates = 0
        try:
            with HealthProbe(server.url, interval=0.25) as health, PeakMemory(server.pid) as memory, ExitStack() as stack:
                playwright = stack.enter_context(sync_playwright())  # one driver, several Chromium processes
                browsers = [playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, timeout=60_000)
                            for _ in range(math.ceil(visitors / CONTEXTS_PER_BROWSER))]
                for browser in browsers:
                    stack.callback(browser.close)
                crowd = [Visitor(browsers[i // CONTEXTS_PER_BROWSER], i) for i in range(visitors)]
                opened = []
                for visitor in crowd:
                    opened.append(timed(lambda: (visitor.goto(server, "train", f"{TINY}&seed={visitor.index}"),
                                                 wait_idle(visitor.page))))
                start_order, unknown_starts, refused = [], [], 0
                for visitor in crowd:
                    button = visitor.page.locator(".st-key-train_start").get_by_role("button", name="Start training")
                    took = timed(lambda: (button.click(timeout=ACTION_TIMEOUT_MS),
                                          visitor.page.locator(".st-key-train_stop").or_(visitor.page.get_by_text(STARTED))
                                          .first.wait_for(timeout=ACTION_TIMEOUT_MS)))
                    if took is None:  # its page never showed the job: whether it was queued is not known here
                        failed_updates += 1
                        unknown_starts.append(visitor.index)
                        continue
                    updates.append(took)
                    visitor.accepted = visitor.page.get_by_text("trainings are already waiting").count() == 0
                    if visitor.accepted:
                        start_order.append(visitor.index)
                    else:
                        refused += 1
                deadline = time.monotonic() + minutes * 60
                on_board = False
                while time.monotonic() < deadline:
                    for visitor in crowd:
                        page = visitor.page
                        if not on_board:
                            link, shown = "Board", page.get_by_text("Leaderboard").first
                        else:
                            link, shown = "Train", page.locator(".st-key-train_start")
                        took = timed(lambda: (page.locator("[data-testid='stSidebarNav'] a", has_text=link).first.click(
                            timeout=ACTION_TIMEOUT_MS), shown.wait_for(timeout=ACTION_TIMEOUT_MS),
                            wait_idle(page, ACTION_TIMEOUT_MS)))
                        if took is None:
                            failed_updates += 1
                        else:
                            updates.append(took)
                    on_board = not on_board
                    if finished_runs(runs_dir) >= len(start_order):
                        break
                dropped = sum(visitor.dropped or visitor.connection_error_shown() for visitor in crowd)
                health_samples = [latency for _, latency in health.samples]
        finally:
            server.stop()
        completed, order = run_order(runs_dir)
        # The runs of the Starts whose order is known must have started in that order.
        in_order = [i for i in order if i in start_order] == [i for i in start_order if i in order]
        load = os.getloadavg()[0]
    return (f"visitors={visitors} health_p95_s={percentile(health_samples, 0.95):.3f} "
            f"update_p95_s={percentile(updates, 0.95):.2f} dropped={dropped} server_rss_mb={memory.server / 2**20:.0f} "
            f"trainings_completed={completed} | queued={len(start_order)} refused={refused} start_unseen={len(unknown_starts)} "
            f"started_in_order={'yes' if in_order else 'no'} failed_updates={failed_updates} "
            f"update_median_s={statistics.median(updates):.2f} open_median_s={statistics.median([o for o in opened if o] or [0]):.2f} "
            f"health_max_s={max(health_samples):.2f} tree_rss_mb={memory.tree / 2**20:.0f} load_at_end={load:.1f}")


def finished_runs(runs_dir: Path) -> int:
    return run_order(runs_dir)[0]


def run_order(runs_dir: Path) -> tuple[int, list[int]]:
    """`(runs completed, the visitors' indexes (their seeds) in the order their runs started)`."""
    runs = []
    for status_file in runs_dir.glob("*/status.json"):
        try:
            status = json.loads(status_file.read_text())
            seed = json.loads((status_file.parent / "config.json").read_text())["seed"]
        except (OSError, ValueError, KeyError):
            continue
        runs.append((status.get("started") or 0.0, seed, status.get("status")))
    runs.sort()
    return sum(status == "completed" for _, _, status in runs), [seed for _, seed, _ in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument("--minutes", type=float, default=6.0, help="at most this long per class after the Starts")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    require_chromium()
    lines = [f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.1f}; "
             f"browsers on the same machine, {CONTEXTS_PER_BROWSER} visitors per Chromium"]
    print(lines[0], flush=True)
    for visitors in args.visitors:
        lines.append(run_class(visitors, args.minutes))
        print(lines[-1], flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
