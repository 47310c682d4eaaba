'''The standalone script of `numpy_logreg`: write-up 001's one-vs-all logistic regression, in NumPy.

It is no Keras model (ten independent sigmoids, the write-up's own gradients), so its script is
the lab's NumPy loop (`core.models.numpy_logreg`, `core.training.trainer.Trainer._train_numpy`)
written out: the same initial weights from the seed, the same mini-batch order, the same
stopping rules. It needs NumPy alone; Keras only to download MNIST when `$MNIST_PATH` is unset.
'''

from __future__ import annotations

from core.config.train_config import TrainConfig
from core.export.data_code import LIMIT, data_constants, load_mnist_code, split_code
from core.export.script_header import RunFacts, header

IMPORTS = '''import argparse
import math
import os
import sys
import time

import numpy as np
'''

MODEL = '''def sigmoid(z):
    """The logistic function, computed without overflow (raw pixels make |z| reach the thousands)."""
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    exp_z = np.exp(z[~positive])
    out[~positive] = exp_z / (1.0 + exp_z)
    return out


def one_hot(labels):
    return np.eye(10)[labels]


class OneVsAllLogisticRegression:
    """784 → 10 sigmoid units, one per digit, each a yes/no classifier; weights and biases U(-1, 1)."""

    def __init__(self, seed):
        rng = np.random.default_rng(seed)
        self.weights = rng.uniform(-1.0, 1.0, size=(784, 10))
        self.bias = rng.uniform(-1.0, 1.0, size=(10,))

    def probabilities(self, x):
        """Each digit's sigmoid, (n, 10), for pixels x of shape (n, 784)."""
        return sigmoid(x @ self.weights + self.bias)

    def loss(self, x, y):
        """The ten binary cross-entropies summed, averaged over the images."""
        p = np.clip(self.probabilities(x), 1e-12, 1 - 1e-12)
        targets = one_hot(y)
        return float(-np.mean(np.sum(targets * np.log(p) + (1 - targets) * np.log(1 - p), axis=1)))

    def accuracy(self, x, y):
        return float(np.mean(np.argmax(x @ self.weights + self.bias, axis=1) == y))

    def step(self, x, y, learning_rate):
        """One gradient-descent step, with the write-up's gradients: the weights' summed over the
        images (the gradient of the summed loss), the bias's averaged (that of the mean)."""
        error = self.probabilities(x) - one_hot(y)  # (n, 10)
        self.weights -= learning_rate * (x.T @ error)
        self.bias -= learning_rate * error.mean(axis=0)


def flat_pixels(images):
    """uint8 images (n, 28, 28) → float64 (n, 784): scaled to [0, 1] in float32 as the lab stores
    them, then times PIXEL_SCALE."""
    unit = images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)
    return unit.astype(np.float64) * PIXEL_SCALE
'''


def settings_code(config: TrainConfig) -> str:
    scale = ("255.0  # raw 0..255 pixels, as the write-up fed them" if config.pixel_scale == "raw"
             else "1.0  # pixels in [0, 1]")
    lines = [
        "# The run's settings",
        f"SEED = {config.seed}",
        f"EPOCHS = {config.epochs}",
        f"BATCH_SIZE = {config.batch_size}" + ("  # 0: full batch, every training image in one step"
                                               if config.batch_size == 0 else "  # images a step"),
        f"LEARNING_RATE = {config.learning_rate!r}",
        f"PIXEL_SCALE = {scale}",
    ]
    if config.patience:
        lines.append(f"PATIENCE = {config.patience}  # epochs without a lower val_loss before stopping")
    if config.target_accuracy:
        lines.append(f"TARGET_ACCURACY = {config.target_accuracy!r}  # stop once training accuracy passes it")
    return "\n".join(lines + data_constants(config)) + "\n"


def main_code(config: TrainConfig) -> str:
    validating = config.validation != "none"
    batch_size = ("    batch_size = len(x_train)  # full batch\n" if config.batch_size == 0
                  else "    batch_size = min(BATCH_SIZE, len(x_train))\n")
    lines = [
        "def main():",
        "    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])",
        '    parser.add_argument("--epochs", type=int, default=EPOCHS, help="epochs to train (default: the run\'s)")',
        '    parser.add_argument("--limit", type=int, default=0, metavar="N",',
        '                        help="use only the first N images of each split: a quick check that the script runs, "',
        '                             "not the run\'s result (default 0: all of them)")',
        "    args = parser.parse_args()",
        "    if args.epochs < 1 or args.limit < 0 or args.limit == 1:",
        '        parser.error(f"pass --epochs 1 or more and --limit 0 (all) or 2 or more; got {args.epochs} and {args.limit}")',
        "",
        "    x_train, y_train, x_val, y_val, x_test, y_test = first(args.limit, *split(*load_mnist()))",
        "    x_train, x_test = flat_pixels(x_train), flat_pixels(x_test)",
    ]
    if validating:
        lines.append("    x_val = flat_pixels(x_val)")
    lines += [
        batch_size.rstrip("\n"),
        f'    print(f"{{len(x_train)}} training images, {"{len(x_val)} validation images" if validating else "no validation"}, '
        '{len(x_test)} test images")',
        "",
        "    model = OneVsAllLogisticRegression(SEED)",
        '    print(f"parameters: {model.weights.size + model.bias.size}")',
        "    rng = np.random.default_rng(SEED)  # orders the mini-batches, when smaller than the training set",
    ]
    keeps_best = config.keep_best_epoch and validating
    if config.patience:
        lines.append("    best_val_loss, waited = math.inf, 0")
    if keeps_best:
        lines.append("    best = (math.inf, None, None, None)  # (val_loss, epoch, weights, bias): the lab keeps the best epoch")
    lines += [
        "    for epoch in range(1, args.epochs + 1):",
        "        started = time.perf_counter()",
        "        order = rng.permutation(len(x_train)) if batch_size < len(x_train) else np.arange(len(x_train))",
        "        for start in range(0, len(order), batch_size):",
        "            chosen = order[start : start + batch_size]",
        "            model.step(x_train[chosen], y_train[chosen], LEARNING_RATE)",
        "        loss, accuracy = model.loss(x_train, y_train), model.accuracy(x_train, y_train)",
        '        seconds = time.perf_counter() - started',
        '        line = f"Epoch {epoch}/{args.epochs} - {seconds:.1f}s - accuracy: {accuracy:.4f} - loss: {loss:.4f}"',
    ]
    if validating:
        lines += [
            "        val_loss, val_accuracy = model.loss(x_val, y_val), model.accuracy(x_val, y_val)",
            '        line += f" - val_accuracy: {val_accuracy:.4f} - val_loss: {val_loss:.4f}"',
        ]
    lines += [
        "        print(line, flush=True)",
        "        if not (math.isfinite(loss) and np.all(np.isfinite(model.weights))):",
        '            sys.exit(f"the loss became {loss} at epoch {epoch}: lower LEARNING_RATE")',
    ]
    if keeps_best:
        lines += [
            "        if math.isfinite(val_loss) and val_loss < best[0]:",
            "            best = (val_loss, epoch, model.weights.copy(), model.bias.copy())",
        ]
    if config.target_accuracy:
        lines += [
            "        if accuracy > TARGET_ACCURACY:",
            '            print(f"training accuracy passed {TARGET_ACCURACY}: stopping")',
            "            break",
        ]
    if config.patience:
        lines += [
            "        if val_loss < best_val_loss:",
            "            best_val_loss, waited = val_loss, 0",
            "        else:",
            "            waited += 1",
            "            if waited >= PATIENCE:",
            '                print(f"val_loss did not improve for {PATIENCE} epochs: stopping")',
            "                break",
        ]
    if keeps_best:
        lines += [
            "    if best[1] is not None:",
            "        model.weights, model.bias = best[2], best[3]",
            '        print(f"kept the model of epoch {best[1]}, whose val_loss was the lowest ({best[0]:.4f})")',
        ]
    lines += [
        '    print(f"test_accuracy: {model.accuracy(x_test, y_test):.4f}")',
        "",
        "",
        'if __name__ == "__main__":',
        "    main()",
    ]
    return "\n".join(lines) + "\n"


HOW_IT_TRAINS = ("Write-up 001's one-vs-all logistic regression is no Keras model, so this is the lab's own NumPy "
                 "loop written out: the same initial weights (from the seed), the same split, mini-batch order, "
                 "gradients and stopping rules. Its numbers should match the run's to the last digits on any "
                 "machine with the same NumPy.")


def numpy_script(config: TrainConfig, run: RunFacts | None = None) -> str:
    """The whole standalone script that trains `numpy_logreg` as its run did."""
    parts = [IMPORTS, settings_code(config), load_mnist_code(keras_imported=False), split_code(config), LIMIT, MODEL,
             main_code(config)]
    return (header(config, run, HOW_IT_TRAINS, needs_tensorflow=False) + "\n"
            + "\n\n\n".join(part.rstrip("\n") for part in parts) + "\n")
