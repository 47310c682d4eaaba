"""Run inside a loopback-only namespace by `tests/test_ray_executor.py`: the ray executor on a real
two-node cluster. Writes what happened as JSON to `--out`; the test asserts on it and on the run
folders left in `--runs-dir` (outside the namespace: only the network is isolated).

    unshare --net --pid --fork --kill-child --mount-proc python tests/ray_cluster_check.py --runs-dir D --work W --out F

1. a job placed on node2 (custom resource) that is sent a new learning rate at its first progress;
   then, on node2, a 3-epoch parent and a fork of it from epoch 1 with nothing changed (issue 19);
2. a job on node2 whose node is killed (raylet, agents, workers: SIGKILL) after its second epoch;
3. a job on the head that is paused, then stopped;
4. a job that fails on its node (its MNIST path exists nowhere);
5. the parent of 1, resumed on the head for one more epoch (its folder travels from here).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from ray_cluster import LoopbackCluster  # noqa: E402


def config(**overrides):
    from core.config.train_config import preset_config

    return preset_config("mlp", **{"epochs": 3, "train_size": 2000, "batch_size": 100, "validation_size": 500,
                                   "activation": "relu", "initializer": "he_normal", "optimizer": "adam",
                                   "learning_rate": 1e-3, **overrides})


def follow(handle, on_event=None) -> dict:
    """Iterate a job's events; what arrived, how it ended, and when (seconds since start)."""
    started = time.monotonic()
    report = {"kinds": [], "epochs": [], "error": None, "error_type": None, "first_event_s": None}
    try:
        for event in handle.events():
            if report["first_event_s"] is None:
                report["first_event_s"] = round(time.monotonic() - started, 2)
            report["kinds"].append(type(event).__name__)
            if type(event).__name__ == "EpochEnd":
                report["epochs"].append(event.epoch)
            if type(event).__name__ == "RunDone":
                report["done"] = event.to_dict()
            if on_event:
                on_event(event, report)
    except Exception as error:  # WorkerLost / JobError: recorded, asserted by the test
        report["error_type"], report["error"] = type(error).__name__, str(error)
        report["error_after_s"] = round(time.monotonic() - report.get("killed_at", started), 2)
    report["seconds"] = round(time.monotonic() - started, 2)
    report["node"] = handle.node
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs-dir", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    result: dict = {"ok": False}
    executors = []
    cluster = LoopbackCluster(args.work)
    try:
        cluster.start()
        result["cluster_start_s"] = cluster.timings
        result["node2_tmp"] = str(cluster.dirs["node2-tmp"])
        import ray

        from core.jobs.executor import PAUSE, SET_LEARNING_RATE, STOP, Command, JobRequest
        from core.jobs.ray_executor import RayExecutor

        started = time.monotonic()
        on_node2 = RayExecutor(resources={"node2": 0.01})  # connects through $RAY_ADDRESS
        anywhere = RayExecutor()
        executors += [on_node2, anywhere]  # the first to connect is not the last to leave: the connection is shared
        result["connect_s"] = round(time.monotonic() - started, 2)
        result["slots"] = {"node2": on_node2.slots, "anywhere": anywhere.slots}
        nodes = {n["NodeID"]: n["Resources"] for n in ray.nodes() if n["Alive"]}
        result["head_node_id"] = next(i for i, r in nodes.items() if "head" in r)
        result["node2_node_id"] = next(i for i, r in nodes.items() if "node2" in r)
        mnist = os.environ["MNIST_PATH"]

        def steer(event, report):  # job 1: a new learning rate after the first batches
            if type(event).__name__ == "Progress" and not report.get("sent"):
                handle.send(Command(SET_LEARNING_RATE, 0.002))
                report["sent"] = True

        handle = on_node2.start(JobRequest(config(batch_size=20), "ray-on-node2", args.runs_dir, mnist))
        result["on_node2"] = follow(handle, steer)
        result["on_node2"]["scratch_left"] = Path((handle.node or {}).get("scratch_dir", "/nonexistent")).exists()

        # 1b. a fork on node2 with nothing changed: the parent's checkpoint travels from this side's runs directory
        result["parent"] = follow(on_node2.start(JobRequest(config(), "ray-parent", args.runs_dir, mnist)))
        handle = on_node2.start(JobRequest(config(epochs=2), "ray-fork", args.runs_dir, mnist, fork_from=("ray-parent", 1)))
        result["fork"] = follow(handle)

        def kill_after_second_epoch(event, report):  # job 2
            if type(event).__name__ == "EpochEnd" and event.epoch == 2 and "killed_pids" not in report:
                report["killed_pids"] = cluster.kill_node2()
                report["killed_at"] = time.monotonic()

        handle = on_node2.start(JobRequest(config(epochs=300), "ray-node-lost", args.runs_dir, mnist))
        result["node_lost"] = follow(handle, kill_after_second_epoch)
        result["node_lost"].pop("killed_at", None)

        def pause_then_stop(event, report):  # job 3, on the head (node2 is gone)
            if type(event).__name__ == "EpochEnd" and event.epoch == 1 and "paused_events" not in report:
                handle.send(Command(PAUSE))
                count_before = len(report["kinds"])
                time.sleep(2.0)  # events that arrive meanwhile are read after this returns
                report["count_before_pause"] = count_before
                handle.send(Command(STOP))

        handle = anywhere.start(JobRequest(config(epochs=300, batch_size=20), "ray-stopped", args.runs_dir, mnist))
        result["stopped"] = follow(handle, pause_then_stop)
        # 4. a job that fails on its node (no MNIST at the path given, none sent): its error comes back
        handle = anywhere.start(JobRequest(config(), "ray-bad-data", args.runs_dir, "/nonexistent/mnist.npz"))
        result["bad_data"] = follow(handle)
        # 5. the parent resumed for one more epoch, on the head (node2 is gone): the same run, its epochs appended
        handle = anywhere.start(JobRequest(config(epochs=1), "ray-parent", args.runs_dir, mnist, resume=True))
        result["resumed"] = follow(handle)
        result["tensorflow_in_driver"] = "tensorflow" in sys.modules
        result["ok"] = True
    except Exception:
        result["traceback"] = traceback.format_exc()
    finally:
        # Written before the executors close and the connection ends too: Ray's client has been
        # seen to die of a SIGSEGV there, after every job had reported, and what the jobs showed
        # must not be lost with it.
        Path(args.out).write_text(json.dumps(result, indent=2))
        for executor in executors:
            executor.close()
        if "ray" in sys.modules:  # disconnect first: a driver left connected waits 60 s for the GCS, then aborts
            import ray

            if ray.is_initialized():
                ray.shutdown()
        cluster.stop()
        Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
