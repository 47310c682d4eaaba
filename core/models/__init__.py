"""The models themselves: Keras builders for the zoo, the NumPy models, and the NumPy forward pass.

- `keras_models.py`: one builder per zoo model, following its write-up (a new model's
  architecture goes here; its name and preset go in `core.config.zoo`);
- `numpy_logreg.py`: write-up 001's pure-NumPy logistic regression;
- `numpy_forward.py`: a trained Sequential model's inference translated into NumPy;
- `fused_adam.py`, `one_cycle.py`, `layer_names.py`: the optimizer, schedule and layer naming
  the builders use.

May import: core.config, core.data.
"""
