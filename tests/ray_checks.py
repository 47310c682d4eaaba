"""The two Ray cluster checks, run in the background from the start of the test session.

Each check (`tests/ray_cluster_check.py`, `tests/ray_sweep_check.py`) starts a two-node Ray
cluster in a loopback-only namespace and takes about a minute, most of it waiting on processes
that start (Ray's, the nodes' TensorFlow), not computing. So when the session holds a test marked
`ray_cluster`, `tests/conftest.py` starts them at collection, one after the other on a thread of
their own, and the tests that assert on their results (`tests/test_ray_executor.py`,
`tests/test_sweep.py`) only wait for what is usually finished by then. The checks are
subprocesses: the tests' own process never connects to Ray.

A check whose driver was killed by a signal before writing its result runs again, from a clean
slate, up to `ATTEMPTS` times; each crash's stderr is kept for the test to show.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ray_cluster import namespace_command, namespace_problem

TESTS = Path(__file__).resolve().parent
ATTEMPTS = 3
CHECKS = {  # name → (script, seconds it may take: typically ~60 on 2 cores, generous for a shared CPU)
    "cluster": ("ray_cluster_check.py", 480),
    "sweep": ("ray_sweep_check.py", 480),
}


@dataclass
class CheckOutcome:
    """What one check left: its result file and runs directory, or why it could not run."""

    runs_dir: Path | None = None
    out: Path | None = None
    returncode: int | None = None
    stderr: str = ""
    crashes: list[str] = field(default_factory=list)  # stderr of each attempt killed by a signal
    skip_reason: str | None = None


_outcomes: dict[str, CheckOutcome] = {}
_done = {name: threading.Event() for name in CHECKS}
_lock = threading.Lock()  # guards the thread, the running check and the session's end
_thread: threading.Thread | None = None
_running: subprocess.Popen | None = None
_stopping = False


def start(names: set[str] | None = None) -> None:
    """Start the checks `names` (None: all) in the background (once); a no-op without Ray."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_run_all, args=(names,), name="ray-checks", daemon=True)
            _thread.start()


def outcome(name: str) -> CheckOutcome:
    """The outcome of check `name`, waited for (started now if nothing started it)."""
    start()
    _done[name].wait(timeout=sum(seconds for _, seconds in CHECKS.values()) * ATTEMPTS + 60)
    return _outcomes.get(name) or CheckOutcome(skip_reason=f"the {name} check never finished")


def _run_all(names: set[str] | None = None) -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        problem = "Ray is optional: `pip install -r requirements-ray.txt` (make test does)"
    else:
        problem = namespace_problem()
        problem = problem and f"no loopback-only network namespace for the Ray cluster: {problem}"
    for name, (script, seconds) in CHECKS.items():
        if names is not None and name not in names:  # its tests were not selected
            _outcomes[name] = CheckOutcome(skip_reason=f"the {name} check's tests were not selected")
            _done[name].set()
            continue
        try:
            _outcomes[name] = CheckOutcome(skip_reason=problem) if problem else _run(script, seconds)
        except Exception as error:  # a timeout, an OSError: the test reports it
            _outcomes[name] = CheckOutcome(stderr=f"{type(error).__name__}: {error}")
        finally:
            _done[name].set()


def _run(script: str, seconds: int) -> CheckOutcome:
    base = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths must stay under 108 bytes
    runs_dir, work, out = base / "runs", base / "work", base / "result.json"
    command = namespace_command([sys.executable, "-X", "faulthandler", str(TESTS / script),
                                 "--runs-dir", str(runs_dir), "--work", str(work), "--out", str(out)])
    global _running
    crashes = []
    for _ in range(ATTEMPTS):
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(runs_dir, ignore_errors=True)
        runs_dir.mkdir()
        with _lock:
            if _stopping:
                return CheckOutcome(skip_reason="the test session ended first")
            _running = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            _, stderr = _running.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            _running.kill()
            _, stderr = _running.communicate()
            stderr += f"\n(the check ran past its {seconds} s and was killed)"
            return CheckOutcome(runs_dir, out, _running.returncode, stderr, crashes)  # not a crash: no second try
        returncode = _running.returncode
        if out.is_file() or returncode >= 0:
            break
        crashes.append(f"signal {-returncode}:\n{stderr[-3000:]}")
    return CheckOutcome(runs_dir, out, returncode, stderr, crashes)


def stop() -> None:
    """At the session's end: a check still running is ended (the namespace takes its cluster with it)."""
    global _stopping
    with _lock:
        _stopping = True
        running = _running
    if running is not None and running.poll() is None:
        running.kill()
