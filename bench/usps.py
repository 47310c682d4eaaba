"""How well models trained on MNIST read other handwriting: accuracy on the USPS digits.

USPS (`usps_mnistlike.npz`, 9,298 ZIP-code digits converted with MNIST's own recipe; see
`/work/shared/data/README.md`) is never trained on here. Scored:

- zoo models trained on all 60,000 MNIST training images, each with and without training-time
  augmentation (`augment_shift` / `augment_rotation` / `augment_zoom`), for a reduced number of
  epochs (listed in the table); trained through `core.runs.recorded_run.RecordedRun`, saved in `runs/`;
- the shipped model `pretrained/*.keras`, if present;
- the runs `bench/seeds.py` left in `runs/` (`seeds-*`), if any;
- the reference: 1-nearest-neighbour on raw pixels with 20,000 MNIST training images.

Writes `bench/results/usps.json` and `bench/results/usps.md` after each model. Resumes: a model
already in `usps.json` is not trained again unless `--force`.

Usage:
    PYTHONPATH=. .venv/bin/python bench/usps.py [--only fast,fast_aug] [--force]

The USPS file comes from `$USPS_PATH`, else `../shared/data/usps_mnistlike.npz` beside the repo.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

import core  # noqa: F401  (turns oneDNN on before TensorFlow is imported)
from core.runs.atomic_files import write_bytes_atomic, write_json_atomic
from core.config.train_config import from_dict
from core.config.zoo import SPECS

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_USPS_PATH = ROOT.parent / "shared" / "data" / "usps_mnistlike.npz"
AUGMENTATION = dict(augment_shift=0.1, augment_rotation=10.0, augment_zoom=0.1)
NEIGHBOUR_TRAIN_IMAGES = 20_000
PREDICT_BATCH_SIZE = 1000

# label → (zoo model, overrides of its preset). Each pair differs only in augmentation.
VARIANTS = {
    "fast": ("fast", dict(epochs=6)),
    "fast_aug": ("fast", dict(epochs=6, **AUGMENTATION)),
    "lenet5": ("lenet5", dict(epochs=10, patience=0)),
    "lenet5_aug": ("lenet5", dict(epochs=10, patience=0, **AUGMENTATION)),
    "cnn": ("cnn", dict(epochs=3)),
    "cnn_aug": ("cnn", dict(epochs=3, **AUGMENTATION)),
}


def load_usps(path: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The USPS digits as MNIST-like arrays.

    Args:
        path: the `.npz`; None = `$USPS_PATH`, else `../shared/data/usps_mnistlike.npz`.

    Returns:
        `(x, y, split)`: uint8 `(9298, 28, 28)` white on black, uint8 labels `(9298,)`, and uint8
        `(9298,)` with 0 for USPS's own training part and 1 for its test part.

    Raises:
        FileNotFoundError: naming the path tried and the variable that sets it.
    """
    path = Path(path or os.environ.get("USPS_PATH") or DEFAULT_USPS_PATH)
    if not path.exists():
        raise FileNotFoundError(f"No USPS file at {path}. Set `USPS_PATH` to usps_mnistlike.npz.")
    with np.load(path) as data:
        return data["x"], data["y"], data["split"]


def score(probabilities: np.ndarray, y: np.ndarray, split: np.ndarray) -> dict:
    predicted = np.argmax(probabilities, axis=1) if probabilities.ndim == 2 else probabilities
    correct = predicted == y
    return {
        "usps_all": float(correct.mean()),
        "usps_test": float(correct[split == 1].mean()),
        "usps_train": float(correct[split == 0].mean()),
    }


def nearest_neighbour(mnist, x: np.ndarray, chunk: int = 1000) -> np.ndarray:
    """Labels predicted by 1-NN (Euclidean, raw pixels) from the first 20,000 MNIST training images."""
    reference = mnist.x_train[:NEIGHBOUR_TRAIN_IMAGES].reshape(NEIGHBOUR_TRAIN_IMAGES, -1).astype(np.float32)
    reference_norms = (reference**2).sum(axis=1)
    labels = mnist.y_train[:NEIGHBOUR_TRAIN_IMAGES]
    predicted = np.empty(len(x), dtype=labels.dtype)
    for start in range(0, len(x), chunk):
        queries = x[start : start + chunk].reshape(-1, 784).astype(np.float32)
        distances = reference_norms[None, :] - 2.0 * queries @ reference.T  # (chunk, 20000), |q|² dropped
        predicted[start : start + chunk] = labels[np.argmin(distances, axis=1)]
    return predicted


def evaluate(model, mnist, x, y, split) -> dict:
    from core.data.splits import to_model_input

    result = score(model.predict(to_model_input(x), batch_size=PREDICT_BATCH_SIZE, verbose=0), y, split)
    mnist_probabilities = model.predict(to_model_input(mnist.x_test), batch_size=PREDICT_BATCH_SIZE, verbose=0)
    result["mnist_test"] = float((np.argmax(mnist_probabilities, axis=1) == mnist.y_test).mean())
    return result


def train_variant(label: str, mnist, runs_dir) -> tuple[object, dict]:
    """Train one VARIANTS entry on all 60,000 MNIST training images; returns (model, facts)."""
    from core.runs.recorded_run import RecordedRun

    model_name, overrides = VARIANTS[label]
    config = from_dict({"model": model_name, **SPECS[model_name].preset, "validation": "none", **overrides})
    run = RecordedRun(config, runs_dir=runs_dir, name=f"usps-{label}-{datetime.datetime.now():%Y%m%d-%H%M%S}",
                      mnist=mnist)
    started = time.perf_counter()
    for event in run:
        if event.event == "epoch":
            print(f"  {label} epoch {event.epoch}/{config.epochs} loss {event.loss:.4f} "
                  f"accuracy {event.accuracy:.4f} {event.seconds:.1f}s", flush=True)
        elif event.event == "done":
            done = event
    facts = {
        "source": f"trained here: `{model_name}` preset + {json.dumps(overrides)}, validation none, 60,000 images",
        "epochs": done.epochs_completed,
        "augmented": config.augments,
        "train_seconds": round(time.perf_counter() - started, 1),
        "run_name": done.name,
    }
    return run.trainer.model, facts


def render_markdown(results: dict) -> str:
    lines = [
        "# Generalisation: MNIST-trained models on USPS handwriting",
        "",
        "Produced by `bench/usps.py`. USPS: 9,298 digits (7,291 USPS-train + 2,007 USPS-test), converted "
        "to MNIST's format with MNIST's own recipe; no model saw any of them in training. "
        "`USPS all` is accuracy on all 9,298; `USPS test` on USPS's 2,007-image test part.",
        "Models trained here use all 60,000 MNIST training images and a *reduced* number of epochs "
        f"(listed); augmentation = {json.dumps(AUGMENTATION)} (shift and zoom as fractions, rotation in degrees).",
        "",
        "| model | source | epochs | augmented | USPS all | USPS test | MNIST test | train time |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ordered = sorted(results.items(), key=lambda item: -item[1]["usps_all"])
    for label, entry in ordered:
        epochs = entry.get("epochs", "")
        augmented = {True: "yes", False: "no", None: ""}[entry.get("augmented")]
        mnist_test = "" if entry.get("mnist_test") is None else f"{entry['mnist_test']:.4f}"
        seconds = "" if entry.get("train_seconds") is None else f"{entry['train_seconds']:.0f} s"
        lines.append(f"| `{label}` | {entry['source']} | {epochs} | {augmented} | **{entry['usps_all']:.4f}** | "
                     f"{entry['usps_test']:.4f} | {mnist_test} | {seconds} |")
    if ordered:
        best_label, best = ordered[0]
        lines += ["", f"Best: `{best_label}` at {best['usps_all']:.2%} on all of USPS "
                      f"(target ≥ 97%: {'met' if best['usps_all'] >= 0.97 else 'NOT met'})."]
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="MNIST-trained models scored on USPS.")
    parser.add_argument("--only", help=f"comma-separated subset of {list(VARIANTS)} to train (default: all)")
    parser.add_argument("--force", action="store_true", help="retrain variants already in usps.json")
    parser.add_argument("--out", default=str(RESULTS_DIR), help="folder for usps.json and usps.md")
    parser.add_argument("--runs-dir", default=None, help="where trained runs are saved and seeds runs are read")
    args = parser.parse_args(argv)

    from core.data.mnist import load_mnist
    from core.runs.pretrained import PRETRAINED_DIR
    from core.runs.store import list_runs, load_model, load_model_file

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "usps.json", out / "usps.md"
    results = json.loads(json_path.read_text()) if json_path.exists() else {}
    mnist = load_mnist()
    x, y, split = load_usps()
    print(f"USPS: {len(x)} images; load average {os.getloadavg()[0]:.2f}", flush=True)

    def save(label: str, entry: dict) -> None:
        results[label] = entry
        write_json_atomic(json_path, results)
        write_bytes_atomic(md_path, render_markdown(results).encode())
        print(f"{label}: USPS all {entry['usps_all']:.4f}, USPS test {entry['usps_test']:.4f}", flush=True)

    neighbour = score(nearest_neighbour(mnist, x), y, split)
    save("1nn_raw_pixels", {**neighbour, "source": f"reference: 1-nearest-neighbour, raw pixels, "
                                                   f"{NEIGHBOUR_TRAIN_IMAGES:,} MNIST train images",
                            "augmented": False})
    for path in sorted(PRETRAINED_DIR.glob("*.keras")):
        model = load_model_file(path, "The shipped pretrained model")
        save(f"pretrained/{path.name}", {**evaluate(model, mnist, x, y, split),
                                          "source": "shipped with the project (`scripts/train_pretrained.py`)",
                                          "augmented": True})
    for summary in list_runs(args.runs_dir):
        if summary.name.startswith("seeds-") and summary.has_model and summary.status != "failed":
            model = load_model(summary.name, args.runs_dir)
            save(f"seeds:{summary.model}", {**evaluate(model, mnist, x, y, split),
                                             "source": f"`bench/seeds.py` run `{summary.name}` (write-up preset)",
                                             "epochs": len(summary.epochs), "augmented": False})
    wanted = [v.strip() for v in args.only.split(",")] if args.only else list(VARIANTS)
    for label in wanted:
        if label not in VARIANTS:
            parser.error(f"unknown variant {label!r}; pass some of {list(VARIANTS)}")
        if label in results and not args.force:
            print(f"{label}: already in {json_path}, skipped (pass --force to retrain)", flush=True)
            continue
        model, facts = train_variant(label, mnist, args.runs_dir)
        save(label, {**evaluate(model, mnist, x, y, split), **facts})
    return 0


if __name__ == "__main__":
    sys.exit(main())
