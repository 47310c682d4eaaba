"""Server-side latency of one live Draw prediction: canvas RGBA → 28×28 input → probabilities.

Run: `python bench/sketch_latency.py [--repetitions 1000]`. Uses the shipped model
(`pretrained/mnist_fast.keras`) through `core.drawing.live_prediction.DigitPredictor` (the Draw page's
own path: the model's layers in NumPy, checked against the model), on 280×280 RGBA canvases made
from real MNIST test digits (upscaled, white on black, as the Draw page's canvas sends them).
For comparison it also times TensorFlow's own calls of the same model: a traced `tf.function`,
an eager `model(x)` and `model.predict`. Prints the machine's load, then per-stage figures, then
`model_call_p95_ms=<p95 of the model call alone>` and, as its last line, `p95_ms=<p95 of the
whole path>`. Targets: whole path ≤ 20 ms, model call ≤ 2 ms. `--pause-pid PID` stops another
process (a background benchmark) with SIGSTOP while timing and resumes it after.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import core  # noqa: E402,F401  (oneDNN on before TensorFlow is imported)
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from core.data.mnist import load_mnist  # noqa: E402
from core.drawing.live_prediction import DigitPredictor  # noqa: E402
from core.drawing.preprocess import canvas_to_input  # noqa: E402
from core.runs.pretrained import load_pretrained_model  # noqa: E402
from shared_machine import add_pause_argument, paused, paused_line  # noqa: E402

CANVAS_SIZE = 280
CANVASES = 100  # distinct drawings, cycled through
WARM_UP = 50


def make_canvas(digit: np.ndarray) -> np.ndarray:
    """An MNIST digit as the Draw page's canvas returns it: uint8 (280, 280, 4), white on black."""
    grey = np.asarray(Image.fromarray(digit).resize((CANVAS_SIZE, CANVAS_SIZE), Image.Resampling.BILINEAR))
    rgba = np.empty((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8)
    rgba[..., :3] = grey[..., None]
    rgba[..., 3] = 255
    return rgba


def milliseconds(timings: list[float]) -> str:
    values = np.asarray(timings) * 1000
    return (f"median {np.median(values):7.3f} ms   p95 {np.percentile(values, 95):7.3f} ms   "
            f"p99 {np.percentile(values, 99):7.3f} ms   max {values.max():7.3f} ms")


def timed(function, argument) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(argument)
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=1000)
    add_pause_argument(parser)
    args = parser.parse_args()
    with paused(args.pause_pid):
        if args.pause_pid:
            print(paused_line(args.pause_pid))
        return measure(args.repetitions)


def measure(repetitions: int) -> int:
    import tensorflow as tf

    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1 / 5 / 15 min)")
    mnist = load_mnist()
    canvases = [make_canvas(digit) for digit in mnist.x_test[:CANVASES]]
    labels = mnist.y_test[:CANVASES]
    model = load_pretrained_model()
    predictor = DigitPredictor(model)
    compiled = tf.function(lambda x: model(x, training=False),
                           input_signature=[tf.TensorSpec((None, 28, 28, 1), tf.float32)])

    for index in range(WARM_UP):
        predictor.probabilities(canvas_to_input(canvases[index % CANVASES], "black"))
        model(canvas_to_input(canvases[index % CANVASES], "black")[None, :, :, None], training=False)
        compiled(canvas_to_input(canvases[index % CANVASES], "black")[None, :, :, None])

    total, preprocessing, model_call, compiled_call, eager_call, right = [], [], [], [], [], 0
    total_cpu, model_call_cpu = [], []
    for repetition in range(repetitions):
        canvas, label = canvases[repetition % CANVASES], labels[repetition % CANVASES]
        started, started_cpu = time.perf_counter(), time.process_time()
        image = canvas_to_input(canvas, "black")
        probabilities = predictor.probabilities(image)
        total.append(time.perf_counter() - started)
        total_cpu.append(time.process_time() - started_cpu)
        right += int(probabilities.argmax() == label)
        preprocessing.append(timed(lambda c: canvas_to_input(c, "black"), canvas)[0])
        started_cpu = time.process_time()
        model_call.append(timed(predictor.probabilities, image)[0])
        model_call_cpu.append(time.process_time() - started_cpu)
        compiled_call.append(timed(lambda x: compiled(x[None, :, :, None]).numpy(), image)[0])
        eager_call.append(timed(lambda x: model(x[None, :, :, None], training=False).numpy(), image)[0])
    predict_call = [timed(lambda x: model.predict(x[None, :, :, None], verbose=0), image)[0] for _ in range(20)]
    load = os.getloadavg()

    print(f"{repetitions} repetitions after {WARM_UP} warm-up calls, {CANVASES} distinct MNIST test digits "
          f"drawn into {CANVAS_SIZE}x{CANVAS_SIZE} RGBA canvases; {right / repetitions:.1%} classified right")
    print(f"model call: DigitPredictor with backend={predictor.backend!r}"
          + (f" (fallback: {predictor.fallback_reason})" if predictor.fallback_reason else ""))
    print("wall-clock time per call:")
    print(f"  whole path (canvas_to_input + model call):          {milliseconds(total)}")
    print(f"  canvas_to_input alone:                              {milliseconds(preprocessing)}")
    print(f"  model call alone (DigitPredictor.probabilities):    {milliseconds(model_call)}")
    print(f"  for comparison, traced tf.function of the model:    {milliseconds(compiled_call)}")
    print(f"  for comparison, eager model(x, training=False):     {milliseconds(eager_call)}")
    print(f"  for comparison, model.predict(x) (20 calls):        {milliseconds(predict_call)}")
    print("CPU time of this process per call (all its threads; less sensitive to other processes' load):")
    print(f"  whole path:                                         {milliseconds(total_cpu)}")
    print(f"  model call alone:                                   {milliseconds(model_call_cpu)}")
    print(f"load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
          + ("  (busy machine: other processes inflate the wall-clock figures)" if load[0] > (os.cpu_count() or 1) else ""))
    print(f"model_call_p95_ms={np.percentile(np.asarray(model_call) * 1000, 95):.3f}")
    print(f"p95_ms={np.percentile(np.asarray(total) * 1000, 95):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
