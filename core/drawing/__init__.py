"""From a canvas sketch to a live prediction: canvas preprocessing and the fast model call.

- `preprocess.py`: a canvas drawing turned into an MNIST-like 28×28 input, as MNIST's own
  digits were made;
- `live_prediction.py`: classify one drawing at interactive speed with a NumPy model (read from
  its saved NumPy file, or translated from a Keras model and checked against it).

May import: core.data, core.models.
"""
