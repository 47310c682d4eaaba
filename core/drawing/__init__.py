"""From a canvas sketch to a live prediction: canvas preprocessing and the fast model call.

- `preprocess.py`: a canvas drawing turned into an MNIST-like 28×28 input, as MNIST's own
  digits were made;
- `live_prediction.py`: classify one drawing at interactive speed (NumPy forward pass, checked
  against the Keras model).

May import: core.data, core.models.
"""
