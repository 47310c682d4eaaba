"""Whether an image is a digit at all: distances in a model's feature space, fitted on real digits.

- `signals.py`: the measured signals, each larger for less digit-like images: the Mahalanobis
  distance of the penultimate activations to the nearest class mean, the energy score, and one
  minus the largest probability;
- `digit_statistics.py`: `DigitStatistics`, a model's class means, shared covariance and the
  threshold chosen on digits it never trained on, saved with a run (`novelty.npz`), and the
  verdict on one image ("that does not look like a digit", with its score).

May import: core.config, core.data, core.models.
"""
