"""An opt-in profile of the server's own work: each script run's wall and CPU time, and where its threads spend it.

Off unless `MNIST_LAB_PROFILE_FILE` names a file when the server starts (`bench/class_capacity.py
--profile` sets it). Then, from the first page view on:

- every script run (a page's whole run, a fragment's tick, or a widget's rerun inside a fragment)
  is timed on the clock and on its own thread's CPU clock (`time.thread_time`), counted per page
  and kind (`full`, `fragment`, `auto`: a fragment's `run_every` tick);
- a sampler thread looks at every thread's stack every `SAMPLE_SECONDS` and counts, per thread
  kind (a script thread, Tornado's event loop, the queue's threads), the innermost frame of the
  project's code and the innermost frame of all, so the time outside the scripts (the event
  loop serialising and sending the messages) shows too;
- the process's CPU time from `/proc/self/stat`.

The file is rewritten (atomically) every `WRITE_SECONDS`. A sampler in Python only runs when it
gets the interpreter's lock, so its counts are a rough share, not exact times; the run timings are
exact. It costs the server a few percent of a core while on.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner.script_runner import ScriptRunner

PROFILE_FILE_ENV = "MNIST_LAB_PROFILE_FILE"
SAMPLE_SECONDS = 0.01
WRITE_SECONDS = 5.0
PROJECT = str(Path(__file__).resolve().parents[1])
TOP_FRAMES = 40  # lines kept of each count


class ServerProfile:
    """The counts; written to `path` as JSON."""

    def __init__(self, path: Path):
        self.path = path
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self.runs: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])  # "page kind" → [count, wall, cpu]
        self.run_walls: dict[str, list[float]] = defaultdict(list)  # "page kind" → each run's wall seconds
        self.project_frames: Counter = Counter()
        self.any_frames: Counter = Counter()
        self.thread_kinds: Counter = Counter()
        self.samples = 0

    def record_run(self, key: str, wall: float, cpu: float) -> None:
        with self._lock:
            entry = self.runs[key]
            entry[0] += 1
            entry[1] += wall
            entry[2] += cpu
            self.run_walls[key].append(round(wall, 4))

    def sample(self) -> None:
        names = {thread.ident: thread.name for thread in threading.enumerate()}
        me = threading.get_ident()
        frames = sys._current_frames()
        with self._lock:
            self.samples += 1
            for ident, frame in frames.items():
                if ident == me:
                    continue
                kind = _thread_kind(names.get(ident, "?"))
                innermost = _where(frame)
                if _idle(innermost):
                    continue
                self.thread_kinds[kind] += 1
                self.any_frames[f"{kind}: {innermost}"] += 1
                own = frame
                while own is not None and not own.f_code.co_filename.startswith(PROJECT):
                    own = own.f_back
                if own is not None:
                    self.project_frames[f"{kind}: {_where(own)}"] += 1

    def write(self) -> None:
        with self._lock:
            report = {
                "seconds": round(time.monotonic() - self.started, 1),
                "process_cpu_seconds": _process_cpu_seconds(),
                "runs": {key: {"count": count, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                               "wall_per_run_ms": round(1000 * wall / count, 2), "cpu_per_run_ms": round(1000 * cpu / count, 2)}
                         for key, (count, wall, cpu) in sorted(self.runs.items())},
                "samples": self.samples,
                "busy_samples_by_thread_kind": dict(self.thread_kinds.most_common()),
                "project_frames": dict(self.project_frames.most_common(TOP_FRAMES)),
                "innermost_frames": dict(self.any_frames.most_common(TOP_FRAMES)),
            }
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(report, indent=1))
        os.replace(temporary, self.path)


def _thread_kind(name: str) -> str:
    if name.startswith("ScriptRunner"):
        return "script"
    if name == "MainThread":
        return "event loop"
    return "other"


def _where(frame) -> str:
    code = frame.f_code
    return f"{code.co_filename.replace(PROJECT + '/', '').split('site-packages/')[-1]}:{code.co_name}:{frame.f_lineno}"


def _idle(where: str) -> bool:
    """A thread waiting (a lock, a select, a sleep) uses no CPU: not counted. A sleep in C shows as the Python
    line that called it, so the known sleepers are named."""
    return any(word in where for word in ("threading.py:wait", "selectors.py:select", "threading.py:_wait_for_tstate_lock",
                                          "queues.py:get", "connection.py:_poll", "connection.py:_recv", "base_events.py:_run_once",
                                          "server_profile.py", "polling_path_watcher.py:task", "training_jobs.py:warm"))


def _process_cpu_seconds() -> float:
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)


def _kind(rerun_data) -> str:
    if not rerun_data.fragment_id_queue:
        return "full"
    return "auto" if rerun_data.is_auto_rerun else "fragment"


def _install(profile: ServerProfile) -> None:
    original = ScriptRunner._run_script

    def timed_run_script(self, rerun_data):
        page = "?"
        try:
            page = self._pages_manager.get_pages().get(rerun_data.page_script_hash, {}).get("page_name") or "?"
        except Exception:  # a Streamlit without this table: the page stays "?"
            pass
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return original(self, rerun_data)
        finally:
            profile.record_run(f"{page} {_kind(rerun_data)}", time.perf_counter() - wall, time.thread_time() - cpu)

    ScriptRunner._run_script = timed_run_script

    def keep_sampling():
        next_write = time.monotonic() + WRITE_SECONDS
        while True:
            time.sleep(SAMPLE_SECONDS)
            profile.sample()
            if time.monotonic() >= next_write:
                next_write += WRITE_SECONDS
                profile.write()

    threading.Thread(target=keep_sampling, name="server-profile", daemon=True).start()


@st.cache_resource(show_spinner=False)
def _started_profile(path: str) -> ServerProfile:
    profile = ServerProfile(Path(path))
    _install(profile)
    return profile


def profile_if_asked() -> None:
    """Start the profile once per server when `MNIST_LAB_PROFILE_FILE` is set; nothing otherwise."""
    path = os.environ.get(PROFILE_FILE_ENV)
    if path:
        _started_profile(path)
