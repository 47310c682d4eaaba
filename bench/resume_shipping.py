"""What a resume on another machine (the Ray executor) ships to its task and back, in bytes, before and after.

Trains one run (`lenet5`'s preset by default, on a subset, its default checkpoint budget), then measures
what `core.runs.continuations.continuation_files` ships for resuming it: before this change, the run's record
and every file of every kept checkpoint (`before_bytes=`); now, the record and only what training reads
(`after_bytes=`: the whole state of the checkpoint it resumes from; the weights alone of the best epoch and of
checkpoints without test-set predictions, and, where runs map their digits at each epoch, of every kept one).
Three times: the run as it finished (every checkpoint has its predictions) with and without the map through
the epochs, and as a kill before its end leaves it (none has), without. Then the killed run is resumed for one epoch
on a scratch "node" folder as `_train_on_node` does (no cluster), and the bytes coming back are measured: every
file of the node's run folder before (`back_before_bytes=`), those that did not come unchanged now
(`back_after_bytes=`). Bytes do not depend on the load; CPU and load are printed beside all the same.

Usage:
    PYTHONPATH=. .venv/bin/python bench/resume_shipping.py [--model lenet5] [--epochs 5] [--train-size 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import core  # noqa: E402,F401  (turns oneDNN on before TensorFlow is imported)
from shared_machine import cpu_model  # noqa: E402  (bench/, this script's folder)


def every_file_bytes(run_folder: Path) -> int:
    """What the old `continuation_files` shipped for a resume: the record and every kept checkpoint's files."""
    from core.runs.checkpoints import folder_bytes
    from core.runs.store import BATCHES_FILE, CONFIG_FILE, CONTROLS_FILE, METRICS_FILE, STATUS_FILE

    record = sum((run_folder / name).stat().st_size for name in (CONFIG_FILE, STATUS_FILE, METRICS_FILE, BATCHES_FILE,
                                                                  CONTROLS_FILE) if (run_folder / name).is_file())
    return record + folder_bytes(run_folder / "checkpoints")


def shipped(runs_dir: Path, name: str, label: str, with_maps: bool = False) -> dict:
    from core.runs.checkpoints import list_checkpoints
    from core.runs.continuations import continuation_files

    os.environ["MNIST_LAB_EMBEDDING_DIGITS"] = "5000" if with_maps else "0"
    files = continuation_files(runs_dir, name)
    figures = {"before_bytes": every_file_bytes(runs_dir / name), "after_bytes": sum(map(len, files.values())),
               "checkpoints_kept": len(list_checkpoints(runs_dir, name)),
               "checkpoint_files_shipped": sorted(path for path in files if path.startswith("checkpoints/"))}
    print(f"{label}: before_bytes={figures['before_bytes']:,} after_bytes={figures['after_bytes']:,} "
          f"ratio={figures['after_bytes'] / figures['before_bytes']:.3f} ({figures['checkpoints_kept']} checkpoints kept; "
          f"shipped of them: {', '.join(figures['checkpoint_files_shipped'])})", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lenet5")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=2000)
    args = parser.parse_args()
    from core.config.train_config import preset_config
    from core.data.mnist import load_mnist
    from core.runs.checkpoints import checkpoint_path, list_checkpoints
    from core.runs.continuations import continuation_files, cut_back_to, place_files, resume_shipping
    from core.runs.recorded_run import RecordedRun
    from core.runs.run_mirror import collect_run_files, returned_files

    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average before: {os.getloadavg()}", flush=True)
    os.environ["MNIST_LAB_EMBEDDING_DIGITS"] = "0"  # the runs here compute no map (its t-SNE takes minutes)
    mnist = load_mnist()
    config = preset_config(args.model, epochs=args.epochs, train_size=args.train_size)
    with tempfile.TemporaryDirectory() as scratch:
        runs_dir = Path(scratch) / "runs"
        list(RecordedRun(config, runs_dir=runs_dir, name="finished", mnist=mnist))
        result = {"model": args.model, "epochs": args.epochs, "train_size": args.train_size,
                  "finished": shipped(runs_dir, "finished", f"{args.model}, {args.epochs} epochs, finished")}
        result["finished_with_maps"] = shipped(runs_dir, "finished", f"{args.model}, {args.epochs} epochs, finished, "
                                               "with the map through the epochs", with_maps=True)
        shutil.copytree(runs_dir / "finished", runs_dir / "killed")
        for epoch in list_checkpoints(runs_dir, "killed"):  # as a kill before the run's end leaves them
            (checkpoint_path(runs_dir, "killed", epoch) / "predictions.npz").unlink()
        status = json.loads((runs_dir / "killed" / "status.json").read_text())
        (runs_dir / "killed" / "status.json").write_text(json.dumps({**status, "status": "interrupted"}))
        result["killed"] = shipped(runs_dir, "killed", f"{args.model}, {args.epochs} epochs, killed before its end")

        last = list_checkpoints(runs_dir, "killed")[-1]
        os.environ["MNIST_LAB_EMBEDDING_DIGITS"] = "0"  # the node's resume: no map (minutes of t-SNE), as measured above
        elsewhere = resume_shipping(runs_dir, "killed").elsewhere
        cut_back_to(runs_dir, "killed", last)
        files = continuation_files(runs_dir, "killed")
        node = Path(scratch) / "node"
        place_files(node / "killed", files)
        list(RecordedRun(config.replace(epochs=1), runs_dir=node, name="killed", mnist=mnist, resume=True,
                         checkpoints_elsewhere=elsewhere))
        back_before = sum(map(len, collect_run_files(node / "killed").values()))
        back_after = sum(map(len, returned_files(node / "killed", files).values()))
        result["back"] = {"back_before_bytes": back_before, "back_after_bytes": back_after}
        print(f"the killed run resumed for 1 epoch, sent back: back_before_bytes={back_before:,} "
              f"back_after_bytes={back_after:,} ratio={back_after / back_before:.3f}", flush=True)
    print(f"load average after: {os.getloadavg()}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
