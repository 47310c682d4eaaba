"""The models themselves: Keras builders for the zoo, the NumPy models, and the NumPy forward pass.

- `keras_models.py`: one builder per zoo model, following its write-up (a new model's
  architecture goes here; its name and preset go in `core.config.zoo`);
- `numpy_logreg.py`: write-up 001's pure-NumPy logistic regression;
- `numpy_model.py`: a trained model saved as arrays (`*.numpy.npz`), loaded and run in NumPy
  without Keras or TensorFlow (what the web server predicts with);
- `numpy_model_layers.py`: each layer kind's NumPy computation, built from its saved config
  and weights (no Keras either);
- `numpy_forward.py`: a trained Keras Sequential model translated into a `NumpyModel`, and
  checked against Keras (needs a Keras model; runs where training runs);
- `model_size.py`: a config's model counted without building it: parameters, arithmetic and
  activations per image (what the time and memory estimates scale by);
- `penultimate.py`: a model's penultimate activations (its features) and logits, in NumPy or Keras;
- `blas_threads.py`: OpenBLAS on one thread while a block runs (attribution's small matmuls, the
  robustness sweep's threads);
- `fused_adam.py`, `one_cycle.py`, `layer_names.py`, `seeding.py`: the optimizer, schedule,
  layer naming and seeding the builders use.

May import: core.config, core.data.
"""
