"""Why a model gave its answer: attribution maps over the 28×28 input, computed in NumPy.

- `layer_gradients.py`: each NumPy layer kind's forward step that keeps what its backward step
  needs, and that backward step (the chain rule, layer by layer);
- `logit_gradients.py`: a `NumpyModel`'s logits (before its final softmax) and their gradient
  with respect to the input, and to the last convolution's output (for Grad-CAM);
- `occlusion.py`: occlusion sensitivity (cover a patch with black, see the target's logit fall);
- `integrated_gradients.py`: integrated gradients from a black image;
- `grad_cam.py`: Grad-CAM over the last convolution, for the conv models;
- `attribution.py`: the methods by name, what their colours mean, and one call for a page, on one
  BLAS thread (`core.models.blas_threads`: 4x less CPU on a busy machine).

The web server runs all of it: no TensorFlow (the backward pass is checked against
`tf.GradientTape` in `tests/test_explain_gradients.py`).
May import: core.data, core.models.
"""
