"""Runs: every saved training run; overlay their curves, fork or resume them, download them (model, metrics, a training
script) or delete them."""

import html
from pathlib import Path

import pandas as pd
import streamlit as st

from core.figures.curves import METRICS, overlay_curves, training_curves
from core.training.events import RUNNING
from core.runs.run_differences import as_trained, difference_labels, differing_settings
from core.runs.run_table import COLUMNS, SHOWN_AT_FIRST, matches, run_rows
from core.runs.store import (
    CONTROLS_FILE, MODEL_FILE, RunError, delete_run, list_runs, load_points, load_run, metrics_csv, read_points,
    resolve_runs_dir, run_file, shown_runs_dir,
)
from core.config.shown_text import markdown_code, markdown_text
from core.runs import run_notes, run_owners
from core.runs.run_notes import MAX_NOTE, MAX_TITLE, RunNote, all_notes, forget_note, set_note
from core.runs.run_owners import forget_owner, owner_of
from dashboard.script_download import script_download_button
from core.config.train_config import ConfigError, from_dict
from core.config.train_form import FORM_FIELDS
from core.jobs.sharing import SharingLimitError
from core.jobs.training_jobs import QueueFullError
from core.runs.checkpoints import list_checkpoints
from core.runs.continuations import continuation_schedule_note
from dashboard.shared_jobs import shared_jobs
from dashboard.visitor import may_manage, visitor_id

PAGES = Path(__file__).resolve().parent
OVERLAY_DEFAULT = 3  # runs overlaid when the page opens: the newest ones with epochs
CONFIRM_KEY = "runs_confirm_delete"  # session state: the run whose deletion awaits a yes
SESSION_RUNS_KEY = "session_runs"  # session state: names of the runs this session trained (set by Train)
FORK_REQUEST_KEY = "train_fork_request"  # session state: (run, epoch) the Train form opens a fork of
TRAIN_JOB_KEY = "train_job"  # session state: the job the Train page follows


def model_bytes(name: str, runs_dir: Path):
    """A deferred download: the file is read only when the button is pressed (never through a symlink)."""
    return lambda: run_file(runs_dir, name, MODEL_FILE).read_bytes()


runs_dir = resolve_runs_dir()
runs = list_runs(runs_dir)
shown_dir = shown_runs_dir(runs_dir)
st.caption(f"Saved in the server's {markdown_code(shown_dir)} folder. Open the training logs with "
           f"{markdown_code(f'tensorboard --logdir {shown_dir}')}.")

for report in run_owners.damage_reports(runs_dir) + run_notes.damage_reports(runs_dir):
    st.warning(markdown_text(report, 600), icon=":material/report:")

if not runs:
    st.info("No saved runs yet. Every training started on the Train page (or with `python -m core train`) "
            "is saved here.")
    st.page_link(PAGES / "train.py", label="Train a model", icon=":material/model_training:")
    st.stop()

session_runs = set(st.session_state.get(SESSION_RUNS_KEY, ()))
notes = all_notes(runs_dir)
rows = run_rows(runs)
for row in rows:  # runs this browser session trained, marked; each run's title beside its name
    row["title"] = notes[row["run"]].title if row["run"] in notes else ""
    row["run"] = f"{row['run']} ★" if row["run"] in session_runs else row["run"]
filter_column, columns_column = st.columns([2, 3])
wanted = filter_column.text_input("Filter", key="runs_filter", placeholder="e.g. adam relu",
                                  help="Shows the runs whose cells contain every word typed (any column).")
shown_columns = columns_column.multiselect("Columns", list(COLUMNS), default=list(SHOWN_AT_FIRST), key="runs_columns",
                                           help="Every hyperparameter of a run is a column; pick the ones to compare.")
rows = [row for row in rows if matches(row, wanted)] if wanted else rows
if session_runs:
    st.caption("★ = trained in this browser session.")
if wanted and not rows:
    st.info("No run matches the filter. Clear it to see every run.")
table = pd.DataFrame(rows, columns=["run", "title", *COLUMNS[1:]])
st.dataframe(
    table, key="runs_table", hide_index=True, column_order=[c for c in ("run", "title", *COLUMNS[1:]) if c in shown_columns or c == "title"],
    column_config={
        "run": st.column_config.TextColumn("run", pinned=True),
        "learning_rate": st.column_config.NumberColumn("learning rate", format="%.3g"),  # "%g" printed 16 digits
        "batch_size": st.column_config.NumberColumn("batch", help="0 = full batch"),
        "train_size": st.column_config.NumberColumn("train images", help="0 = all"),
        "best_val_accuracy": st.column_config.NumberColumn("best val_accuracy", format="percent"),
        "test_accuracy": st.column_config.NumberColumn(
            "test accuracy", format="percent",
            help="Scored on the 10,000 test images once training ends; empty (None) for a run that was "
                 "interrupted or failed before that",
        ),
        "model_epoch": st.column_config.NumberColumn(
            "model from epoch", help="The epoch whose model the run kept: its best (lowest val_loss) with "
                                     "'Keep the best epoch', else its last"),
        "checkpoints": st.column_config.NumberColumn("checkpoints", help="Epochs kept as checkpoints"),
        "parent": st.column_config.TextColumn("forked from", help="The run and epoch a fork continued from"),
        "size_mb": st.column_config.NumberColumn("size (MB)", format="%.2f",
                                                 help="The run folder on disk, checkpoints included; deleting the run frees it"),
        "seconds": st.column_config.NumberColumn("duration (s)", format="%.1f"),
        "problems": st.column_config.TextColumn("problems", help="Files missing or damaged in the run folder"),
    },
)
damaged = [run for run in runs if run.problems]
if damaged:
    st.warning(f"{len(damaged)} run folder(s) are damaged; what could be read is shown, the problems are listed "
               "in the last column.")

st.subheader("Compare curves")
names = [run.name for run in runs]
with_epochs = [run.name for run in runs if run.epochs]
choice_column, metric_column = st.columns([4, 1])
chosen = choice_column.multiselect("Runs to overlay", names, default=with_epochs[:OVERLAY_DEFAULT], key="runs_overlay")
metric = metric_column.radio("Metric", METRICS, key="runs_metric", horizontal=True)
epochs_of = {run.name: run.epochs for run in runs}
configs = {run.name: as_trained(run.config, read_points(run.path / CONTROLS_FILE)) for run in runs if run.name in chosen}
if chosen:
    titles = {name: html.escape(notes[name].title) for name in chosen if name in notes and notes[name].title}
    labels = difference_labels({name: configs.get(name, {}) for name in chosen}, titles)  # legends: title, or what differs
    st.plotly_chart(overlay_curves({labels[name]: epochs_of[name] for name in chosen}, metric), key="runs_overlay_chart")
    differing = differing_settings({name: configs.get(name, {}) for name in chosen})
    if len(chosen) > 1:
        with st.expander(f"What differs between these {len(chosen)} runs", expanded=True):
            if differing:
                st.dataframe(pd.DataFrame(differing, index=chosen).rename_axis("run").reset_index(),
                             key="runs_differences", hide_index=True)
            else:
                st.caption("Nothing: the same settings (they differ only by chance, if at all).")
else:
    st.caption("Pick one or more runs to see their curves on one chart.")

st.subheader("One run")
if st.query_params.get("run") in names:  # a link to one run (a sweep's trial, a finished training) selects it
    st.session_state.setdefault("runs_selected", st.query_params["run"])
selected = st.selectbox("Run", names, key="runs_selected")
try:
    run = load_run(selected, runs_dir)
except RunError as error:
    st.warning(f"{markdown_text(error, 600)} The list above was read a moment earlier.")
    st.stop()

status_line = f"**{run.status.replace('_', ' ')}**" + (f": {markdown_text(run.reason, 400)}" if run.reason else "")
if isinstance(run.test_accuracy, float):
    status_line += f" · test accuracy {run.test_accuracy:.2%}"
st.markdown(status_line)
for problem in run.problems:
    st.error(f"Damaged run: {markdown_text(problem, 400)}.")
points, rate_changes = load_points(run.name, runs_dir)
if run.epochs or points:  # the replay: batch-level points and learning-rate marks, as the Train page showed them live
    loss_column, accuracy_column = st.columns(2)
    for column, shown in ((loss_column, "loss"), (accuracy_column, "accuracy")):
        column.plotly_chart(training_curves(run.epochs, shown, points, rate_changes, smoothing=0.6),
                            key=f"runs_replay_{shown}")

owned = may_manage(owner_of(runs_dir, run.name))
try:
    kept = list_checkpoints(runs_dir, run.name)
except RunError:  # deleted a moment ago: the run's own lines above say what was read
    kept = []
if kept:  # go on from a checkpoint: a fork (a new run, anyone's) or a resume (the same run, its owner's)
    fork_column, resume_column = st.columns(2, vertical_alignment="bottom")
    with fork_column:
        fork_epoch = st.selectbox("Fork from epoch", kept, index=len(kept) - 1, key=f"runs_fork_epoch_{run.name}",
                                  help="Any kept checkpoint: the new run continues from its weights and optimizer state.")
        if st.button(f"Fork from epoch {fork_epoch}", key="runs_fork", icon=":material/call_split:",
                     help="Opens the Train form with this run's settings: change the learning rate, the optimizer, "
                          "the epochs… (not the model or its width), then Start. The fork is a new run, yours; "
                          "its curves go on from this epoch."):
            st.session_state[FORK_REQUEST_KEY] = (run.name, int(fork_epoch))
            st.switch_page(PAGES / "train.py")
    with resume_column:
        more = st.number_input("More epochs", 1, FORM_FIELDS["epochs"].high, 1, key="runs_resume_epochs")
        resume_help = (f"Goes on with this run itself from epoch {kept[-1]}, its last checkpoint, with its own settings; "
                       "the new epochs are appended (anything recorded after that checkpoint is dropped).")
        try:  # a one-cycle run: which cycle the resume trains with, said before the click
            schedule_note = continuation_schedule_note(runs_dir, run.name, kept[-1],
                                                       from_dict({**run.config, "epochs": int(more)}))
        except (ConfigError, RunError):  # the button's own refusal says what is wrong
            schedule_note = None
        if st.button(f"Resume for {more} more epoch{'s' if more != 1 else ''}", key="runs_resume",
                     icon=":material/play_circle:", disabled=not owned or run.status == RUNNING,
                     help=("Only the visitor who trained this run, or a signed-in teacher, can resume it; anyone "
                           "can fork it." if not owned else "Still training." if run.status == RUNNING else resume_help)):
            try:
                job_id = shared_jobs().submit(from_dict({**run.config, "epochs": int(more)}), name=run.name,
                                              owner=visitor_id(), resume=True)
            except (ConfigError, RunError, QueueFullError, SharingLimitError) as error:  # each names the run and the fix
                st.error(markdown_text(error, 600))
            else:
                st.session_state[TRAIN_JOB_KEY] = job_id  # the Train page follows it
                st.switch_page(PAGES / "train.py")
        if schedule_note:
            st.caption(f"Its learning rate, resumed: {markdown_text(schedule_note, 300)}.")

has_model = run.has_model and not (run.path / MODEL_FILE).is_symlink()
downloads = st.columns(4)
downloads[0].download_button(
    "Download model (.keras)", model_bytes(run.name, runs_dir), file_name=f"{run.name}.keras",
    mime="application/zip", key="runs_download_model", disabled=not has_model, icon=":material/inventory_2:",
    help=None if has_model else "This run saved no model: it did not finish an epoch, or was damaged.",
)
downloads[1].download_button(
    "Download metrics (.csv)", metrics_csv(run), file_name=f"{run.name}-metrics.csv", mime="text/csv",
    key="runs_download_metrics", icon=":material/description:", disabled=not run.epochs,
)
script_download_button(run, key="runs_download_script", where=downloads[2])
if run.has_predictions:
    st.page_link(PAGES / "report.py", label="Open its report: robustness, calibration, per-digit accuracy",
                 icon=":material/assignment:", query_params={"run": run.name})
current = notes.get(run.name, RunNote())
if current.title or current.note:
    st.text(f"{current.title}\n{current.note}".strip())  # a visitor's text: shown as typed, never as markdown
with st.expander("Title and note", icon=":material/edit_note:"):
    st.caption("Public: a title and a note are visible to everyone on this server.")
    with st.form(f"runs_note_{run.name}", border=False):
        title = st.text_input("Title", current.title, max_chars=MAX_TITLE, key=f"runs_note_title_{run.name}",
                              help="Shown in the table and in the legends of compared curves, e.g. \"relu + adam\".")
        note = st.text_area("Note", current.note, max_chars=MAX_NOTE, key=f"runs_note_text_{run.name}", height=80)
        if st.form_submit_button("Save", disabled=not owned,
                                 help=None if owned else "Only the visitor who trained this run, or a signed-in teacher, can name it."):
            set_note(runs_dir, run.name, title, note)
            st.rerun()
with downloads[3]:
    if st.session_state.get(CONFIRM_KEY) != run.name or not owned:
        if st.button("Delete run…", key="runs_delete", icon=":material/delete:", disabled=run.status == RUNNING or not owned,
                     help=("Only the visitor who trained this run, or a signed-in teacher, can delete it." if not owned
                           else "Still training: stop it on the Train page first." if run.status == RUNNING else None)):
            st.session_state[CONFIRM_KEY] = run.name
            st.rerun()
    else:
        st.warning(f"Delete {markdown_code(run.name)} and all its files? This cannot be undone.")
        yes, no = st.columns(2)
        if yes.button("Yes, delete", key="runs_delete_yes", type="primary"):
            st.session_state.pop(CONFIRM_KEY, None)
            try:
                delete_run(run.name, runs_dir)
                forget_owner(runs_dir, run.name)
                forget_note(runs_dir, run.name)
            except RunError as error:
                st.error(markdown_text(error, 600))
            else:
                st.toast(f"Deleted run {markdown_code(run.name)}.")
                st.rerun()
        if no.button("Cancel", key="runs_delete_no"):
            st.session_state.pop(CONFIRM_KEY, None)
            st.rerun()

with st.expander("Configuration"):
    st.json(run.config)
