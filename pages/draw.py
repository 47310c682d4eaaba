"""Draw: sketch a digit and watch a model (or every saved model) classify it as you draw."""

import time

import numpy as np
import pandas as pd
import streamlit as st

from core.calibration.run_calibration import cached_calibration
from core.calibration.temperature import apply_temperature
from core.figures.image_grid import tile
from core.runs.model_sources import model_sources
from core.figures.epoch_charts import epoch_probabilities_figure
from core.figures.prediction_charts import models_heatmap, probability_bars
from core.drawing.preprocess import canvas_to_input, has_ink
from core.runs.store import RunError
from core.config.shown_text import markdown_text
from dashboard.attribution_view import show_drawing_attribution
from dashboard.draw_canvas import clear_drawing, drawing_canvas
from dashboard.epoch_scrubber import epoch_scrubber, saved_model_epoch
from dashboard.feature_space import digit_verdict, show_drawing_on_map, show_verdict
from dashboard.model_cache import checkpoint_predictor, predictor_for

CANVAS_SIZE = 280  # pixels; ten canvas pixels per MNIST pixel
INPUT_ZOOM = 4  # the 28x28 model input shown at 112x112, small: the answer comes first
BARS_HEIGHT = 176  # pixels; the bars sit beside the answer, under the canvas on a phone (390x844, no scrolling)
COMPARE_ALL = "Compare all models"
BACKGROUND = "black"  # white ink on black, like MNIST; `canvas_to_input` reads the brightest channel
HINT = "Draw a digit on the black square to see what the model thinks it is: one digit, 0 to 9, big and centred."

sources = model_sources()
if not sources:
    st.info(
        "No model to draw against: the shipped model `pretrained/mnist_fast.keras` is missing and no run "
        "has been saved yet. Train one on the Train page, or run `python scripts/train_pretrained.py`."
    )
    st.stop()
by_label = {source.label: source for source in sources}
# The page is laid out for a phone first: the controls in one row, then the canvas, then its answer right under
# it (beside it on wider screens), what the model sees last.
with st.container(horizontal=True, vertical_alignment="bottom", key="draw_controls"):
    choice = st.selectbox("Model", list(by_label) + ([COMPARE_ALL] if len(sources) > 1 else []), key="draw_model")
    brush = st.slider("Brush width", min_value=5, max_value=50, value=22, key="draw_brush", width=140)

canvas_column, result_column = st.columns([2, 3], gap="medium")
with canvas_column:
    rgba = drawing_canvas(brush, CANVAS_SIZE)  # uint8 RGBA, or None: nothing drawn yet
    st.button("Clear", key="draw_clear", on_click=clear_drawing, icon=":material/ink_eraser:")

if rgba is None or not has_ink(rgba, BACKGROUND):
    with result_column:
        st.info(HINT)
    st.stop()

image = canvas_to_input(rgba, BACKGROUND)  # float32 (28, 28) in [0, 1]
st.session_state["latest_drawing"] = image  # for the Inspect page


def show_model_input() -> None:
    """The 28x28 input the drawing became, small, with how it was made."""
    with st.container(horizontal=True, vertical_alignment="center", wrap=False, key="draw_model_input"):
        st.image(tile(image[None], zoom=INPUT_ZOOM), caption="What the model sees")
        st.caption("Your drawing, cropped, scaled to 20×20 pixels and centred by its centre of mass in a 28×28 "
                   "frame, as MNIST's digits were.", width="stretch")


def show_map_section(source, digit: int) -> None:
    """Where the drawing lands on the model's embedding map (`pages/map.py` shows the whole map), and its nearest digits."""
    st.subheader("Your drawing on the model's map", anchor=False)
    show_drawing_on_map(source, image, digit, key="draw_map")


with result_column:
    if choice != COMPARE_ALL:
        source = by_label[choice]
        answer = st.container()  # first on screen; the epoch scrubber under it picks the model that answers
        epoch, epochs = epoch_scrubber(source, "draw")  # (None, []) without checkpoints: the run's saved model
        try:
            predictor = predictor_for(source) if epoch is None else checkpoint_predictor(source, epoch)
            across_epochs = [checkpoint_predictor(source, kept).probabilities(image) for kept in epochs]
        except RunError as error:
            st.error(markdown_text(error, 600))
            st.stop()
        started = time.perf_counter()
        probabilities = predictor.probabilities(image)
        milliseconds = (time.perf_counter() - started) * 1000
        saved_model = epoch is None or epoch == saved_model_epoch(source, epochs)  # the model the report calibrated
        calibration = cached_calibration(source.run_name, source.runs_dir) if source.run_name and saved_model else None
        if calibration is not None and st.session_state.get("draw_calibrated"):  # the toggle under the answer
            probabilities = apply_temperature(probabilities[None], calibration["temperature"])[0]
        digit = int(probabilities.argmax())
        verdict, no_check = digit_verdict(source, image) if epoch is None else (None, None)  # statistics: the saved model's
        not_a_digit = verdict is not None and not verdict.is_digit
        with answer, st.container(horizontal=True, key="draw_answer"):
            with st.container(width=110, gap=None):
                st.metric(label="Prediction" if epoch is None else f"After epoch {epoch}", value="?" if not_a_digit else digit)
                st.caption(f"best guess {digit}, {probabilities[digit]:.1%}" if not_a_digit else f"{probabilities[digit]:.1%} sure")
                st.caption(f"model call {milliseconds:.1f} ms")
            st.plotly_chart(probability_bars(probabilities, height=BARS_HEIGHT), key="draw_probabilities",
                            config={"displayModeBar": False})
        with answer:
            show_verdict(verdict, no_check)
        if len(across_epochs) > 1:
            st.plotly_chart(epoch_probabilities_figure(epochs, np.array(across_epochs)), key="draw_epochs",
                            config={"displayModeBar": False})
        if calibration is not None:
            st.toggle(f"Calibrated (temperature {calibration['temperature']:.2f})", key="draw_calibrated",
                      help="The probabilities after temperature scaling, fitted in the run's report: the same digit, "
                           "a confidence that means what it says.")
        if source.tensorflow_note and epoch is None:
            st.caption(markdown_text(source.tensorflow_note, 600))
        show_model_input()
        show_drawing_attribution(source, epoch, image)  # below the answer: why, and what would make it another digit
        if epoch is None:
            show_map_section(source, digit)
        st.stop()

    rows, failed = [], []
    for source in sources:
        try:
            rows.append((source, predictor_for(source).probabilities(image)))
        except RunError as error:
            failed.append(str(error))
    for message in failed:
        st.warning(markdown_text(message, 600))
    if not rows:
        st.stop()
    mean = np.mean([probabilities for _, probabilities in rows], axis=0)
    st.metric(label="Prediction", value=int(mean.argmax()),
              help="The digit with the highest probability averaged over all models.")
    votes = sum(int(probabilities.argmax()) == int(mean.argmax()) for _, probabilities in rows)
    st.caption(f"{votes} of {len(rows)} models agree")
    with_tensorflow = [source.label for source, _ in rows if source.tensorflow_note]
    if with_tensorflow:
        st.caption("Loaded with TensorFlow (slower first load), as they have no NumPy model file: "
                   + ", ".join(markdown_text(label) for label in with_tensorflow))
    show_model_input()

st.dataframe(
    pd.DataFrame({
        "model": [source.label for source, _ in rows],
        "prediction": [int(probabilities.argmax()) for _, probabilities in rows],
        "probability": [float(probabilities.max()) for _, probabilities in rows],
    }),
    hide_index=True, key="draw_compare_table",
    column_config={"probability": st.column_config.ProgressColumn("probability", format="percent", min_value=0.0, max_value=1.0)},
)
st.plotly_chart(models_heatmap([source.label for source, _ in rows], np.array([p for _, p in rows])),
                key="draw_compare_probabilities", config={"displayModeBar": False})
