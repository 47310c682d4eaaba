"""Whether an image is a digit at all: distances in a model's feature space and in pixels, fitted on real digits.

- `signals.py`: the measured signals, each larger for less digit-like images: the distance of the
  penultimate activations to the nearest training digits', the Mahalanobis distance to the nearest class
  mean, the energy score, one minus the largest probability, the pooled conv features' share unlike
  digits', and the pixels' distance to the nearest training digit;
- `combined_score.py`: four of them, each in units of real digits' spread, added up (a run's default);
- `ink_statistics.py`: strokes, holes, aspect and ink share of a 28x28 input;
- `outlier_detector.py`: a tiny network over the contributions, the features and the ink statistics, fitted on
  synthetic non-digits (the shipped model's signal, and a run's when `core.runs.run_detector` fitted one);
- `drawn_images.py`: MNIST digits as Draw would make them (redrawn, traced with its brush, in pairs): what
  the detector is fitted on besides the digits themselves;
- `digit_statistics.py`: `DigitStatistics`, what the signals need from a model's training digits and the
  threshold chosen on digits it never trained on, saved with a run (`novelty.npz`), and the verdict on one
  image ("that does not look like a digit", with its score and the signal that added most).

May import: core.config, core.data, core.models, core.drawing.
"""
