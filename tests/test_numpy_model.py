"""The NumPy model file: written beside every `model.keras`, read back without pickles, equal to Keras."""

import json
import os
from pathlib import Path

os.environ.setdefault("MNIST_PATH", str(Path(__file__).resolve().parents[2] / "shared/data/mnist.npz"))

import numpy as np
import pytest

import core  # noqa: F401  (before anything imports TensorFlow)
from core.config.train_config import preset_config
from core.config.zoo import MODEL_NAMES
from core.data.splits import to_model_input
from core.models.numpy_model import NumpyModel, NumpyModelError
from core.runs.store import (
    MODEL_FILE, NO_NUMPY_MODEL_FILE, NUMPY_MODEL_FILE, PREDICTIONS_FILE, RunError, load_numpy_model,
    load_numpy_model_file,
)

keras = pytest.importorskip("keras")

from core.drawing.live_prediction import DigitPredictor  # noqa: E402
from core.figures.network_view import conv_filters, dense_input_weights, feature_maps  # noqa: E402
from core.models.keras_models import build_keras_model  # noqa: E402
from core.models.numpy_forward import export_numpy_model  # noqa: E402
from core.runs.model_sources import model_sources, open_source_model, predictions_on_test_set  # noqa: E402
from core.runs.pretrained import (  # noqa: E402
    PRETRAINED_MODEL_PATH, PRETRAINED_NUMPY_MODEL_PATH, load_pretrained_model, load_pretrained_numpy_model,
)
from core.runs.run_writer import RunWriter  # noqa: E402

KERAS_ZOO = [name for name in MODEL_NAMES if name != "numpy_logreg"]  # numpy_logreg saves a softmax model
SMALL = {"mlp": 32, "cnn": 64, "cnn_deep": 64, "lenet5": 32, "fast": 32}  # hidden units: small, quick models


@pytest.fixture(scope="module")
def digits(mnist):
    return to_model_input(mnist.x_test[:32])  # (32, 28, 28, 1) in [0, 1]


def small_model(name: str, **changes):
    config = preset_config(name, **({"hidden_units": SMALL[name]} if name in SMALL else {}), **changes)
    return build_keras_model(config, steps_per_epoch=1)


def saved_and_loaded(model, folder: Path) -> NumpyModel:
    path = folder / NUMPY_MODEL_FILE
    export_numpy_model(model).save(path)
    return NumpyModel.load(path)


def keras_outputs(model, images):
    return keras.ops.convert_to_numpy(model(images, training=False))


# --- the file round trip equals Keras ----------------------------------------------------------


@pytest.mark.parametrize("name", KERAS_ZOO)
def test_every_zoo_model_saved_and_loaded_equals_keras(name, digits, tmp_path):
    model = small_model(name)
    loaded = saved_and_loaded(model, tmp_path)
    got = loaded(digits)
    assert got.dtype == np.float32 and got.shape == (32, 10)
    np.testing.assert_allclose(got, keras_outputs(model, digits), atol=1e-5)


@pytest.mark.parametrize("name", ["lenet5", "fast"])
def test_dropout_augmentation_and_raw_pixels_round_trip(name, digits, tmp_path):
    model = small_model(name, dropout=0.3, augment_shift=0.1, augment_rotation=10.0, augment_zoom=0.1,
                        pixel_scale="raw", activation="gelu")
    loaded = saved_and_loaded(model, tmp_path)
    assert "Dropout" not in [layer.class_name for layer in loaded.layers]  # identities are not saved
    np.testing.assert_allclose(loaded(digits), keras_outputs(model, digits), atol=1e-4)


def test_the_other_layer_kinds_round_trip(digits, tmp_path):
    normalization = keras.layers.Normalization()
    normalization.adapt(digits)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        normalization,
        keras.layers.Conv2D(8, 3, strides=2, padding="same"),
        keras.layers.ReLU(),
        keras.layers.MaxPooling2D(3, strides=2, padding="same"),
        keras.layers.AveragePooling2D(2, strides=1),
        keras.layers.BatchNormalization(),
        keras.layers.Reshape((-1,)),
        keras.layers.Dense(10),
        keras.layers.Softmax(),
    ])
    model.layers[5].moving_variance.assign(np.linspace(0.5, 2, 8))
    loaded = saved_and_loaded(model, tmp_path)
    np.testing.assert_allclose(loaded(digits), keras_outputs(model, digits), atol=1e-5)


def test_the_file_holds_a_json_spec_and_float32_arrays_only(tmp_path):
    loaded = saved_and_loaded(small_model("lenet5"), tmp_path)
    with np.load(tmp_path / NUMPY_MODEL_FILE, allow_pickle=False) as archive:
        spec = json.loads(str(archive["spec"]))
        arrays = {key: archive[key] for key in archive.files if key != "spec"}
    assert spec["format"] == "mnist-lab-numpy-model" and spec["version"] == 1
    assert spec["input_shape"] == [28, 28, 1] and spec["output_shape"] == [10]
    assert [layer["class_name"] for layer in spec["layers"]] == [layer.class_name for layer in loaded.layers]
    assert spec["layers"][0]["config"]["activation"] == "relu" and spec["layers"][0]["config"]["padding"] == "same"
    assert arrays and all(array.dtype == np.float32 for array in arrays.values())
    assert arrays["0.kernel"].shape == (5, 5, 1, 6)


def test_the_saved_weights_cannot_be_changed_by_a_reader(tmp_path):
    loaded = saved_and_loaded(small_model("softmax"), tmp_path)
    with pytest.raises(ValueError, match="read-only"):
        loaded.layers[-1].weights["kernel"][0, 0] = 1.0


def test_predict_in_batches_equals_one_call(digits, tmp_path):
    loaded = saved_and_loaded(small_model("fast"), tmp_path)
    np.testing.assert_array_equal(loaded.predict(digits, batch_size=5), np.concatenate([loaded(digits[i:i + 5]) for i in range(0, 32, 5)]))


# --- filters, feature maps and input weights from the file equal the Keras-based ones ----------


@pytest.mark.parametrize("name", ["lenet5", "fast", "cnn_deep"])
def test_filters_and_feature_maps_from_the_file_equal_keras(name, digits, tmp_path):
    model = small_model(name)
    loaded = saved_and_loaded(model, tmp_path)
    image = digits[3, :, :, 0]
    from_file, from_keras = conv_filters(loaded), conv_filters(model)
    assert [f.name for f in from_file] == [f.name for f in from_keras] and len(from_file) == 2
    for numpy_filters, keras_filters in zip(from_file, from_keras):
        np.testing.assert_array_equal(numpy_filters.filters, keras_filters.filters)
    maps_file, maps_keras = feature_maps(loaded, image), feature_maps(model, image)
    assert [m.name for m in maps_file] == [m.name for m in maps_keras]
    for numpy_maps, keras_maps in zip(maps_file, maps_keras):
        assert numpy_maps.maps.shape == keras_maps.maps.shape and numpy_maps.maps.dtype == np.float32
        np.testing.assert_allclose(numpy_maps.maps, keras_maps.maps, atol=1e-4)
    assert dense_input_weights(loaded) is None and dense_input_weights(model) is None


@pytest.mark.parametrize("name", ["softmax", "mlp"])
def test_dense_input_weights_from_the_file_equal_keras(name, digits, tmp_path):
    model = small_model(name)
    loaded = saved_and_loaded(model, tmp_path)
    assert conv_filters(loaded) == [] and feature_maps(loaded, digits[0, :, :, 0]) == []
    np.testing.assert_array_equal(dense_input_weights(loaded), dense_input_weights(model))


def test_a_predictor_from_the_file_equals_keras_predict(digits, tmp_path):
    model = small_model("lenet5")
    predictor = DigitPredictor(saved_and_loaded(model, tmp_path))
    assert predictor.backend == "numpy" and predictor.numpy_model is predictor.model
    np.testing.assert_allclose(predictor.probabilities_batch(digits), model.predict(digits, verbose=0), atol=1e-5)


# --- the run writer saves it; untranslatable models get a reason instead ----------------------


def test_the_run_writer_saves_a_checked_numpy_file_beside_the_keras_file(tmp_path, digits):
    model = small_model("fast")
    writer = RunWriter(preset_config("fast"), runs_dir=tmp_path, name="fast-run")
    writer.save_model(model)
    assert (writer.path / MODEL_FILE).is_file() and not (writer.path / NO_NUMPY_MODEL_FILE).exists()
    assert not [p for p in writer.path.iterdir() if p.name.startswith(".")]  # no temporary file left
    loaded = load_numpy_model("fast-run", tmp_path)
    np.testing.assert_allclose(loaded(digits), keras_outputs(model, digits), atol=1e-5)


def test_an_untranslatable_model_gets_a_reason_instead_and_is_loaded_with_keras(tmp_path, digits, mnist):
    inputs = keras.Input((28, 28, 1))
    functional = keras.Model(inputs, keras.layers.Dense(10, "softmax")(keras.layers.Flatten()(inputs)))
    writer = RunWriter(preset_config("softmax"), runs_dir=tmp_path, name="functional")
    writer.save_model(functional)
    assert not (writer.path / NUMPY_MODEL_FILE).exists()
    assert "Sequential" in (writer.path / NO_NUMPY_MODEL_FILE).read_text()
    (source,) = model_sources(tmp_path, pretrained_path=tmp_path / "none.keras")
    assert source.numpy_path is None
    assert source.tensorflow_note.startswith("This model is loaded with TensorFlow (slower first load): its layers could not be run in NumPy")
    assert "Sequential" in source.tensorflow_note
    model = open_source_model(source)
    np.testing.assert_allclose(keras_outputs(model, digits), keras_outputs(functional, digits), atol=1e-6)


def test_a_run_saved_before_numpy_files_is_loaded_with_keras_and_says_why(tmp_path, digits):
    model = small_model("softmax")
    writer = RunWriter(preset_config("softmax"), runs_dir=tmp_path, name="old-run")
    writer.save_model(model)
    (writer.path / NUMPY_MODEL_FILE).unlink()
    (source,) = model_sources(tmp_path, pretrained_path=tmp_path / "none.keras")
    assert source.numpy_path is None and "saved before runs kept a NumPy copy" in source.tensorflow_note
    assert not isinstance(open_source_model(source), NumpyModel)
    writer.save_model(model)  # the same run with its NumPy file: no note, a NumpyModel
    (source,) = model_sources(tmp_path, pretrained_path=tmp_path / "none.keras")
    assert source.tensorflow_note is None and isinstance(open_source_model(source), NumpyModel)


# --- refused files: links, corruption, pickles -------------------------------------------------


@pytest.fixture
def run_with_numpy_file(tmp_path):
    writer = RunWriter(preset_config("softmax"), runs_dir=tmp_path / "runs", name="victim")
    writer.save_model(small_model("softmax"))
    return tmp_path / "runs", writer.path / NUMPY_MODEL_FILE


def test_a_symlinked_numpy_file_is_refused(run_with_numpy_file, tmp_path):
    runs_dir, path = run_with_numpy_file
    outside = tmp_path / "outside.npz"
    path.rename(outside)  # a valid model file, outside the runs directory
    path.symlink_to(outside)
    with pytest.raises(RunError, match="symbolic link, which is never followed"):
        load_numpy_model("victim", runs_dir)
    (source,) = model_sources(runs_dir, pretrained_path=tmp_path / "none.keras")
    assert source.numpy_path is not None  # listed, so that opening it is refused, not silently bypassed
    with pytest.raises(RunError, match="symbolic link"):
        open_source_model(source)


@pytest.mark.parametrize("damage", ["random bytes", "cut in half", "empty", "not a zip"])
def test_a_corrupt_numpy_file_is_a_run_error_with_the_fix(run_with_numpy_file, damage):
    runs_dir, path = run_with_numpy_file
    data = path.read_bytes()
    path.write_bytes({"random bytes": os.urandom(4000), "cut in half": data[: len(data) // 2], "empty": b"",
                      "not a zip": b"\x93NUMPY not really"}[damage])
    with pytest.raises(RunError) as refused:
        load_numpy_model("victim", runs_dir)
    message = str(refused.value)
    assert message.startswith("Run 'victim': the NumPy model file model.numpy.npz is corrupt (")
    assert "Delete that file to load the model with TensorFlow instead, or delete the run and retrain." in message
    assert "Traceback" not in message


def rewrite(path: Path, change) -> None:
    """Rewrite a NumPy model file with `change(spec, arrays, dense)` applied; `dense` = the Dense layer's index."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    spec = json.loads(str(arrays.pop("spec")))
    dense = [layer["class_name"] for layer in spec["layers"]].index("Dense")
    change(spec, arrays, dense)
    np.savez(path, **{"spec": np.array(json.dumps(spec)), **arrays})


@pytest.mark.parametrize("change, problem", [
    (lambda spec, arrays, dense: spec.update(version=2), "format version 2; this code reads version 1"),
    (lambda spec, arrays, dense: spec.update(format="something else"), "not a mnist-lab-numpy-model file"),
    (lambda spec, arrays, dense: arrays.pop(f"{dense}.kernel"), "kernel' is missing"),
    (lambda spec, arrays, dense: arrays.update({f"{dense}.kernel": arrays[f"{dense}.kernel"][:100]}),
     "its layers do not fit together"),
    (lambda spec, arrays, dense: arrays.update({f"{dense}.kernel": arrays[f"{dense}.kernel"].astype(np.float64)}),
     "float64, not float32"),
    (lambda spec, arrays, dense: spec["layers"][dense].update(class_name="LSTM"), "of type LSTM has no NumPy translation"),
    (lambda spec, arrays, dense: spec.update(output_shape=[3]), "not the [3] it declares"),
    (lambda spec, arrays, dense: arrays.update(spec=np.array("{not json")), "its 'spec' text is not JSON"),
])
def test_a_damaged_numpy_file_names_what_is_wrong(run_with_numpy_file, change, problem):
    runs_dir, path = run_with_numpy_file
    rewrite(path, change)
    with pytest.raises(RunError, match="is corrupt") as refused:
        load_numpy_model("victim", runs_dir)
    assert problem in str(refused.value)


class Payload:
    """Unpickling this would run `os.mkdir(marker)`."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_a_numpy_file_with_a_pickled_object_is_refused_and_never_unpickled(run_with_numpy_file, tmp_path):
    runs_dir, path = run_with_numpy_file
    marker = tmp_path / "unpickled"
    rewrite(path, lambda spec, arrays, dense: arrays.update({f"{dense}.bias": np.array([Payload(str(marker))], dtype=object)}))
    with pytest.raises(RunError, match=r"is corrupt \(ValueError\)"):
        load_numpy_model("victim", runs_dir)
    assert not marker.exists()
    with np.load(path, allow_pickle=True) as archive:  # the oracle: a pickle-allowing reader runs it
        bias_key = next(key for key in archive.files if key.endswith(".bias"))
        archive[bias_key]
    assert marker.exists()


def test_a_missing_numpy_file_says_the_model_can_still_be_loaded_with_tensorflow(tmp_path):
    with pytest.raises(RunError, match="has no NumPy model file .*reload the page to load its model with TensorFlow"):
        load_numpy_model_file(tmp_path / NUMPY_MODEL_FILE, "Run 'x'")


def test_a_corrupt_shipped_numpy_file_says_how_to_recreate_it(tmp_path):
    shipped = tmp_path / "mnist_fast.numpy.npz"
    shipped.write_bytes(b"PK\x03\x04 not a zip archive")
    with pytest.raises(RunError) as refused:
        load_pretrained_numpy_model(shipped)
    assert str(refused.value).startswith("The shipped pretrained model: the NumPy model file mnist_fast.numpy.npz is corrupt")
    assert str(refused.value).endswith("Recreate it with `python scripts/train_pretrained.py --export-only`.")


# --- the shipped model ships its NumPy file ----------------------------------------------------


def test_the_shipped_numpy_file_is_the_shipped_keras_model(mnist):
    """It was exported from today's `.keras` file (rerun `scripts/train_pretrained.py --export-only` if not)."""
    images = to_model_input(mnist.x_test[:1000])
    keras_model, numpy_model = load_pretrained_model(), load_pretrained_numpy_model()
    np.testing.assert_allclose(numpy_model(images), keras_model.predict(images, batch_size=500, verbose=0), atol=1e-5)
    assert PRETRAINED_NUMPY_MODEL_PATH.stat().st_size < 1_000_000
    assert PRETRAINED_NUMPY_MODEL_PATH.parent == PRETRAINED_MODEL_PATH.parent


def test_the_shipped_models_test_predictions_are_computed_in_numpy_like_keras(mnist, tmp_path):
    (source,) = model_sources(tmp_path / "no-runs")
    assert source.is_pretrained and source.numpy_path == str(PRETRAINED_NUMPY_MODEL_PATH) and source.tensorflow_note is None
    y_true, probabilities = predictions_on_test_set(source, mnist)
    np.testing.assert_array_equal(y_true, mnist.y_test)
    expected = load_pretrained_model().predict(to_model_input(mnist.x_test), batch_size=1000, verbose=0)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert float((probabilities.argmax(axis=1) == y_true).mean()) >= 0.98


def test_a_shipped_model_without_its_numpy_file_is_loaded_with_keras_and_says_so(tmp_path, digits):
    shipped = tmp_path / "shipped.keras"
    small_model("softmax").save(shipped)
    (source,) = model_sources(tmp_path / "no-runs", pretrained_path=shipped)
    assert source.numpy_path is None and "shipped.numpy.npz is missing" in source.tensorflow_note
    assert not isinstance(open_source_model(source), NumpyModel)


def test_a_run_whose_predictions_are_missing_is_predicted_from_its_numpy_file(tmp_path, mnist):
    model = small_model("lenet5")
    writer = RunWriter(preset_config("lenet5"), runs_dir=tmp_path, name="no-predictions")
    writer.save_model(model)
    assert not (writer.path / PREDICTIONS_FILE).exists()
    (source,) = model_sources(tmp_path, pretrained_path=tmp_path / "none.keras")
    _, probabilities = predictions_on_test_set(source, mnist)
    np.testing.assert_allclose(probabilities[:500], model.predict(to_model_input(mnist.x_test[:500]), verbose=0), atol=1e-5)


def test_numpy_model_error_is_a_value_error():
    assert issubclass(NumpyModelError, ValueError)
    with pytest.raises(NumpyModelError, match="no 'spec' text"):
        NumpyModel.from_arrays({})

