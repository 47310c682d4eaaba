"""Learning-curve figures: the points drawn are exactly the epochs' metrics."""

import pytest

from core.figures.curves import accuracy_range, log_ticks, loss_axis_type, overlay_curves, series, smooth, training_curves
from core.training.events import EpochEnd, LearningRateChanged, Progress


def epoch(number, loss, accuracy, val_loss=None, val_accuracy=None):
    return EpochEnd(number, loss, accuracy, val_loss, val_accuracy, 0.01, 1.5, 1000.0)


EPOCHS = [epoch(1, 0.9, 0.70, 0.8, 0.75), epoch(2, 0.5, 0.85, 0.6, 0.82), epoch(3, 0.3, 0.90, 0.55, 0.86)]


def traces(figure):
    return {trace.name: (list(trace.x), list(trace.y)) for trace in figure.data}


def test_training_curves_draw_train_and_validation_values_per_epoch():
    figure = training_curves(EPOCHS, "loss")
    assert traces(figure) == {"train (epoch mean)": ([1, 2, 3], [0.9, 0.5, 0.3]), "validation": ([1, 2, 3], [0.8, 0.6, 0.55])}
    assert traces(training_curves(EPOCHS, "accuracy"))["validation"][1] == [0.75, 0.82, 0.86]


def test_training_curves_accept_records_read_back_from_metrics_jsonl():
    records = [e.to_dict() for e in EPOCHS]
    assert traces(training_curves(records, "accuracy")) == traces(training_curves(EPOCHS, "accuracy"))


def test_a_run_without_validation_has_only_a_train_curve():
    figure = training_curves([epoch(1, 0.4, 0.9), epoch(2, 0.3, 0.92)], "accuracy")
    assert list(traces(figure)) == ["train (epoch mean)"]


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
    low, high = training_curves(one_epoch, "accuracy").layout.yaxis.range  # the data decides once it exists
    assert 0 <= low < 0.9 and 0.91 < high <= 1


def point(epoch, fraction, loss, accuracy, samples=128):
    return Progress(epoch, fraction, loss, accuracy, 1.0, samples=samples, step=1, learning_rate=0.01)


POINTS = [point(1, i / 20, 2.3 * 0.8 ** i, min(1.0, 0.1 + 0.04 * i)) for i in range(1, 20)]


def test_batch_points_lie_at_fractional_epochs_under_the_epoch_points():
    figure = training_curves(EPOCHS[:1], "loss", POINTS, smoothing=0.0)
    drawn = traces(figure)
    assert list(drawn) == ["train (batches)", "train (epoch mean)", "validation"]
    assert drawn["train (batches)"][0] == pytest.approx([i / 20 for i in range(1, 20)])
    assert drawn["train (batches)"][1] == pytest.approx([p.loss for p in POINTS])
    assert drawn["train (epoch mean)"] == ([1], [0.9])
    assert figure.layout.xaxis.range == (0, 1)  # inside the first epoch: the whole epoch, from 0
    assert traces(training_curves(EPOCHS[:1], "loss", [p.to_dict() for p in POINTS])) == drawn  # batches.jsonl records


def test_a_lone_first_point_is_drawn_as_a_dot_and_later_ones_as_a_line():
    """The live chart shows from a training's first point: one point as a marker (a line of one point draws nothing)."""
    for smoothing in (0.0, 0.6):
        first = training_curves([], "loss", POINTS[:1], smoothing=smoothing)
        assert [trace.mode for trace in first.data] == ["markers"] * len(first.data) and len(first.data) == 1 + bool(smoothing)
        assert first.data[0].x == (0.05,) and first.data[0].y == pytest.approx((POINTS[0].loss,))
        assert {trace.mode for trace in training_curves([], "loss", POINTS[:2], smoothing=smoothing).data} == {"lines"}


def test_smoothing_adds_a_smoothed_line_over_faint_raw_points():
    figure = training_curves([], "accuracy", POINTS, smoothing=0.9)
    raw, smoothed = figure.data
    assert (raw.name, smoothed.name) == ("train (batches)", "train (batches, smoothed)")
    assert raw.opacity < 1 and list(smoothed.y) == pytest.approx(smooth([p.accuracy for p in POINTS], 0.9))


def test_smoothing_is_tensorboards_debiased_moving_average():
    assert smooth([1.0, 2.0, 3.0], 0.0) == [1.0, 2.0, 3.0]
    assert smooth([5.0, 5.0, 5.0], 0.9) == pytest.approx([5.0, 5.0, 5.0])  # debiased: no pull towards 0
    # by hand: 0.5*0 + 0.5*2 = 1 → 1 / (1 - 0.5) = 2; 0.5*1 + 0.5*4 = 2.5 → 2.5 / 0.75
    assert smooth([2.0, 4.0], 0.5) == pytest.approx([2.0, 2.5 / 0.75])
    with pytest.raises(ValueError, match="weight"):
        smooth([1.0], 1.0)
    with pytest.raises(ValueError, match="weight"):
        training_curves(EPOCHS, "loss", POINTS, smoothing=-0.1)


def test_loss_goes_on_a_log_axis_when_it_spans_a_decade():
    assert loss_axis_type([2.3, 0.5, 0.25]) == "linear"  # 9.2 times: less than a decade
    assert loss_axis_type([2.3, 0.5, 0.03]) == "log"
    assert loss_axis_type([2.3, 0.0]) == "linear"  # a zero cannot go on a log axis
    assert training_curves(EPOCHS, "loss", POINTS).layout.yaxis.type == "log"  # 1.8 down to 0.03
    assert training_curves(EPOCHS, "loss").layout.yaxis.type == "linear"  # 0.9 down to 0.3
    assert log_ticks([2.3, 0.03]) == [0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0]  # plain numbers, 1-2-5 a decade
    assert list(training_curves(EPOCHS, "loss", POINTS).layout.yaxis.ticktext)[:2] == ["0.02", "0.05"]


def test_accuracy_axis_fits_the_data_and_stays_within_0_and_100_percent():
    assert accuracy_range([0.1, 0.99]) == pytest.approx([0.1 - 0.0445, 1.0])
    low, high = accuracy_range([0.97, 0.98, 0.985])
    assert 0.95 < low < 0.97 and 0.985 < high <= 1.0
    assert accuracy_range([1.0, 1.0]) == pytest.approx([0.989, 1.0])  # all 100%: still a span, capped at 1
    assert accuracy_range([0.0]) == pytest.approx([0.0, 0.011])
    assert accuracy_range([]) == [0.0, 1.0]
    for figure in (training_curves(EPOCHS, "accuracy", POINTS), overlay_curves({"a": EPOCHS}, "accuracy")):
        low, high = figure.layout.yaxis.range
        assert 0 <= low and high <= 1


def test_a_learning_rate_change_is_a_marked_vertical_line_where_it_happened():
    change = LearningRateChanged(epoch=2, fraction=0.25, step=120, learning_rate=0.0045, previous=0.009)
    for changes in ([change], [change.to_dict()]):  # the event, or its controls.jsonl record
        figure = training_curves(EPOCHS, "loss", POINTS, changes)
        [line] = figure.layout.shapes
        assert line.x0 == line.x1 == 1.25
        assert [a.text for a in figure.layout.annotations] == ["lr 0.0045"]


def test_epoch_axes_end_at_the_last_epoch_not_one_after():
    epochs = [{"epoch": i, "loss": 1 / i, "accuracy": 0.9 + i / 100, "val_loss": 1 / i, "val_accuracy": 0.9} for i in range(1, 6)]
    assert tuple(overlay_curves({"a": epochs, "b": epochs[:3]}, "accuracy").layout.xaxis.range) == (1, 5)
    assert tuple(training_curves(epochs, "loss").layout.xaxis.range) == (1, 5)
    assert tuple(training_curves(epochs[:1], "loss").layout.xaxis.range) == (0, 1)  # one epoch: from the start to it
    points = [point(e, k / 4, 1.0, 0.5) for e in range(1, 6) for k in range(1, 4)]
    assert tuple(training_curves(epochs, "loss", points).layout.xaxis.range) == (0, 5)  # batch points start at 0
    figure = training_curves(epochs, "accuracy")
    assert all(trace.cliponaxis is False for trace in figure.data)  # the end markers drawn whole, not cut by the axis
