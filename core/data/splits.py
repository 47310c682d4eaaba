"""Turn MNIST into the train / validation / test arrays one run trains on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.config.train_config import TrainConfig
from core.data.mnist import Mnist


@dataclass(frozen=True)
class Splits:
    """The arrays one run uses: images as MNIST stores them, uint8 `(n, 28, 28)`, labels uint8 `(n,)`.

    Kept as uint8 so a worker holds a quarter of the bytes that float32 copies would take (the
    validation images of a holdout split are even a view into MNIST itself); the input pipeline
    scales each batch as it goes (`core.data.input_pipeline`), to exactly the values
    `to_model_input` gives. `x_train`, `x_val` and `x_test` are those model inputs, float32
    `(n, 28, 28, 1)` in `[0, 1]`, made anew on each access: for small uses, never for training.
    `val_images` and `y_val` are `None` when the config asks for no validation.
    """

    train_images: np.ndarray
    y_train: np.ndarray
    val_images: np.ndarray | None
    y_val: np.ndarray | None
    test_images: np.ndarray
    y_test: np.ndarray

    @property
    def train_count(self) -> int:
        return len(self.y_train)

    @property
    def x_train(self) -> np.ndarray:
        return to_model_input(self.train_images)

    @property
    def x_val(self) -> np.ndarray | None:
        return None if self.val_images is None else to_model_input(self.val_images)

    @property
    def x_test(self) -> np.ndarray:
        return to_model_input(self.test_images)


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 `(n, 28, 28)` → float32 `(n, 28, 28, 1)` in `[0, 1]`; model input already is returned as it is."""
    if images.dtype != np.uint8:
        return images if images.ndim == 4 else images[..., None]
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
    return Splits(train_images=x_pool, y_train=y_pool, val_images=x_val, y_val=y_val,
                  test_images=mnist.x_test, y_test=mnist.y_test)
