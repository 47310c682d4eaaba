"""Reproduce each write-up's reported accuracy with its zoo preset, on the full MNIST.

Trains every zoo model with its preset (`core.config.zoo.SPECS[name].preset`) through `core.runs.recorded_run.RecordedRun`
(the same path as the dashboard and `python -m core train`), scores it on the 10,000 test images,
and writes `bench/results/seeds.json` and `bench/results/seeds.md` after each model (atomically).

Usage:
    PYTHONPATH=. .venv/bin/python bench/seeds.py                  # every model not yet in seeds.json
    PYTHONPATH=. .venv/bin/python bench/seeds.py --model cnn      # one model (repeatable)
    PYTHONPATH=. .venv/bin/python bench/seeds.py --force          # re-run models already done
    PYTHONPATH=. .venv/bin/python bench/seeds.py --train-size 2000 --out /tmp/seeds   # a smoke test

It resumes: a model already in `seeds.json` is skipped unless `--force`. The full run takes
over an hour on a 2-core CPU (cnn ≈ 15 × 80 s, cnn_deep ≈ 25 × 100 s).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import core  # noqa: F401  (turns oneDNN on before TensorFlow is imported)
from core.runs.atomic_files import write_bytes_atomic, write_json_atomic
from core.config.train_config import from_dict
from core.config.zoo import MODEL_NAMES, SPECS

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ORDER = ("numpy_logreg", "softmax", "mlp", "lenet5", "cnn", "cnn_deep")  # cheap first
RUN_NAME_PREFIX = "seeds-"

# What each write-up reported, as a number on the same footing as ours, and our target.
REPORTED = {
    "numpy_logreg": 0.8147,  # train accuracy, epoch 32
    "softmax": 0.9092,  # measured on train in the post
    "mlp": 0.9164,
    "cnn": 0.9866,
    "cnn_deep": 0.992,  # the TF tutorial's figure; the post printed none
    "lenet5": 0.9885,  # best val accuracy, with the test set as validation
}
TARGETS = {
    "numpy_logreg": ("train_accuracy", 0.80),  # stop above 80% train accuracy within 100 epochs
    "softmax": ("test_accuracy", 0.90),
    "mlp": ("test_accuracy", 0.915),
    "cnn": ("test_accuracy", 0.985),
    "cnn_deep": ("test_accuracy", 0.991),
    "lenet5": ("test_accuracy", 0.985),
}
# The write-ups' quirks, kept by the presets on purpose (see /work/shared/SEEDS.md).
QUIRKS = {
    "numpy_logreg": "raw 0..255 pixels; summed (not averaged) weight gradient with lr 0.1; sigmoid one-vs-all; "
                    "stops at the first epoch with train accuracy > 0.80",
    "softmax": "raw 0..255 pixels, weights and biases N(0, 1), full-batch gradient descent lr 0.01, 1000 steps",
    "mlp": "sigmoid hidden layers with N(0, 1) weights and biases: saturated units learn slowly",
    "cnn": "dense 1024 with no activation (as in the post's code) and dropout 0.6 (keep_prob 0.4)",
    "cnn_deep": "Adam lr 1e-4, batch 50, 25 epochs (30,000 steps)",
    "lenet5": "SGD lr 0.01, batch 32, early stopping (patience 3) on the test set used as validation",
}

# What we found where a preset falls short of (or differs from) its write-up: why, with evidence.
# `WHEN_MISSED` explains a missed target; `WHEN_MET` replaces it when the same preset's run met it.
WHEN_MISSED = {
    "softmax": (
        "**Why it misses 0.90:** full-batch gradient descent at lr 0.01 on raw 0..255 pixels does not converge, "
        "it oscillates: over the last 500 of the 1000 steps validation accuracy swings between {low:.3f} and "
        "{high:.3f}, and the last step landed in a dip. The write-up's 90.92% was *train* accuracy at its last "
        "step, inside the same band (our best train accuracy in those 500 steps: {train_high:.3f}). An independent "
        "NumPy replica of the write-up (N(0, 1) init, raw pixels, mean cross-entropy, same 55,000 images) ended at "
        "0.893 and 0.898 test accuracy for two seeds; with pixels scaled to [0, 1] the same lr is far too small "
        "(0.42 after 1000 steps). The TF tutorial's ~92% used zero init, [0, 1] pixels, lr 0.5 and batches of 100."
    ),
    "cnn": (
        "**Why it misses 0.985 (by {gap:.4f}):** Adam at lr 0.01, ten times Keras's default, with no decay never "
        "settles: from epoch 6 on the training loss stays near 0.03 and validation accuracy over the second half "
        "of training swings between {low:.4f} and {high:.4f} from one epoch to the next. The test figure is the last "
        "epoch's draw from that band; the write-up's 98.66% lies inside it, and so does the target."
    ),
}
WHEN_MET = {
    "softmax": (
        "Full-batch gradient descent at lr 0.01 on raw 0..255 pixels still oscillates: over the last 500 of the "
        "1000 steps validation accuracy swings between {low:.3f} and {high:.3f}. The run now keeps its best epoch "
        "(`keep_best_epoch`: the lowest val_loss), so the test figure is that epoch's model, not wherever the last "
        "step landed; the run before, which kept the last step, scored 0.8485. The write-up's 90.92% was *train* "
        "accuracy at its last step (our best train accuracy in the last 500 steps: {train_high:.3f})."
    ),
    "cnn": (
        "Adam at lr 0.01, ten times Keras's default, with no decay never settles: validation accuracy over the "
        "second half of training swings between {low:.4f} and {high:.4f} from one epoch to the next, so the test "
        "figure is the last epoch's draw from a band that straddles the target. This run's draw met it; the run "
        "before (Keras's own Adam and input pipeline, which round and shuffle differently) drew 0.9843."
    ),
    "numpy_logreg": "Stops at epoch {epochs} with train accuracy {train:.4f} (write-up: 0.8147 at epoch 32; "
                    "the epoch depends on the U(-1, 1) draw).",
}


def machine() -> str:
    """A one-line description of this computer: CPU model, cores, TensorFlow, oneDNN."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import tensorflow as tf

    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default")
    return f"{cpu}, {os.cpu_count()} cores, TF {tf.__version__}, oneDNN={onednn}"


def run_model(name: str, train_size: int, runs_dir: str | None) -> dict:
    """Train `name` with its preset and return the seeds.json entry for it."""
    from core.data.mnist import load_mnist
    from core.runs.recorded_run import RecordedRun

    overrides = {"train_size": train_size} if train_size else {}
    # As the CLI builds it: `core.config.zoo.preset_config` starts from TrainConfig's defaults (adam),
    # which `numpy_logreg` refuses before its preset (sgd) is applied.
    config = from_dict({"model": name, **SPECS[name].preset, **overrides})
    load_before = os.getloadavg()
    run_name = f"{RUN_NAME_PREFIX}{name}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    run = RecordedRun(config, runs_dir=runs_dir, name=run_name, mnist=load_mnist())
    started = time.perf_counter()
    epochs, done = [], None
    for event in run:
        if event.event == "epoch":
            epochs.append(event)
            validation = "" if event.val_accuracy is None else f" val_accuracy {event.val_accuracy:.4f}"
            print(f"  {name} epoch {event.epoch}/{config.epochs} loss {event.loss:.4f} "
                  f"accuracy {event.accuracy:.4f}{validation} {event.seconds:.1f}s", flush=True)
        elif event.event == "done":
            done = event
    seconds = time.perf_counter() - started
    last = epochs[-1] if epochs else None
    best_val = max((e.val_accuracy for e in epochs if e.val_accuracy is not None), default=None)
    second_half = [e for e in epochs[len(epochs) // 2:] if e.val_accuracy is not None]
    metric, threshold = TARGETS[name]
    entry = {
        "test_accuracy": done.test_accuracy,
        "test_loss": done.test_loss,
        "reported": REPORTED[name],
        "epochs": done.epochs_completed,
        "seconds": round(seconds, 1),
        "train_accuracy": None if last is None else last.accuracy,
        "best_val_accuracy": best_val,
        # the spread of the second half of training: a converged run has a narrow one
        "second_half_val_accuracy": [min(e.val_accuracy for e in second_half), max(e.val_accuracy for e in second_half)]
        if second_half else None,
        "second_half_train_accuracy_max": max((e.accuracy for e in epochs[len(epochs) // 2:]), default=None),
        "status": done.status,
        "reason": done.reason,
        "target": {"metric": metric, "threshold": threshold},
        "train_size": len(run.trainer.splits.x_train),
        "config": config.to_dict(),
        "run_name": done.name,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "finished": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    value = entry["train_accuracy"] if metric == "train_accuracy" else entry["test_accuracy"]
    entry["meets_target"] = value is not None and value >= threshold
    if name == "numpy_logreg":  # stops *above* 0.80 train accuracy within 100 epochs
        entry["meets_target"] = done.status == "target_reached" and done.epochs_completed <= 100
    return entry


def render_markdown(results: dict, machine_line: str) -> str:
    """The seeds.md table: one row per zoo model, pending ones marked as such."""
    lines = [
        "# Seed reproduction: each write-up's preset on the full MNIST",
        "",
        "Produced by `bench/seeds.py` (one row per model; rows marked *pending* have not run yet — "
        "run `PYTHONPATH=. .venv/bin/python bench/seeds.py` to resume).",
        "Accuracy is on the 10,000 MNIST test images unless the row says otherwise. "
        "Training set: 55,000 images (first 5,000 held out for validation) except `lenet5`, "
        "which validates on the test set as its write-up did (60,000 train).",
        "",
        f"Machine: {machine_line}. Wall times were taken on a shared machine while other work ran "
        "(see the load column; the first models also ran at low priority): they say how long a run took "
        "here, they are not speed benchmarks — `time_to_99.py` and `epoch_speed.py` are.",
        "",
        "| model | write-up | reported | ours (test) | target | epochs run | wall time | load avg (1 min, before → after) | notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ORDER:
        spec = SPECS[name]
        metric, threshold = TARGETS[name]
        target = f"{'train' if metric == 'train_accuracy' else 'test'} ≥ {threshold:.3f}"
        if name == "numpy_logreg":
            target = "train > 0.80 within 100 epochs"
        entry = results.get(name)
        if entry is None:
            lines.append(f"| `{name}` | {spec.source} | {spec.reported} | *pending* | {target} | | | | {QUIRKS[name]} |")
            continue
        ours = f"{entry['test_accuracy']:.4f}"
        if name == "numpy_logreg":
            ours += f" (train {entry['train_accuracy']:.4f})"
        if name == "lenet5" and entry.get("best_val_accuracy") is not None:
            ours += f" (best val = test {entry['best_val_accuracy']:.4f})"
        verdict = "✅" if entry["meets_target"] else "❌"
        notes = QUIRKS[name]
        finding = (WHEN_MET if entry["meets_target"] else WHEN_MISSED).get(name)
        if finding and entry.get("second_half_val_accuracy"):
            low, high = entry["second_half_val_accuracy"]
            notes = finding.format(low=low, high=high, train_high=entry["second_half_train_accuracy_max"],
                                          epochs=entry["epochs"], train=entry["train_accuracy"],
                                          gap=entry["target"]["threshold"] - (entry["test_accuracy"] or 0)) + " — " + notes
        if entry.get("note"):
            notes = f"{entry['note']} — {notes}"
        if entry["train_size"] < 55_000:
            notes = f"**subset of {entry['train_size']} train images** — {notes}"
        load = f"{entry['loadavg_before'][0]:.2f} → {entry['loadavg_after'][0]:.2f}"
        lines.append(
            f"| `{name}` | {spec.source} | {spec.reported} | {ours} | {target} {verdict} | {entry['epochs']} "
            f"({entry['status']}) | {entry['seconds']:.0f} s | {load} | {notes} |"
        )
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", choices=[m for m in MODEL_NAMES if m in ORDER],
                        help="run only this model (repeatable); default: all, cheapest first")
    parser.add_argument("--force", action="store_true", help="re-run models already in seeds.json")
    parser.add_argument("--train-size", type=int, default=0, help="train on a random subset (smoke tests); 0 = all")
    parser.add_argument("--out", default=str(RESULTS_DIR), help="folder for seeds.json and seeds.md")
    parser.add_argument("--runs-dir", default=None, help="where the trained runs are saved (default: runs/)")
    parser.add_argument("--render", action="store_true", help="only rewrite seeds.md from seeds.json")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "seeds.json", out / "seeds.md"
    results = json.loads(json_path.read_text()) if json_path.exists() else {}
    machine_line = next((entry["machine"] for entry in results.values() if "machine" in entry), None) or machine()
    if args.render:
        write_bytes_atomic(md_path, render_markdown(results, machine_line).encode())
        return 0
    wanted = [m for m in ORDER if not args.model or m in args.model]
    write_bytes_atomic(md_path, render_markdown(results, machine_line).encode())
    for name in wanted:
        if name in results and not args.force:
            print(f"{name}: already in {json_path}, skipped (pass --force to re-run)", flush=True)
            continue
        print(f"{name}: training with preset {SPECS[name].preset} (load avg {os.getloadavg()[0]:.2f})", flush=True)
        entry = run_model(name, args.train_size, args.runs_dir)
        entry["machine"] = machine_line
        results = json.loads(json_path.read_text()) if json_path.exists() else {}  # another process may have written
        previous_note = results.get(name, {}).get("note")
        if previous_note:
            entry["note"] = previous_note
        results[name] = entry
        write_json_atomic(json_path, results)
        write_bytes_atomic(md_path, render_markdown(results, machine_line).encode())
        print(f"{name}: test_accuracy {entry['test_accuracy']:.4f} after {entry['epochs']} epochs, "
              f"{entry['seconds']:.0f} s, target {'met' if entry['meets_target'] else 'MISSED'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
