"""Who is looking: the visitor (a browser, not a tab), the shared server's rules, and teacher sign-in.

A visitor is known by a random id in a cookie, `mnist_lab_visitor`, that the page sets in the
browser on the first view (one year, `SameSite=Strict`, path `/`). Every tab of that browser
sends it back with its websocket's opening request, which is where `st.context.cookies` reads it,
so all of a browser's tabs are one visitor. Behind a reverse proxy this works as long as the proxy
passes cookies through (nginx and Caddy do by default). Where cookies are blocked, each tab is its
own visitor: still one training at a time per tab, and still only its own to stop.

The id proves nothing beyond "the same browser as before": it stops a class from spoiling one
another's demo by accident or mischief, not a determined attacker who copies a cookie. A teacher
signs in with the password from `MNIST_LAB_TEACHER_PASSWORD` (or the same key in
`.streamlit/secrets.toml`); wrong passwords slow down (`core/jobs/sign_in_throttle.py`). The
browser then keeps a second cookie, `mnist_lab_teacher`, holding a token of its visitor id keyed
by a secret the server keeps in the runs directory (`core/jobs/teacher_key.py`), so the sign-in
survives reloads and new tabs and is worthless in another browser; Sign out, by any teacher, or a
password change ends every such token, copies included, at their next page run. The cookies are
set from JavaScript (Streamlit 1.67 gives a page script no way to set a response header: the script
talks to the browser over a websocket that is already open), so they cannot be HttpOnly.
"""

from __future__ import annotations

import logging
import re
import secrets

import streamlit as st

from core.jobs.sharing import SharingLimitError, SharingRules
from core.jobs.sign_in_throttle import SignInRefused, SignInThrottle
from core.jobs.teacher_key import KEY_FILE, TeacherKey
from core.runs.store import resolve_runs_dir
from dashboard.page_scripts import run_script

COOKIE, TEACHER_COOKIE = "mnist_lab_visitor", "mnist_lab_teacher"
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
VISITOR_KEY, TEACHER_KEY = "visitor_id", "teacher_signed_in"
COOKIE_DAYS = 365
logger = logging.getLogger(__name__)


def _secrets() -> dict:
    try:
        return {key: st.secrets[key] for key in st.secrets}
    except Exception:  # no secrets.toml: the environment alone
        return {}


@st.cache_resource(show_spinner=False)
def _rules_or_problem() -> tuple[SharingRules | None, str | None]:
    try:
        return SharingRules.from_settings(_secrets()), None
    except SharingLimitError as problem:
        logger.error("This server's settings need fixing: %s Then restart the server.", problem)  # once: this is cached
        return None, str(problem)


@st.cache_resource(show_spinner=False)
def _sign_in_throttle() -> SignInThrottle:
    """The server's one count of wrong teacher passwords (per visitor and in total)."""
    return SignInThrottle()


def _teacher_key(rules: SharingRules) -> TeacherKey:
    return TeacherKey(resolve_runs_dir(), str(rules.teacher_password))


def sharing_rules() -> SharingRules:
    """This server's rules; a wrong setting stops the page with a message naming it."""
    rules, problem = _rules_or_problem()
    if rules is None:
        st.error(f"This server's settings need fixing: {problem} Then restart the server.", icon=":material/settings:")
        st.stop()
    return rules


def visitor_id() -> str:
    """This browser's id: from its cookie, else a new one that is stored in the cookie now."""
    if VISITOR_KEY in st.session_state:
        return st.session_state[VISITOR_KEY]
    sent = _cookie(COOKIE)
    if sent and ID_PATTERN.fullmatch(sent):
        visitor = sent
    else:
        visitor = secrets.token_urlsafe(18)
        _set_cookie(COOKIE, visitor, COOKIE_DAYS * 86400)
    st.session_state[VISITOR_KEY] = visitor
    return visitor


def _cookie(name: str) -> str | None:
    """A cookie the browser sent with this session's websocket; None if absent (or under AppTest, which has none)."""
    try:
        value = st.context.cookies.get(name)
    except Exception:
        return None
    return value if isinstance(value, str) else None


def _set_cookie(name: str, value: str, max_age_seconds: int) -> None:
    """Store a cookie in this browser (values here are ours: URL-safe ids and hex digests, never a visitor's text)."""
    run_script(f"<script>document.cookie = '{name}={value}; path=/; max-age={max_age_seconds}; SameSite=Strict';</script>")


def is_teacher() -> bool:
    """Signed in as the teacher: in this session, or earlier in this browser (its cookie), and not signed out since.

    Checked at every call against the server's key, so a Sign out anywhere ends this sign-in at this page's next run.
    """
    rules, _ = _rules_or_problem()
    if not (rules and rules.teacher_password):
        return False
    if TEACHER_KEY not in st.session_state:  # a new session: the token its browser kept, if any
        st.session_state[TEACHER_KEY] = _cookie(TEACHER_COOKIE) or ""
    token = st.session_state[TEACHER_KEY]
    try:
        return bool(token) and _teacher_key(rules).is_valid(token, visitor_id())
    except OSError as error:  # the runs folder cannot hold the key: nobody is the teacher
        logger.error("The teacher's key in the runs folder cannot be read or made (%s).", error)
        return False


def may_manage(owner: str | None) -> bool:
    """Whether this visitor may stop, steer or delete what `owner` started."""
    return sharing_rules().may_manage(owner, visitor_id(), is_teacher())


def teacher_sign_in(rules: SharingRules, clear_queue) -> None:
    """The sidebar's sign-in box (only where a teacher password is set), and, once in, the queue's clear button."""
    if not rules.teacher_password:
        return
    with st.sidebar.expander("Teacher", icon=":material/school:", expanded=False):
        if not is_teacher():
            form_slot = st.empty()
            with form_slot.form("teacher_sign_in", border=False):
                attempt = st.text_input("Password", type="password", key="teacher_password")
                if st.form_submit_button("Sign in"):
                    problem = _sign_in(rules, attempt)
                    if problem:
                        st.error(problem)
            if not is_teacher():
                return
            # Signed in just now: the teacher's controls in this same run, not after the next click.
            form_slot.empty()
            _set_cookie(TEACHER_COOKIE, st.session_state[TEACHER_KEY], COOKIE_DAYS * 86400)  # outside the emptied slot
        st.caption("Signed in: you can stop, steer and delete every training and run.")
        if st.button("Clear the queue", key="teacher_clear_queue", icon=":material/playlist_remove:",
                     help="Every training still waiting leaves the queue; the running ones go on."):
            st.toast(f"{clear_queue()} waiting training(s) left the queue.")
        if st.button("Sign out", key="teacher_sign_out",
                     help="Ends the teacher's sign-in in every browser, a copied cookie included."):
            try:
                _teacher_key(rules).revoke_all()
            except OSError as error:
                st.error(f"Other browsers' sign-ins could not be ended: the runs folder's {KEY_FILE} cannot be "
                         f"written ({error.strerror or type(error).__name__}). Make the runs folder writable.")
            st.session_state[TEACHER_KEY] = ""
            _set_cookie(TEACHER_COOKIE, "", 0)
            st.caption("Signed out, in every browser that was signed in as the teacher.")


def _sign_in(rules: SharingRules, attempt: str) -> str | None:
    """Try `attempt` as the teacher's password (unless this visitor or the server must wait first).

    Returns:
        None once signed in (this session holds a fresh token), else the message to show.
    """
    throttle, visitor = _sign_in_throttle(), visitor_id()
    try:
        throttle.check(visitor)
    except SignInRefused as refused:
        return str(refused)
    if rules.is_teacher_password(attempt):
        throttle.succeeded(visitor)
        try:
            st.session_state[TEACHER_KEY] = _teacher_key(rules).token(visitor)  # the page below runs as the teacher's already
        except OSError as error:
            return (f"The password is right, but the runs folder's {KEY_FILE} cannot be read or made "
                    f"({error.strerror or type(error).__name__}). Make the runs folder writable, then sign in again.")
        return None
    wait = throttle.failed(visitor)
    return "That is not the teacher's password." + (f" Too many attempts; try again in {wait} s." if wait else "")
