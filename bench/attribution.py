"""Attribution sanity and speed: the deletion test, the model-randomisation test, and stroke → overlay latency.

Run: `PYTHONPATH=. .venv/bin/python bench/attribution.py [--digits 200] [--repetitions 60]`
(writes nothing itself; its output is committed as `bench/results/attribution.txt`). ~3-5 minutes
on two cores.

- **Deletion test** (Samek et al., 2017): for the first `--digits` test digits, each digit's top
  10% attributed pixels (78 of 784, largest attribution first, toward the predicted class) are set
  to black, and separately a random 10%; `deletion_ratio=<mean fall of the predicted class's
  probability, attributed / random>` per method. Target ≥ 2.
- **Model randomisation** (Adebayo et al., 2018): the same digits' maps from the model with every
  weight re-initialised (kernels Glorot-uniform, biases 0, batch normalization at its fresh-build
  values), toward the trained model's predicted class; `randomisation_rank_correlation=<r>` is the
  mean over digits of Spearman's rank correlation of the two signed maps over the 784 pixels
  (the mean of the absolute maps' correlation is printed beside it). Target < 0.3.
- Both on the shipped model (`pretrained/mnist_fast.numpy.npz`) and on a LeNet-5 trained here
  (preset layers, Adam, 2 epochs on 12,000 images, 20-40 s on a busy machine), translated to NumPy as a
  run saves it.
- **Latency**, server side: a 280×280 RGBA canvas (an upscaled test digit, as Draw sends it) →
  the 28×28 input → prediction → the attribution map → the overlay as a PNG (what `st.image`
  sends), p50/p95 per method on the shipped model. `overlay_p95_ms=<worst method's p95>`.
- **Where gradients come from**: one integrated-gradients map (64 path points) by the NumPy
  backward pass (on one BLAS thread, as the pages run it, and on OpenBLAS's default threads) vs by `tf.GradientTape` on the same Keras model in this process (a traced
  `tf.function`: a lower bound for asking a worker, which adds a queue hop each way and waits
  behind any training that holds the worker).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import core  # noqa: E402,F401  (oneDNN on before TensorFlow is imported)
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from core.data.mnist import load_mnist  # noqa: E402
from core.drawing.preprocess import canvas_to_input  # noqa: E402
from core.explain.attribution import METHODS, attribute, explain, methods_for  # noqa: E402
from core.models.blas_threads import one_blas_thread  # noqa: E402
from core.explain.integrated_gradients import STEPS  # noqa: E402
from core.explain.logit_gradients import LogitModel  # noqa: E402
from core.figures.attribution_overlay import attribution_overlay  # noqa: E402
from core.models.numpy_model import NumpyModel  # noqa: E402
from core.models.numpy_model_layers import LayerSpec  # noqa: E402
from core.runs.pretrained import load_pretrained_model, load_pretrained_numpy_model  # noqa: E402
from shared_machine import add_pause_argument, cpu_model, paused, paused_line  # noqa: E402

DELETED_SHARE = 0.10  # of the 784 pixels
CANVAS_SIZE = 280


def probabilities(model: LogitModel, images: np.ndarray) -> np.ndarray:
    logits = model.logits(images[..., None])
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def deletion_ratio(model: LogitModel, images: np.ndarray, maps: np.ndarray, targets: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """`(ratio, mean attributed fall, mean random fall)` of the target's probability when 10% of pixels go black."""
    count = int(round(DELETED_SHARE * images[0].size))
    rows = np.arange(len(images))[:, None]
    top = np.argsort(-maps.reshape(len(maps), -1), axis=1, kind="stable")[:, :count]
    rng = np.random.default_rng(seed)
    random = np.stack([rng.choice(images[0].size, count, replace=False) for _ in images])
    before = probabilities(model, images)[np.arange(len(images)), targets]
    falls = []
    for chosen in (top, random):
        deleted = images.reshape(len(images), -1).copy()
        deleted[rows, chosen] = 0.0
        after = probabilities(model, deleted.reshape(images.shape))[np.arange(len(images)), targets]
        falls.append(float(np.mean(before - after)))
    return falls[0] / falls[1], falls[0], falls[1]


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of `values`, ties given their mean rank (as Spearman's coefficient needs)."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_values)) + 1]
    ends = np.r_[starts[1:], len(values)]
    mean_rank = (starts + ends + 1) / 2.0  # ranks start+1 .. end, averaged
    result = np.empty(len(values))
    result[order] = np.repeat(mean_rank, ends - starts)
    return result


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = ranks(a.ravel()), ranks(b.ravel())
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def randomised(model: NumpyModel, seed: int = 1) -> NumpyModel:
    """The same layers with every weight re-initialised as a fresh Keras build would (Glorot-uniform kernels)."""
    rng = np.random.default_rng(seed)
    layers = []
    for layer in model.layers:
        weights = {}
        for name, array in layer.weights.items():
            if name == "kernel":
                fan_in = int(np.prod(array.shape[:-1]))
                fan_out = int(array.shape[-1] * (np.prod(array.shape[:-2]) if array.ndim == 4 else 1))
                limit = np.sqrt(6.0 / (fan_in + fan_out))
                weights[name] = rng.uniform(-limit, limit, array.shape).astype(np.float32)
            elif name in ("gamma", "moving_variance"):
                weights[name] = np.ones_like(array)
            else:  # bias, beta, moving_mean
                weights[name] = np.zeros_like(array)
        layers.append(LayerSpec(layer.class_name, layer.name, layer.config, weights))
    return NumpyModel(layers, model.input_shape)


def train_lenet5(mnist) -> NumpyModel:
    from core.config.train_config import preset_config
    from core.models.keras_models import build_keras_model
    from core.models.numpy_forward import translate_checked

    config = preset_config("lenet5", optimizer="adam", learning_rate=1e-3, batch_size=64, epochs=2, seed=0)
    x = mnist.x_train[:12_000].astype(np.float32)[..., None] / 255.0
    model = build_keras_model(config, steps_per_epoch=len(x) // config.batch_size)
    model.fit(x, mnist.y_train[:12_000], batch_size=config.batch_size, epochs=config.epochs, verbose=0)
    return translate_checked(model)


def sanity(name: str, model: NumpyModel, images: np.ndarray, labels: np.ndarray) -> None:
    trained = LogitModel(model)
    shuffled = LogitModel(randomised(model))
    targets = trained.logits(images[..., None]).argmax(axis=1)
    print(f"\n{name}: accuracy on these {len(images)} digits {np.mean(targets == labels):.1%}; "
          f"randomised model's {np.mean(shuffled.logits(images[..., None]).argmax(axis=1) == labels):.1%}")
    for method in methods_for(trained):
        started = time.perf_counter()
        maps = attribute(trained, images, method, targets)
        seconds = time.perf_counter() - started
        ratio, attributed, random = deletion_ratio(trained, images, maps, targets)
        random_maps = attribute(shuffled, images, method, targets)
        signed = np.mean([spearman(a, b) for a, b in zip(maps, random_maps)])
        absolute = np.mean([spearman(np.abs(a), np.abs(b)) for a, b in zip(maps, random_maps)])
        print(f"  {method:<22} deletion_ratio={ratio:.2f} (probability fall {attributed:.3f} attributed vs "
              f"{random:.3f} random; target >= 2: {'met' if ratio >= 2 else 'NOT met'})")
        print(f"  {'':<22} randomisation_rank_correlation={signed:.3f} (of absolute maps {absolute:.3f}; "
              f"target < 0.3: {'met' if signed < 0.3 else 'NOT met'}); {seconds / len(images) * 1000:.1f} ms a digit")


def make_canvas(digit: np.ndarray) -> np.ndarray:
    grey = np.asarray(Image.fromarray(digit).resize((CANVAS_SIZE, CANVAS_SIZE), Image.Resampling.BILINEAR))
    rgba = np.empty((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8)
    rgba[..., :3] = grey[..., None]
    rgba[..., 3] = 255
    return rgba


def percentiles(timings: list[float]) -> tuple[float, float]:
    values = np.asarray(timings) * 1000
    return float(np.median(values)), float(np.percentile(values, 95))


def latency(model: LogitModel, digits: np.ndarray, repetitions: int) -> None:
    canvases = [make_canvas(digit) for digit in digits[:20]]
    print(f"\nstroke -> overlay, server side, shipped model ({repetitions} drawings a method, 20 distinct, after 5 warm-up):")
    worst = 0.0
    for method in METHODS:
        timings = []
        for index in range(repetitions + 5):
            started = time.perf_counter()
            image = canvas_to_input(canvases[index % len(canvases)], "black")
            attribution = explain(model, image, method)
            png = io.BytesIO()
            Image.fromarray(attribution_overlay(image, attribution.values)).save(png, format="PNG")
            if index >= 5:
                timings.append(time.perf_counter() - started)
        median, p95 = percentiles(timings)
        worst = max(worst, p95)
        print(f"  {method:<22} median {median:7.1f} ms   p95 {p95:7.1f} ms")
    print(f"overlay_p95_ms={worst:.1f} (target <= 500 in the browser; this is the server's share)")


def gradient_source(model: LogitModel, digits: np.ndarray, repetitions: int) -> None:
    import tensorflow as tf

    keras_model = load_pretrained_model()
    last = keras_model.layers[-1]
    head = keras_model.layers[:-1]

    @tf.function(input_signature=[tf.TensorSpec((None, 28, 28, 1), tf.float32), tf.TensorSpec((None,), tf.int32)])
    def tensorflow_gradient(x, targets):
        with tf.GradientTape() as tape:
            tape.watch(x)
            h = x
            for layer in head:
                h = layer(h, training=False)
            logits = tf.matmul(h, last.kernel) + last.bias
            chosen = tf.reduce_sum(logits * tf.one_hot(targets, 10))
        return tape.gradient(chosen, x)

    steps = STEPS
    alphas = ((np.arange(steps, dtype=np.float32) + 0.5) / steps)[:, None, None, None]
    timings = {"numpy": [], "numpy_threaded": [], "tensorflow": []}
    for index in range(repetitions + 5):
        image = digits[index % len(digits)].astype(np.float32)[None, ..., None] / 255.0
        path = alphas * image
        targets = np.full(steps, int(model.logits(image).argmax()))
        for name in timings:
            started = time.perf_counter()
            if name == "numpy":
                with one_blas_thread():  # as the pages run it
                    gradient = model.gradients(path, targets).input_gradient
            elif name == "numpy_threaded":
                gradient = model.gradients(path, targets).input_gradient
            else:
                gradient = tensorflow_gradient(tf.constant(path), tf.constant(targets, tf.int32)).numpy()
            seconds = time.perf_counter() - started
            if index >= 5:
                timings[name].append(seconds)
        if index == 0:
            numpy_gradient = model.gradients(path, targets).input_gradient
            print(f"\nNumPy vs TensorFlow gradients on the same weights: largest difference "
                  f"{np.abs(numpy_gradient - gradient).max() / np.abs(gradient).max():.1e} of the largest gradient")
    print(f"one integrated-gradients map ({steps} path points, forward + backward), shipped model, {repetitions} digits:")
    for name, label in (("numpy", "NumPy backward pass, one BLAS thread (the web server's)"),
                        ("numpy_threaded", "NumPy backward pass, OpenBLAS's default threads"),
                        ("tensorflow", "tf.GradientTape, traced, in-process (a worker's lower bound)")):
        median, p95 = percentiles(timings[name])
        print(f"  {label:<62} median {median:6.1f} ms   p95 {p95:6.1f} ms")
    print(f"numpy_ig_ms={percentiles(timings['numpy'])[0]:.1f} tensorflow_ig_ms={percentiles(timings['tensorflow'])[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=200, help="test digits for the deletion and randomisation tests")
    parser.add_argument("--repetitions", type=int, default=60, help="drawings timed per method")
    add_pause_argument(parser)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, {cpu_model()}, load average "
          + " / ".join(f"{value:.2f}" for value in os.getloadavg()) + " (1 / 5 / 15 min)")
    if args.pause_pid:
        print(paused_line(args.pause_pid))
    mnist = load_mnist()
    images = mnist.x_test[: args.digits].astype(np.float32) / 255.0
    labels = mnist.y_test[: args.digits]
    started = time.perf_counter()
    lenet5 = train_lenet5(mnist)
    print(f"lenet5 trained here in {time.perf_counter() - started:.1f} s (Adam, 2 epochs on 12,000 images)")
    shipped = load_pretrained_numpy_model()
    with paused(args.pause_pid):
        sanity("shipped model (fast)", shipped, images, labels)
        sanity("lenet5", lenet5, images, labels)
        latency(LogitModel(shipped), mnist.x_test, args.repetitions)
        gradient_source(LogitModel(shipped), mnist.x_test[:50], args.repetitions)
    print("load average at the end " + " / ".join(f"{value:.2f}" for value in os.getloadavg()))


if __name__ == "__main__":
    main()
