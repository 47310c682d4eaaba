"""The model zoo: each write-up's model with its preset, described without importing TensorFlow."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Reproduction:
    """One run of a write-up's settings on all the training images, by `bench/seeds.py`.

    The figures are those of `bench/results/seeds.json` (`tests/test_zoo.py` checks they agree), measured
    on the project's 2-core Xeon while other work ran: the wall time says how long it took there, not a
    speed benchmark.
    """

    test_accuracy: float  # on the 10,000 test images
    epochs: int  # epochs it ran: early stopping or a target accuracy may end a run before its preset's epochs
    seconds: float  # wall time of the whole run
    train_size: int  # training images it trained on


@dataclass(frozen=True)
class ModelSpec:
    """What the dashboard and CLI need to know about a zoo model before building it."""

    name: str
    title: str  # short: the model menus show "name: title" in a ~300-px field at 1280 px (`menu_label`)
    source: str  # where the architecture and preset come from
    reported: str  # the accuracy the write-up reported, as it reported it
    architecture: str
    preset: dict[str, Any] = field(default_factory=dict)  # TrainConfig overrides
    is_image_model: bool = True  # convolutional: augmentation and filters apply
    has_hidden_layers: bool = True  # activation and hidden_units apply
    default_hidden_units: int = 0
    printed_accuracy: bool = True  # False: the write-up printed no figure of its own; `reported` says whose it is
    reproduction: Reproduction | None = None  # this project's run of the write-up's settings on all the images

    @property
    def preset_caption(self) -> str:
        """Where the preset comes from and what its write-up reported, as one sentence."""
        if self.printed_accuracy:
            return f"Preset from {self.source}, which reported {self.reported}."
        return f"Preset from {self.source}, which printed no accuracy of its own; {self.reported}."


SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            name="numpy_logreg",
            title="NumPy one-vs-all",
            source="write-up 001, part 1 (pure NumPy)",
            reported="81.47% train accuracy at epoch 32",
            architecture="784 → 10 sigmoid (one-vs-all), weights and biases U(-1, 1), raw 0..255 pixels",
            preset=dict(
                epochs=100, batch_size=0, learning_rate=0.1, optimizer="sgd", activation="sigmoid",
                target_accuracy=0.80, validation="holdout", pixel_scale="raw",
            ),
            reproduction=Reproduction(test_accuracy=0.8263, epochs=20, seconds=301.3, train_size=55_000),
            is_image_model=False,
            has_hidden_layers=False,
        ),
        ModelSpec(
            name="softmax",
            title="Softmax regression",
            source="write-up 001, part 2 (TensorFlow)",
            reported="90.92% (on train); the TF tutorial says about 92% on test",
            architecture="784 → 10 softmax, weights and biases N(0, 1), raw 0..255 pixels",
            preset=dict(
                epochs=1000, batch_size=0, learning_rate=0.01, optimizer="sgd", activation="linear",
                validation="holdout", pixel_scale="raw",
            ),
            reproduction=Reproduction(test_accuracy=0.9006, epochs=1000, seconds=1694.0, train_size=55_000),
            is_image_model=False,
            has_hidden_layers=False,
        ),
        ModelSpec(
            name="mlp",
            title="3-layer sigmoid MLP",
            source="write-up 003",
            reported="91.64% test",
            architecture="784 → 256 → 256 → 10, sigmoid hidden layers, weights and biases N(0, 1)",
            preset=dict(
                epochs=30, batch_size=100, learning_rate=0.1, optimizer="sgd", activation="sigmoid",
                validation="holdout",
            ),
            reproduction=Reproduction(test_accuracy=0.9190, epochs=30, seconds=609.3, train_size=55_000),
            is_image_model=False,
            default_hidden_units=256,
        ),
        ModelSpec(
            name="cnn",
            title="TF layers tutorial CNN",
            source="write-up 000",
            reported="98.66% test",
            architecture=(
                "conv 32×5×5 (no bias) ReLU → maxpool → conv 64×5×5 (no bias) ReLU → maxpool → "
                "dense 1024 (no activation, as in the post's code) → dropout 0.6 → dense 10"
            ),
            preset=dict(
                epochs=15, batch_size=1000, learning_rate=0.01, optimizer="adam", activation="linear",
                dropout=0.6, validation="holdout",
            ),
            reproduction=Reproduction(test_accuracy=0.9903, epochs=15, seconds=563.9, train_size=55_000),
            default_hidden_units=1024,
        ),
        ModelSpec(
            name="cnn_deep",
            title="Deep MNIST for Experts",
            source="write-up 002 (TF 'Deep MNIST for Experts')",
            reported="the TF tutorial it copies reports ≈99.2%",
            printed_accuracy=False,
            architecture=(
                "conv 32×5×5 ReLU → maxpool → conv 64×5×5 ReLU → maxpool → dense 1024 ReLU → "
                "dropout 0.5 → dense 10; weights truncated N(0, 0.1), biases 0.1"
            ),
            preset=dict(
                epochs=25, batch_size=50, learning_rate=1e-4, optimizer="adam", activation="relu",
                dropout=0.5, validation="holdout",
            ),
            reproduction=Reproduction(test_accuracy=0.9921, epochs=25, seconds=5193.5, train_size=55_000),
            default_hidden_units=1024,
        ),
        ModelSpec(
            name="lenet5",
            title="LeNet-5",
            source="write-up 004 (Keras subclassed model)",
            reported="98.85% best val accuracy (test set as validation)",
            architecture="conv 6×5×5 same ReLU → maxpool → conv 16×5×5 ReLU → maxpool → dense 120 → dense 84 → dense 10",
            preset=dict(
                epochs=30, batch_size=32, learning_rate=0.01, optimizer="sgd", activation="relu",
                patience=3, restore_best_weights=False, validation="test",
            ),
            reproduction=Reproduction(test_accuracy=0.9893, epochs=26, seconds=1852.4, train_size=60_000),
            default_hidden_units=120,
        ),
        ModelSpec(
            name="fast",
            title="Fast CNN, 99% in 1 epoch",
            source="this project: tuned for wall time to 99% test accuracy (bench/time_to_99.py)",
            reported="≥ 99.0% test after one epoch",
            architecture=(
                "standardize → conv 16×5×5 ReLU → maxpool → conv 32×5×5 ReLU → maxpool → "
                "dense 256 + batch norm, ReLU → dense 10"
            ),
            preset=dict(
                epochs=1, batch_size=128, learning_rate=9e-3, optimizer="adam", activation="relu",
                schedule="one_cycle", validation="none",
            ),
            default_hidden_units=256,
        ),
    ]
}

MODEL_NAMES = tuple(SPECS)


MENU_LABEL_CHARACTERS = 34  # what a model menu shows uncut in the Train form's column at 1280 px (~260 px of text)


def menu_label(name: str) -> str:
    """How a model menu lists `name`: `"cnn_deep: Deep MNIST for Experts"`."""
    return f"{name}: {SPECS[name].title}"


def write_ups() -> list[str]:
    """The write-ups the zoo's models come from (`"write-up 000"`, ...), each once, in order."""
    return sorted({match for spec in SPECS.values() for match in re.findall(r"write-up \d+", spec.source)})
