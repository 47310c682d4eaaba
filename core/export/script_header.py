"""The exported script's docstring: which run it trains again, how to run it, what it leaves out."""

from __future__ import annotations

import dataclasses
import textwrap
from dataclasses import dataclass, field

from core.config.train_config import TrainConfig
from core.config.zoo import SPECS

TENSORFLOW_REQUIREMENT = "tensorflow-cpu==2.21.0"  # requirements.txt's pin (tests/test_export.py checks they agree)
KERAS_VERSION = "3.15"  # the Keras that TensorFlow 2.21 brings
MAX_QUOTED = 300  # characters of a run's own text (its ending's reason) quoted in the header
WIDTH = 100


@dataclass(frozen=True)
class RunFacts:
    """What the header says of the run a script was exported from, beyond its config."""

    name: str
    status: str = ""
    reason: str = ""
    epochs_completed: int = 0
    test_accuracy: float | None = None
    model_epoch: int | None = None  # the epoch whose model the run kept
    parent: str = ""  # "RUN at epoch K" for a fork
    learning_rate_story: str = ""  # "0.01 → 0.001 at epoch 3" when the rate was changed mid-run
    notes: list[str] = field(default_factory=list)


def docstring_safe(text: str, limit: int = MAX_QUOTED) -> str:
    """`text` as it can stand inside the script's docstring: one line, no quote or backslash that
    would end the string or start an escape, at most `limit` characters."""
    flat = " ".join(str(text).split())
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in flat)
    cleaned = cleaned.replace("\\", "/").replace('"', "'")
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _paragraph(text: str, indent: str = "", hanging: str | None = None) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent if hanging is None else hanging,
                         break_on_hyphens=False)


def settings_lines(config: TrainConfig) -> list[str]:
    """Every field of the run's `TrainConfig`, `name=value`, wrapped."""
    pairs = [f"{name}={value!r}" for name, value in dataclasses.asdict(config).items()]
    return _paragraph(", ".join(pairs), "    ")


def not_reproduced(config: TrainConfig, run: RunFacts | None) -> list[str]:
    """What the run did that the script does not do, one sentence each."""
    left_out = ["the lab's extras: checkpoints, TensorBoard logs and the live batch-level curves"]
    if run is None:
        return left_out
    if run.parent:
        left_out.append(f"the run continued from run {docstring_safe(run.parent)}'s checkpoint; "
                        f"this script trains the same {config.epochs} epoch(s) from freshly initialized weights")
    if run.learning_rate_story:
        left_out.append(f"the learning rate was changed while the run trained ({docstring_safe(run.learning_rate_story)}); "
                        f"this script keeps {config.learning_rate:g}" +
                        (" and its one-cycle schedule" if config.schedule == "one_cycle" else ""))
    if run.status == "stopped":
        left_out.append(f"the run was stopped after {run.epochs_completed} epoch(s); this script trains them all")
    elif run.status in ("interrupted", "failed"):
        left_out.append(f"the run ended {run.status} after {run.epochs_completed} epoch(s); this script trains them all")
    left_out += [docstring_safe(note) for note in run.notes]
    return left_out


def header(config: TrainConfig, run: RunFacts | None, how_it_trains: str, needs_tensorflow: bool = True) -> str:
    """The script's docstring (with its quotes).

    Args:
        config: the run's settings.
        run: the run it was exported from; None for a config that never ran.
        how_it_trains: a paragraph on what reproduces the run (Keras or NumPy), and how closely.
        needs_tensorflow: False for a NumPy script, which needs TensorFlow only to download MNIST.
    """
    spec = SPECS[config.model]
    how = f"as run {run.name} of the MNIST training lab did" if run is not None else "as the MNIST training lab would"
    lines = [f"Train `{config.model}` ({spec.title}) on MNIST {how}.", ""]
    needs = (f"Python 3.10+ and TensorFlow 2.21 (which brings Keras {KERAS_VERSION} and NumPy) and nothing else"
             if needs_tensorflow else
             "Python 3.10+ and NumPy, and TensorFlow 2.21 only to download MNIST when MNIST_PATH is not set")
    lines += _paragraph(f"Exported by `python -m core export` of the MNIST training lab. It does not import the lab: "
                        f"it needs {needs}.")
    usage = [
        (f"pip install {TENSORFLOW_REQUIREMENT}", "or tensorflow==2.21.0") if needs_tensorflow else
        ("pip install numpy", f"and {TENSORFLOW_REQUIREMENT} for Keras to download MNIST"),
        ("MNIST_PATH=/path/to/mnist.npz python THIS_SCRIPT.py", "an .npz of x_train, y_train, x_test, y_test"),
        ("python THIS_SCRIPT.py", "without MNIST_PATH, Keras downloads MNIST once"),
        ("python THIS_SCRIPT.py --epochs 1 --limit 2000", "a quick check on 2,000 images of each split"),
    ]
    width = max(len(command) for command, _ in usage)
    lines += [""] + [f"    {command:<{width}}  # {comment}" for command, comment in usage] + [""]
    lines += _paragraph(f"Model: {spec.architecture}. From {spec.source}; {spec.reported}.")
    lines += ["", "The run's settings (the lab's TrainConfig):"] + settings_lines(config)
    if run is not None and run.status == "running":
        lines += [""] + _paragraph(f"The run was still training when this script was exported "
                                   f"({run.epochs_completed} epoch(s) done).")
    elif run is not None and run.status:
        ending = f"The run ended {run.status}"
        if run.reason:
            ending += f" ({docstring_safe(run.reason)})"
        ending += f" after {run.epochs_completed} epoch(s)"
        if run.test_accuracy is not None:
            kept = f" with the model of epoch {run.model_epoch}" if run.model_epoch not in (None, run.epochs_completed) else ""
            ending += f"{kept}, at test accuracy {run.test_accuracy:.4f}"
        lines += [""] + _paragraph(ending + ".")
    lines += [""] + _paragraph(how_it_trains)
    lines += ["", "Not reproduced:"]
    for item in not_reproduced(config, run):
        lines += _paragraph(f"- {item}.", "", "  ")
    return '"""' + "\n".join(lines) + '\n"""\n'
