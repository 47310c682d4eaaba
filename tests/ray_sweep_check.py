"""Run inside a loopback-only namespace by `tests/test_sweep.py`: a pruned sweep on a two-node Ray cluster.

    unshare --net --pid --fork --kill-child --mount-proc python tests/ray_sweep_check.py --runs-dir D --work W --out F

Starts the head and "node2" (one CPU each, `tests/ray_cluster.py`), runs the same 6-trial sweep as
the local test through `RayExecutor` (two slots: two trials train at once, one on each node), and
writes its results as JSON to `--out`; the test asserts on them and on the study and run folders
left in `--runs-dir` (outside the namespace: only the network is isolated).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from ray_cluster import LoopbackCluster  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs-dir", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args()
    result: dict = {"ok": False}
    cluster = LoopbackCluster(args.work)
    try:
        cluster.start()
        from core.jobs.ray_executor import RayExecutor
        from core.jobs.sweep import run_sweep

        executor = RayExecutor()
        result["slots"] = executor.slots
        running, peak, lock = set(), [0], threading.Lock()
        start = executor.start

        def counted_start(request):  # how many trials train at once, seen from the sweep's side
            handle = start(request)
            with lock:
                running.add(request.run_name)
                peak[0] = max(peak[0], len(running))
            return handle

        executor.start = counted_start
        events = []
        for event in run_sweep(executor, "mlp", ["learning_rate=0.0001,0.1,0.5", "batch_size=32,100"], args.trials,
                               dict(epochs=3, train_size=1500, validation_size=1000), args.runs_dir, seed=0,
                               sweep_id="sweep-ray", mnist_path=os.environ["MNIST_PATH"]):
            events.append(event.to_dict())
            if event.event == "trial":
                with lock:
                    running.discard(event.run_name)
        executor.close()
        result.update(events=events, peak_running=peak[0], ok=True)
    except BaseException:
        result["traceback"] = traceback.format_exc()
    finally:
        try:
            import ray

            if ray.is_initialized():
                ray.shutdown()
        except Exception:
            pass
        cluster.stop()
        Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
