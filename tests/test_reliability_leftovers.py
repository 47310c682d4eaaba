"""What a crash or an interruption leaves behind (issue 12, item 8): orphaned temporary files are
cleaned, a second Ctrl-C on the CLI stops at once without a traceback, and messages a visitor can
see name runs, not the server's absolute paths.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.data.mnist import PROJECT_ROOT
from core.runs.atomic_files import STALE_TEMPORARY_SECONDS, atomic_path, remove_stale_temporaries
from core.runs.store import (
    ATOMIC_FILES, METRICS_FILE, MODEL_FILE, NUMPY_MODEL_FILE, PREDICTIONS_FILE, STATUS_FILE, RunError, list_runs,
    load_model, load_run, run_file, shown_runs_dir,
)
from core.training.events import INTERRUPTED, STOPPED

ROOT = Path(__file__).resolve().parents[1]
OLD = time.time() - STALE_TEMPORARY_SECONDS - 60


def fake_run(runs_dir: Path, name: str = "crashed") -> Path:
    folder = runs_dir / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model": "mlp"}))
    (folder / STATUS_FILE).write_text(json.dumps({"status": "failed", "reason": "killed"}))
    return folder


def orphan(folder: Path, name: str, suffix: str, mtime: float = OLD) -> Path:
    """A 0-byte file as a process killed inside `atomic_path` leaves it: `.{name}.XXXXXXXX{suffix}`."""
    path = folder / f".{name}.k3j_9zqa{suffix}"
    path.write_bytes(b"")
    os.utime(path, (mtime, mtime))
    return path


def test_orphaned_temporary_files_are_removed_when_runs_are_listed(tmp_path):
    # Issue 12 item 8: 0-byte `.model.keras.*` / `.predictions.npz.*` files were never cleaned.
    folder = fake_run(tmp_path)
    orphans = [orphan(folder, MODEL_FILE, ".keras"), orphan(folder, PREDICTIONS_FILE, ".npz"),
               orphan(folder, NUMPY_MODEL_FILE, ".npz"), orphan(folder, STATUS_FILE, ".tmp")]
    [summary] = list_runs(tmp_path)
    assert summary.name == "crashed"
    assert [path.name for path in orphans if path.exists()] == []


def test_only_old_files_named_as_temporaries_are_removed(tmp_path):
    folder = fake_run(tmp_path)
    recent = orphan(folder, MODEL_FILE, ".keras", mtime=time.time() - 5)  # a write going on now
    keep = [
        recent,
        folder / MODEL_FILE, folder / ".model.keras", folder / ".model.keras.short.keras",
        folder / ".model.keras.abcdefgh.keras.bak", folder / ".notes.abcdefgh.tmp", folder / "model.keras.abcdefgh.keras",
    ]
    for path in keep[1:]:
        path.write_bytes(b"real")
        os.utime(path, (OLD, OLD))
    linked = folder / ".predictions.npz.abcdefgh.npz"
    linked.symlink_to(folder / MODEL_FILE)  # a link with a temporary's name: not ours, left alone
    named_dir = folder / ".model.numpy.npz.abcdefgh.npz"
    named_dir.mkdir()
    assert remove_stale_temporaries(folder, ATOMIC_FILES) == []
    assert all(path.exists() for path in keep) and linked.is_symlink() and named_dir.is_dir()
    assert (folder / MODEL_FILE).read_bytes() == b"real"


def test_atomic_path_names_its_temporaries_as_the_cleanup_expects(tmp_path):
    seen = []
    with atomic_path(tmp_path / MODEL_FILE, suffix=".keras") as temporary:
        temporary.write_bytes(b"x")
        seen.append(temporary)
        os.utime(temporary, (OLD, OLD))
        assert remove_stale_temporaries(tmp_path, [MODEL_FILE]) == [temporary]
        temporary.write_bytes(b"x")  # put back, so that atomic_path can finish its rename
    assert seen and (tmp_path / MODEL_FILE).read_bytes() == b"x"


def test_messages_a_visitor_sees_name_the_run_not_the_servers_paths(tmp_path):
    # Issue 12 item 8: "No run named 'x' in /abs/path/to/runs" showed the server's folders.
    for call in (lambda: load_run("gone", tmp_path), lambda: run_file(tmp_path, "gone", MODEL_FILE),
                 lambda: load_model("gone", tmp_path)):
        with pytest.raises(RunError) as refused:
            call()
        assert "'gone'" in str(refused.value) and str(tmp_path) not in str(refused.value)


def test_the_runs_folder_is_shown_relative_to_the_project_or_by_its_name(tmp_path):
    assert shown_runs_dir(PROJECT_ROOT / "runs") == Path("runs")
    assert shown_runs_dir(tmp_path / "class-runs") == Path("class-runs")  # elsewhere: its name alone


# --- a second Ctrl-C on the command line ---------------------------------------------------------


def test_a_second_ctrl_c_stops_at_once_with_one_line_and_status_130(tmp_path, mnist):
    # Issue 12 item 8: a second Ctrl-C printed a traceback, exited -2 and marked the run `failed`.
    command = [sys.executable, "-m", "core", "train", "--model", "mlp", "--epochs", "1000", "--train-size", "30000",
               "--batch-size", "32", "--validation-size", "500", "--json", "--runs-dir", str(tmp_path), "--name", "r"]
    # A session of its own, so that the signal goes to the CLI and its workers, as a terminal sends it.
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, env={**os.environ, "MNIST_PATH": os.environ["MNIST_PATH"]})
    try:
        for line in process.stdout:  # wait for the first finished epoch
            if json.loads(line).get("event") == "epoch":
                break
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr
    ours = [line for line in stderr.splitlines() if line.startswith(("stopping", "stopped"))]
    assert ours[-1].startswith("stopped at once: ") and len(ours) == 2, stderr[-2000:]
    run = load_run("r", tmp_path)
    assert run.status in (STOPPED, INTERRUPTED), run.status
    assert len(run.epochs) >= 1
    assert len((tmp_path / "r" / METRICS_FILE).read_text().splitlines()) == len(run.epochs)
