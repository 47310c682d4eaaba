"""A run as one standalone training script: plain Keras (or NumPy), no import of this project.

- `layer_code.py`: the code of a zoo model's layers, as `core.models.keras_models` builds them;
- `data_code.py`: the script's MNIST loading and the run's split (validation, subset, `--limit`);
- `keras_script.py`: the whole script of a Keras zoo model: data order, optimizer, schedule, callbacks;
- `numpy_script.py`: the whole script of `numpy_logreg`, write-up 001's NumPy loop;
- `script_header.py`: the script's docstring: where it comes from, its settings, what it leaves out;
- `run_export.py`: a saved run's script (`python -m core export`, the Runs page's download).

Generates text only: imports neither TensorFlow nor the run's model.
May import: core.config, core.runs.
"""
