"""Give a model's layers names that depend only on the model, not on Keras's naming counters."""

from __future__ import annotations

import re
from collections import Counter

from keras import layers as keras_layers
from keras.src.utils.naming import to_snake_case


def name_layers_in_order(stack: list) -> None:
    """Rename the auto-named layers of `stack` as a fresh Keras session would: `dense`, `dense_1`, ...

    Keras numbers auto-named layers with per-thread counters; in a long-lived server that trains
    on many threads those counters have been seen to hand out a name twice within one model
    ("All layers added to a Sequential model should have unique names"). Numbering by position
    in the model is deterministic and unique. Layers given a name on purpose keep it.

    Args:
        stack: the model's `keras.Input` tensor and layers, in order; renamed in place.
    """
    seen: Counter[str] = Counter()
    for layer in stack:
        if not isinstance(layer, keras_layers.Layer):
            continue  # the keras.Input tensor
        prefix = to_snake_case(type(layer).__name__)
        if not re.fullmatch(rf"{prefix}(_\d+)?", layer.name):
            continue
        layer.name = prefix if seen[prefix] == 0 else f"{prefix}_{seen[prefix]}"
        seen[prefix] += 1
