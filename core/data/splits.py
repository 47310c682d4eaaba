"""Turn MNIST into the train / validation / test arrays one run trains on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.config.train_config import TrainConfig
from core.data.mnist import Mnist


@dataclass(frozen=True)
class Splits:
    """Images as float32 `(n, 28, 28, 1)` in `[0, 1]`, labels as uint8 `(n,)`.

    `x_val` and `y_val` are `None` when the config asks for no validation.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 `(n, 28, 28)` → float32 `(n, 28, 28, 1)` in `[0, 1]`."""
    unit = np.empty((*images.shape, 1), dtype=np.float32)
    np.divide(images[..., None], np.float32(255.0), out=unit)  # one pass, no float64 or uint8→float32 temporary
    return unit


def make_splits(mnist: Mnist, config: TrainConfig) -> Splits:
    """Split MNIST as `config` says.

    `validation='holdout'` holds out the first `validation_size` training images, as the old
    TensorFlow loader of write-ups 000, 002 and 003 did (55,000 / 5,000); `'test'` validates on
    the test set, as write-up 004 did; `'none'` validates on nothing. `train_size` then takes a
    random subset (seeded by `config.seed`) of what remains for training.
    """
    x_pool, y_pool = mnist.x_train, mnist.y_train
    x_val = y_val = None
    if config.validation == "holdout":
        size = config.validation_size
        x_val, y_val = mnist.x_train[:size], mnist.y_train[:size]
        x_pool, y_pool = mnist.x_train[size:], mnist.y_train[size:]
    elif config.validation == "test":
        x_val, y_val = mnist.x_test, mnist.y_test
    if config.train_size and config.train_size < len(x_pool):
        chosen = np.sort(np.random.default_rng(config.seed).choice(len(x_pool), config.train_size, replace=False))
        x_pool, y_pool = x_pool[chosen], y_pool[chosen]
    return Splits(
        x_train=to_model_input(x_pool),
        y_train=y_pool,
        x_val=None if x_val is None else to_model_input(x_val),
        y_val=y_val,
        x_test=to_model_input(mnist.x_test),
        y_test=mnist.y_test,
    )
