"""What an open page costs while its visitor does nothing (issue 21: the 40-Chromium figure).

A hosted server (a teacher password set: the sidebar's heartbeat fragment runs) with an open class
of `--cards` finished runs (one tiny run trained by the CLI, copied, each listed in the class with
its own display name). For each view, `--pages` Chromium pages (each its own browser context, one
Chromium process) open it, wait until it is drawn and idle, and then sit for `--seconds`; measured
over that window:

- `chromium_cpu_core_per_page`: the CPU of every Chromium process (browser, renderers, GPU/utility)
  over the window, in cores, divided by the pages;
- `server_cpu_core_per_page`: the server process's CPU over the window, per page;
- `ws_in_per_s`, `ws_out_per_s`, `ws_kb_in_per_s`: websocket frames (and kilobytes) per second per
  page, server -> page and page -> server (each fragment tick is one rerun request and a few replies).

The views: `board` (the class's cards and leaderboard), `train` (no training of the visitor's), and
`data` (a page without a fragment of its own: the heartbeat alone), so what each fragment costs shows
beside the page that has none. Prints the CPU model and the load beside the figures.

Usage:
    .venv/bin/python bench/idle_page_cost.py [--pages 5] [--seconds 20] [--cards 40] [--views board train data]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from core.classroom.challenge import MAX_PARAMETERS, Challenge  # noqa: E402
from core.classroom.class_ledger import ClassLedger  # noqa: E402
from live_server import (  # noqa: E402
    CHROMIUM_ARGS, CHROMIUM_PATH, LiveServer, fresh_log, new_page, open_view, require_chromium, wait_idle,
)
from class_capacity import PASSWORD, cpu_seconds, descendants  # noqa: E402
from shared_machine import cpu_model  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python")
MNIST = Path(os.environ.get("MNIST_PATH", ROOT.parent / "shared" / "data" / "mnist.npz"))


def class_of(runs_dir: Path, cards: int) -> None:
    """An open class with a challenge and `cards` finished runs, each its own learner's, named."""
    subprocess.run([PYTHON, "-m", "core", "train", "--model", "mlp", "--epochs", "2", "--train-size", "300",
                    "--validation-size", "100", "--hidden-units", "16", "--name", "mlp-seed", "--runs-dir", str(runs_dir),
                    "--mnist-path", str(MNIST)], cwd=ROOT, check=True, capture_output=True)
    ledger = ClassLedger(runs_dir)
    state = ledger.open_class(by_teacher=True)
    ledger.set_challenge(Challenge(MAX_PARAMETERS, 20_000, set_at=state.opened), by_teacher=True)
    for i in range(cards):
        name = f"mlp-card-{i:02d}"
        shutil.copytree(runs_dir / "mlp-seed", runs_dir / name)
        ledger.set_name(f"visitor-{i}", f"Learner {i}")
        ledger.record_run(name, f"visitor-{i}", submitted=state.opened + 1 + i)
    shutil.rmtree(runs_dir / "mlp-seed")


class Frames:
    """Counts a page's websocket frames and bytes, both ways."""

    def __init__(self, page):
        self.counting = False
        self.sent = self.received = self.bytes_received = 0
        page.on("websocket", self._watch)

    def _watch(self, socket) -> None:
        socket.on("framesent", lambda _payload: self._count("sent", 0))
        socket.on("framereceived", lambda payload: self._count("received", len(payload)))

    def _count(self, way: str, size: int) -> None:
        if self.counting:
            setattr(self, way, getattr(self, way) + 1)
            self.bytes_received += size


def chromium_cpu(bench_pid: int, server_pid: int) -> float:
    """CPU seconds so far of the Chromium processes (and Playwright's driver) under this bench."""
    server = descendants(server_pid) | {server_pid}
    return sum(cpu_seconds(pid) for pid in descendants(bench_pid) - server)


def measure(playwright, server: LiveServer, view: str, pages: int, seconds: float) -> str:
    browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS,
                                         timeout=60_000)
    try:
        opened = []
        for _ in range(pages):
            page = new_page(browser)
            frames = Frames(page)
            open_view(page, server, view)
            wait_idle(page)
            opened.append((page, frames))
        if view == "board":
            opened[0][0].get_by_text("Learner 0", exact=False).first.wait_for()
        opened[0][0].wait_for_timeout(3000)  # past the first fragment ticks and the charts' first paint
        for _, frames in opened:
            frames.counting = True
        chromium_before, server_before, wall_before = chromium_cpu(os.getpid(), server.pid), cpu_seconds(server.pid), time.monotonic()
        load_before = os.getloadavg()[0]
        opened[0][0].wait_for_timeout(seconds * 1000)  # not time.sleep: Playwright counts frames only while called
        wall = time.monotonic() - wall_before
        chromium_used = chromium_cpu(os.getpid(), server.pid) - chromium_before
        server_used = cpu_seconds(server.pid) - server_before
        for _, frames in opened:
            frames.counting = False
        received = sum(f.received for _, f in opened) / pages / wall
        sent = sum(f.sent for _, f in opened) / pages / wall
        kilobytes = sum(f.bytes_received for _, f in opened) / pages / wall / 1000
        return (f"view={view} pages={pages} chromium_cpu_core_per_page={chromium_used / wall / pages:.3f} "
                f"server_cpu_core_per_page={server_used / wall / pages:.4f} ws_in_per_s={received:.2f} "
                f"ws_out_per_s={sent:.2f} ws_kb_in_per_s={kilobytes:.1f} window_s={wall:.0f} "
                f"load={load_before:.1f}-{os.getloadavg()[0]:.1f}")
    finally:
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--cards", type=int, default=40)
    parser.add_argument("--views", nargs="+", default=["board", "train", "data"])
    parser.add_argument("--rounds", type=int, default=1, help="measure the views in turn this many times")
    args = parser.parse_args()
    require_chromium()
    from playwright.sync_api import sync_playwright

    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.1f}; "
          f"{args.cards} finished cards in an open class; hosted (heartbeat on); nothing training", flush=True)
    with tempfile.TemporaryDirectory() as temp:
        runs_dir = Path(temp) / "runs"
        class_of(runs_dir, args.cards)
        server = LiveServer(runs_dir, fresh_log("bench_idle_page_cost"), {"MNIST_LAB_TEACHER_PASSWORD": PASSWORD}).start()
        try:
            with sync_playwright() as playwright:
                for _ in range(args.rounds):
                    for view in args.views:
                        print(measure(playwright, server, view, args.pages, args.seconds), flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
