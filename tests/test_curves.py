"""Learning-curve figures: the points drawn are exactly the epochs' metrics."""

import pytest

from core.figures.curves import overlay_curves, series, training_curves
from core.training.events import EpochEnd


def epoch(number, loss, accuracy, val_loss=None, val_accuracy=None):
    return EpochEnd(number, loss, accuracy, val_loss, val_accuracy, 0.01, 1.5, 1000.0)


EPOCHS = [epoch(1, 0.9, 0.70, 0.8, 0.75), epoch(2, 0.5, 0.85, 0.6, 0.82), epoch(3, 0.3, 0.90, 0.55, 0.86)]


def traces(figure):
    return {trace.name: (list(trace.x), list(trace.y)) for trace in figure.data}


def test_training_curves_draw_train_and_validation_values_per_epoch():
    figure = training_curves(EPOCHS, "loss")
    assert traces(figure) == {"train": ([1, 2, 3], [0.9, 0.5, 0.3]), "validation": ([1, 2, 3], [0.8, 0.6, 0.55])}
    assert traces(training_curves(EPOCHS, "accuracy"))["validation"][1] == [0.75, 0.82, 0.86]


def test_training_curves_accept_records_read_back_from_metrics_jsonl():
    records = [e.to_dict() for e in EPOCHS]
    assert traces(training_curves(records, "accuracy")) == traces(training_curves(EPOCHS, "accuracy"))


def test_a_run_without_validation_has_only_a_train_curve():
    figure = training_curves([epoch(1, 0.4, 0.9), epoch(2, 0.3, 0.92)], "accuracy")
    assert list(traces(figure)) == ["train"]


def test_no_epochs_yet_gives_an_empty_figure():
    assert training_curves([], "loss").data == ()


def test_damaged_values_are_skipped_not_drawn():
    records = [{"epoch": 1, "loss": 0.5, "accuracy": "broken"}, {"epoch": 2, "loss": None, "accuracy": 0.9}]
    assert series(records, "accuracy") == ([2], [0.9])
    assert series(records, "loss") == ([1], [0.5])


def test_overlay_gives_each_run_one_colour_for_both_of_its_curves():
    figure = overlay_curves({"a": EPOCHS, "b": EPOCHS[:2]}, "accuracy")
    drawn = traces(figure)
    assert drawn["a (validation)"] == ([1, 2, 3], [0.75, 0.82, 0.86])
    assert drawn["b (train)"] == ([1, 2], [0.70, 0.85])
    colours = {trace.name: trace.line.color for trace in figure.data}
    assert colours["a (validation)"] == colours["a (train)"] != colours["b (validation)"] == colours["b (train)"]


@pytest.mark.parametrize("build", [training_curves, lambda epochs, metric: overlay_curves({"a": epochs}, metric)])
def test_unknown_metric_is_refused_with_the_choices(build):
    with pytest.raises(ValueError, match=r"metric.*'val_accuracy'.*\['accuracy', 'loss'\]"):
        build(EPOCHS, "val_accuracy")


def test_empty_charts_before_the_first_epoch_have_plausible_axes():
    accuracy, loss = training_curves([], "accuracy"), training_curves([], "loss")
    assert tuple(accuracy.layout.yaxis.range) == (0, 1) and tuple(loss.layout.yaxis.range)[0] == 0
    assert tuple(accuracy.layout.xaxis.range)[0] > 0  # no negative epochs
    one_epoch = [{"epoch": 1, "loss": 0.5, "accuracy": 0.9, "val_loss": 0.4, "val_accuracy": 0.91}]
    assert training_curves(one_epoch, "accuracy").layout.yaxis.range is None  # data decides once it exists
