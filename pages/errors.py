"""Errors: which digits a model confuses, and the test images behind each confusion."""

import numpy as np
import streamlit as st

from core.figures.confusion import cell_examples, confusion_matrix, per_class_accuracy, predicted_labels
from core.training.events import RUNNING
from core.runs.model_sources import describe, model_sources
from core.figures.epoch_charts import scrubbed_confusion_figure
from core.figures.prediction_charts import DIGITS, accuracy_bars, clicked_cell
from core.runs.store import RunError, list_runs
from core.config.shown_text import markdown_code, markdown_text
from dashboard.dataset import mnist_or_stop
from dashboard.attribution_view import show_gallery_attribution
from dashboard.epoch_scrubber import epoch_scrubber
from dashboard.feature_space import apply_map_click
from dashboard.model_cache import checkpoint_test_predictions, load_test_predictions
from dashboard.linked_run import select_linked_run, select_newest_own_run

GALLERY_SIZES = (16, 32, 64, 128)
GALLERY_PIXELS = 100  # on-screen width of one test digit

st.caption("How a model does on MNIST's 10,000 test images: which digits it mixes up, and the images it got wrong.")
sources = {source.label: source for source in model_sources()}
unfinished = {describe(run.name, run.model, None) + " — no predictions": run for run in list_runs() if not run.has_model}
if not sources and not unfinished:
    st.info("No trained model yet: train one on the Train page.")
    st.stop()
select_newest_own_run("errors_model", list(sources.values()))  # the visitor's latest run, not the shipped model
select_linked_run("errors_model", {s.run_name: label for label, s in sources.items() if s.run_name})
apply_map_click()  # a click on the Map page's "Open in Errors": its model and cell
choice = st.selectbox("Model", list(sources) + list(unfinished), key="errors_model")
if choice in unfinished:
    run = unfinished[choice]
    if run.status == RUNNING:
        st.info(f"Run {markdown_code(run.name)} is still training: its test predictions appear here when it finishes.")
    else:
        st.info(
            f"Run {markdown_code(run.name)} has no test predictions: a run saves them when it finishes, and this one "
            f"ended {run.status} ({markdown_text(run.reason or 'no reason recorded', 400)}) before that. Pick a finished run."
        )
    st.stop()
source = sources[choice]
epoch, epochs = epoch_scrubber(source, "errors")  # (None, []) for a model without checkpoints: its saved predictions
if epoch is None and source.tensorflow_note and not (source.run_name and source.has_predictions):  # its model must run on the test set
    st.caption(markdown_text(source.tensorflow_note, 600))
mnist = mnist_or_stop()  # the test labels and images: a missing or damaged file stops here, with the Data page's message
previous_epoch = None if epoch is None or epochs.index(epoch) == 0 else epochs[epochs.index(epoch) - 1]
previous = None  # (y_true, probabilities) of the kept epoch before `epoch`, to mark what changed
try:
    if epoch is None:
        y_true, probabilities = load_test_predictions(source)
    else:
        y_true, probabilities = checkpoint_test_predictions(source, epoch)
except RunError as error:
    st.error(markdown_text(error, 600))
    st.stop()
try:
    previous = None if previous_epoch is None else checkpoint_test_predictions(source, previous_epoch)
except RunError as error:  # epoch k still shows, without its changes marked
    st.caption(f"No changes marked: {markdown_text(error, 400)}")

y_pred = predicted_labels(probabilities)
matrix = confusion_matrix(y_true, y_pred)
previous_matrix = None
if previous is not None:
    previous_matrix = confusion_matrix(previous[0], predicted_labels(previous[1]))
mistakes = matrix - np.diag(np.diag(matrix))
accuracy_column, errors_column, worst_column = st.columns(3)
accuracy_column.metric("Test accuracy", f"{np.trace(matrix) / matrix.sum():.2%}")
errors_column.metric("Misclassified", f"{int(mistakes.sum()):,} of {int(matrix.sum()):,}")
worst_true, worst_predicted = np.unravel_index(int(mistakes.argmax()), mistakes.shape)
worst_column.metric(f"Most common mistake ({int(mistakes.max())} images)", f"{worst_true} → {worst_predicted}")

st.subheader("Confusion matrix" + ("" if epoch is None else f" after epoch {epoch}"))
st.caption("Rows: the true digit; columns: the model's prediction. Click a cell (or pick it below) to see its images."
           + ("" if previous_matrix is None else f" A dot marks a cell that changed since epoch {previous_epoch}: "
              "green for the better (more right, or fewer of that mistake), red for the worse; hover it for how much."))
# A click on the chart arrives as the chart's state, before the chart is drawn again: apply it to
# the cell pickers first, so the chart can outline the chosen cell. Picking a cell with the select
# boxes gives the chart a new key, which drops its old selection (a new chart has none).
st.session_state.setdefault("errors_chart_version", 0)
chart_key = f"errors_confusion_{st.session_state['errors_chart_version']}"
clicked = clicked_cell(st.session_state.get(chart_key))
if clicked is not None:
    st.session_state["errors_true"], st.session_state["errors_predicted"] = clicked
st.session_state.setdefault("errors_true", int(worst_true))
st.session_state.setdefault("errors_predicted", int(worst_predicted))
chosen = (st.session_state["errors_true"], st.session_state["errors_predicted"])
st.plotly_chart(scrubbed_confusion_figure(matrix, previous_matrix, chosen, previous_epoch), key=chart_key, on_select="rerun", selection_mode="points",
                config={"displayModeBar": False})


def forget_chart_selection() -> None:
    st.session_state["errors_chart_version"] += 1


true_column, predicted_column, size_column = st.columns(3)
true_label = true_column.selectbox("True digit", DIGITS, key="errors_true", on_change=forget_chart_selection)
predicted_label = predicted_column.selectbox("Predicted digit", DIGITS, key="errors_predicted", on_change=forget_chart_selection)
limit = size_column.selectbox("Show at most", GALLERY_SIZES, key="errors_limit")
count = int(matrix[true_label, predicted_label])
kind = "correctly classified" if true_label == predicted_label else "misclassified"
st.subheader(f"True {true_label}, predicted {predicted_label}: {count:,} test image{'s' if count != 1 else ''} {kind}")
if count == 0:
    st.info(f"No test image of a {true_label} was predicted as {predicted_label}. Pick another cell.")
else:
    x_test = mnist.x_test
    indices = cell_examples(y_true, probabilities, true_label, predicted_label, limit=limit)
    st.caption(f"The {len(indices)} the model was most sure of, most sure first: test index, true → predicted, probability.")
    captions = [f"#{i} · {true_label}→{predicted_label} · {probabilities[i, predicted_label]:.1%}" for i in indices]
    if not show_gallery_attribution(source, epoch, x_test, list(indices), true_label, predicted_label, captions, GALLERY_PIXELS):
        st.image([x_test[i] for i in indices], caption=captions, width=GALLERY_PIXELS)

st.subheader("Accuracy per digit")
st.plotly_chart(accuracy_bars(per_class_accuracy(y_true, y_pred)), key="errors_per_class", config={"displayModeBar": False})
