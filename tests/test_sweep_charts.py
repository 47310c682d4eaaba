"""The Sweep page's parallel-coordinates chart: Optuna's, with whole tick labels and short numbers."""

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution

from core.figures.sweep_charts import readable_parallel_coordinates, short_number

LEARNING_RATES = [0.0031622776601683794, 0.00011937766417144358, 0.07880462815669913, 0.022500000000000003]


def study():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    for rate, batch, value in zip(LEARNING_RATES, (64, 128, 256, 128), (0.9812345678, 0.9, 0.95, 0.97)):
        study.add_trial(optuna.trial.create_trial(
            params={"learning_rate": rate, "batch_size": batch}, value=value,
            distributions={"learning_rate": FloatDistribution(1e-4, 1e-1, log=True),
                           "batch_size": CategoricalDistribution([64, 128, 256])}))
    return study


def test_numbers_keep_three_significant_digits_and_categories_stay():
    assert short_number("0.0031622776601683794") == "0.00316"
    assert short_number("128") == "128" and short_number("relu") == "relu"


def test_the_first_axis_has_room_for_its_labels_and_every_number_is_short():
    figure = readable_parallel_coordinates(optuna.visualization.plot_parallel_coordinate(study(), target_name="val_accuracy"))
    axes = list(figure.layout.xaxis.ticktext)
    assert axes == ["val_accuracy", "batch_size", "learning_rate"]
    low, high = figure.layout.xaxis.range
    assert low <= -0.5 and high >= len(axes) - 1  # labels sit left of each axis: the first one's need room too
    labels = [a.text for a in figure.layout.annotations]
    assert labels and all(len(text.replace("0.", "").lstrip("0")) <= 3 for text in labels), labels
    hovers = [value for trace in figure.data if trace.customdata is not None for _, value in trace.customdata]
    assert "0.00316" in hovers and not any(len(value) > 8 for value in hovers), hovers
