"""Two trainings on a two-node Ray cluster: submitted together vs one after the other on one node.

The cluster is the tests' loopback one (`tests/ray_cluster.py`): a head and a second node on
this machine, one CPU each, inside a loopback-only network namespace (so run as root). Both
sides go through the dashboard's own job queue (`core.jobs.training_jobs.TrainingJobs`) on the
`ray` executor; each job reserves one CPU and its TensorFlow uses one thread (the executor's
default `cpus_per_job=1`), and each node's processes are pinned to a core of their own (`taskset`),
as if on separate one-CPU machines, so a job trains at the same speed on either node and the
one-node side cannot borrow the other core:

- one node: the two jobs placed on node2 (custom resource `node2`), the queue running one at a time;
- two nodes: the two jobs submitted together, Ray placing one per node (checked from each run's
  `status.json`).

Each side is timed from submission to both runs saved here (model, predictions, logs shipped back),
after a warm-up job on each node (a Ray worker that has imported TensorFlow is reused). Target:
two nodes ≤ 0.6 × one node. Writes the report to `bench/results/ray_two_nodes.txt` (`--out`).

    PYTHONPATH=. .venv/bin/python bench/ray_two_nodes.py       # ~3 min on 2 cores
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from ray_cluster import LoopbackCluster, cpu_flags, cpu_model, namespace_command, namespace_problem  # noqa: E402
from shared_machine import cpu_ticks  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")

TARGET = 0.6


def config(args, **overrides):
    from core.config.train_config import preset_config

    return preset_config(args.model, **{"epochs": args.epochs, "train_size": args.train_size,
                                        "batch_size": args.batch_size, "validation": "none", "patience": 0,
                                        **overrides})


def origin_node(runs_dir: Path, name: str) -> str:
    status = json.loads((runs_dir / name / "status.json").read_text())
    assert status["status"] == "completed", status
    return status["origin"]["node_id"]


def own_cpu_seconds() -> float:
    """CPU seconds used so far by this namespace's processes (its /proc lists only them), children included."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / TICK


def timed_pair(jobs, runs_dir: Path, args, label: str) -> tuple[float, list[str], float]:
    """Submit two trainings to `jobs` at once: seconds until both are saved here, their nodes, and
    the CPU seconds the rest of the machine (work outside this benchmark) took meanwhile."""
    machine, own = cpu_ticks(), own_cpu_seconds()
    started = time.monotonic()
    names = [f"{label}-{i}-{os.urandom(2).hex()}" for i in range(2)]
    ids = [jobs.submit(config(args, seed=i), name=name) for i, name in enumerate(names)]
    for job_id in ids:
        state = jobs.wait(job_id, timeout=600)
        assert state.status == "completed", (state.status, state.reason)
    seconds = time.monotonic() - started
    after = cpu_ticks()
    busy = sum(after[k] - machine[k] for k in after if k not in ("idle", "iowait")) / TICK
    others = max(0.0, busy - (own_cpu_seconds() - own))
    return seconds, [origin_node(runs_dir, name) for name in names], others


def inside(args) -> None:
    lines = []

    def say(text: str) -> None:
        lines.append(text)
        Path(args.report).write_text("\n".join(lines) + "\n")

    cluster = LoopbackCluster(Path(args.work) / "cluster", cpus=1, pin_cores=True)
    try:
        cluster.start()
        from core.jobs.ray_executor import RayExecutor
        from core.jobs.training_jobs import TrainingJobs

        runs_dir = Path(args.work) / "runs"
        runs_dir.mkdir()
        anywhere, on_node2 = RayExecutor(), RayExecutor(resources={"node2": 0.01})
        import ray

        nodes = {n["NodeID"]: ("head" if "head" in n["Resources"] else "node2") for n in ray.nodes() if n["Alive"]}
        say(f"{args.model}: {args.train_size} images, batch {args.batch_size}, {args.epochs} epoch(s), no validation; "
            f"then the test-set predictions, the model and the logs shipped back to the submitting side")
        say(f"machine: {cpu_model()} ({cpu_flags()}), {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f} "
            f"before, {time.strftime('%Y-%m-%d %H:%M:%S')}")
        say("cluster: head + node2 on this machine (loopback-only network namespace), 1 CPU each, each node's processes "
            f"pinned to a core of their own (taskset: head {cluster.cores['head']}, node2 {cluster.cores['node2']}; the "
            "driver is not pinned); each job reserves 1 CPU and runs TensorFlow with 1 intra-op and 1 inter-op thread "
            "(RayExecutor cpus_per_job=1)")
        say(f"cluster start: head {cluster.timings['head_start']} s, node2 {cluster.timings['node2_start']} s")
        together = TrainingJobs(runs_dir=runs_dir, mnist_path=os.environ.get("MNIST_PATH"), executor=anywhere)
        one_node = TrainingJobs(runs_dir=runs_dir, mnist_path=os.environ.get("MNIST_PATH"), executor=on_node2)
        assert together.max_concurrent == 2 and one_node.max_concurrent == 1, (together.max_concurrent, one_node.max_concurrent)

        started = time.monotonic()
        # Warm both sides alike: a worker per node with TensorFlow imported and MNIST received, and
        # each executor's queue actors started (they are kept for the next jobs).
        warm_ids = [together.submit(config(args, epochs=1, train_size=1000), name=f"warm-up-{i}") for i in range(2)]
        warm_ids.append(one_node.submit(config(args, epochs=1, train_size=1000), name="warm-up-2"))
        for jobs, job_id in zip((together, together, one_node), warm_ids):
            assert jobs.wait(job_id, timeout=600).status == "completed"
        warmed = {origin_node(runs_dir, f"warm-up-{i}") for i in range(2)}
        assert len(warmed) == 2, f"the two warm-up jobs ran on one node: {warmed}"
        say(f"warm-up (two small jobs together, one per node, then one on node2: worker start, TensorFlow import, "
            f"MNIST sent, queue actors started): {time.monotonic() - started:.1f} s")

        sequential, concurrent, loads = [], [], []
        for repeat in range(args.repeats):
            order = ("one", "two") if repeat % 2 == 0 else ("two", "one")
            for side in order:
                if side == "one":
                    seconds, where, others = timed_pair(one_node, runs_dir, args, "one-node")
                    sequential.append(seconds)
                    loads.append(others / seconds)
                    say(f"repeat {repeat + 1}: one node, one after the other: {seconds:.2f} s "
                        f"(nodes {', '.join(nodes[n] for n in where)}; other work {others:.1f} CPU-s of the "
                        f"{2 * seconds:.0f}; load {os.getloadavg()[0]:.2f})")
                    assert set(where) == {cluster_node(nodes, 'node2')}, where
                else:
                    seconds, where, others = timed_pair(together, runs_dir, args, "two-nodes")
                    concurrent.append(seconds)
                    loads.append(others / seconds)
                    say(f"repeat {repeat + 1}: two nodes, submitted together: {seconds:.2f} s "
                        f"(nodes {', '.join(nodes[n] for n in where)}; other work {others:.1f} CPU-s of the "
                        f"{2 * seconds:.0f}; load {os.getloadavg()[0]:.2f})")
                    assert len(set(where)) == 2, f"both jobs ran on one node: {where}"
        ratios = [c / s for c, s in zip(concurrent, sequential)]
        ratio = statistics.median(concurrent) / statistics.median(sequential)
        say(f"one node (sequential): median {statistics.median(sequential):.2f} s over {len(sequential)}")
        say(f"two nodes (together):  median {statistics.median(concurrent):.2f} s over {len(concurrent)}")
        say(f"per-repeat ratios: {', '.join(f'{r:.3f}' for r in ratios)}")
        say(f"load average after {os.getloadavg()[0]:.2f}")
        if max(loads) > 0.1:
            say(f"NOTE: work outside this benchmark took up to {100 * max(loads):.0f}% of a CPU during a timing; "
                "those figures are noisy (the two-node side, which needs both cores, suffers most)")
        say(f"target: two nodes <= {TARGET} x one node: {'met' if ratio <= TARGET else 'NOT met'}")
        say(f"ratio={ratio:.3f}")
        for executor in (on_node2, anywhere):  # `anywhere` made the connection: it disconnects
            executor.close()
    except BaseException:
        say(traceback.format_exc())
        raise
    finally:
        leave_ray()
        cluster.stop()


def leave_ray() -> None:
    """Disconnect before the nodes stop (a driver left connected waits 60 s for the GCS, then aborts)."""
    if "ray" in sys.modules:
        import ray

        if ray.is_initialized():
            ray.shutdown()


def cluster_node(nodes: dict, name: str) -> str:
    return next(node_id for node_id, label in nodes.items() if label == name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--train-size", type=int, default=60000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "ray_two_nodes.txt"))
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--report", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        inside(args)
        return
    problem = namespace_problem()
    if problem:
        sys.exit(f"cannot make the loopback-only namespace the cluster needs: {problem}")
    with tempfile.TemporaryDirectory(prefix="ray-two-nodes-") as work:
        report = Path(work) / "report.txt"
        command = namespace_command([sys.executable, __file__, "--inside", "--work", work, "--report", str(report),
                                     "--model", args.model, "--train-size", str(args.train_size),
                                     "--batch-size", str(args.batch_size), "--epochs", str(args.epochs),
                                     "--repeats", str(args.repeats)])
        log = Path(work) / "ray.log"
        with open(log, "w") as output:  # Ray's and the workers' console output
            code = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT).returncode
        text = report.read_text() if report.exists() else ""
        print(text, end="")
        if code != 0 or "ratio=" not in text:
            print(log.read_text()[-6000:], file=sys.stderr)
            sys.exit(f"the benchmark failed (exit {code})")
    Path(args.out).write_text(text)
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
