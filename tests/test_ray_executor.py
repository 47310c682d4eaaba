"""The ray executor on a real two-node Ray cluster on this machine (no mocks).

The cluster must live in a loopback-only network namespace (Ray would otherwise advertise the
host's external address), and pytest cannot move itself into one, so `tests/ray_cluster_check.py`
runs there (`unshare --net --pid`, as root, which CI is): it starts the head and a second node
("node2", each with one CPU and its own TMPDIR), runs its jobs through `RayExecutor` (a fork and a
resume among them), and
writes what it saw as JSON. The run folders land in this test's runs directory, outside the
namespace, while each job trained in a scratch runs directory on its node: everything here came
back through Ray. The check runs in the background from the session's start (`tests/ray_checks.py`);
these tests assert on what it left. Skipped only without Ray installed or without permission to `unshare`.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="Ray is optional: `pip install -r requirements-ray.txt` (make test does)")

from core.runs import store  # noqa: E402
from core.runs.checkpoints import list_checkpoints  # noqa: E402
from core.runs.store import load_run  # noqa: E402
from core.training.events import COMPLETED, INTERRUPTED, STOPPED  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ray_checks  # noqa: E402

pytestmark = pytest.mark.ray_cluster("cluster")  # the check starts in the background at collection (tests/ray_checks.py)


@pytest.fixture(scope="module")
def cluster_run():
    checked = ray_checks.outcome("cluster")
    if checked.skip_reason:
        pytest.skip(checked.skip_reason)
    for crash in checked.crashes:  # a SIGSEGV in Ray's client, before `_Connection` (core/jobs/ray_executor.py) fixed it
        warnings.warn(f"the Ray cluster check's driver died and ran again; its stderr:\n{crash}")
    assert checked.out.is_file(), f"the cluster check wrote no result (exit {checked.returncode}):\n{checked.stderr[-4000:]}"
    result = json.loads(checked.out.read_text())
    assert result["ok"], f"{result.get('traceback')}\n--- stderr ---\n{checked.stderr[-4000:]}"
    return result, checked.runs_dir


def test_slots_count_the_cpus_of_the_nodes_a_job_may_use(cluster_run):
    result, _ = cluster_run
    assert result["slots"] == {"node2": 1, "anywhere": 2}
    assert result["head_node_id"] != result["node2_node_id"]


def test_a_job_placed_on_the_second_node_leaves_a_complete_run_folder_here(cluster_run):
    result, runs_dir = cluster_run
    job = result["on_node2"]
    assert job["error"] is None, job["error"]
    assert job["node"]["node_id"] == result["node2_node_id"] != result["head_node_id"]
    assert job["node"]["node_ip"] == "127.0.0.1"
    # It recorded into a scratch runs directory on its node (node2's TMPDIR), removed afterwards.
    assert job["node"]["scratch_dir"].startswith(result["node2_tmp"] + "/")
    assert job["scratch_left"] is False
    assert job["kinds"][-1] == "RunDone" and job["kinds"].count("RunDone") == 1 and "Progress" in job["kinds"]
    assert job["epochs"] == [1, 2, 3]
    done = job["done"]
    assert done["status"] == COMPLETED and done["name"] == "ray-on-node2"
    assert done["run_dir"] == str(runs_dir / "ray-on-node2")  # this side's folder, not the node's
    assert 0.5 < done["test_accuracy"] <= 1.0
    assert result["tensorflow_in_driver"] is False  # the dashboard's side never loads TensorFlow

    run = load_run("ray-on-node2", runs_dir)
    assert run.status == COMPLETED and not run.problems
    assert [e["epoch"] for e in run.epochs] == [1, 2, 3]
    assert run.test_accuracy == pytest.approx(done["test_accuracy"])
    assert run.config["model"] == "mlp" and run.config["train_size"] == 2000
    # The command crossed the cluster mid-epoch-1 (epochs last ~0.3 s: it may land after epoch 1 ended).
    assert [e["learning_rate"] for e in run.epochs[1:]] == pytest.approx([0.002] * 2)
    assert run.epochs[0]["learning_rate"] in (pytest.approx(0.001), pytest.approx(0.002))
    folder = runs_dir / "ray-on-node2"
    assert run.has_model and (folder / store.MODEL_FILE).stat().st_size > 100_000
    numpy_files = [getattr(store, name) for name in ("NUMPY_MODEL_FILE", "NO_NUMPY_MODEL_FILE") if hasattr(store, name)]
    if numpy_files:  # the NumPy model (or why there is none) travels beside the Keras one
        assert any((folder / name).is_file() for name in numpy_files)
    with np.load(folder / store.PREDICTIONS_FILE) as predictions:
        assert predictions["y_true"].shape == (10_000,) and predictions["probabilities"].shape == (10_000, 10)
    for split in ("train", "validation"):
        assert any((folder / store.LOGS_DIR / split).glob("events.out.tfevents.*")), f"no TensorBoard {split} log"
    if hasattr(store, "load_points"):  # the batch-level points and the learning-rate change, mirrored too
        batches, controls = store.load_points("ray-on-node2", runs_dir)
        assert batches and [c["learning_rate"] for c in controls] == pytest.approx([0.002])
    status = json.loads((folder / store.STATUS_FILE).read_text())
    assert status["origin"]["node_id"] == result["node2_node_id"]
    assert not list(folder.rglob(".*.tmp")), "a temporary file of an atomic write was left behind"


def test_a_node_lost_mid_job_leaves_the_run_interrupted_with_its_epochs(cluster_run):
    result, runs_dir = cluster_run
    job = result["node_lost"]
    assert job["node"]["node_id"] == result["node2_node_id"]
    assert job["killed_pids"], "node2 had no processes to kill"
    assert job["error_type"] == "WorkerLost", job
    assert "Ray node" in job["error"] and "finished epochs are kept" in job["error"]
    assert job["error_after_s"] < 60
    run = load_run("ray-node-lost", runs_dir)
    assert run.status == INTERRUPTED
    assert "Ray node" in run.reason and "lost" in run.reason
    assert len(run.epochs) >= 2 and len(run.epochs) == len(job["epochs"]) < 300
    assert [e["epoch"] for e in run.epochs] == list(range(1, len(run.epochs) + 1))
    assert not run.has_model


def test_pause_and_stop_reach_a_job_on_the_head_after_the_other_node_died(cluster_run):
    result, runs_dir = cluster_run
    job = result["stopped"]
    assert job["error"] is None, job["error"]
    assert job["node"]["node_id"] == result["head_node_id"]
    # Paused for 2 s (unpaused, ~5 epochs would pass): at most the epoch in flight when the pause landed ends
    # before Stop, then the run ends at once. Counted in epochs: an epoch sends 20 or more batch points, and
    # how many of them were on their way when the pause landed depends on the machine's load.
    after_pause = job["kinds"][job["count_before_pause"]:]
    assert after_pause[-1] == "RunDone" and after_pause.count("EpochEnd") <= 1, after_pause
    assert job["done"]["status"] == STOPPED
    run = load_run("ray-stopped", runs_dir)
    assert run.status == STOPPED and 1 <= len(run.epochs) <= 3


def test_a_training_that_fails_on_its_node_ends_the_job_with_the_nodes_message(cluster_run):
    result, runs_dir = cluster_run
    job = result["bad_data"]
    assert job["error_type"] == "JobError" and "MNIST file not found: /nonexistent/mnist.npz" in job["error"]
    assert job["kinds"] == [] and not (runs_dir / "ray-bad-data").exists()  # as locally: no folder before training


def test_a_fork_on_the_second_node_with_nothing_changed_matches_its_parents_next_epochs(cluster_run):
    """Issue 19: the parent's checkpoint lies in this side's runs directory; the fork trains on node2 from it."""
    result, runs_dir = cluster_run
    for job in ("parent", "fork"):
        assert result[job]["error"] is None, result[job]["error"]
        assert result[job]["node"]["node_id"] == result["node2_node_id"]
    assert result["parent"]["epochs"] == [1, 2, 3] and result["fork"]["epochs"] == [2, 3]
    parent, fork = load_run("ray-parent", runs_dir), load_run("ray-fork", runs_dir)
    assert fork.status == COMPLETED and not fork.problems and fork.parent == {"run": "ray-parent", "epoch": 1}
    assert [e["epoch"] for e in fork.epochs] == [2, 3]
    for forked, original in zip(fork.epochs, parent.epochs[1:3]):
        for metric in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert forked[metric] == pytest.approx(original[metric], rel=1e-5, abs=1e-6), (forked["epoch"], metric)
    assert list_checkpoints(runs_dir, "ray-fork") == [2, 3]  # its checkpoints came back from node2 whole
    assert fork.has_model and fork.model_epoch in (2, 3)


def test_a_run_resumed_on_the_cluster_is_the_same_run_with_its_epochs_appended(cluster_run):
    result, runs_dir = cluster_run
    job = result["resumed"]
    assert job["error"] is None, job["error"]
    assert job["node"]["node_id"] == result["head_node_id"]
    assert job["epochs"] == [4] and job["done"]["epochs_completed"] == 4 and job["done"]["name"] == "ray-parent"
    run = load_run("ray-parent", runs_dir)
    assert run.status == COMPLETED and not run.problems and [e["epoch"] for e in run.epochs] == [1, 2, 3, 4]
    assert list_checkpoints(runs_dir, "ray-parent") == [1, 2, 3, 4]
    status = json.loads((runs_dir / "ray-parent" / store.STATUS_FILE).read_text())
    assert [r["from_epoch"] for r in status["resumed"]] == [3] and status["epochs_completed"] == 4
    assert status["origin"]["node_id"] == result["head_node_id"]


def test_without_an_address_the_executor_says_which_variable_to_set(monkeypatch):
    from core.jobs.executor import JobError
    from core.jobs.ray_executor import RayExecutor

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(JobError, match=r"set \$RAY_ADDRESS"):
        RayExecutor()


@pytest.mark.parametrize("text", ["node2", '{"node2": 0}', '["node2"]'])
def test_a_bad_resources_setting_is_refused_with_an_example(monkeypatch, text):
    from core.jobs.executor import JobError
    from core.jobs.ray_executor import RayExecutor

    monkeypatch.setenv("MNIST_LAB_RAY_RESOURCES", text)
    with pytest.raises(JobError, match="MNIST_LAB_RAY_RESOURCES must be a JSON object"):
        RayExecutor(address="127.0.0.1:1")
