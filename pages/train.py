"""Train: pick a model and its knobs, start a training in the background, watch it batch by batch and steer it."""

import time
from pathlib import Path
from urllib.parse import urlencode

import streamlit as st

from core.config.shown_text import markdown_code, markdown_text
from core.config.live_learning_rate import parse_learning_rate
from core.config.train_config import ConfigError, from_dict
from core.figures.curves import training_curves
from core.training.batch_points import recent_mean
from core.runs.checkpoints import budget_note, estimated_checkpoint_mb
from core.training.epoch_estimate import estimate_epoch, run_seconds, split_sizes
from core.training.training_health import training_health
from core.training.events import COMPLETED, EARLY_STOPPED, RUNNING, STOPPED, TARGET_REACHED
from core.jobs.job_progress import about, describe_pause, describe_progress, format_seconds
from core.runs.run_differences import learning_rate_story
from core.runs.store import RunError, list_runs, load_run, resolve_runs_dir
from core.config.train_form import (
    MAX_LEARNING_RATE,
    DEFAULT_MODEL, FORM_FIELDS, GROUPS, architecture_changes, build_config, config_query, default_values, inactive_fields, learning_rate_warning,
    WRITE_UP_MODELS, is_write_up, query_for, usual_learning_rate, values_from_query, write_up_note, write_up_values,
)
from core.jobs.memory_cap import memory_refusal
from core.jobs.poll_pace import FAR_QUEUED_POLL_SECONDS, POLL_SECONDS, QUEUED_POLL_SECONDS, QUICK_POLL_SECONDS, poll_seconds
from core.jobs.sharing import SharingLimitError
from core.jobs.training_jobs import JobState, QueueFullError
from core.config.zoo import MODEL_NAMES, SPECS, menu_label
from dashboard.address_bar import is_stale_echo, remember_sent
from dashboard.classroom import challenge_note
from dashboard.shared_jobs import queue_starts, shared_jobs, visitor_is_here
from dashboard.visitor import may_manage, sharing_rules, visitor_id

PAGES = Path(__file__).resolve().parent
JOB_KEY = "train_job"  # session state: the id of this session's latest training job
START_PROBLEM_KEY = "train_start_problem"  # session state: why the last Start was refused
FORK_KEY = "train_fork"  # session state: (run, epoch) the form's next Start forks from
FORK_REQUEST_KEY = "train_fork_request"  # session state: (run, epoch), set by the Runs page's Fork button
QUICK_POLL_GRACE_SECONDS = 3.0  # a job's first seconds stay on the quick pace: no page rerun as its first percent lands
SMOOTHING_KEY, LIVE_RATE_KEY = "train_smoothing", "train_live_learning_rate"
LIVE_RATE_ANSWER_KEY = "train_live_learning_rate_answer"  # session state: (accepted, what the last Set said)
DEFAULT_SMOOTHING = 0.6
RECENT_IMAGES = 2000  # the "last batches" tile averages over about this many training images


@st.cache_data(ttl=20, show_spinner=False)
def saved_runs(runs_dir: str):
    return list_runs(runs_dir)


def widget_key(name: str) -> str:
    return f"train_{name}"


def load_values(values: dict) -> None:
    for name, value in values.items():
        st.session_state[widget_key(name)] = float(value) if FORM_FIELDS[name].kind == "float" else value


def load_preset() -> None:
    """When the model changes, its write-up's preset fills the form."""
    load_values(default_values(st.session_state[widget_key("model")]))


def load_write_up() -> None:
    """The "As in the write-up" button: the write-up's settings, on all its training images."""
    load_values(write_up_values(st.session_state[widget_key("model")]))


def write_up_time(values: dict, runs) -> str:
    """How long the write-up's settings of the form's model take on this machine, from the epoch estimator,
    and, on a shared server whose caps they exceed, what the caps do to them."""
    full = build_config(write_up_values(values["model"]))
    seconds = run_seconds(full, estimate_epoch(full, runs).seconds)
    rules = sharing_rules()
    if rules.max_epochs is not None and full.epochs > rules.max_epochs:
        return f"{about(seconds)} (but this server trains at most {rules.max_epochs} epochs a run, not their {full.epochs:,})"
    if rules.max_job_seconds is not None and seconds > rules.max_job_seconds:
        return f"{about(seconds)} (but this server stops a training after {format_seconds(rules.max_job_seconds)})"
    return about(seconds)


def offer_usual_learning_rate() -> None:
    optimizer = st.session_state[widget_key("optimizer")]
    st.session_state[widget_key("learning_rate")] = usual_learning_rate(optimizer)
    st.toast(f"Learning rate set to {usual_learning_rate(optimizer):g}, usual for {optimizer}.")


def field_widget(name: str, inactive: dict[str, str]) -> None:
    field = FORM_FIELDS[name]
    reason = inactive.get(name)
    options = dict(
        key=widget_key(name), disabled=reason is not None, persist_state="session",
        help=field.help + (f" Inactive now: {reason}." if reason else ""),
    )
    if name == "optimizer":  # switching offers the new optimizer's usual learning rate
        st.selectbox(field.label, field.choices, on_change=offer_usual_learning_rate, **options)
    elif field.choices:
        st.selectbox(field.label, field.choices, **options)
    elif field.kind == "bool":
        st.checkbox(field.label, **options)
    else:
        st.number_input(field.label, field.low, field.high, step=field.step, format=field.format, **options)


def show_latest_metrics(state: JobState) -> None:
    """Four tiles, each saying which number it is: batch-level train, last validation, test."""
    columns = [*st.columns(2), *st.columns(2)]  # two by two: four across cut labels and values short at 1280 px
    columns[0].metric(f"Epochs done (of {state.config.epochs:,})", f"{len(state.epochs):,}")
    recent = recent_mean(state.points, RECENT_IMAGES)
    last = state.epochs[-1] if state.epochs else None
    if recent is not None and not state.finished:
        loss, accuracy, images = recent
        columns[1].metric("train (last batches)", f"{accuracy:.1%}",
                          help=f"Training accuracy over the last {images:,} images, as they were trained (dropout on, "
                               f"weights still moving); their loss {loss:.4f}.")
    elif last is not None:
        columns[1].metric(f"train (epoch {last.epoch})", f"{last.accuracy:.1%}",
                          help=f"Training accuracy over epoch {last.epoch}'s batches, as they were trained; loss {last.loss:.4f}.")
    else:
        columns[1].metric("train accuracy", "—", help="Shown after the first batches.")
    scored = [e for e in state.epochs if e.val_accuracy is not None]
    if scored:
        columns[2].metric(f"val_accuracy (epoch {scored[-1].epoch})", f"{scored[-1].val_accuracy:.1%}",
                          help=f"On the validation images after epoch {scored[-1].epoch}; val_loss {scored[-1].val_loss:.4f}.")
    else:
        columns[2].metric("val_accuracy", "—", help="Scored after each epoch, when the run has validation images.")
    columns[3].metric("test accuracy", "—" if state.test_accuracy is None else f"{state.test_accuracy:.2%}",
                      help="On the 10,000 test images, scored once training has ended.")


def show_ending(state: JobState) -> None:
    """The job's end in one box; every word that came from the run (its reason, its name) is escaped."""
    reason = markdown_text(state.reason.rstrip(". ") or "no reason recorded", 400)
    summary = f"**{state.status.replace('_', ' ')}**: {reason}."
    saved_model = state.test_accuracy is not None  # a model is saved, and scored, only when epochs finished
    if saved_model:
        summary += f" Test accuracy **{state.test_accuracy:.2%}**"
        kept_best = state.model_epoch is not None and state.epochs and state.model_epoch != state.epochs[-1].epoch
        summary += f", with the model of epoch {state.model_epoch}, its best (lowest val_loss)." if kept_best else "."
    if state.run_name:
        run = markdown_code(state.run_name)
        if saved_model:
            summary += f" Saved as run {run}."
        elif state.epochs:
            summary += f" No model was saved; its {len(state.epochs)} finished epoch(s) are kept in run {run}."
        else:
            summary += f" No epoch finished, so no model was saved (run {run})."
    if state.status in (COMPLETED, EARLY_STOPPED, TARGET_REACHED):
        st.success(summary)
    elif state.status == STOPPED:
        st.warning(summary)
    else:
        st.error(summary)
    if state.run_name and saved_model:
        st.caption("Next, with this run: compare its curves with others, look inside the network, or study its mistakes.")
        links = st.columns(3)
        this_run = {"run": state.run_name}  # each page opens on this run, not on the shipped model
        links[0].page_link(PAGES / "runs.py", label="Runs", icon=":material/stacked_line_chart:", query_params=this_run)
        links[1].page_link(PAGES / "inspect.py", label="Inspect", icon=":material/biotech:", query_params=this_run)
        links[2].page_link(PAGES / "errors.py", label="Errors", icon=":material/error:", query_params=this_run)
    elif state.run_name:
        st.page_link(PAGES / "runs.py", label="See its finished epochs on Runs", icon=":material/stacked_line_chart:",
                     query_params={"run": state.run_name})


def job_figures(state: JobState, smoothing: float):
    """The job's loss and accuracy figures, rebuilt only when a point, an epoch or the smoothing changed."""
    key = (state.job_id, state.points[-1].step if state.points else 0, len(state.points), len(state.epochs),
           len(state.learning_rate_changes), smoothing)
    cached = st.session_state.get("train_figures")
    if cached is None or cached[0] != key:
        cached = (key, *(training_curves(state.epochs, metric, state.points, state.learning_rate_changes, smoothing)
                         for metric in ("loss", "accuracy")))
        st.session_state["train_figures"] = cached
    return cached[1], cached[2]


def settings_url(config) -> str:
    """The full address of this page with `config`'s settings, to copy or share."""
    try:
        base = str(st.context.url or "").split("?")[0]
    except Exception:  # no browser behind this session (AppTest)
        base = ""
    return f"{base}?{urlencode(query_for(config))}"


def follow_form_in_url(config) -> None:
    """Keep the address bar equal to the form (`?model=…&learning_rate=…`, and `job=` when one is followed),
    so a reload or a shared link restores it. Written as already applied: it never re-applies itself."""
    wanted = query_for(config)
    held = st.query_params.to_dict()
    if {key: value for key, value in held.items() if key in FORM_FIELDS} != wanted:
        # One message, remembered before it goes: a click that interrupts this run can neither leave the
        # browser a half-changed query string nor echo back one this session does not know it sent.
        new = {key: value for key, value in held.items() if key not in FORM_FIELDS} | wanted
        remember_sent(new)
        st.query_params.from_dict(new)
    st.session_state["train_link_applied"] = config_query(st.query_params.to_dict())


def start_training() -> None:
    """The Start button's callback: queue the form's training for this visitor, or keep the reason it was refused."""
    values = {name: st.session_state[widget_key(name)] for name in FORM_FIELDS}
    fork = st.session_state.get(FORK_KEY)
    try:
        job_id = shared_jobs().submit(build_config(values), owner=visitor_id(), fork_from=fork)
    except (ConfigError, QueueFullError, SharingLimitError, RunError) as error:  # each names the problem and the fix
        st.session_state[START_PROBLEM_KEY] = str(error)
        return
    st.session_state[JOB_KEY] = job_id  # the page, rerunning now, shows the job and puts it in the URL
    st.session_state.pop(FORK_KEY, None)  # the fork is made: the next Start is a run of its own


def cancel_fork() -> None:
    st.session_state.pop(FORK_KEY, None)


def steering(state: JobState) -> None:
    """Stop, Pause/Resume, Step and a new learning rate for the running job (from its next batch)."""
    jobs = shared_jobs()
    if not may_manage(state.owner):
        st.caption("You are following someone else's training: only they, or a signed-in teacher, can stop or steer it.")
        return
    rate_now = float(state.learning_rate or state.config.learning_rate)
    if st.session_state.get("train_live_rate_job") != state.job_id:  # a new job: its own rate in the field
        st.session_state["train_live_rate_job"] = state.job_id
        st.session_state[LIVE_RATE_KEY] = f"{rate_now:g}"
        st.session_state.pop(LIVE_RATE_ANSWER_KEY, None)
    running = state.status == RUNNING
    stop, pause, step = st.columns(3)
    rate, apply = st.columns([3, 1], vertical_alignment="bottom")
    if stop.button("Stop", key="train_stop", icon=":material/stop:", help="Stops after the current batch; finished epochs are kept."):
        jobs.stop(state.job_id)
        st.toast("Stopping after the current batch…")
    if state.paused:
        if pause.button("Resume", key="train_resume", icon=":material/play_arrow:", type="primary"):
            jobs.resume(state.job_id)
            st.rerun(scope="fragment")
    elif pause.button("Pause", key="train_pause", icon=":material/pause:", disabled=not running,
                      help="Holds the training before its next batch; the curves stop until Resume."):
        jobs.pause(state.job_id)
        st.rerun(scope="fragment")
    if step.button("Step", key="train_step", icon=":material/skip_next:", disabled=not state.paused,
                   help="While paused: train one more batch (small batches: one group of them), then hold again."):
        jobs.step(state.job_id)
    rate.text_input("Learning rate", key=LIVE_RATE_KEY, max_chars=60, disabled=not running,
                    help=f"Above 0 and at most {MAX_LEARNING_RATE:g}; used from the next batch on. A one-cycle schedule "
                         "goes on from it, in the same shape. The change is marked on the curves and recorded in the run.")
    if apply.button("Set", key="train_set_learning_rate", icon=":material/check:", disabled=not running):
        try:
            new_rate = parse_learning_rate(st.session_state[LIVE_RATE_KEY])
            jobs.set_learning_rate(state.job_id, new_rate)
        except ValueError as error:  # what was typed, why it was refused, the range; never the rate it had before
            st.session_state[LIVE_RATE_ANSWER_KEY] = (False, f"{error} The training goes on at {rate_now:g}.")
        else:
            st.session_state[LIVE_RATE_ANSWER_KEY] = (True, f"Learning rate {new_rate:g} from the next batch on.")
            st.toast(f"Learning rate {new_rate:g} from the next batch on.")
    accepted, answer = st.session_state.get(LIVE_RATE_ANSWER_KEY, (True, ""))
    if answer:  # kept until the next Set: this part of the page is redrawn every second
        (st.caption if accepted else st.error)(markdown_text(answer, 400))


def show_job(state: JobState, epoch_seconds: float | None) -> None:
    config = state.config
    if state.run_name and state.owner == visitor_id():  # the Runs page marks this session's runs
        st.session_state.setdefault("session_runs", set()).add(state.run_name)
    images = f"{config.train_size:,} images" if config.train_size else "all images"
    lineage = ""
    if state.fork_from is not None:
        lineage = f" · fork of {markdown_code(state.fork_from[0])} at epoch {state.fork_from[1]}"
    elif state.resumes is not None:
        lineage = f" · resumed from epoch {state.first_epoch - 1}"
    if state.schedule_note:  # a one-cycle continuation: which cycle it trains with (core.training.one_cycle_plan)
        lineage += f" · {markdown_text(state.schedule_note, 300)}"
    st.caption(f"`{config.model}` · {images} · batch {config.batch_size or 'full'} · "
               f"{config.optimizer} lr {learning_rate_story(config.learning_rate, state.learning_rate_changes)}"
               + (f" · run `{state.run_name}`" if state.run_name else "") + lineage)
    if state.finished:
        show_ending(state)
    else:
        starts_in = None
        jobs = shared_jobs()
        if state.queue_position is not None:
            runs = saved_runs(str(resolve_runs_dir()))
            starts_in = queue_starts(lambda c: estimate_epoch(c, runs).seconds).get(state.job_id)
        report = describe_progress(state, epoch_seconds, starts_in)
        st.progress(report.fraction, text=report.text)
        if state.paused and jobs.rules.max_pause_minutes is not None:  # a pause holds a worker others may wait for
            st.caption(describe_pause(jobs.pause_deadline(state.job_id), jobs.rules.max_pause_minutes))
    health = training_health(state.epochs)
    if health is not None:
        st.warning(health.message, icon=":material/healing:")
    # The curves come right under the progress bar, before the controls and tiles: on a 1280x720
    # projector they are in view without scrolling (tests/test_browser_train.py measures it).
    if state.points or state.epochs:  # from the first point (drawn as a dot): no empty charts while the job starts
        loss_column, accuracy_column = st.columns(2)
        smoothing = st.session_state.get(SMOOTHING_KEY, DEFAULT_SMOOTHING)
        loss_figure, accuracy_figure = job_figures(state, smoothing)
        loss_column.plotly_chart(loss_figure, key="train_loss_chart")
        accuracy_column.plotly_chart(accuracy_figure, key="train_accuracy_chart")
    if not state.finished:
        steering(state)
    if state.epochs or state.points:
        show_latest_metrics(state)
    if state.points or state.epochs:
        st.slider("Smoothing", 0.0, 0.99, DEFAULT_SMOOTHING, step=0.01, key=SMOOTHING_KEY,
                  help="As TensorBoard's: an exponential moving average of the batch-level points "
                       "(0 = raw). The raw points stay, faint, underneath.")


def follow_job(job_id: str, epoch_seconds: float | None, every: float) -> None:
    """Redraw the job from the shared queue; the whole page reruns when it ends or changes pace."""
    jobs = shared_jobs()
    visitor_is_here()  # a visitor watching their queued job is here
    state = jobs.get(job_id)
    if state is None or state.finished or poll_seconds(state) < every:
        st.rerun()  # the whole page: show the ending and enable Start again, or poll more often
    show_job(state, epoch_seconds)
    in_grace = every == QUICK_POLL_SECONDS and time.time() - (state.started or time.time()) <= QUICK_POLL_GRACE_SECONDS
    if poll_seconds(state) > every and not in_grace:
        st.rerun()  # training is under way and its first points are shown: back to the 1 s pace


# Redrawn at the job's pace (`core/jobs/poll_pace.py`): every second while it trains; every quarter second
# while its start, its first percent or its ending is awaited, so each shows within a second of happening;
# every two seconds while it waits behind one other, five behind more. Training never waits on any of them.
live_job = {every: st.fragment(follow_job, run_every=every)
            for every in (QUICK_POLL_SECONDS, POLL_SECONDS, QUEUED_POLL_SECONDS, FAR_QUEUED_POLL_SECONDS)}


jobs = shared_jobs()
if widget_key("model") not in st.session_state:
    load_values(default_values(DEFAULT_MODEL))

# Hyperparameters from the link (e.g. ?model=mlp&learning_rate=0.5), applied once per link. A query string
# this session sent earlier, echoed back late by the browser after a fast click, is no new link: the form
# keeps the click, and its own link goes out again below (dashboard/address_bar.py says why).
link_settings = config_query(st.query_params.to_dict())
link_applied_now = (bool(link_settings) and link_settings != st.session_state.get("train_link_applied")
                    and not is_stale_echo())
if link_applied_now:
    st.session_state["train_link_applied"] = link_settings
    link = values_from_query(link_settings, st.session_state[widget_key("model")])
    if any(name in FORM_FIELDS for name in link_settings):  # a link with only tracking parameters leaves the form alone
        load_values(link.values)
    st.session_state["train_link"] = link

# The job this session follows: remembered in the session and in the URL, so a refresh reattaches.
job_id = st.session_state.get(JOB_KEY) or st.query_params.get("job")
state = jobs.get(job_id) if job_id else None
lost_job = job_id is not None and state is None
if lost_job:
    st.session_state.pop(JOB_KEY, None)
    st.query_params.pop("job", None)
elif job_id:
    st.session_state[JOB_KEY] = job_id
    if st.query_params.get("job") != job_id:
        st.query_params["job"] = job_id
    if not any(name in FORM_FIELDS for name in link_settings) and st.session_state.get("train_form_of_job") != job_id:
        # A followed job's link without settings (shared, or from before): the form shows that job's config.
        load_values(values_from_query(query_for(state.config), state.config.model).values)
    st.session_state["train_form_of_job"] = job_id

fork_request = st.session_state.pop(FORK_REQUEST_KEY, None)
if fork_request is not None:  # the Runs page's Fork button: the parent's settings fill the form
    try:
        parent_config = from_dict(load_run(fork_request[0], resolve_runs_dir()).config)
    except (RunError, ConfigError) as error:
        st.error(f"Cannot fork run {markdown_code(fork_request[0])}: {markdown_text(error, 600)}")
    else:
        load_values(values_from_query(query_for(parent_config), parent_config.model).values)
        st.session_state[FORK_KEY] = fork_request
fork = st.session_state.get(FORK_KEY)

link = st.session_state.get("train_link") if link_applied_now else None  # said once, where the link was opened
if link is not None and link.problems:  # each bad value on its own line, as escaped text: links in it never render
    applied = sum(name in FORM_FIELDS for name in link_settings) - len(link.problems)
    st.error(f"{len(link.problems)} setting(s) in this page's link were not applied"
             + (f" (its other {applied} were)" if applied > 0 else "") + ":\n"
             + "\n".join(f"- {markdown_text(problem, 600)}" for problem in link.problems))
if link is not None and link.ignored:
    st.caption("Ignored in this page's link (not settings of this form): "
               + ", ".join(markdown_text(key) for key in link.ignored) + ".")
if lost_job:
    st.warning("The training this link followed is no longer known to the server (it restarted, or the job "
               "ended long ago). If it saved a run, you will find it on the Runs page.")

if state is not None:  # on a phone the columns stack: the live view comes first, the form after it
    st.html("<style>@media (max-width: 640px) { "
            ".st-key-train_layout [data-testid='stHorizontalBlock'] { flex-direction: column-reverse; } "
            ".st-key-train_layout [data-testid='stHorizontalBlock'] [data-testid='stHorizontalBlock'] "
            "{ flex-direction: row; } }</style>")
form_column, job_column = st.container(key="train_layout").columns([4, 6], gap="large")
with form_column:
    # At 1280 px the form column is ~300 px: the five tabs' names wrap onto a second line, not cut ("Augm›").
    st.html("<style>.st-key-train_layout [role='tablist'] { flex-wrap: wrap; row-gap: 0.25rem; }</style>")
    values = {name: st.session_state[widget_key(name)] for name in FORM_FIELDS}
    inactive = inactive_fields(values)
    if fork is not None:
        inactive["hidden_units"] = "a fork keeps its parent's width"
    spec = SPECS[values["model"]]
    fork_story = None if fork is None else (
        f"**Fork** of run {markdown_code(fork[0])} from epoch {fork[1]}: Start trains a new run, yours, from that "
        f"checkpoint's weights and optimizer state, for **Epochs** more epochs (numbered from {fork[1] + 1}), with the "
        "settings below. Change the learning rate, the optimizer, augmentation…; the model and its width stay the parent's.")
    if fork is not None:  # said first, in two lines (the whole story beside the form): Start stays in view at 1280x720
        st.container(key="train_fork_note").info(f"**Fork** of run {markdown_code(fork[0])} from epoch {fork[1]}",
                                                 icon=":material/call_split:")
    st.selectbox("Model", MODEL_NAMES, key=widget_key("model"), on_change=load_preset, persist_state="session",
                 format_func=menu_label, disabled=fork is not None,
                 help="A fork keeps its parent's model." if fork is not None else None)
    changes = architecture_changes(values)
    st.markdown(f"{spec.architecture}." if not changes else f"{spec.architecture}, as the write-up built it; "
                f"**changed here**: {markdown_text('; '.join(changes), 400)}.")
    # One of the tutorials': its write-up is one click away (not for a fork, whose settings start as its parent's).
    write_up = values["model"] in WRITE_UP_MODELS and fork is None
    if fork is None:
        st.caption(spec.preset_caption + (" " + write_up_note(values, write_up_time(values, saved_runs(str(resolve_runs_dir()))))
                                          if write_up else ""))
    # Start comes before the knobs' tabs, so a phone or a projector shows it without scrolling past them;
    # the widgets' values are already in the session state when the script reruns.
    try:
        config = build_config(values)
    except ConfigError as error:
        config = None
        st.error(str(error))
    rate_warning = None if config is None or "optimizer" in inactive else learning_rate_warning(config.optimizer, config.learning_rate)
    if rate_warning:
        st.warning(rate_warning, icon=":material/speed:")
    if config is not None:
        estimate = estimate_epoch(config, saved_runs(str(resolve_runs_dir())))
        n_train, n_val = split_sizes(config)
        st.markdown(f"Trains on **{n_train:,} images**" + (f", validates on {n_val:,}" if n_val else "") +
                    f". **{about(estimate.seconds, capital=True)} per epoch**, "
                    f"{format_seconds(run_seconds(config, estimate.seconds))} in all.")
        follow_form_in_url(config)
    too_big = None if config is None else memory_refusal(config)
    if too_big:
        st.error(too_big, icon=":material/memory:")

    # Your own unfinished training holds Start; following someone else's (their `?job=` link) never does.
    active = state is not None and not state.finished and state.owner == visitor_id()
    start_column, write_up_column = st.columns(2) if write_up or fork is not None else (st.container(), None)
    start_column.button("Start training", key="train_start", type="primary", icon=":material/play_arrow:",
                        disabled=config is None or active or bool(too_big),
                        help="Your training is still going: stop it first." if active else fork_story,
                        on_click=start_training)  # submits before this script reruns: the live view comes in the same run
    if fork is not None:
        write_up_column.button("Cancel the fork", key="train_fork_cancel", icon=":material/close:", on_click=cancel_fork,
                               help="Start then trains a run of its own, from new weights.")
    elif write_up:
        write_up_column.button("As in the write-up", key="train_write_up", disabled=is_write_up(values), on_click=load_write_up,
                               help="Loads the write-up's settings, on all its training images (the caption above "
                                    "says what they reached and how long they take here).")
    if config is not None:  # below Start, so a projector or a phone shows Start without scrolling
        checkpoint_mb = estimated_checkpoint_mb(config, saved_runs(str(resolve_runs_dir())))
        st.caption(f"Checkpoints (one per epoch, for the epoch scrubber): "
                   f"{budget_note(config.checkpoint_budget_mb, checkpoint_mb, config.epochs)}. "
                   f"Estimate {estimate.detail}, with start-up and scoring the 10,000 test images.")
    start_problem = st.session_state.pop(START_PROBLEM_KEY, None)
    if start_problem:
        st.error(start_problem)
    caps = sharing_rules().describe_caps()
    if caps:
        st.caption(caps)
    challenge_note(config)  # the class's challenge (if the teacher set one) and whether these settings fit it

    for group, tab in zip(GROUPS, st.tabs(list(GROUPS))):
        with tab:
            names = [name for name, field in FORM_FIELDS.items() if field.group == group and name != "model"]
            columns = st.columns(2)
            for index, name in enumerate(names):
                with columns[index % 2]:
                    field_widget(name, inactive)
    if config is not None:  # below the settings: its length changes with them, and nothing under it moves
        st.caption(f"Link to these settings: {markdown_code(settings_url(config), 600)}")

with job_column:
    if state is None and fork_story is not None:  # what the fork's two-line note in the form stands for
        st.info(fork_story, icon=":material/call_split:")
    elif state is None:
        st.info("Pick a model, adjust its settings and press **Start training**. The loss and accuracy "
                "curves appear here and gain points every few batches; you can pause, step and change the "
                "learning rate while it trains, and it goes on if you change pages.")
    else:
        epoch_seconds = estimate_epoch(state.config, saved_runs(str(resolve_runs_dir()))).seconds
        if state.finished:
            show_job(state, epoch_seconds)
        else:
            every = poll_seconds(state)
            live_job[every](state.job_id, epoch_seconds, every)
