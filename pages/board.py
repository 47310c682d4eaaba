"""Board: the class on the projector: every training of the session as a live card, the challenge and its leaderboard."""

import datetime as dt
import time

import streamlit as st

from core.classroom.challenge import KINDS, Challenge, ChallengeError
from core.classroom.class_ledger import NotTeacherError
from core.classroom.leaderboard import visitor_rank
from core.config.shown_text import markdown_text
from core.classroom.results_csv import results_csv
from core.classroom.class_view import IDLE_REFRESH_SECONDS, LIVE_REFRESH_SECONDS
from dashboard.classroom import class_ledger, class_view, name_answer, name_form, runs_the_class
from dashboard.shared_jobs import shared_jobs
from dashboard.visitor import visitor_id

STATUS_REFRESH_SECONDS = IDLE_REFRESH_SECONDS  # the class's state line: changed only by the teacher, at once on the
# teacher's own screen; on the others' within 10 s (each redraw costs a browser ~40 ms of CPU: bench/idle_page_cost.py)
ANSWER_KEY = "board_answer"  # session state: what the last teacher action said


def teacher_action(action, done: str) -> None:
    """Run one teacher action (it checks the teacher again itself) and keep what to say."""
    try:
        action(runs_the_class())
    except (NotTeacherError, ChallengeError) as error:
        st.session_state[ANSWER_KEY] = (False, str(error))
    else:
        st.session_state[ANSWER_KEY] = (True, done)


def set_challenge() -> None:
    kind = st.session_state["board_challenge_kind"]
    limit = float(st.session_state["board_challenge_limit"])
    teacher_action(lambda by: class_ledger().set_challenge(Challenge(kind, limit, time.time()), by),
                   "Challenge set: runs started from now on count.")


def clear_runs() -> None:
    live = {job.run_name for job in shared_jobs().active_states() if job.run_name}
    try:
        deleted = class_ledger().clear_runs(runs_the_class(), keep=live)
    except NotTeacherError as error:
        st.session_state[ANSWER_KEY] = (False, str(error))
        return
    kept = len(class_ledger().state().runs)
    st.session_state[ANSWER_KEY] = (True, f"{len(deleted)} run(s) of the session deleted"
                                    + (f"; {kept} still training kept." if kept else "."))


def teacher_controls(state) -> None:
    """Open and close the class, set the challenge, hide names and runs, download and clear the results."""
    # Folded by default: on the projector the cards come first. A click inside keeps it open (same label).
    with st.expander("Teacher: the class, its challenge and its results", icon=":material/school:"):
        opened, closed = st.columns(2)
        opened.button("Open a new class", key="board_open", icon=":material/play_circle:",
                      help="A new session: the board and leaderboard start empty; names and the challenge are reset.",
                      on_click=teacher_action, args=(lambda by: class_ledger().open_class(by), "A new class is open."))
        closed.button("Close the class", key="board_close", icon=":material/stop_circle:", disabled=not state.is_open,
                      help="Trainings started from now on no longer join this class; its board stays.",
                      on_click=teacher_action, args=(lambda by: class_ledger().close_class(by), "The class is closed."))
        kinds = list(KINDS)
        kind_column, limit_column = st.columns([3, 2], vertical_alignment="bottom")
        kind = kind_column.selectbox("Challenge", kinds, key="board_challenge_kind", format_func=lambda k: KINDS[k][0])
        _, label, low, high, default = KINDS[kind]
        if st.session_state.get("board_challenge_limit_kind") != kind:  # a new kind: its usual limit
            st.session_state["board_challenge_limit_kind"] = kind
            st.session_state["board_challenge_limit"] = float(default)
        limit_column.number_input(label, float(low), float(high), key="board_challenge_limit", step=1.0, format="%g")
        set_column, end_column = st.columns(2)
        set_column.button("Set the challenge", key="board_set_challenge", type="primary", disabled=state.session_id is None,
                          on_click=set_challenge)
        end_column.button("End the challenge", key="board_end_challenge", disabled=state.challenge is None,
                          on_click=teacher_action, args=(lambda by: class_ledger().set_challenge(None, by),
                                                         "The challenge is over; nothing is ranked."))
        if state.names:
            visitors = list(state.names)
            name_column, hide_column = st.columns([3, 2], vertical_alignment="bottom")
            chosen = name_column.selectbox("A learner's name", visitors, key="board_hide_visitor",
                                           format_func=lambda v: state.names[v] + (" (hidden)" if v in state.hidden_visitors else ""))
            hidden = chosen in state.hidden_visitors
            hide_column.button("Show the name" if hidden else "Hide the name", key="board_hide_name",
                               on_click=teacher_action, args=(lambda by: class_ledger().hide_visitor(chosen, by, not hidden),
                                                              "Done: the board shows it from now on."))
        runs = [record.run_name for record in state.runs]
        if runs:
            run_column, run_button = st.columns([3, 2], vertical_alignment="bottom")
            run = run_column.selectbox("A run", runs, key="board_hide_run_name",
                                       format_func=lambda r: r + (" (hidden)" if r in state.hidden_runs else ""))
            hidden_run = run in state.hidden_runs
            run_button.button("Show the run" if hidden_run else "Hide the run", key="board_hide_run",
                              on_click=teacher_action, args=(lambda by: class_ledger().hide_run(run, by, not hidden_run),
                                                             "Done: the board and leaderboard follow."))
        clear = st.container()
        sure = clear.checkbox("Yes, delete them", key="board_clear_sure")
        clear.button("Clear the session's runs", key="board_clear", disabled=not (sure and state.runs),
                     help="Deletes the run folders of the session's finished runs; trainings still going are kept.",
                     on_click=clear_runs)
    accepted, answer = st.session_state.pop(ANSWER_KEY, (True, ""))
    if answer:
        (st.success if accepted else st.error)(markdown_text(answer, 400))


def live_board(every: float) -> None:
    """The cards and the leaderboard, redrawn every `every` seconds from the board every page shares
    (`dashboard.classroom.class_view`: made once for all the open pages, not once per page); the whole
    page runs again when the board's pace changes (a card became live, or the last live one ended)."""
    view = class_view()
    if view.refresh_seconds != every:
        st.rerun()
    state, table = view.state, view.table
    if state.session_id is None:
        return
    cards, leaders = st.columns([3, 1], gap="small")
    with cards:
        if table:
            st.html(view.cards_html)
        else:
            st.caption("No training in this class yet: each one started from the Train page appears here as a card.")
    with leaders:
        st.markdown("**Leaderboard**")
        st.html(view.leaderboard_html)
        if runs_the_class():  # made afresh at each refresh: the download holds the runs finished by then
            st.download_button("Results (CSV)", data=results_csv(table, state), file_name="class_results.csv",
                               mime="text/csv", key="board_download", icon=":material/download:", on_click="ignore")
        elif state.challenge is not None:
            rank, ranked = visitor_rank(table, visitor_id())
            st.caption(f"Your best run: #{rank} of {ranked}." if rank else "None of your runs is ranked yet.")


# The board's pace (`ClassView.refresh_seconds`): every 2 s while a card is queued or running, every 10 s while
# none is; one fragment per pace, the page picks the one that fits.
paced_board = {every: st.fragment(live_board, run_every=every) for every in (LIVE_REFRESH_SECONDS, IDLE_REFRESH_SECONDS)}


@st.fragment(run_every=STATUS_REFRESH_SECONDS)
def live_status() -> None:
    """The class's state and challenge in one line, kept current (the teacher may change them from another screen)."""
    state = class_ledger().state()
    if state.session_id is None:
        st.markdown("No class is open yet: the teacher opens one on this page.")
        return
    since = dt.datetime.fromtimestamp(state.opened).strftime("%H:%M")
    status = (f"Class open since {since}." if state.is_open
              else f"Class closed at {dt.datetime.fromtimestamp(state.closed).strftime('%H:%M')} (opened {since}).")
    st.markdown(f"{status} **Challenge:** {state.challenge.describe()}" if state.challenge else f"{status} No challenge set.")


# On the projector the cards matter: less of Streamlit's empty band above the title.
st.html("<style>[data-testid='stMainBlockContainer'] { padding-top: 2.5rem; }</style>")
live_status()
state = class_ledger().state()
if runs_the_class():
    teacher_controls(state)
if state.session_id is not None and not runs_the_class():  # the learners' names; the teacher plays no part
    own_name = state.names.get(visitor_id())
    if own_name:  # named: the form folds away, the name stays in view
        with st.expander(f"Your name on the board: {markdown_text(own_name)}", icon=":material/badge:"):
            name_form(state)
    else:
        name_form(state)
    name_answer()
board_pace = class_view().refresh_seconds
paced_board[board_pace](board_pace)
