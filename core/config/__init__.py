"""What can be trained, and with which knobs: the zoo's catalogue of models and the training config.

- `zoo.py`: each model's name, write-up, reported accuracy, architecture in words and preset
  (a new model starts here with a `ModelSpec`, then gets a builder in `core.models`);
- `train_config.py`: `TrainConfig`, every hyperparameter validated where it is made, and
  `preset_config` (a model's preset as a config);
- `train_form.py`: the Train form's view of the config: fields, bounds, defaults, URL values;
- `shown_text.py`: text from visitors cut and escaped, so markdown never renders it.
- `live_learning_rate.py`: a learning rate typed while a training runs, read or refused with why.

The bottom of the architecture: plain Python, no TensorFlow, no NumPy arrays.
May import: nothing else in core.
"""
