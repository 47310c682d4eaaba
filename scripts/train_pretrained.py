"""Train the model that ships in `pretrained/`: `python scripts/train_pretrained.py`.

Takes a few minutes on two CPU cores. Trains `core.runs.pretrained.pretrained_config()` on all of
MNIST's training images, prints each epoch and the test accuracy, and saves the model
(weights and architecture, no optimizer state) to `pretrained/mnist_fast.keras`, and its NumPy
translation (checked against it) to `pretrained/mnist_fast.numpy.npz`, which the web server
predicts with. `--export-only` writes only the NumPy file, from the existing `.keras` file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

import core  # noqa: E402,F401  (turns oneDNN on before TensorFlow is imported)
from core.data.mnist import load_mnist  # noqa: E402
from core.training.events import EpochEnd, TrainingEnd  # noqa: E402
from core.runs.pretrained import (  # noqa: E402
    PRETRAINED_MODEL_PATH, export_numpy_model_file, load_pretrained_model, numpy_model_path, pretrained_config,
    save_for_inference, write_pretrained_info,
)
from core.runs.store import RunError  # noqa: E402
from core.data.splits import make_splits  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(PRETRAINED_MODEL_PATH), help="the .keras file to write")
    parser.add_argument("--mnist-path", default=None, help="an mnist.npz (default: $MNIST_PATH, data/mnist.npz, ...)")
    parser.add_argument("--train-size", type=int, default=0, help="train on a subset, for a quick try (0 = all)")
    parser.add_argument("--export-only", action="store_true",
                        help="do not train: write the NumPy file beside the existing --output .keras file")
    args = parser.parse_args()
    if args.export_only:
        return export(Path(args.output))

    config = pretrained_config()
    if args.train_size:
        config = config.replace(train_size=args.train_size)
    print(f"config: {config}", flush=True)
    splits = make_splits(load_mnist(args.mnist_path), config)
    trainer = Trainer(config, splits)
    started = time.perf_counter()
    for event in trainer:
        if isinstance(event, EpochEnd):
            print(f"epoch {event.epoch}/{config.epochs}: loss {event.loss:.4f}, accuracy {event.accuracy:.4f}, "
                  f"{event.seconds:.0f} s", flush=True)
        elif isinstance(event, TrainingEnd):
            print(f"training {event.status}: {event.reason} ({time.perf_counter() - started:.0f} s)", flush=True)
    probabilities = trainer.model.predict(splits.x_test, batch_size=1000, verbose=0)
    test_accuracy = float((probabilities.argmax(axis=1) == splits.y_test).mean())
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    save_for_inference(trainer.model, output)
    command = "python scripts/train_pretrained.py" + "".join(f" {arg}" for arg in sys.argv[1:])
    write_pretrained_info(output, config, test_accuracy, command)
    print(f"test_accuracy={test_accuracy:.4f}")
    print(f"saved {output} ({output.stat().st_size / 1e6:.2f} MB)")
    return export(output)


def export(output: Path) -> int:
    """Write the NumPy translation of the `.keras` file `output` beside it; 0 on success."""
    try:
        written = export_numpy_model_file(load_pretrained_model(output), numpy_model_path(output))
    except RunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"saved {written} ({written.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
