"""The script's data: MNIST from `$MNIST_PATH` or Keras's download, split as the run split it.

Mirrors `core.data.splits.make_splits`: a holdout validates on the first `validation_size`
training images (as TensorFlow's old MNIST loader did), `validation='test'` on the test set; a
`train_size` subset is then drawn from the rest with NumPy's generator seeded by the run's seed,
so the script trains on the very images the run trained on.
"""

from __future__ import annotations

import textwrap

from core.config.train_config import TrainConfig

TRAIN_IMAGES = 60_000  # in MNIST's training set

LOAD_MNIST = '''def load_mnist():
    """MNIST as stored: uint8 images (n, 28, 28) and uint8 labels (n,), training set then test set.

    Read from the .npz file that $MNIST_PATH names (arrays x_train, y_train, x_test, y_test) when
    it is set; otherwise Keras downloads its copy once into ~/.keras/datasets.
    """
    path = os.environ.get("MNIST_PATH")
    if path:
        if not os.path.isfile(path):
            sys.exit(f"MNIST_PATH={path!r} is not a file. Point it at an mnist.npz holding x_train, y_train, "
                     "x_test and y_test, or unset it to let Keras download MNIST.")
        with np.load(path) as data:
            return data["x_train"], data["y_train"], data["x_test"], data["y_test"]
{keras_import}    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    return x_train, y_train, x_test, y_test
'''

LIMIT = '''def first(limit, *arrays):
    """The first `limit` items of each array (None stays None); all of them when `limit` is 0."""
    return [array if array is None or not limit else array[:limit] for array in arrays]
'''


def load_mnist_code(keras_imported: bool) -> str:
    """The script's `load_mnist()`; `keras_imported=False` imports Keras only to download (the NumPy script)."""
    keras_import = "" if keras_imported else "    import keras  # only to download MNIST\n\n"
    return LOAD_MNIST.replace("{keras_import}", keras_import)


def has_subset(config: TrainConfig) -> bool:
    """Whether the run trained on a random subset of what the validation left (as `make_splits` decides)."""
    pool = TRAIN_IMAGES - (config.validation_size if config.validation == "holdout" else 0)
    return bool(config.train_size) and config.train_size < pool


def data_constants(config: TrainConfig) -> list[str]:
    lines = []
    if config.validation == "holdout":
        lines.append(f"VALIDATION_SIZE = {config.validation_size}  # the first training images, held out to validate")
    if has_subset(config):
        lines.append(f"TRAIN_SIZE = {config.train_size}  # images trained on, drawn at random (seeded) from the rest")
    return lines


def split_code(config: TrainConfig) -> str:
    """The script's `split(x_train, y_train, x_test, y_test)` → train, validation (or None) and test arrays."""
    if config.validation == "holdout":
        summary = "the first VALIDATION_SIZE training images validate (as TensorFlow's old MNIST loader held them out)"
        body = [
            "    x_val, y_val = x_train[:VALIDATION_SIZE], y_train[:VALIDATION_SIZE]",
            "    x_train, y_train = x_train[VALIDATION_SIZE:], y_train[VALIDATION_SIZE:]",
        ]
    elif config.validation == "test":
        summary = "the test set also validates, as the write-up did"
        body = ["    x_val, y_val = x_test, y_test"]
    else:
        summary = "no validation"
        body = ["    x_val = y_val = None"]
    if has_subset(config):
        summary += "; TRAIN_SIZE of the other training images, picked with the run's seed, train"
        body += [
            "    chosen = np.sort(np.random.default_rng(SEED).choice(len(x_train), TRAIN_SIZE, replace=False))",
            "    x_train, y_train = x_train[chosen], y_train[chosen]",
        ]
    docstring = textwrap.wrap(f"The run's split: {summary}.", 96, break_on_hyphens=False)
    head = "def split(x_train, y_train, x_test, y_test):\n" + '    """' + "\n    ".join(docstring) + '"""\n'
    return head + "\n".join(body) + "\n    return x_train, y_train, x_val, y_val, x_test, y_test\n"
