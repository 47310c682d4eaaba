"""A fresh clone's server asks nothing of the outside world: not at start-up, not on a page view,
not while a worker starts and trains (issue 17).

The server is started as `make run` starts it (`streamlit run dashboard/app.py --server.port N`,
the repository's `.streamlit/config.toml`, no `--server.address`; MNIST from `$MNIST_PATH`, as the
repository ships none), with an audit hook in it and in its workers (tests/network_watch.py) that logs
and refuses every lookup of an outside name and every connect off loopback. Chromium's own
requests are watched by `new_page` (`assert_page_clean`). A control test runs the same server
with the config as it was before (no `browser.serverAddress`) and sees the watch catch
Streamlit's external-IP lookup, so the check is one that can fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from live_server import (
    PROJECT_ROOT, SERVER_START_TIMEOUT, LiveServer, assert_page_clean, chromium, fresh_log, free_port,
    new_page, open_view, require_chromium, wait_idle, wait_text,
)
from network_watch import logged_calls, outside_calls, watch_environment

EXTERNAL_IP_WARNING = "Did not auto detect external IP"
TRAIN_QUERY = "model=mlp&train_size=1000&validation_size=500&epochs=2&patience=0"
FIRST_EPOCH_TIMEOUT_MS = 180_000  # TensorFlow's import in a fresh worker, on a busy 2-core box
LOSS_CHART = ".st-key-train_loss_chart:not([data-stale='true'])"


class MakeRunServer(LiveServer):
    """The server with `make run`'s flags only, in `cwd` (whose `.streamlit/config.toml` it reads)."""

    def __init__(self, runs_dir: Path, log_path: Path, extra_env: dict[str, str], cwd: Path = PROJECT_ROOT):
        super().__init__(runs_dir, log_path, extra_env)
        self.cwd = cwd

    def start(self) -> "MakeRunServer":
        self.port = free_port()
        env = dict(os.environ)  # MNIST_PATH included: the repository ships no MNIST
        env.update(MNIST_LAB_RUNS_DIR=str(self.runs_dir), **self.extra_env)
        command = [sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "dashboard" / "app.py"),
                   "--server.port", str(self.port)]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=5) as answer:
                    if answer.read().strip() == b"ok":
                        return self
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"the server did not answer within {SERVER_START_TIMEOUT} s:\n{self.log_tail()}")

    def wait_for_banner(self, timeout: float = 30) -> str:
        """The log once Streamlit has printed where to open the app (after any address lookup)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_path.read_text(errors="replace")
            if "URL:" in text:
                return text
            time.sleep(0.2)
        raise AssertionError(f"no start-up banner within {timeout} s:\n{self.log_tail()}")


def tab_icon(page, server: LiveServer) -> bytes:
    """The bytes of the icon the browser shows in the page's tab, fetched from `server` (where else would fail
    `assert_page_clean`: a page whose icon is left unset gets its Material icon from fonts.gstatic.com)."""
    href = page.evaluate("() => document.querySelector(\"link[rel='shortcut icon']\").href")
    assert href.startswith(f"{server.url}/media/"), href
    with urllib.request.urlopen(href, timeout=30) as answer:
        return answer.read()


def watched_server(tmp_path: Path, name: str, cwd: Path = PROJECT_ROOT) -> tuple[MakeRunServer, Path]:
    watch_log = tmp_path / "network.jsonl"
    env = watch_environment(tmp_path / "watch", watch_log)
    return MakeRunServer(tmp_path / "runs", fresh_log(name), env, cwd=cwd), watch_log


def test_the_old_config_made_the_server_look_up_its_external_ip_and_the_watch_catches_it(tmp_path):
    """The control: without `browser.serverAddress`, a headless server asks an outside service."""
    old_config = tmp_path / "old" / ".streamlit" / "config.toml"
    old_config.parent.mkdir(parents=True)
    config = (PROJECT_ROOT / ".streamlit" / "config.toml").read_text()
    old_config.write_text(re.sub(r"(?m)^serverAddress\s*=.*$", "", config))
    assert "serverAddress" not in re.sub(r"(?m)#.*$", "", old_config.read_text())
    server, watch_log = watched_server(tmp_path, "offline-old-config", cwd=old_config.parents[1])
    try:
        log = server.start().wait_for_banner()
    finally:
        server.stop()
    outside = {entry["host"] for entry in outside_calls(watch_log)}
    assert "checkip.amazonaws.com" in outside, logged_calls(watch_log)
    assert EXTERNAL_IP_WARNING in log  # the lookup was refused, as on a machine without internet


def test_the_server_starts_and_a_page_view_a_worker_start_and_a_training_ask_nothing_outside(tmp_path):
    """The start-up alone (its banner, the server the only process watched), then the page views and the
    training on the same server (one server: the start-up's checks were a test of their own, on a server of
    their own, before)."""
    require_chromium()
    server, watch_log = watched_server(tmp_path, "offline-train")
    try:
        banner = server.start().wait_for_banner()
        assert f"URL: http://localhost:{server.port}" in banner and EXTERNAL_IP_WARNING not in banner
        # Started, nothing viewed yet: the server is the one watched process, and it asked nothing outside.
        assert [entry["pid"] for entry in logged_calls(watch_log) if entry["event"] == "watch.start"] == [server.pid]
        assert outside_calls(watch_log) == []
        with chromium() as browser:
            page = new_page(browser)
            open_view(page, server)  # Data: MNIST's overview, read on the server
            wait_text(page, "Training images")
            wait_idle(page)
            assert tab_icon(page, server) == (PROJECT_ROOT / "dashboard" / "favicon.png").read_bytes()
            open_view(page, server, "draw")
            page.locator("div[data-testid='stBidiComponentIsolated'] canvas.upper-canvas").wait_for(state="visible")
            open_view(page, server, "train", TRAIN_QUERY)
            page.locator(".st-key-train_start").get_by_role("button", name="Start training").click()
            page.wait_for_url(re.compile(r"[?&]job="), timeout=FIRST_EPOCH_TIMEOUT_MS)
            page.wait_for_function(
                f"""() => {{
                    const plot = document.querySelector({(LOSS_CHART + ' .js-plotly-plot')!r});
                    return plot && plot.data && plot.data.some(trace => (trace.x || []).length > 0);
                }}""",
                timeout=FIRST_EPOCH_TIMEOUT_MS,
            )
            assert_page_clean(page)  # no error box, and Chromium requested nothing but the server
            page.context.close()
        log = server.log_tail(20_000)
        pid = server.pid
    finally:
        server.stop()
    started = [entry for entry in logged_calls(watch_log) if entry["event"] == "watch.start"]
    assert started[0]["pid"] == pid and len({entry["pid"] for entry in started}) >= 2, started  # a worker too
    assert outside_calls(watch_log) == []
    assert EXTERNAL_IP_WARNING not in log and "Traceback" not in log, log
