"""The class board with 40 cards at 1280x720 in Chromium: how long a refresh takes, server and browser.

A runs folder is made with an open class of 40 named learners, each with one run: 30 finished and
10 "running" (their status names this process, so they read as alive), and a challenge. While the
board is open, a thread appends a batch point to each running run every 0.5 s, so every refresh
redraws changed sparklines. Printed:

- server: building the 40 cards (reading the session's runs, ranking, the HTML), median and worst of
  20 builds, in this process (the same code the page's fragment runs);
- browser: for each refresh over 30 s, the time from the server's first websocket message of the
  fragment's run to the cards' DOM being replaced (both on the page's clock), its median and worst;
  the interval between refreshes; and the main thread's long tasks (> 50 ms) in that time.

Usage:
    .venv/bin/python bench/class_board.py [--cards 40] [--seconds 30] [--out bench/results/class_board.txt]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from core.classroom.board_html import board_html  # noqa: E402
from core.classroom.challenge import MAX_PARAMETERS, Challenge  # noqa: E402
from core.classroom.class_ledger import ClassLedger  # noqa: E402
from core.classroom.class_runs import class_runs  # noqa: E402
from core.classroom.leaderboard import standings  # noqa: E402
from core.config.train_config import preset_config  # noqa: E402
from core.runs.store import process_start_time  # noqa: E402
from live_server import SCREENSHOTS_DIR, LiveServer, chromium, fresh_log, new_page, open_view  # noqa: E402
from shared_machine import cpu_model  # noqa: E402

WATCH = """
window.__frames = []; window.__boards = []; window.__longTasks = [];
const Native = window.WebSocket;
window.WebSocket = function (...args) {
    const socket = new Native(...args);
    socket.addEventListener("message", () => window.__frames.push(performance.now()));
    return socket;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, Native);
new MutationObserver(records => {
    if (records.some(r => [...r.addedNodes].some(n => n.nodeType === 1
            && (n.matches(".class-board") || n.querySelector && n.querySelector(".class-board")))))
        window.__boards.push(performance.now());
}).observe(document, {childList: true, subtree: true});
new PerformanceObserver(list => { for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]); })
    .observe({type: "longtask", buffered: true});
"""


def make_class(runs_dir: Path, cards: int) -> list[Path]:
    """An open class of `cards` learners with one run each; returns the running runs' batch files."""
    ledger = ClassLedger(runs_dir)
    ledger.open_class(by_teacher=True, now=time.time() - 600)
    ledger.set_challenge(Challenge(MAX_PARAMETERS, 20_000, set_at=time.time() - 590), by_teacher=True)
    running = []
    pid = os.getpid()
    for index in range(cards):
        visitor = f"visitor-{index:03d}-abcdefghijklmnop"
        ledger.set_name(visitor, f"Learner {index + 1}")
        config = preset_config("mlp", epochs=3, train_size=1000 + 100 * index, validation_size=500,
                               hidden_units=8 + index, batch_size=50)
        name = f"mlp-bench-{index:03d}"
        folder = runs_dir / name
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps(config.to_dict()))
        is_running = index % 4 == 3
        status = {"status": "running", "pid": pid, "pid_started": process_start_time(pid), "started": time.time() - 60} \
            if is_running else {"status": "completed", "reason": "all epochs ran", "test_accuracy": 0.80 + index / 400,
                                "started": time.time() - 300, "ended": time.time() - 200, "epochs_completed": 3}
        (folder / "status.json").write_text(json.dumps(status))
        epochs = 1 if is_running else 3
        (folder / "metrics.jsonl").write_text("".join(json.dumps(
            {"epoch": e, "loss": 1.0 / e, "accuracy": 0.7 + 0.05 * e, "val_loss": None, "val_accuracy": None,
             "learning_rate": 0.1, "seconds": 4.0, "samples_per_second": 250.0}) + "\n" for e in range(1, epochs + 1)))
        (folder / "batches.jsonl").write_text("".join(json.dumps(
            {"epoch": 1 + i // 25, "fraction": (i % 25 + 1) / 25, "loss": 2.3 * 0.97 ** i, "accuracy": 1 - 0.9 * 0.97 ** i})
            + "\n" for i in range(25 * epochs)))
        ledger.record_run(name, visitor, time.time() - 300 + index)
        if is_running:
            running.append(folder / "batches.jsonl")
    return running


def feed(files: list[Path], stop: threading.Event) -> None:
    """A batch point more on each running run every 0.5 s."""
    step = 25
    while not stop.wait(0.5):
        step += 1
        for path in files:
            with path.open("a") as out:
                out.write(json.dumps({"epoch": 2, "fraction": min(step / 50, 1.0), "loss": 2.3 * 0.97 ** step,
                                      "accuracy": 1 - 0.9 * 0.97 ** step}) + "\n")


def server_build_seconds(runs_dir: Path, repeats: int = 20) -> list[float]:
    ledger = ClassLedger(runs_dir)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        state = ledger.state()
        table = standings(class_runs(state, runs_dir), state.challenge)
        board_html(table, state)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    lines = [f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.1f}"]
    with tempfile.TemporaryDirectory() as temp:
        runs_dir = Path(temp) / "runs"
        running = make_class(runs_dir, args.cards)
        builds = server_build_seconds(runs_dir)
        lines.append(f"server: {args.cards} cards built (read, ranked, HTML) in median {statistics.median(builds) * 1000:.1f} ms, "
                     f"worst {max(builds) * 1000:.1f} ms, first (cold) {builds[0] * 1000:.1f} ms of {len(builds)}")
        stop = threading.Event()
        feeder = threading.Thread(target=feed, args=(running, stop), daemon=True)
        server = LiveServer(runs_dir, fresh_log("bench_class_board")).start()
        try:
            feeder.start()
            with chromium() as browser:
                page = new_page(browser)
                page.context.add_init_script(WATCH)
                page.set_viewport_size({"width": 1280, "height": 720})
                open_view(page, server, "board")
                page.wait_for_function(f"document.querySelectorAll('.class-card').length === {args.cards}", timeout=120_000)
                page.evaluate("() => { window.__boards = []; window.__frames = []; window.__longTasks = []; }")
                window_start = page.evaluate("performance.now()")
                page.wait_for_timeout(args.seconds * 1000)
                frames, boards, long_tasks = page.evaluate("[window.__frames, window.__boards, window.__longTasks]")
                cards_now = page.evaluate("document.querySelectorAll('.class-card').length")
                page.screenshot(path=str(SCREENSHOTS_DIR / "class_board_40_cards_1280x720.png"))  # the window, as a projector shows it
        finally:
            stop.set()
            server.stop()
    latencies = []
    for drawn in boards:  # the burst of messages that led to this drawing began at the first frame after a quiet second
        before = [f for f in frames if f <= drawn]
        burst_start = None
        for previous, frame in zip([window_start] + before[:-1], before):
            if frame - previous > 1000:
                burst_start = frame
        if burst_start is not None:
            latencies.append(drawn - burst_start)
    intervals = [b - a for a, b in zip(boards, boards[1:])]
    lines.append(f"browser (Chromium, 1280x720, {cards_now} cards, {args.seconds:.0f} s): {len(boards)} refreshes; "
                 f"first message -> cards replaced median {statistics.median(latencies):.0f} ms, worst {max(latencies):.0f} ms "
                 f"({len(latencies)} measured)" if latencies else "browser: no refresh measured")
    if intervals:
        lines.append(f"interval between refreshes median {statistics.median(intervals) / 1000:.2f} s, "
                     f"worst {max(intervals) / 1000:.2f} s (the fragment's run_every is 2 s)")
    lines.append(f"main-thread long tasks (>50 ms): {len(long_tasks)}, worst {max((d for _, d in long_tasks), default=0):.0f} ms, "
                 f"total {sum(d for _, d in long_tasks):.0f} ms")
    lines.append(f"load average at end {os.getloadavg()[0]:.1f}")
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
