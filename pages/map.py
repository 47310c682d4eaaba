"""Map: a model's view of 5,000 test digits in 2-D, its mistakes marked, the latest drawing placed among them;
for a run with checkpoints, an epoch scrubber moves the digits to each kept epoch's features."""

from pathlib import Path

import streamlit as st

from core.config.shown_text import markdown_text
from core.embedding.epoch_maps import map_frame, maps_fit
from core.figures.embedding_figure import VIEW_TITLES, clicked_test_index, embedding_figure
from core.figures.image_grid import tile
from core.runs.model_sources import model_sources
from core.runs.feature_files import compute_command
from core.runs.store import RunError
from dashboard.dataset import mnist_or_stop
from dashboard.epoch_scrubber import epoch_scrubber, kept_epochs_of, scrub_to
from dashboard.feature_space import ask_errors_to_open, embedding_map_for, epoch_maps_for, place_drawing, show_neighbours
from dashboard.linked_run import select_linked_run, select_newest_own_run
from dashboard.map_touch import MAP_CHART_KEY_PREFIX, select_on_first_tap

CLICKED_ZOOM = 6  # a clicked digit at 168x168
PAGES = Path(__file__).resolve().parent

st.caption("Each dot is a test digit, placed by what the model's last hidden layer makes of it: digits the model "
           "sees alike lie close. Colour: the true digit; ✕: the model got it wrong. Click or tap a dot to see it.")
sources = {source.label: source for source in model_sources()}
if not sources:
    st.info("No trained model yet: train one on the Train page.")
    st.stop()
select_newest_own_run("map_model", list(sources.values()))
select_linked_run("map_model", {s.run_name: label for label, s in sources.items() if s.run_name})
model_column, view_column = st.columns([3, 2], vertical_alignment="bottom")  # one row: the map starts higher
with model_column.container(key="map_controls"):
    choice = st.selectbox("Model", list(sources), key="map_model")
source = sources[choice]
try:
    embedding = embedding_map_for(source)
except RunError as error:
    st.info(markdown_text(error, 600))
    st.stop()
try:
    epoch_maps = epoch_maps_for(source)  # None: no checkpoints, or a map from before maps followed the epochs
    if epoch_maps is not None and not maps_fit(embedding, epoch_maps):
        raise RunError(f"Its map through the epochs is of other digits than its map. `{compute_command(source)}` "
                       "computes both again.")
except RunError as error:
    epoch_maps = None
    st.caption(markdown_text(error, 600))
with view_column.container(key="map_view_controls"):
    view = st.radio("View", list(embedding.views), format_func=lambda name: VIEW_TITLES.get(name, name),
                    horizontal=True, key="map_view")
epoch, _ = (None, []) if epoch_maps is None else epoch_scrubber(source, "map")
if epoch_maps is None and len(kept_epochs_of(source)) >= 2:
    st.caption("This map shows the model the run kept; its other epochs have no map (it was computed before maps "
               f"followed the epochs). `{compute_command(source)}` computes them.")
anchored = epoch is None or epoch == epoch_maps.anchor_epoch  # the map as the run's kept model sees it
try:
    frame = map_frame(embedding, epoch_maps, view, epoch)
except ValueError as error:  # an epoch kept after the maps were computed
    st.info(f"{markdown_text(error, 300)} `{compute_command(source)}` computes them again.")
    st.stop()
if not anchored:
    st.caption(f"After epoch {epoch}: " + (
        "each digit placed by this epoch's features (their two directions of most variance, turned to line up "
        "with the epochs beside it); ✕ marks this epoch's mistakes." if frame.moves else
        f"the places are those of epoch {epoch_maps.anchor_epoch}, the model the run kept (t-SNE is computed once); "
        "✕ marks this epoch's mistakes. The PCA view moves the digits with the epochs."))

drawing = st.session_state.get("latest_drawing")  # the last drawing on Draw, if any
placed = None if drawing is None or not anchored else place_drawing(source, drawing)
map_column, detail_column = st.columns([3, 1], gap="medium")
with map_column:
    figure = embedding_figure(frame.coordinates, embedding.y_true, frame.y_pred, embedding.indices, view,
                              axis_ranges=frame.axis_ranges,
                              drawing=None if placed is None else placed[1].coordinates[view])
    state = st.plotly_chart(figure, key=f"{MAP_CHART_KEY_PREFIX}{view}", on_select="rerun", selection_mode="points",
                            config={"displayModeBar": False})
    select_on_first_tap()
    seconds = embedding.meta.get("seconds", {})
    mistakes = int((embedding.y_true != frame.y_pred).sum())
    st.caption(f"{len(embedding.indices):,} test digits, {mistakes:,} of them misclassified"
               + ("" if epoch is None else f" after epoch {epoch}")
               + (f"; computed in {seconds['total']:.1f} s when the run ended" if "total" in seconds else "") + ".")
with detail_column:
    clicked = clicked_test_index(state, embedding.y_true, frame.y_pred, embedding.indices)
    if clicked is not None:
        mnist = mnist_or_stop()
        where = int((embedding.indices == clicked).argmax())
        true_digit, predicted = int(embedding.y_true[where]), int(frame.y_pred[where])
        st.image(tile(mnist.x_test[clicked][None] / 255.0, zoom=CLICKED_ZOOM),
                 caption=f"test #{clicked}: true {true_digit}, predicted {predicted}"
                         + ("" if epoch is None else f" after epoch {epoch}"))

        if st.button("Open in Errors", key="map_open_errors", icon=":material/error:",
                     help="The Errors page, on this model's cell of true and predicted digit"):
            ask_errors_to_open(choice, true_digit, predicted)
            if epoch is not None:
                scrub_to("errors", epoch)  # Errors at the epoch the map shows
            st.switch_page(PAGES / "errors.py")
    else:
        st.caption("Click a dot to see its digit and open it in Errors.")
if drawing is None:
    st.caption("Draw a digit on the Draw page to see where it lands here.")
elif not anchored:
    st.caption(f"Your drawing is placed on the map of epoch {epoch_maps.anchor_epoch}, the model the run kept: "
               "move the slider there to see it.")
elif placed is not None:
    st.subheader("Your drawing (★) and its nearest digits")
    show_neighbours(*placed)
