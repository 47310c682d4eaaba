"""What the Board and Train pages share about the class: its ledger, who may run it, a visitor's name and rank.

The class is the teacher's on a hosted server (signed in from the sidebar), and the one user's on a
local one (who owns everything there anyway). Every teacher action checks again when it is done,
not only when its button was drawn (`core.classroom.class_ledger.NotTeacherError`).

The board itself (the session's runs, their ranks, the cards' and the leaderboard's HTML) is the same
for every visitor: it is made once for all the open pages (`class_view`,
`core.classroom.class_view.SharedClassView`), not once per page per refresh.
"""

from __future__ import annotations

import streamlit as st

from core.classroom.challenge import check_fit
from core.classroom.class_ledger import ClassLedger, ClassState
from core.classroom.class_view import ClassView, SharedClassView
from core.classroom.display_names import MAX_NAME_CHARACTERS, DisplayNameError
from core.classroom.leaderboard import visitor_rank
from core.config.shown_text import markdown_text
from core.runs.store import resolve_runs_dir
from dashboard.shared_jobs import shared_jobs
from dashboard.visitor import is_teacher, sharing_rules, visitor_id

NAME_KEY, NAME_ANSWER_KEY = "class_display_name", "class_display_name_answer"
NAME_FIELD_CHARACTERS = 100  # the field takes more than a name may have, so a long paste is refused with the reason, not cut


def class_ledger() -> ClassLedger:
    return ClassLedger(resolve_runs_dir())


def runs_the_class() -> bool:
    """Whether this visitor may open and close the class, set the challenge, hide and clear: the
    signed-in teacher on a hosted server, the one user on a local one."""
    return sharing_rules().may_manage(None, visitor_id(), is_teacher())


@st.cache_resource(show_spinner=False)
def _class_views() -> SharedClassView:
    """The one board of this server, shared by its sessions."""
    return SharedClassView()


def class_view() -> ClassView:
    """The board: the session's runs (live ones from the queue) with their ranks under the challenge, and
    their cards; made again when `class.json` changed, when the queue changed (at most once a second), and
    every 10 s."""
    return _class_views().get(class_ledger(), shared_jobs())


def save_name() -> None:
    """The name form's callback: store the visitor's name, or keep why it was refused."""
    try:
        name = class_ledger().set_name(visitor_id(), st.session_state.get(NAME_KEY, ""))
    except DisplayNameError as error:
        st.session_state[NAME_ANSWER_KEY] = (False, str(error))
    else:
        st.session_state[NAME_ANSWER_KEY] = (True, f"Your name on the board: {name}")


def name_form(state: ClassState) -> None:
    """The visitor's display name: a field and Save, with what the server said (names are shown as text)."""
    own = state.names.get(visitor_id(), "")
    if NAME_KEY not in st.session_state:
        st.session_state[NAME_KEY] = own
    field, save = st.columns([3, 1], vertical_alignment="bottom")
    field.text_input("Your name on the board", key=NAME_KEY, max_chars=NAME_FIELD_CHARACTERS,
                     help=f"Shown on the class board as plain text; at most {MAX_NAME_CHARACTERS} characters, "
                          "and not a name another learner already has.")
    save.button("Save name", key="class_save_name", on_click=save_name)


def name_answer() -> None:
    """What the server said to the last Save name: the name kept, or why it was refused (shown once)."""
    accepted, answer = st.session_state.pop(NAME_ANSWER_KEY, (True, ""))
    if answer:
        (st.success if accepted else st.error)(markdown_text(answer, 400))


def challenge_note(config) -> None:
    """On the Train page, under Start: the class's challenge, whether `config` fits it, and the visitor's rank."""
    state = class_ledger().state()
    if state.challenge is None or state.session_id is None:
        return
    fit = check_fit(state.challenge, config) if config is not None else None
    rank, ranked = visitor_rank(class_view().table, visitor_id())
    text = f"**Class challenge:** {state.challenge.describe()}"
    if fit is not None:
        text += f" {fit.message}"
    if rank is not None:
        text += f" Your best run is **#{rank}** of {ranked}."
    elif not state.is_open:
        text += " The class is closed: new runs do not join it."
    (st.info if fit is None or fit.fits else st.warning)(text, icon=":material/emoji_events:")
