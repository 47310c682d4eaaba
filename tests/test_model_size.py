"""The layer-by-layer count of a zoo model, against Keras's own count of the model it builds."""

import pytest

from core.config.train_config import preset_config
from core.models.model_size import model_size, training_flops, weight_copies

KERAS_MODELS = ("softmax", "mlp", "cnn", "cnn_deep", "lenet5", "fast")


@pytest.mark.parametrize("model", KERAS_MODELS)
@pytest.mark.parametrize("overrides", [{}, {"hidden_units": 64, "dropout": 0.25}, {"hidden_units": 4096, "pixel_scale": "raw"}],
                         ids=["preset", "64-units-dropout", "4096-units-raw"])
def test_parameters_match_the_built_keras_model(model, overrides):
    from core.models.keras_models import build_keras_model

    config = preset_config(model, **overrides)
    assert model_size(config).parameters == build_keras_model(config, steps_per_epoch=1).count_params()


def test_the_fast_models_arithmetic_is_what_its_docstring_says():
    assert training_flops(preset_config("fast")) / 3 == pytest.approx(2.4e6, rel=0.02)  # "near 2.4 MFLOP an image"


def test_wider_hidden_layers_count_more_of_everything():
    small, wide = preset_config("mlp"), preset_config("mlp", hidden_units=4096)
    assert model_size(wide).multiply_adds / model_size(small).multiply_adds == pytest.approx(74.5, rel=0.01)
    assert model_size(wide).activations > model_size(small).activations
    assert weight_copies(preset_config("mlp", optimizer="adam")) == 6 and weight_copies(preset_config("mlp", optimizer="sgd")) == 4
