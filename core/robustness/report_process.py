"""The process that computes a run's report (calibration, then the robustness sweep) off the web server.

The sweep holds two cores for up to half a minute: in the web server's process it would hold
the GIL between NumPy calls and slow every page. `start_report_process` starts it in a fresh
Python process (NumPy and SciPy only: no TensorFlow), which writes its results into the run
folder (`core.robustness.sweep`, `core.calibration.run_calibration`) and its progress into
`robustness.progress.json`; the page reads those. The process exits within half a second of
its parent's death, so a killed server leaves none behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

PARENT_CHECK_SECONDS = 0.25
REPORT_NICENESS = 2  # a little: at 5, under a load of 15, the sweep got a third of a share and took minutes
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # where `python -m core...` finds the package


def _exit_with_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)  # the server is gone: nobody reads this result


def compute_report(name: str, runs_dir: str | None, parent_pid: int | None = None) -> None:
    """Calibration, then the robustness sweep, of run `name`, each cached in its folder (the process's target).

    A failure (no NumPy model, MNIST missing, a full disk) is written to `report_error.txt` in the
    run folder for the page to show, one line naming the fix.
    """
    if parent_pid is not None:
        threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()
        os.nice(REPORT_NICENESS)  # the server's pages and the trainings beside it come first
    from core.calibration.run_calibration import calibrate_run
    from core.data.mnist import DatasetError, load_mnist
    from core.robustness.sweep import REPORT_ERROR_FILE, sweep_run
    from core.runs.atomic_files import write_bytes_atomic
    from core.runs.store import RunError, run_path

    try:
        (run_path(runs_dir, name) / REPORT_ERROR_FILE).unlink(missing_ok=True)
        mnist = load_mnist()
        calibrate_run(name, runs_dir, mnist)
        sweep_run(name, runs_dir, mnist)
    except (RunError, DatasetError, ValueError, OSError) as error:
        try:
            write_bytes_atomic(run_path(runs_dir, name) / REPORT_ERROR_FILE, str(error).encode())
        except (OSError, RunError):
            pass


def start_report_process(name: str, runs_dir: str | os.PathLike | None = None) -> subprocess.Popen:
    """Start `compute_report(name, runs_dir)` in a new Python process and return it (started, not waited for).

    A plain `python -m core.robustness.report_process`, not a `multiprocessing` child: under
    Streamlit the parent's `__main__` is the page script, which `spawn` would run again in the child.
    """
    command = [sys.executable, "-m", "core.robustness.report_process", name, "" if runs_dir is None else str(runs_dir),
               str(os.getpid())]
    return subprocess.Popen(command, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL)


if __name__ == "__main__":
    run_name, folder, parent = sys.argv[1:4]
    compute_report(run_name, folder or None, int(parent))
