"""A real Streamlit server and a real Chromium for the browser tests (`tests/test_browser_*.py`).

The server is `python -m streamlit run dashboard/app.py` in its own process group, bound to
loopback on a free port, with its own runs directory; Chromium is Debian's (`/usr/bin/chromium`)
driven by Playwright, so nothing is downloaded. Without Chromium the tests are skipped, except
under CI (env `CI` set), where they fail: CI must run them.

Every wait here has a timeout; nothing waits forever.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MNIST_PATH = PROJECT_ROOT.parent / "shared" / "data" / "mnist.npz"  # the shared copy beside the repository
CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS_DIR = PROJECT_ROOT / "test-artifacts"  # git-ignored; CI keeps it
SCREENSHOTS_DIR = ARTIFACTS_DIR / "screenshots"
SERVER_LOGS_DIR = ARTIFACTS_DIR / "server-logs"
SERVER_START_TIMEOUT = 90  # seconds; Streamlit itself starts in ~3 s, a loaded 2-core box is slower
PAGE_TIMEOUT_MS = 60_000  # first page of a session: imports TensorFlow (~6-10 s) on a shared box
VIEWPORT = {"width": 1400, "height": 1000}
# Runs in every page before Streamlit's own code: records the text of every error box
# ("stException") that ever appears, even one the next rerun replaces a second later.
WATCH_EXCEPTIONS = """
window.__stExceptions = [];
new MutationObserver(() => {
    for (const box of document.querySelectorAll("[data-testid='stException']")) {
        if (!window.__stExceptions.includes(box)) window.__stExceptions.push(box);
    }
}).observe(document, {childList: true, subtree: true});
"""


def mnist_path() -> str:
    """`$MNIST_PATH`, else the shared copy beside the repository."""
    return os.environ.get("MNIST_PATH") or str(DEFAULT_MNIST_PATH)


def require_chromium() -> None:
    """Skip the calling test when Chromium is missing; fail instead under CI."""
    if Path(CHROMIUM_PATH).is_file():
        return
    message = f"{CHROMIUM_PATH} is missing: install it with `make browser` (apt-get install chromium)."
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the browser tests, but {message}")
    pytest.skip(message)


def fresh_log(name: str) -> Path:
    """An empty `test-artifacts/server-logs/<name>.log` for one test module's server(s)."""
    SERVER_LOGS_DIR.mkdir(parents=True, exist_ok=True)
    path = SERVER_LOGS_DIR / f"{name}.log"
    path.unlink(missing_ok=True)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    """A dashboard server process; `start()` blocks until its health check answers "ok".

    Args:
        runs_dir: the server's `MNIST_LAB_RUNS_DIR`.
        log_path: where the server's stdout and stderr go (read on failure).
        extra_env: more environment variables (e.g. the concurrency cap).
        app: the script to serve (a benchmark's baseline may serve another).
    """

    def __init__(self, runs_dir: Path, log_path: Path, extra_env: dict[str, str] | None = None,
                 app: str = "dashboard/app.py"):
        self.app = app
        self.runs_dir = Path(runs_dir)
        self.log_path = Path(log_path)
        self.extra_env = dict(extra_env or {})
        self.port: int | None = None
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def start(self) -> "LiveServer":
        self.port = free_port()
        env = dict(os.environ, MNIST_PATH=mnist_path(), MNIST_LAB_RUNS_DIR=str(self.runs_dir), **self.extra_env)
        command = [
            sys.executable, "-m", "streamlit", "run", self.app,
            "--server.headless", "true", "--server.port", str(self.port), "--server.address", "127.0.0.1",
            "--server.runOnSave", "false", "--browser.gatherUsageStats", "false",
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,  # own process group: killed as one
            )
        finally:
            log.close()
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=5) as answer:
                    if answer.status == 200 and answer.read().strip() == b"ok":
                        return self
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(
            f"the server did not answer its health check within {SERVER_START_TIMEOUT} s:\n{self.log_tail()}"
        )

    def kill(self) -> None:
        """SIGKILL the whole process group at once: a crash, not a shutdown."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """Terminate the server (SIGTERM to its group, SIGKILL after 15 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        except ProcessLookupError:
            pass

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no server log)"


@contextmanager
def running_server(runs_dir: Path, log_path: Path, extra_env: dict[str, str] | None = None):
    """A started `LiveServer`, stopped on exit (even when the test fails)."""
    require_chromium()  # no server for tests that are about to be skipped
    server = LiveServer(runs_dir, log_path, extra_env)
    try:
        yield server.start()
    finally:
        server.stop()


_shared_browser: dict | None = None  # {"playwright", "browser"} once `share_one_browser()` was called


def share_one_browser() -> None:
    """From now on `chromium()` hands out one Chromium for the whole process, launched at first use
    (tests/conftest.py calls this for the test session: launching one costs a second or more on a loaded
    2-core box, and the browser files used to launch thirty). Each `with chromium()` still ends with
    what it made: the browser contexts (sessions, cookies, pages) opened inside it are closed at its exit.
    `close_shared_browser()` ends it."""
    global _shared_browser
    if _shared_browser is None:
        _shared_browser = {"playwright": None, "browser": None}


def close_shared_browser() -> None:
    """Close the shared Chromium and its Playwright driver, if one was launched."""
    if _shared_browser is None:
        return
    browser, playwright = _shared_browser["browser"], _shared_browser["playwright"]
    _shared_browser["browser"] = _shared_browser["playwright"] = None
    try:
        if browser is not None and browser.is_connected():
            browser.close()
    finally:
        if playwright is not None:
            playwright.stop()


def _launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, timeout=60_000)


@contextmanager
def chromium():
    """A headless Debian Chromium driven by Playwright: a new one, closed on exit; or, after
    `share_one_browser()`, the shared one (relaunched if it died), whose contexts made inside are closed on exit."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    if _shared_browser is None:
        with sync_playwright() as playwright:
            browser = _launch(playwright)
            try:
                yield browser
            finally:
                browser.close()
        return
    browser = _shared_browser["browser"]
    if browser is None or not browser.is_connected():
        close_shared_browser()
        _shared_browser["playwright"] = sync_playwright().start()
        browser = _shared_browser["browser"] = _launch(_shared_browser["playwright"])
    before = list(browser.contexts)
    try:
        yield browser
    finally:
        for context in browser.contexts:
            if not any(context is earlier for earlier in before):
                try:
                    context.close()
                except Exception:  # already closed, or the browser died: nothing left to end
                    pass


def new_page(browser, **context_options):
    """A fresh browser context (its own Streamlit session, its own cookies) with one page, generous
    timeouts, and a watch on its requests (more tabs of it: `page.context.new_page()`); `context_options` go to
    Playwright's `new_context` (e.g. a phone's `viewport`, `has_touch=True`, `is_mobile=True`)."""
    context = browser.new_context(**{"viewport": VIEWPORT, **context_options})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    context.add_init_script(WATCH_EXCEPTIONS)
    context.outside_requests = record_outside_requests(context)  # read by assert_page_clean
    return context.new_page()


def errors_seen(page) -> list[str]:
    """The text of every Streamlit error box shown in `page` since it was (re)loaded or last asked."""
    return page.evaluate("""() => {
        const boxes = window.__stExceptions || [];
        window.__stExceptions = [];
        return boxes.map(box => box.textContent.slice(0, 300));
    }""")


def assert_page_clean(page) -> None:
    """Fail if the page has shown a Streamlit error box (an uncaught exception) since the last check,
    or if any page of its browser context has ever requested anything from a host but the server's.

    Boxes that a rerun replaces a second later count too: a user saw them. The traceback is in
    the server log under `test-artifacts/server-logs/`.
    """
    errors = errors_seen(page)
    assert not errors, (f"the page showed {len(errors)} error box(es) (traceback in {SERVER_LOGS_DIR}): "
                        f"{errors[0]!r}")
    outside = getattr(page.context, "outside_requests", None)
    assert outside is not None, "a context made without new_page(): its requests were not watched"
    assert not outside, f"requests left 127.0.0.1 (a self-hosted app fetches nothing from outside): {sorted(set(outside))[:5]}"


def open_view(page, server: LiveServer, view: str = "", query: str = ""):
    """Load `/<view>` (a page file's name; "" = the default page) and wait for the app to paint."""
    page.goto(f"{server.url}/{view}{'?' + query if query else ''}", wait_until="domcontentloaded")
    page.locator("[data-testid='stApp']").wait_for(state="attached")
    page.locator("[data-testid='stSidebarNav']").wait_for(state="visible")
    return page


def wait_idle(page, timeout_ms: int = PAGE_TIMEOUT_MS) -> None:
    """Wait until the script run of this session has finished (no "Running..." status widget) and its
    elements are drawn (a widget whose code is still loading shows a skeleton in its place, and the
    page moves when it arrives)."""
    page.wait_for_function(
        """() => {
            const app = document.querySelector("[data-testid='stApp']");
            return app && app.getAttribute("data-test-script-state") !== "running"
                && !document.querySelector("[data-testid='stMain'] [data-testid='stSkeleton']");
        }""",
        timeout=timeout_ms,
    )


def wait_run_over(page, timeout_ms: int = PAGE_TIMEOUT_MS) -> None:
    """Wait until no script run of this session is going on (`data-test-script-state` is "notRunning").

    Call it once the page shows something the last run drew: a run is marked as going only when its first
    message arrives, so right after an action this can return before that action's run began. Read a baseline
    (an image's src, a text) only after it, where the check then waits for the baseline to change: a run still
    drawing would change it too, and pass for the action's answer.
    """
    page.wait_for_function(
        "() => document.querySelector(\"[data-testid='stApp']\")?.getAttribute('data-test-script-state') === 'notRunning'",
        timeout=timeout_ms,
    )


def wait_cookies(page, names: tuple[str, ...], timeout_ms: int = PAGE_TIMEOUT_MS) -> list[dict]:
    """Wait until the page's browser holds a cookie with a value for each of `names`; returns those cookies.

    The lab sets its cookies from a script the page runs after the text that announces them ("Signed in"): a new
    page load before that is a session that does not know them yet."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        found = [c for c in page.context.cookies() if c["name"] in names and c["value"]]
        if {c["name"] for c in found} >= set(names):
            return found
        assert time.monotonic() < deadline, f"no cookie {names} after {timeout_ms} ms: {page.context.cookies()}"
        time.sleep(0.2)


def record_outside_requests(context) -> list[str]:
    """From now on, every request `context`'s pages (and their frames) make to a host other than the
    server's (127.0.0.1) is appended to the returned list: a self-hosted app fetches nothing from outside."""
    outside: list[str] = []

    def check(request) -> None:
        url = urlparse(request.url)
        if url.scheme not in ("data", "blob", "about") and url.hostname != "127.0.0.1":
            outside.append(request.url)

    context.on("request", check)
    return outside


def click_nav(page, title: str) -> None:
    """Follow the sidebar navigation link whose visible text is `title`."""
    page.locator("[data-testid='stSidebarNav'] a", has_text=title).first.click()


def wait_text(page, pattern: str | re.Pattern, timeout_ms: int = PAGE_TIMEOUT_MS):
    """The first visible element whose text matches `pattern`, waited for."""
    locator = page.get_by_text(pattern if isinstance(pattern, re.Pattern) else re.compile(pattern)).first
    locator.wait_for(state="visible", timeout=timeout_ms)
    return locator


def screenshot(page, name: str) -> Path:
    """Save a PNG of the whole page under `test-artifacts/screenshots/` (git-ignored); returns its path.

    Streamlit scrolls inside its own main container, so a "full page" screenshot would stop at
    the window: the window is made as tall as the content for the shot, then restored.
    """
    SCREENSHOTS_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS_DIR / f"{name}.png"
    height = page.evaluate("""() => {
        const main = document.querySelector("[data-testid='stMain']") || document.documentElement;
        return main.scrollHeight;
    }""")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(height) + 40, 8000))})
    try:
        page.wait_for_timeout(700)  # let plotly and images re-lay out at the new size (a pause, not a check)
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(size)
    return path


def process_tree_rss(pid: int) -> int:
    """Resident memory, in bytes, of process `pid` and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            pass
        todo.extend(children.get(current, []))
    return total


class PeakRss:
    """Poll a process tree's RSS on a thread (every `interval` s) and keep the peak."""

    def __init__(self, pid: int, interval: float = 0.25):
        self.pid, self.interval, self.peak = pid, interval, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, process_tree_rss(self.pid))
            self._done.wait(self.interval)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(timeout=10)
        self.peak = max(self.peak, process_tree_rss(self.pid))
