"""Sweep: train one model many times over a search space with Optuna, and watch the trials finish."""

from pathlib import Path

import optuna
import pandas as pd
import streamlit as st

from core.config.train_config import ConfigError, preset_config
from core.config.train_form import FORM_FIELDS, GROUPS
from core.config.zoo import MODEL_NAMES, SPECS, menu_label
from core.figures.sweep_charts import readable_parallel_coordinates
from core.jobs.job_progress import format_seconds
from core.jobs.search_space import parse_search_space, searches_and_fixed
from core.jobs.sweep import OBJECTIVE, PRUNED, SWEEPS_DB, sweep_base_config
from core.jobs.sweep_estimate import sweep_seconds_at_most
from core.training.epoch_estimate import estimate_epoch
from core.jobs.sweep_jobs import (
    DONE, FAILED, STARTING, SweepBusyError, SweepJobs, SweepState, kept_damaged_sweeps, list_sweeps, load_sweep, open_sweeps,
    storage_problem, trial_rows,
)
from core.config.shown_text import markdown_text
from core.runs.store import list_runs, resolve_runs_dir, shown_runs_dir
from dashboard.visitor import may_manage

PAGES = Path(__file__).resolve().parent
JOB_KEY = "sweep_job"  # session state and query parameter: the id of this session's latest sweep
POLL_SECONDS = 2.0
DEFAULT_MODEL = "fast"
MAX_PAGE_TRIALS = 100
EXAMPLES = {  # a first sweep of the fast CNN that ends in a few minutes on 2 cores
    "epochs": "3", "train_size": "6000", "learning_rate": "1e-4:1e-1:log", "batch_size": "64,128,256",
}
KNOBS = [name for name in FORM_FIELDS if name != "model"]


@st.cache_resource
def shared_sweeps() -> SweepJobs:
    """One sweep at a time for the whole server, each on an executor of its own (see core.jobs.sweep_jobs)."""
    return SweepJobs()


@st.cache_resource(show_spinner=False)
def sweeps_storage(runs_dir: str):
    """sweeps.db, opened once (about a second) and read through at every poll; None until a sweep made it."""
    return open_sweeps(runs_dir)


def stored_sweeps():
    """`(storage, sweep ids newest first)`; `(None, [])` before the first sweep."""
    try:
        storage = sweeps_storage(str(resolve_runs_dir()))
        if storage is None:
            sweeps_storage.clear()  # not made yet: look again next time
            return None, []
        return storage, list_sweeps(storage)
    except Exception as error:  # a damaged sweeps.db: named with the fix; the form still works
        st.error(markdown_text(storage_problem(error, resolve_runs_dir()), 600), icon=":material/report:")
        return None, []


def knob_key(name: str) -> str:
    return f"sweep_knob_{name}"


def sweep_estimate(model: str, texts: dict[str, str], trials: int) -> str | None:
    """"At most about 4 min for 8 trials", from the epoch estimator; None while the knobs do not parse
    (Start then names the problem)."""
    searches, fixed = searches_and_fixed(texts)
    try:
        base, _ = sweep_base_config(model, fixed)
        space = parse_search_space(searches)
    except ConfigError:
        return None
    runs = list_runs(resolve_runs_dir())
    seconds = sweep_seconds_at_most(base, space, trials, lambda config: estimate_epoch(config, runs).seconds)
    return (f"**At most {format_seconds(seconds)}** for {trials} trial(s) one after another, each counted as the "
            "slowest the search allows; pruning and faster trials make it shorter (a Ray cluster runs several at once).")


def show_refusal(error: Exception) -> None:
    """The reason as plain text: it quotes what the visitor typed, which must not render as markdown."""
    st.error("The sweep was not started:", icon=":material/block:")
    st.code(str(error), language=None, wrap_lines=True)


def show_state(state: SweepState) -> None:
    if state.status == FAILED:
        st.error("The sweep failed:", icon=":material/block:")
        st.code(state.error, language=None, wrap_lines=True)
    elif state.status == DONE and state.done is not None:
        done = state.done
        summary = f"Sweep finished in {done.seconds:.0f} s: {done.complete} complete, {done.pruned} pruned, {done.failed} failed."
        if done.best is not None:
            summary += f" Best: trial {done.best.number}, {OBJECTIVE} {done.best.value:.2%}."
            st.success(summary)
            st.page_link(PAGES / "runs.py", label=f"Best trial's run: {done.best.run_name}", icon=":material/emoji_events:",
                         query_params={"run": done.best.run_name})
        else:
            st.warning(summary + " No trial completed.")
    else:
        finished = len(state.results)
        pruned = sum(result.state == PRUNED for result in state.results)
        text = ("Starting the sweep's worker…" if state.status == STARTING else
                f"{finished} of {state.trials} trials finished ({pruned} pruned)" + (" · stopping…" if state.stop_requested else ""))
        st.progress(finished / state.trials, text=text)
        if st.button("Stop sweep", key="sweep_stop", icon=":material/stop:", disabled=state.stop_requested or not may_manage(None),
                     help="Running trials stop after their current batch; no more start."):
            shared_sweeps().stop(state.job_id)
    for note in state.notes:
        st.info(note, icon=":material/info:")


def show_study(storage, sweep_id: str) -> None:
    """The stored study: a table of trials, the parallel-coordinates and history charts, a link per run."""
    try:
        study = load_sweep(storage, sweep_id)
        rows = trial_rows(study)
    except KeyError:
        st.warning("This sweep is no longer in the stored sweeps: it was deleted meanwhile.")
        return
    except Exception as error:  # a damaged sweeps.db
        st.error(markdown_text(storage_problem(error, resolve_runs_dir()), 600), icon=":material/report:")
        return
    if not rows:
        st.caption("No trial has started yet.")
        return
    st.dataframe(pd.DataFrame(rows), key="sweep_trials", hide_index=True, column_config={
        OBJECTIVE: st.column_config.NumberColumn(f"best {OBJECTIVE}", format="percent"),
        "learning_rate": st.column_config.NumberColumn("learning rate", format="%.3g"),  # "%g" printed 16 digits
        "reason": st.column_config.TextColumn("why it ended"),
    })
    if any(row["state"] == "COMPLETE" for row in rows):
        parallel = readable_parallel_coordinates(optuna.visualization.plot_parallel_coordinate(study, target_name=OBJECTIVE))
        history = optuna.visualization.plot_optimization_history(study, target_name=OBJECTIVE)
        st.plotly_chart(parallel, key="sweep_parallel")  # one above the other: side by side, each axis's labels were cut
        st.plotly_chart(history, key="sweep_history")
    with st.expander("Each trial's run", expanded=False):
        for row in rows:
            if row["run"]:
                st.page_link(PAGES / "runs.py", label=f"Trial {row['trial']} ({row['state'].lower()}): {row['run']}",
                             query_params={"run": row["run"]})


@st.fragment(run_every=POLL_SECONDS)
def live_sweep(job_id: str) -> None:
    """Redrawn every few seconds while the sweep runs; the sweep itself never waits on it."""
    state = shared_sweeps().get(job_id)
    if state is None or state.finished:
        st.rerun()  # the whole page: show the ending and enable Start again
    show_state(state)
    storage, stored = stored_sweeps()
    if state.sweep_id in stored:
        show_study(storage, state.sweep_id)


sweeps = shared_sweeps()
st.session_state.setdefault(knob_key("model"), DEFAULT_MODEL)
for name in KNOBS:
    st.session_state.setdefault(knob_key(name), EXAMPLES.get(name, ""))

job_id = st.session_state.get(JOB_KEY) or st.query_params.get("job")
state = sweeps.get(job_id) if job_id else None
if job_id and state is None:
    st.session_state.pop(JOB_KEY, None)
    st.query_params.pop("job", None)
elif job_id:
    st.session_state[JOB_KEY] = job_id
    st.query_params["job"] = job_id

shown_db = shown_runs_dir() / SWEEPS_DB  # never the server's absolute path
st.caption("Many trainings of one model over a search space, searched by Optuna (TPE sampler); a trial whose "
           f"{OBJECTIVE} falls below the median of the earlier trials at the same epoch is pruned. Every trial is "
           f"a run on the Runs page; the studies are in `{shown_db}` "
           f"(`optuna-dashboard sqlite:///{shown_db}` opens them too, from the project's folder).")

for kept in kept_damaged_sweeps(resolve_runs_dir()):
    st.caption(markdown_text(kept, 400))

form_column, sweep_column = st.container(key="sweep_form").columns([4, 6], gap="large")
with form_column:
    model = st.selectbox("Model", MODEL_NAMES, key=knob_key("model"), format_func=menu_label)
    trials_column, seed_column = st.columns(2)
    trials = trials_column.number_input("Trials", 1, MAX_PAGE_TRIALS, 8, key="sweep_trials_count")
    seed = seed_column.number_input("Sampler seed", 0, 2**31 - 1, 0, key="sweep_sampler_seed")
    pruning = st.checkbox("Prune trials that fall behind", value=True, key="sweep_pruning")
    texts = {name: st.session_state[knob_key(name)] for name in KNOBS}
    estimate = sweep_estimate(model, texts, int(trials))
    if estimate:
        st.markdown(estimate)
    active = state is not None and not state.finished
    allowed = may_manage(None)  # a sweep fills the queue with many trainings: on a shared server, the teacher's call
    if not allowed:
        st.caption("On this shared server only a signed-in teacher starts sweeps: each is many trainings in the class's queue.")
    # Start comes before the knobs' tabs, so a projector (1280×720) shows it without scrolling; the text
    # fields' values are already in the session state when the script reruns.
    if st.button("Start sweep", key="sweep_start", type="primary", icon=":material/play_arrow:", disabled=active or not allowed,
                 help="This session's sweep is still going: stop it first." if active else None):
        searches, fixed = searches_and_fixed(texts)
        try:
            job_id = sweeps.start(model, searches, int(trials), fixed, seed=int(seed), pruning=pruning)
        except (ConfigError, SweepBusyError) as error:
            show_refusal(error)
        else:
            st.session_state[JOB_KEY] = job_id
            st.query_params["job"] = job_id
            st.rerun()
    st.caption("For each knob: a range `low:high` (`:log` for a log scale), a list `a,b,c`, one value to fix it, "
               "or nothing for the preset's value.")
    preset = preset_config(model).to_dict()
    st.html("<style>.st-key-sweep_form [role='tablist'] { flex-wrap: wrap; row-gap: 0.25rem; }</style>")  # not cut at 1280 px
    for group, tab in zip(GROUPS, st.tabs(list(GROUPS))):
        with tab:
            columns = st.columns(2)
            for index, name in enumerate(name for name in KNOBS if FORM_FIELDS[name].group == group):
                field = FORM_FIELDS[name]
                columns[index % 2].text_input(field.label, key=knob_key(name), max_chars=500,
                                              placeholder=f"preset: {preset[name]}", help=field.help)

with sweep_column:
    if state is not None and not state.finished:
        live_sweep(state.job_id)
    else:
        storage, stored = stored_sweeps()
        if state is not None:
            show_state(state)
        if not stored:
            st.info("Pick a model, give one or more knobs a range or a list and press **Start sweep**. "
                    "Trials appear here as they finish; the sweep goes on if you change pages.")
        else:
            current = state.sweep_id if state is not None and state.sweep_id in stored else stored[0]
            chosen = st.selectbox("Sweep", stored, index=stored.index(current), key=f"sweep_shown_{current}")
            show_study(storage, chosen)
