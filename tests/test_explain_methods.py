"""Attribution methods (`core.explain`) against oracles that need no TensorFlow.

- integrated gradients' completeness: the map sums to the target logit's rise from the black
  baseline, within 5% (the shipped model, and a sigmoid network);
- occlusion on a hand-made model whose output reads one pixel finds that pixel;
- Grad-CAM on a hand-made convolution read at one position lights that position's pixel;
- the NumPy backward pass against finite differences of the NumPy forward pass;
- the overlay's colours and the API's messages.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.data.mnist import load_mnist
from core.explain.attribution import METHODS, attribute, explain, methods_for
from core.models.blas_threads import one_blas_thread, openblas_thread_functions
from core.explain.grad_cam import grad_cam
from core.explain.integrated_gradients import integrated_gradients
from core.explain.logit_gradients import LogitModel
from core.explain.occlusion import occlusion
from core.figures.attribution_overlay import AGAINST_COLOUR, FOR_COLOUR, attribution_overlay
from core.models.numpy_model import NumpyModel
from core.models.numpy_model_layers import LayerSpec, UnsupportedModel
from core.runs.pretrained import load_pretrained_numpy_model

READ_PIXEL = (13, 9)  # the one pixel the hand-made model reads
READ_CLASS = 3


@pytest.fixture(scope="module")
def shipped() -> LogitModel:
    return LogitModel(load_pretrained_numpy_model())


@pytest.fixture(scope="module")
def twenty_digits() -> np.ndarray:
    return load_mnist().x_test[:20].astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    mnist = load_mnist()
    return mnist.x_test[:12].astype(np.float32) / 255.0, mnist.y_test[:12]


def dense(name: str, kernel: np.ndarray, bias: np.ndarray | None = None, activation: str = "linear") -> LayerSpec:
    weights = {"kernel": kernel.astype(np.float32)}
    if bias is not None:
        weights["bias"] = bias.astype(np.float32)
    return LayerSpec("Dense", name, {"activation": activation}, weights)


def pixel_reader() -> NumpyModel:
    """784 → 10 softmax whose class `READ_CLASS` logit is 5 × the pixel `READ_PIXEL`, every other logit 0."""
    kernel = np.zeros((28 * 28, 10), np.float32)
    kernel[READ_PIXEL[0] * 28 + READ_PIXEL[1], READ_CLASS] = 5.0
    return NumpyModel([LayerSpec("Flatten", "flatten", {}, {}), dense("out", kernel, activation="softmax")], (28, 28, 1))


def sigmoid_network(seed: int = 0) -> NumpyModel:
    """784 → 32 sigmoid → 10 softmax with seeded random weights (smooth: no ReLU kinks)."""
    rng = np.random.default_rng(seed)
    return NumpyModel([
        LayerSpec("Flatten", "flatten", {}, {}),
        dense("hidden", rng.normal(0, 0.2, (784, 32)), rng.normal(0, 0.1, 32), "sigmoid"),
        dense("out", rng.normal(0, 1.0, (32, 10)), rng.normal(0, 0.1, 10), "softmax"),
    ], (28, 28, 1))


def test_logits_are_the_models_output_before_its_softmax(shipped, digits):
    images, _ = digits
    logits = shipped.logits(images[..., None])
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(exp / exp.sum(axis=1, keepdims=True), shipped.model(images[..., None]), atol=1e-5)


@pytest.mark.parametrize("layers", ["shipped", "sigmoid"])
def test_the_backward_pass_matches_finite_differences(shipped, digits, layers):
    model = shipped if layers == "shipped" else LogitModel(sigmoid_network())
    image = digits[0][1][None, ..., None].astype(np.float64)
    target = 2
    gradient = model.gradients(image.astype(np.float32), np.array([target])).input_gradient[0, ..., 0]
    rng = np.random.default_rng(1)
    ink = np.argwhere(digits[0][1] > 0.3)
    for row, column in ink[rng.choice(len(ink), 6, replace=False)]:  # pixels where the network is not flat
        step = 2e-3  # small: a larger step crosses ReLU kinks (0.01 did, by 10% on one pixel)
        up, down = image.copy(), image.copy()
        up[0, row, column, 0] += step
        down[0, row, column, 0] -= step
        numeric = (model.logits(up)[0, target] - model.logits(down)[0, target]) / (2 * step)
        assert gradient[row, column] == pytest.approx(numeric, rel=0.05, abs=0.02 * np.abs(gradient).max())


def test_integrated_gradients_sum_to_the_logits_rise_from_black(shipped, twenty_digits):
    """On the shipped (ReLU) model, toward each digit's predicted class: its logit rises by 2 to 25 from black."""
    logits = shipped.logits(twenty_digits[..., None])
    targets = logits.argmax(axis=1)
    maps = integrated_gradients(shipped, twenty_digits, targets)
    black = shipped.logits(np.zeros((1, 28, 28, 1), np.float32))[0]
    rise = logits[np.arange(len(twenty_digits)), targets] - black[targets]
    assert np.all(np.abs(rise) > 1.0), "the check needs logits that move"
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), rise, rtol=0.05)
    assert np.all(maps[twenty_digits == 0] == 0), "a black pixel equals the baseline: it gets nothing"


def test_integrated_gradients_sum_to_the_logits_rise_on_a_sigmoid_network(digits):
    """Any target, the predicted one or not (a smooth network: the path's sum converges fast)."""
    model = LogitModel(sigmoid_network())
    images, _ = digits
    targets = np.arange(len(images)) % 10
    maps = integrated_gradients(model, images, targets)
    rise = model.logits(images[..., None])[np.arange(len(images)), targets] \
        - model.logits(np.zeros((1, 28, 28, 1), np.float32))[0, targets]
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), rise, rtol=0.05, atol=1e-3)


def test_occlusion_finds_the_one_pixel_a_model_reads():
    model = LogitModel(pixel_reader())
    image = np.random.default_rng(0).uniform(0.2, 1.0, (1, 28, 28)).astype(np.float32)  # ink everywhere
    exact = occlusion(model, image, np.array([READ_CLASS]), patch_size=1, stride=1)[0]
    assert tuple(np.argwhere(exact != 0)[0]) == READ_PIXEL and np.count_nonzero(exact) == 1
    assert exact[READ_PIXEL] == pytest.approx(5.0 * image[0][READ_PIXEL], rel=1e-5)
    default = occlusion(model, image, np.array([READ_CLASS]))[0]  # the pages' 4x4 patches, 2 apart
    assert default[READ_PIXEL] == pytest.approx(default.max()) and default.max() > 0
    rows, columns = np.nonzero(default)
    assert np.abs(rows - READ_PIXEL[0]).max() < 4 and np.abs(columns - READ_PIXEL[1]).max() < 4, \
        "only patches over the read pixel change the logit"
    other = occlusion(model, image, np.array([(READ_CLASS + 1) % 10]))[0]
    assert np.all(other == 0), "a class that reads nothing has no evidence anywhere"


def test_grad_cam_places_a_feature_over_the_input_pixel_it_comes_from():
    """A 5x5 valid convolution whose first channel passes its centre pixel through, all of that channel read
    for one class: on an image with one lit pixel, the map peaks on that pixel (its output position's
    receptive field is centred there, two pixels up and left of the output's own index)."""
    kernel = np.zeros((5, 5, 1, 2), np.float32)
    kernel[2, 2, 0, 0] = 1.0  # channel 0 passes the centre pixel; channel 1 stays zero
    conv = LayerSpec("Conv2D", "conv", {"strides": [1, 1], "padding": "valid", "dilation_rate": [1, 1], "groups": 1,
                                        "activation": "relu"}, {"kernel": kernel, "bias": np.zeros(2, np.float32)})
    read = np.zeros((24, 24, 2, 10), np.float32)
    read[:, :, 0, READ_CLASS] = 1.0
    model = LogitModel(NumpyModel([conv, LayerSpec("Flatten", "flatten", {}, {}),
                                   dense("out", read.reshape(-1, 10), activation="softmax")], (28, 28, 1)))
    for lit in [(12, 8), (3, 21)]:
        image = np.zeros((1, 28, 28), np.float32)
        image[0][lit] = 1.0
        cam = grad_cam(model, image, np.array([READ_CLASS]))[0]
        assert np.unravel_index(cam.argmax(), cam.shape) == lit
        assert np.all(cam >= 0) and cam[lit[0], (lit[1] + 3) % 28] == 0


def test_grad_cam_on_the_shipped_model_is_zero_or_positive_and_depends_on_the_target(shipped, digits):
    images, labels = digits
    maps = attribute(shipped, images, "grad_cam")
    assert maps.shape == (12, 28, 28) and np.all(maps >= 0)
    assert sum(values.max() > 0 for values in maps) >= 10, "the predicted class has features somewhere"
    four = attribute(shipped, images, "grad_cam", np.full(len(images), 4))
    assert not np.allclose(four, maps), "another target weighs the feature maps otherwise"


def test_every_method_explains_a_drawing_towards_any_digit(shipped, digits):
    image = digits[0][0]
    assert methods_for(shipped) == list(METHODS)
    for method in METHODS:
        predicted = explain(shipped, image, method)
        four = explain(shipped, image, method, target=4)
        assert predicted.target == predicted.predicted == digits[1][0]
        assert four.target == 4 and four.predicted == predicted.predicted
        assert four.values.shape == (28, 28) and not np.allclose(four.values, predicted.values)
        assert "4" in four.legend


def test_grad_cam_is_not_offered_for_a_model_without_convolutions(digits):
    model = LogitModel(sigmoid_network())
    assert "grad_cam" not in methods_for(model)
    with pytest.raises(ValueError, match="method='grad_cam'"):
        attribute(model, digits[0][:1], "grad_cam")
    with pytest.raises(UnsupportedModel, match="no Conv2D"):
        grad_cam(model, digits[0][:1], np.array([0]))


def test_bad_arguments_are_named(shipped, digits):
    with pytest.raises(ValueError, match="`method`.*method='saliency'"):
        explain(shipped, digits[0][0], "saliency")
    with pytest.raises(ValueError, match="`target` must be a digit.*target=10"):
        explain(shipped, digits[0][0], "occlusion", target=10)
    with pytest.raises(ValueError, match="image.shape=\\(28, 27\\)"):
        explain(shipped, np.zeros((28, 27)), "occlusion")
    with pytest.raises(ValueError, match="`patch_size`"):
        occlusion(shipped, digits[0][:1], np.array([0]), patch_size=0)


def test_the_overlay_draws_evidence_for_in_red_and_against_in_blue(digits):
    image = digits[0][0]
    values = np.zeros((28, 28), np.float32)
    values[5, 5], values[20, 20] = 2.0, -2.0
    picture = attribution_overlay(image, values, zoom=3)
    assert picture.shape == (84, 84, 3) and picture.dtype == np.uint8
    red, blue, plain = picture[5 * 3, 5 * 3].astype(int), picture[20 * 3, 20 * 3].astype(int), picture[0, 0].astype(int)
    assert red[0] > red[2] + 100 and np.abs(red - FOR_COLOUR).max() < 40
    assert blue[2] > blue[0] + 100 and np.abs(blue - AGAINST_COLOUR).max() < 40
    assert plain[0] == plain[1] == plain[2], "no evidence: the digit in grey"
    with pytest.raises(ValueError, match="values.shape=\\(27, 28\\)"):
        attribution_overlay(image, values[1:])


def test_attribution_runs_on_one_blas_thread_and_puts_the_count_back():
    functions = openblas_thread_functions()
    assert functions is not None, "NumPy's wheels ship OpenBLAS; its thread functions were not found"
    get_threads, _ = functions
    before = get_threads()
    with one_blas_thread():
        assert get_threads() == 1
        with one_blas_thread():  # another session's attribution at the same time
            assert get_threads() == 1
        assert get_threads() == 1, "the inner block's end leaves the outer one on one thread"
    assert get_threads() == before
