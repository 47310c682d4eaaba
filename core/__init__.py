"""MNIST training lab engine: everything the dashboard does, usable and testable without a browser.

Its parts, from the top down; each imports only the parts below it (each package's docstring
names what it may import, and `tests/test_architecture.py` holds the code to that):

    cli.py      `python -m core`: train, list runs, export a run's script, a run's robustness and calibration
    export/     a run as one standalone training script (plain Keras or NumPy)
    classroom/  a class on one server: its session, display names, a challenge, the board's cards
    robustness/ a run's accuracy as its test digits are rotated, shifted, thinned, noised
    calibration/ a run's ECE and reliability diagram, and temperature scaling
    jobs/       running trainings for a server: queue, executors, progress
    runs/       saved runs, their writer, the shipped model, the models a view can pick
    training/   the streaming trainer and the events it yields
    explain/    attribution: why a model gave its answer (NumPy backward pass)
    figures/    every chart and image grid the pages show
    embedding/  a run's map: penultimate activations of test digits in 2-D, a drawing placed on it
    novelty/    "that is not a digit": distances in a model's feature space, and the threshold
    drawing/    canvas preprocessing and live prediction
    models/     Keras builders, NumPy models, the NumPy forward pass
    data/       MNIST, splits, tf.data pipelines
    config/     the zoo's catalogue and `TrainConfig`

Nothing in `core` imports Streamlit. TensorFlow is imported lazily, and this
package turns oneDNN on before anything can import it: on CPUs without
AVX-512 VNNI/AMX TensorFlow leaves oneDNN off, which halves CNN training speed.
Set `TF_ENABLE_ONEDNN_OPTS=0` in the environment to opt out.
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ INFO/WARNING noise off the console
