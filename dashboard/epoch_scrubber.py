"""The epoch scrubber of Inspect, Errors and Draw: a slider over a run's kept checkpoints, and a play button.

Playing steps the slider one kept epoch every `PLAY_SECONDS` and stops at the last one. The steps
come from a fragment that exists only while playing: each tick sets the next epoch and reruns the
page once (the page's views depend on the epoch); paused or stopped, nothing reruns.
"""

from __future__ import annotations

import time

import streamlit as st

from core.runs.checkpoints import list_checkpoints
from core.runs.model_sources import ModelSource
from core.runs.store import RunError, read_run, run_path, resolve_runs_dir

PLAY_SECONDS = 1.2  # one epoch per tick: long enough to see each


def kept_epochs_of(source: ModelSource) -> list[int]:
    """The run's checkpointed epochs, ascending; [] for the pretrained model, an old run, or a run that is gone."""
    if source.run_name is None:
        return []
    try:
        return list_checkpoints(source.runs_dir, source.run_name)
    except RunError:
        return []


def saved_model_epoch(source: ModelSource, epochs: list[int]) -> int:
    """The kept epoch whose model the run saved as its own (its best, when it kept the best), else the last."""
    try:
        recorded = getattr(read_run(run_path(resolve_runs_dir(source.runs_dir), source.run_name)), "model_epoch", None)
    except (RunError, OSError):
        recorded = None
    return recorded if recorded in epochs else epochs[-1]


def epoch_scrubber(source: ModelSource, key: str) -> tuple[int | None, list[int]]:
    """Show the epoch slider and play button for a run with checkpoints.

    Args:
        source: the model the page shows.
        key: the page's prefix for the widgets' keys (`<key>_epoch` is the slider).

    Returns:
        `(epoch, epochs)`: the chosen kept epoch and all kept epochs; `(None, [])` when the source has
        fewer than two checkpoints (the page shows its saved model, as before checkpoints).
    """
    epochs = kept_epochs_of(source)
    if len(epochs) < 2:  # nothing to scrub: the run's saved model, as before checkpoints
        return None, []
    state = st.session_state
    slider_key, playing_key, stepped_key = f"{key}_epoch", f"{key}_playing", f"{key}_stepped"
    pending_key, run_key = f"{key}_epoch_next", f"{key}_epoch_run"
    if state.get(run_key) != (source.run_name, source.mtime):  # another run picked: start at the model it saved
        state[run_key] = (source.run_name, source.mtime)
        state[slider_key] = saved_model_epoch(source, epochs)
        state[playing_key] = False
    if pending_key in state:  # the play fragment's next epoch, set before the slider exists in this run
        state[slider_key] = state.pop(pending_key)
    if state.get(slider_key) not in epochs:
        state[slider_key] = epochs[-1]
    def toggle_play() -> None:
        state[playing_key] = not state.get(playing_key, False)
        state[stepped_key] = time.monotonic()  # the first step comes one tick after the click
        if state[playing_key] and state.get(slider_key) == epochs[-1]:
            state[slider_key] = epochs[0]  # played to the end before: play again from the start

    playing = bool(state.get(playing_key))
    with st.container(horizontal=True, vertical_alignment="bottom", key=f"{key}_scrubber"):
        epoch = st.select_slider(
            "Epoch", options=epochs, key=slider_key, format_func=lambda e: f"{e}",
            help="The model as it was after this epoch (the run's kept checkpoints). Play steps through them.",
        )
        st.button("Pause" if playing else "Play", key=f"{key}_play", on_click=toggle_play,
                  icon=":material/pause:" if playing else ":material/play_arrow:")
    if playing:
        st.fragment(lambda: _step(epochs, slider_key, playing_key, stepped_key, pending_key), run_every=PLAY_SECONDS)()
    return epoch, epochs


def scrub_to(key: str, epoch: int) -> None:
    """Have page `key`'s scrubber (e.g. `"errors"`) open at `epoch` at its next run, whatever run it shows."""
    st.session_state[f"{key}_epoch_next"] = int(epoch)


def _step(epochs: list[int], slider_key: str, playing_key: str, stepped_key: str, pending_key: str) -> None:
    """One tick of play: the next kept epoch, and a rerun of the page for it; at the last one, stop."""
    state = st.session_state
    rerun_key = f"{stepped_key}_rerun"
    if state.pop(rerun_key, False):
        return  # the rerun the last step asked for, however long it took to come (seconds, on a loaded server)
    if not state.get(playing_key) or time.monotonic() - state.get(stepped_key, 0.0) < PLAY_SECONDS * 0.8:
        return  # the page's own run (a click): no step of its own
    later = [epoch for epoch in epochs if epoch > state.get(slider_key, epochs[-1])]
    state[stepped_key] = time.monotonic()
    if later:
        state[pending_key] = later[0]
    state[playing_key] = len(later) > 1  # the step to the last epoch is the last step
    state[rerun_key] = True
    st.rerun(scope="app")
