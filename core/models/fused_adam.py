"""Adam whose update of each variable is one fused TensorFlow kernel instead of ~18 small ops.

Keras 3's `Adam.update_step` is written in backend-neutral `keras.ops`: casts, powers, two
moment updates and the weight update, ~18 graph nodes per variable. On the TensorFlow backend
each node costs tracing time before the first batch and executor time on every step, which is
a visible share of a small model's step on a 2-core CPU (profiled for the `fast` model: Adam was
2.8 of 25 thread-ms a step, and ~0.45 s of the ~2 s spent tracing). TensorFlow ships the same
arithmetic as one kernel, `ResourceApplyAdam`. The update is Keras's formula exactly:

    m ← β₁·m + (1-β₁)·g,   v ← β₂·v + (1-β₂)·g²,
    w ← w - lr·√(1-β₂ᵗ)/(1-β₁ᵗ) · m / (√v + ε)

so results match `keras.optimizers.Adam` up to float rounding (tests/test_fused_adam.py). Sparse
gradients, AMSGrad and other backends fall back to Keras's own code.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="mnist_lab")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` with `update_step` done by TensorFlow's `ResourceApplyAdam`."""

    def update_step(self, gradient, variable, learning_rate):
        import tensorflow as tf

        if keras.backend.backend() != "tensorflow" or self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)

        def constant(value):
            return tf.cast(value, dtype)

        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable), m=_handle(m), v=_handle(v),
            beta1_power=tf.pow(constant(self.beta_1), step), beta2_power=tf.pow(constant(self.beta_2), step),
            lr=constant(learning_rate), beta1=constant(self.beta_1), beta2=constant(self.beta_2),
            epsilon=constant(self.epsilon), grad=tf.cast(gradient, dtype), use_locking=False,
        )


def _handle(variable):
    """The resource handle of a Keras variable or of the `tf.Variable` Keras hands the optimizer."""
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle
