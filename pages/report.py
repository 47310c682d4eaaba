"""Report: one run on one screen — its curves, per-digit accuracy, calibration, robustness, and what to take home."""

import json
from pathlib import Path

import streamlit as st

from core.calibration.run_calibration import cached_calibration
from core.config.shown_text import markdown_code, markdown_text
from core.figures.confusion import per_class_accuracy, predicted_labels
from core.figures.curves import training_curves
from core.figures.prediction_charts import accuracy_bars
from core.figures.report_charts import digit_strip, reliability_figure, robustness_figure
from core.robustness.perturbations import PERTURBATIONS
from core.robustness.sweep import REPORT_ERROR_FILE, accuracy_table, cached_samples, cached_sweep, read_progress
from core.runs.model_sources import describe
from core.runs.store import NUMPY_MODEL_FILE, RunError, list_runs, load_predictions, metrics_csv, resolve_runs_dir
from dashboard.report_jobs import report_jobs
from dashboard.script_download import script_download_button

PAGES = Path(__file__).resolve().parent
ROW_HEIGHT = 200  # pixels per chart row: two rows, the pickers and the title fit 1280 x 720
PHONE_COLUMNS = 2  # robustness charts per row on a phone
PROGRESS_SECONDS = 1.0
MAX_COMPARED = 4


def take_it_home(run) -> None:
    """What a learner can download from the report: the run's training script, its metrics and its report card."""
    script_download_button(run, key="report_download_script", label="Training script (.py)", where=st)
    st.download_button("Metrics (.csv)", metrics_csv(run), file_name=f"{run.name}-metrics.csv", mime="text/csv",
                       key="report_download_metrics", icon=":material/description:", disabled=not run.epochs,
                       width="stretch")
    card = {"run": run.name, "model": run.model, "test_accuracy": run.test_accuracy,
            "calibration": cached_calibration(run.name, runs_dir), "robustness": cached_sweep(run.name, runs_dir)}
    for part in ("calibration", "robustness"):
        if card[part]:
            card[part] = {key: value for key, value in card[part].items() if key not in ("stamp",)}
    st.download_button("Report card (.json)", json.dumps(card, indent=1), file_name=f"{run.name}-report.json",
                       mime="application/json", key="report_download_card", icon=":material/assignment:",
                       disabled=card["robustness"] is None, width="stretch")


@st.fragment(run_every=PROGRESS_SECONDS)
def wait_for_report(name: str) -> None:
    """While the report process runs: its progress; when its results are cached, the whole page again."""
    jobs = report_jobs()
    if cached_sweep(name, runs_dir) is not None and cached_calibration(name, runs_dir) is not None:
        st.rerun()  # the results are in: draw the whole report
    busy = jobs.busy_with()
    if busy is None:
        error = runs_dir / name / REPORT_ERROR_FILE
        if error.is_file():  # the last try failed: say why, and try again only when asked
            st.error(f"The report could not be computed: {markdown_text(error.read_text(errors='replace'), 600)}")
            if st.button("Try again", key="report_try_again"):
                error.unlink(missing_ok=True)
                jobs.start(runs_dir, name)
            return
        jobs.start(runs_dir, name)
    elif busy != name:
        st.info(f"Waiting for run {markdown_code(busy)}'s report to finish (one report at a time on this server).")
        return
    progress = read_progress(name, runs_dir)
    if progress is None:
        st.progress(0.0, text="Calibrating on the validation split…")
    else:
        level = progress["level"]
        st.progress(progress["done"] / progress["total"],
                    text=f"Robustness sweep: {progress['done']} of {progress['total']} levels "
                         f"({progress['perturbation']} {level:g} {PERTURBATIONS[progress['perturbation']].unit})")


runs_dir = resolve_runs_dir()
finished = [run for run in list_runs(runs_dir) if run.has_predictions and (run.path / NUMPY_MODEL_FILE).is_file()]
if not finished:
    st.info("No finished run with a NumPy model yet: train one on the Train page, then open its report here.")
    st.page_link(PAGES / "train.py", label="Train a model", icon=":material/model_training:")
    st.stop()
labels = {run.name: describe(run.name, run.model, run.test_accuracy) for run in finished}
linked = st.query_params.get("run")
if linked in labels and st.session_state.get("report_applied_link") != linked:  # a link from Runs or Train picks its run
    st.session_state["report_applied_link"] = linked
    st.session_state["report_run"] = linked
st.html("<style>[data-testid='stMainBlockContainer'] { padding-top: 2.5rem; }</style>")  # one screen at 1280x720
pick_column, compare_column, home_column = st.columns([3, 3, 1.4], vertical_alignment="bottom")
name = pick_column.selectbox("Run", list(labels), format_func=labels.get, key="report_run")
run = next(run for run in finished if run.name == name)
others = [other for other in labels if other != name]
compared = compare_column.multiselect("Compare robustness with", others, format_func=labels.get, key="report_compare",
                                      max_selections=MAX_COMPARED, placeholder="other runs, e.g. an augmented one",
                                      help="Their robustness curves are drawn over this run's (computed when first shown).")
with home_column.popover("Take it home", icon=":material/download:", width="stretch", key="report_take_it_home"):
    take_it_home(run)

calibration = cached_calibration(name, runs_dir)
swept = cached_sweep(name, runs_dir)
missing = [other for other in compared if cached_sweep(other, runs_dir) is None]
if calibration is None or swept is None:
    wait_for_report(name)
elif missing:
    st.caption(f"Computing the robustness of {markdown_code(missing[0])} to compare it.")
    wait_for_report(missing[0])

summary = [f"Test accuracy **{run.test_accuracy:.2%}**" if run.test_accuracy is not None else "No test accuracy"]
if calibration is not None:
    summary.append(f"ECE **{calibration['ece']:.2%}** → **{calibration['ece_after_temperature']:.2%}** after temperature "
                   f"{calibration['temperature']:.2f}")
if swept is not None:
    worst = min(swept["results"], key=lambda result: result["accuracy"])
    summary.append(f"worst: {worst['perturbation']} {worst['level']:g} {PERTURBATIONS[worst['perturbation']].unit}, "
                   f"{worst['accuracy']:.1%}")
st.markdown(" · ".join(summary))

curves_column, digits_column, calibration_column = st.columns(3)
with curves_column:
    figure = training_curves(run.epochs, "accuracy")
    figure.update_layout(height=ROW_HEIGHT, title=dict(text="Accuracy per epoch", font=dict(size=13)),
                         margin=dict(l=10, r=10, t=30, b=10), showlegend=False)
    st.plotly_chart(figure, key="report_curves", config={"displayModeBar": False})
with digits_column:
    try:
        y_true, probabilities = load_predictions(name, runs_dir)
    except RunError as error:
        st.error(markdown_text(error, 600))
    else:
        figure = accuracy_bars(per_class_accuracy(y_true, predicted_labels(probabilities)))
        figure.update_traces(textfont=dict(size=9))
        figure.update_layout(height=ROW_HEIGHT, title=dict(text="Test accuracy per digit", font=dict(size=13)),
                             margin=dict(l=10, r=10, t=30, b=10))
        st.plotly_chart(figure, key="report_per_digit", config={"displayModeBar": False})
with calibration_column:
    if calibration is not None:
        figure = reliability_figure(calibration["bins"], calibration["bins_after_temperature"], calibration["temperature"],
                                    height=ROW_HEIGHT)
        figure.update_layout(title=dict(text="Calibration (test set)", font=dict(size=13)), margin=dict(t=30))
        st.plotly_chart(figure, key="report_calibration", config={"displayModeBar": False})

tables = {labels[other]: accuracy_table(cached) for other in [name, *compared]
          if (cached := cached_sweep(other, runs_dir)) is not None}
if tables:
    perturbations = [(key, perturbation.unit) for key, perturbation in PERTURBATIONS.items()]
    # Six charts in one row on a screen, in rows of two on a phone (where a row of six is 50 px a chart):
    # both are sent, a media query shows the one that fits (Streamlit's own columns stack at 640 px too).
    st.html("<style>@media (max-width: 640px) { .st-key-report_robustness { display: none; } } "
            "@media (min-width: 641px) { .st-key-report_robustness_phone { display: none; } }</style>")
    st.plotly_chart(robustness_figure(perturbations, tables, height=ROW_HEIGHT), key="report_robustness",
                    config={"displayModeBar": False})
    st.plotly_chart(robustness_figure(perturbations, tables, columns=PHONE_COLUMNS, height=ROW_HEIGHT),
                    key="report_robustness_phone", config={"displayModeBar": False})
    samples = cached_samples(name, runs_dir)
    with st.expander("How these were measured, and the perturbed digits", icon=":material/grid_on:"):
        if calibration is not None:
            st.caption(f"Calibration: top-label ECE over 15 confidence bins, measured on "
                       f"{markdown_text(calibration['evaluated_on'], 100)}; the temperature was fitted on "
                       f"{markdown_text(calibration['fitted_on'], 200)}. A temperature never changes the top class.")
        if swept is not None:
            st.caption(f"Robustness: all {swept['images']:,} test digits at each level, through the run's NumPy model; "
                       + " ".join(f"**{key}**: {markdown_text(p.description, 200)}" for key, p in PERTURBATIONS.items()))
        for column, (key, perturbation) in zip(st.columns(len(PERTURBATIONS)), PERTURBATIONS.items()):
            if key in samples:
                levels = ", ".join(f"{level:g}" for level in perturbation.levels)
                column.image(digit_strip(samples[key]), caption=f"{key}: {levels} {perturbation.unit}", width="stretch")
