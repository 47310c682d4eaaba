"""Start -> first progress on the server's side: `TrainingJobs.submit` to the job's first batch point in its state.

The part of the browser's Start -> first progress (`server_footprint.py`) that is not the page: the job's
thread, the warm local worker's pick-up, the run's folder, the model reset, the training pipeline, the first
`fit` call (8 batches of 128 for `fast`), and the point's way back to the server. One local worker, warmed as
the dashboard's are (TensorFlow, MNIST, the `fast` and `lenet5` presets traced), then `--runs` trainings of the
Train page's `fast` defaults with seeds 1, 2, ..., each stopped after its second point. The first run of a
worker builds the training pipeline the later ones reuse (`CompiledModels.training_batches`), so the median is
over the runs after it. CPU model and load average are printed beside.

Usage:
    PYTHONPATH=. .venv/bin/python bench/start_latency.py [--runs 6] [--settle 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared_machine import cpu_model  # noqa: E402  (bench/, this script's folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds for the worker's warm-up tracing")
    args = parser.parse_args(argv)

    from core.config.train_form import build_config, default_values
    from core.jobs.local_executor import LocalExecutor
    from core.jobs.training_jobs import TrainingJobs

    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average before: {os.getloadavg()}", flush=True)
    executor = LocalExecutor(workers=1)
    jobs = TrainingJobs(runs_dir=tempfile.mkdtemp(prefix="start-latency-"), executor=executor)
    try:
        executor.wait_until_warm()
        time.sleep(args.settle)  # the presets' steps traced while no job waits, as a server's worker does
        config = build_config(default_values("fast"))
        firsts = []
        for seed in range(1, args.runs + 1):
            submitted = time.perf_counter()
            job = jobs.submit(config.replace(seed=seed))
            first = second = None
            while second is None:
                state = jobs.get(job)
                now = time.perf_counter() - submitted
                if first is None and state.points:
                    first = now
                if len(state.points) >= 2 or state.finished:
                    second = now
                time.sleep(0.002)
            jobs.stop(job)
            jobs.wait(job, 120)
            time.sleep(1.0)  # the worker reports idle
            firsts.append(first)
            print(f"seed {seed}: submit -> first point {first:.3f} s, second {second:.3f} s; "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        jobs.close()
    print(f"load average after: {os.getloadavg()}")
    warm = firsts[1:]
    print(f"server_start_to_first_progress_warm_median_s={statistics.median(warm):.3f} "
          f"(runs after the first: {', '.join(f'{v:.2f}' for v in warm)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
