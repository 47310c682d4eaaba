"""The Map page's scatter read back from a click: the test index of the clicked point, from the chart state as
Chromium sends it (the browser check is tests/test_browser_map.py), and no index from a state that names none
of the map's digits."""

import json

import numpy as np
import pytest

from core.figures.embedding_figure import clicked_test_index, customdata_values, embedding_figure

# What Streamlit 1.67 sent for a click on a mistake of the shipped model's map in Chromium (captured from the
# websocket): plotly.js hands a row of the int16 `customdata` back as an Int16Array, which JSON makes an object.
CHROMIUM_SELECTION = json.loads(
    '{"selection":{"points":[{"curve_number":10,"point_number":0,"point_index":0,"x":-30.888164520263672,'
    '"y":-21.983884811401367,"customdata":{"0":160,"1":4,"2":6}}],"point_indices":[0],"box":[],"lasso":[]}}')


@pytest.fixture(scope="module")
def digits():
    rng = np.random.default_rng(0)
    n = 200
    y_true = rng.integers(0, 10, n)
    y_pred = np.where(rng.random(n) < 0.2, (y_true + 1) % 10, y_true)
    test_indices = rng.choice(10_000, n, replace=False)
    return rng.normal(0, 10, (n, 2)), y_true, y_pred, test_indices


def selection(curve: int, index: int, customdata) -> dict:
    point = {"curve_number": curve, "point_number": index, "point_index": index, "x": 0.0, "y": 0.0}
    if customdata is not None:
        point["customdata"] = customdata
    return {"selection": {"points": [point], "point_indices": [index], "box": [], "lasso": []}}


def test_the_figure_sends_customdata_as_a_typed_array():
    figure = embedding_figure(np.zeros((3, 2)), np.array([4, 4, 7]), np.array([6, 4, 7]), np.array([160, 5, 9]), "tsne")
    sent = json.loads(figure.to_json())["data"][10]["customdata"]  # the mistakes' trace
    assert sent["dtype"] == "i2" and "bdata" in sent  # what the browser turns into an Int16Array per point


def test_chromiums_click_on_a_mistake_reads_its_test_index():
    assert customdata_values(CHROMIUM_SELECTION["selection"]["points"][0]["customdata"]) == [160, 4, 6]
    assert clicked_test_index(CHROMIUM_SELECTION, np.array([4, 1]), np.array([6, 1]), np.array([160, 3])) == 160


@pytest.mark.parametrize("form", ["typed array", "list", "no customdata"])
def test_every_point_of_every_trace_reads_back_its_own_test_index(digits, form):
    coordinates, y_true, y_pred, test_indices = digits
    figure = embedding_figure(coordinates, y_true, y_pred, test_indices, "tsne")
    assert [trace.name for trace in figure.data][:10] == [str(digit) for digit in range(10)]
    for curve, trace in enumerate(figure.data):
        for index, row in enumerate(trace.customdata):  # the figure's own hover data: [test index, true, predicted]
            customdata = {"typed array": {str(i): int(v) for i, v in enumerate(row)}, "list": [int(v) for v in row],
                          "no customdata": None}[form]
            assert clicked_test_index(selection(curve, index, customdata), y_true, y_pred, test_indices) == row[0]


@pytest.mark.parametrize("state", [
    None, "x", {}, {"selection": None}, {"selection": {"points": "abc"}}, {"selection": {"points": [None, 3, "p"]}},
    selection(10, 0, {"0": 99_999}),  # an index not on the map
    selection(10, 0, {"0": "160"}), selection(10, 0, {"0": True}), selection(10, 0, {"0": [160]}),
    selection(10, 1, {"1": 160}),  # no first value: read from the trace and place, here past its one mistake
    selection(11, 0, None),  # the drawing's star
    selection(3, -1, None), selection(3, 10_000, None), selection(-1, 0, None), selection("3", 0, None),
])
def test_a_state_that_names_none_of_the_maps_digits_is_no_click(state):
    assert clicked_test_index(state, np.array([4, 1]), np.array([6, 1]), np.array([160, 3])) is None
