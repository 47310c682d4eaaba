"""Inspect: what a trained model learned — its conv filters and feature maps, or its input weights."""

import numpy as np
import streamlit as st

from core.figures.image_grid import tile, zoom_for
from core.runs.model_sources import model_sources
from core.figures.network_view import conv_filters, dense_input_weights, feature_maps
from core.runs.store import RunError
from core.data.splits import to_model_input
from core.config.shown_text import markdown_text
from core.config.zoo import SPECS
from dashboard.dataset import mnist_or_stop
from dashboard.linked_run import select_linked_run, select_newest_own_run
from dashboard.epoch_scrubber import epoch_scrubber
from dashboard.model_cache import checkpoint_distribution_figures, checkpoint_predictor, predictor_for

TEST_DIGIT, DRAWING = "A test digit", "My latest drawing (from Draw)"
FILTER_PIXELS = 48  # on-screen size of one filter
MAP_PIXELS = 84  # on-screen size of one feature map
WEIGHT_PIXELS = 112  # on-screen size of one 28x28 weight image (few units)
MAX_COLUMNS = 16

sources = model_sources()
if not sources:
    st.info("No model to inspect: train one on the Train page (the shipped pretrained model is missing too).")
    st.stop()
by_label = {source.label: source for source in sources}
select_newest_own_run("inspect_model", sources)  # the visitor's latest run, not the shipped model
select_linked_run("inspect_model", {s.run_name: s.label for s in sources if s.run_name})  # ?run= from a finished training
source = by_label[st.selectbox("Model", list(by_label), key="inspect_model")]
epoch, epochs = epoch_scrubber(source, "inspect")  # (None, []) for a model without checkpoints: its saved model
try:
    predictor = predictor_for(source) if epoch is None else checkpoint_predictor(source, epoch)
except RunError as error:
    st.error(markdown_text(error, 600))
    st.stop()
if source.tensorflow_note and epoch is None:
    st.caption(markdown_text(source.tensorflow_note, 600))
model = predictor.numpy_model or predictor.model  # shared by all sessions: read it, never change it
layers = conv_filters(model)
after = "" if epoch is None else f" after epoch {epoch}"


def show_distributions() -> None:
    """Per layer, how the weights and the activations on 64 fixed test digits spread, epoch by epoch."""
    if len(epochs) < 2:
        return
    st.subheader("Distributions, epoch by epoch")
    st.caption("Each row is an epoch (the first at the top), each column a range of values; brighter = more of "
               "the layer's values there. The outlined row is the epoch on the slider. Activations are the layer's "
               "outputs on 64 fixed test digits.")
    try:
        weights, activations = checkpoint_distribution_figures(source, epochs, epoch)
    except RunError as error:
        st.error(markdown_text(error, 600))
        return
    weights_tab, activations_tab = st.tabs(["Weights", "Activations"])
    for tab, figures, kind in ((weights_tab, weights, "weights"), (activations_tab, activations, "activations")):
        with tab:
            columns = st.columns(min(len(figures), 2) or 1)
            for index, figure in enumerate(figures):
                columns[index % len(columns)].plotly_chart(figure, key=f"inspect_{kind}_{index}", config={"displayModeBar": False})

if not layers:
    weights = dense_input_weights(model)  # (units, 28, 28)
    if weights is None:
        st.info("This model has neither convolution layers nor a dense layer that sees the 784 pixels directly.")
        st.stop()
    is_regression = not SPECS[source.model].has_hidden_layers if source.model in SPECS else len(weights) == 10
    if is_regression:
        st.subheader(f"What each digit's score looks for{after}")
        st.caption(
            "Softmax regression scores a digit as the sum of its pixels times these weights: red pixels with ink "
            "raise the digit's score, blue ones lower it. Each template is coloured on its own scale."
        )
        if source.initializer == "preset":
            st.info(
                "This preset starts from large random weights (as its write-up did) and trains on raw 0..255 pixels, "
                "so what it learns is a small change buried in that starting noise. Train it on the Train page with "
                "the weight initializer `glorot_uniform` to see clean digit templates."
            )
    else:
        st.subheader(f"What each of the first layer's {len(weights)} units looks for{after}")
        st.caption("Weights from the 784 pixels into each unit: red = ink here excites the unit, blue = inhibits it. Each on its own scale.")
    if len(weights) <= MAX_COLUMNS:
        zoom = zoom_for(28, WEIGHT_PIXELS)
        for column, (unit, weight) in zip(st.columns(len(weights)), enumerate(weights)):
            column.image(tile(weight[None], colormap="diverging", zoom=zoom), caption=f"digit {unit}" if is_regression else f"unit {unit}")
    else:
        st.image(tile(weights, columns=MAX_COLUMNS, colormap="diverging", shared_scale=False, zoom=2),
                 caption=f"{len(weights)} units, row by row")
    show_distributions()
    st.stop()

st.subheader(f"Filters{after}")
st.caption(
    "Each convolution layer's filters, on their own scale: red = positive weight, blue = negative. "
    "A later layer's filters have one slice per input channel; shown here is their mean."
)
for layer in layers:
    count, height, width = layer.filters.shape
    st.markdown(f"**{markdown_text(layer.name)}** — {count} filters of {height}×{width}")
    st.image(tile(layer.filters, columns=min(count, MAX_COLUMNS), colormap="diverging", shared_scale=False,
                  zoom=zoom_for(height, FILTER_PIXELS), gap=4))

st.subheader(f"Feature maps{after}")
mnist = mnist_or_stop()
drawing = st.session_state.get("latest_drawing")
kind = st.radio("Input", [TEST_DIGIT, DRAWING], horizontal=True, key="inspect_input")
if kind == DRAWING and drawing is None:
    st.info("No drawing yet: draw a digit on the Draw page, then come back. Showing a test digit meanwhile.")
    kind = TEST_DIGIT
input_column, maps_column = st.columns([1, 4], gap="medium")
with input_column:
    if kind == TEST_DIGIT:
        index = st.number_input("Test image index", min_value=0, max_value=len(mnist.x_test) - 1, value=0, step=1, key="inspect_index")
        image = to_model_input(mnist.x_test[index : index + 1])[0, :, :, 0]
        truth = f"true label {mnist.y_test[index]}"
    else:
        image = np.asarray(drawing, dtype=np.float32)
        truth = "your drawing"
    probabilities = predictor.probabilities(image)
    st.image(tile(image[None], zoom=5), caption=f"{truth} · predicted {int(probabilities.argmax())} ({probabilities.max():.1%})")
with maps_column:
    for maps in feature_maps(model, image):
        height, width, channels = maps.maps.shape
        st.markdown(f"**{markdown_text(maps.name)}** — {channels} maps of {height}×{width}")
        st.image(tile(maps.maps.transpose(2, 0, 1), columns=min(channels, 8), zoom=zoom_for(height, MAP_PIXELS)),
                 caption="white = strong activation (one scale for the whole layer)")

show_distributions()
