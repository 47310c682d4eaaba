"""A class of N simulated visitors on one hosted server (issue 21, item 5).

For each N (10, 20, 40 by default), a fresh hosted server (a teacher password set, one training at a
time, an open class with a challenge), and N visitors, each its own cookie (its own visitor), in one
of two kinds (`--client`, both by default, each line labelled):

- `chromium`: Chromium pages, ten browser contexts per Chromium process. The browsers run on the same
  2 cores as the server, so these figures are a pessimistic bound for a class whose browsers are
  elsewhere (40 Chromium pages cost this machine more CPU than the server: see `cpu_s_visitors`);
- `websocket`: Streamlit's own websocket protocol from one Python process (`bench/streamlit_client.py`):
  the same messages a browser sends, each session's fragments re-run on their intervals, no drawing.
  Its page update is the server's share: request sent -> the whole run's elements received.

Driven one action at a time, so each visitor acts every few seconds (a human pace: a round of the
class takes at least `HUMAN_PACE_SECONDS`) while the others' pages stay open, their fragments polling:

1. each opens the Train page with a tiny training (mlp, 300 images, one epoch, its own seed);
2. each presses Start, one every `START_EVERY_SECONDS`: its job is queued (or refused: the queue holds
   `MAX_QUEUED` waiting);
3. until every accepted training has ended (or `--minutes`): each in turn goes to the Board and
   back to Train through the sidebar (Streamlit's navigation, no reload);
4. the trainings' order of start is compared with the order of the Starts.

Measured: the health endpoint every 0.25 s (p95), a visitor's click -> page updated (Start ->
its job shown; a sidebar link -> the page's content drawn and its run idle; p95), sessions dropped
(a page's websocket closed without us navigating, or Streamlit's connection error shown), the
server process's peak RSS (and its workers'), trainings completed, and where the machine's CPU
went (server, training worker, the simulated visitors, everything else). `--profile DIR` has the
server time its script runs and sample its threads (`dashboard/server_profile.py`).

Usage:
    .venv/bin/python bench/class_capacity.py [--visitors 10 20 40] [--client chromium websocket] [--minutes 6]
                                             [--out bench/results/class_capacity.txt] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from core.classroom.challenge import MAX_PARAMETERS, Challenge  # noqa: E402
from core.classroom.class_ledger import ClassLedger  # noqa: E402
from dashboard.server_profile import PROFILE_FILE_ENV  # noqa: E402
from live_server import (  # noqa: E402
    CHROMIUM_ARGS, CHROMIUM_PATH, LiveServer, fresh_log, new_page, open_view, process_tree_rss, require_chromium, wait_idle,
)
from playwright.sync_api import sync_playwright  # noqa: E402
from rerun_storm import HealthProbe, percentile  # noqa: E402
from shared_machine import cpu_model, cpu_ticks  # noqa: E402
from streamlit_client import SessionError, StreamlitSession  # noqa: E402
from dashboard.visitor import COOKIE as VISITOR_COOKIE  # noqa: E402

PASSWORD = "capacity-bench-21"
TINY = "model=mlp&train_size=300&validation_size=100&epochs=1&batch_size=50&patience=0&hidden_units=16"
CONTEXTS_PER_BROWSER = 10
STARTED = re.compile(r"Waiting in the queue|trainings are already waiting|completed: |Test accuracy")  # or its Stop button
ACTION_TIMEOUT_MS = 60_000
HUMAN_PACE_SECONDS = 5.0  # a visitor acts at most this often
START_EVERY_SECONDS = 1.5  # the class presses Start one after another, forty within a minute


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


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds process `pid` has used so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> set[int]:
    """The processes below `pid` (children, theirs, ...), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


class CpuSplit:
    """Where the machine's CPU went during a class: the server process, its training workers, the
    simulated visitors (this bench process with its children: Chromium and Playwright's driver, or
    the websocket client), and everything else (other users of the machine).

    `finish()` takes the end reading while the visitors' processes still run (a Chromium renderer that
    ended may have been reaped by a process that never reports it), before the server stops.
    """

    def __init__(self, server_pid: int):
        self.server_pid = server_pid
        self.start = self._reading()
        self.end: dict[str, float] | None = None

    def finish(self) -> None:
        self.end = self._reading()

    def _reading(self) -> dict[str, float]:
        server_tree = descendants(self.server_pid)
        live_visitors = descendants(os.getpid()) - server_tree - {self.server_pid}
        own = os.times()
        ticks = cpu_ticks()
        return {"server": cpu_seconds(self.server_pid), "workers": sum(cpu_seconds(pid) for pid in server_tree),
                "visitors": own.user + own.system + own.children_user + own.children_system
                            + sum(cpu_seconds(pid) for pid in live_visitors),
                "machine": (sum(ticks.values()) - ticks["idle"] - ticks["iowait"]) / os.sysconf("SC_CLK_TCK"),
                "wall": time.monotonic()}

    def line(self) -> str:
        """`cpu_s_server=… cpu_s_workers=… cpu_s_visitors=… cpu_s_others=… wall_s=…` from the split to `finish()`."""
        end = self.end or self._reading()
        used = {key: end[key] - self.start[key] for key in end}
        others = used["machine"] - used["server"] - used["workers"] - used["visitors"]
        return (f"cpu_s_server={used['server']:.0f} cpu_s_workers={used['workers']:.0f} "
                f"cpu_s_visitors={used['visitors']:.0f} cpu_s_others={max(0.0, others):.0f} wall_s={used['wall']:.0f}")


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


@dataclass
class Crowd:
    """What a crowd of visitors measured: every page update's seconds, the Starts' outcome, sessions dropped."""

    updates: list[float] = field(default_factory=list)
    opened: list[float] = field(default_factory=list)
    failed_updates: int = 0
    start_order: list[int] = field(default_factory=list)  # the visitors whose Start was queued, in the order pressed
    unknown_starts: list[int] = field(default_factory=list)  # Starts whose page never showed the job
    refused: int = 0
    dropped: int = 0


def human_pace(round_started: float) -> None:
    """A visitor acts at most every `HUMAN_PACE_SECONDS`: a small class's round waits out the rest."""
    time.sleep(max(0.0, round_started + HUMAN_PACE_SECONDS - time.monotonic()))


def chromium_crowd(server: LiveServer, runs_dir: Path, visitors: int, minutes: float, cpu: CpuSplit) -> Crowd:
    """N visitors in Chromium pages (ten browser contexts per Chromium process), one action at a time."""
    crowd_result = Crowd()
    with ExitStack() as stack:
        playwright = stack.enter_context(sync_playwright())  # one driver, several Chromium processes
        browsers = [playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, timeout=60_000)
                    for _ in range(math.ceil(visitors / CONTEXTS_PER_BROWSER))]
        for browser in browsers:
            stack.callback(browser.close)
        crowd = [Visitor(browsers[i // CONTEXTS_PER_BROWSER], i) for i in range(visitors)]
        for visitor in crowd:
            crowd_result.opened.append(timed(lambda: (visitor.goto(server, "train", f"{TINY}&seed={visitor.index}"),
                                                      wait_idle(visitor.page))))
        starts_began = time.monotonic()
        for visitor in crowd:
            time.sleep(max(0.0, starts_began + visitor.index * START_EVERY_SECONDS - time.monotonic()))
            button = visitor.page.locator(".st-key-train_start").get_by_role("button", name="Start training")
            took = timed(lambda: (button.click(timeout=ACTION_TIMEOUT_MS),
                                  visitor.page.locator(".st-key-train_stop").or_(visitor.page.get_by_text(STARTED))
                                  .first.wait_for(timeout=ACTION_TIMEOUT_MS)))
            if took is None:  # its page never showed the job: whether it was queued is not known here
                crowd_result.failed_updates += 1
                crowd_result.unknown_starts.append(visitor.index)
                continue
            crowd_result.updates.append(took)
            visitor.accepted = visitor.page.get_by_text("trainings are already waiting").count() == 0
            if visitor.accepted:
                crowd_result.start_order.append(visitor.index)
            else:
                crowd_result.refused += 1
        deadline = time.monotonic() + minutes * 60
        on_board = False
        while time.monotonic() < deadline:
            round_started = time.monotonic()
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
                    crowd_result.failed_updates += 1
                else:
                    crowd_result.updates.append(took)
            on_board = not on_board
            if finished_runs(runs_dir) >= len(crowd_result.start_order):
                break
            human_pace(round_started)
        crowd_result.dropped = sum(visitor.dropped or visitor.connection_error_shown() for visitor in crowd)
        cpu.finish()  # the browsers still run
    return crowd_result


async def websocket_crowd(server: LiveServer, runs_dir: Path, visitors: int, minutes: float, cpu: CpuSplit) -> Crowd:
    """N visitors through Streamlit's websocket protocol (`bench/streamlit_client.py`), one action at a time,
    every session's fragments re-run on their intervals meanwhile, all from one asyncio loop."""
    crowd_result = Crowd()
    crowd = [StreamlitSession(server.url, {VISITOR_COOKIE: secrets.token_urlsafe(18)}) for _ in range(visitors)]

    async def timed_run(action, check) -> float | None:
        try:
            run = await action
            problem = check(run)
        except (SessionError, asyncio.TimeoutError, OSError) as error:
            problem = str(error) or type(error).__name__
        if problem:
            print(f"  an action failed: {problem[:160]}", file=sys.stderr, flush=True)
            crowd_result.failed_updates += 1
            return None
        return run.seconds

    try:
        for index, session in enumerate(crowd):
            took = await timed_run(session.open("train", f"{TINY}&seed={index}", ACTION_TIMEOUT_MS / 1000),
                                   lambda run: None if "train_start" in run.button_keys else "Train drew no Start button")
            if took is not None:
                crowd_result.opened.append(took)
        starts_began = time.monotonic()
        for index, session in enumerate(crowd):
            await asyncio.sleep(max(0.0, starts_began + index * START_EVERY_SECONDS - time.monotonic()))
            try:
                run = await session.click("train_start", ACTION_TIMEOUT_MS / 1000)
            except (SessionError, asyncio.TimeoutError) as error:
                print(f"  a Start failed: {str(error)[:160]}", file=sys.stderr, flush=True)
                run = None
            if run is None or not ("train_stop" in run.button_keys or any(STARTED.search(text) for text in run.texts)):
                crowd_result.failed_updates += 1
                crowd_result.unknown_starts.append(index)
                continue
            crowd_result.updates.append(run.seconds)
            if run.shows("trainings are already waiting"):
                crowd_result.refused += 1
            else:
                crowd_result.start_order.append(index)
        deadline = time.monotonic() + minutes * 60
        on_board = False
        while time.monotonic() < deadline:
            round_started = time.monotonic()
            for session in crowd:
                if not on_board:
                    took = await timed_run(session.go_to("board", ACTION_TIMEOUT_MS / 1000),
                                           lambda run: None if run.shows("Leaderboard") else "Board drew no leaderboard")
                else:
                    took = await timed_run(session.go_to("train", ACTION_TIMEOUT_MS / 1000),
                                           lambda run: None if "train_start" in run.button_keys else "Train drew no Start button")
                if took is not None:
                    crowd_result.updates.append(took)
            on_board = not on_board
            if finished_runs(runs_dir) >= len(crowd_result.start_order):
                break
            await asyncio.sleep(max(0.0, round_started + HUMAN_PACE_SECONDS - time.monotonic()))
        crowd_result.dropped = sum(session.closed_by_server for session in crowd)
        cpu.finish()
    finally:
        for session in crowd:
            await session.close()
    return crowd_result


def run_class(visitors: int, minutes: float, client: str, profile_dir: Path | None = None) -> str:
    with tempfile.TemporaryDirectory() as temp:
        runs_dir = Path(temp) / "runs"
        ledger = ClassLedger(runs_dir)
        ledger.open_class(by_teacher=True)
        ledger.set_challenge(Challenge(MAX_PARAMETERS, 20_000, set_at=time.time()), by_teacher=True)
        # No map after each run (t-SNE, ~15 s of the worker's CPU each): the worker trains without a break either
        # way, and forty maps in a row would make each class last a quarter of an hour longer.
        settings = {"MNIST_LAB_TEACHER_PASSWORD": PASSWORD, "MNIST_LAB_MAX_CONCURRENT_TRAININGS": "1",
                    "MNIST_LAB_EMBEDDING_DIGITS": "0"}
        if profile_dir is not None:  # the server times its script runs and samples its threads (dashboard/server_profile.py)
            profile_dir.mkdir(parents=True, exist_ok=True)
            settings[PROFILE_FILE_ENV] = str((profile_dir / f"server_profile_{client}_{visitors}.json").resolve())
        server = LiveServer(runs_dir, fresh_log(f"bench_class_capacity_{client}_{visitors}"), settings).start()
        try:
            with HealthProbe(server.url, interval=0.25) as health, PeakMemory(server.pid) as memory:
                cpu = CpuSplit(server.pid)
                if client == "chromium":
                    crowd = chromium_crowd(server, runs_dir, visitors, minutes, cpu)
                else:
                    crowd = asyncio.run(websocket_crowd(server, runs_dir, visitors, minutes, cpu))
                cpu_line = cpu.line()
                health_samples = [latency for _, latency in health.samples]
        finally:
            server.stop()
        completed, order = run_order(runs_dir)
        # The runs of the Starts whose order is known must have started in that order.
        start_order = crowd.start_order
        in_order = [i for i in order if i in start_order] == [i for i in start_order if i in order]
        load = os.getloadavg()[0]
    updates = crowd.updates
    return (f"{client}: visitors={visitors} health_p95_s={percentile(health_samples, 0.95):.3f} "
            f"update_p95_s={percentile(updates, 0.95):.2f} dropped={crowd.dropped} server_rss_mb={memory.server / 2**20:.0f} "
            f"trainings_completed={completed} | queued={len(start_order)} refused={crowd.refused} "
            f"start_unseen={len(crowd.unknown_starts)} started_in_order={'yes' if in_order else 'no'} "
            f"failed_updates={crowd.failed_updates} update_median_s={statistics.median(updates):.2f} "
            f"open_median_s={statistics.median([o for o in crowd.opened if o] or [0]):.2f} "
            f"health_max_s={max(health_samples):.2f} tree_rss_mb={memory.tree / 2**20:.0f} load_at_end={load:.1f} {cpu_line}")


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
    parser.add_argument("--client", nargs="+", choices=["chromium", "websocket"], default=["websocket", "chromium"])
    parser.add_argument("--minutes", type=float, default=6.0, help="at most this long per class after the Starts")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="the server profiles itself (dashboard/server_profile.py): DIR/server_profile_CLIENT_N.json")
    args = parser.parse_args()
    if "chromium" in args.client:
        require_chromium()
    lines = [f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.1f}; "
             f"chromium: {CONTEXTS_PER_BROWSER} visitors per Chromium on this machine; websocket: one Python client process; "
             "one training worker, no embedding map after each run"]
    print(lines[0], flush=True)
    for client in args.client:
        for visitors in args.visitors:
            lines.append(run_class(visitors, args.minutes, client, args.profile))
            print(lines[-1], flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
