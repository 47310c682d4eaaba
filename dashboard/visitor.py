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
`.streamlit/secrets.toml`); that lasts for the browser session.
"""

from __future__ import annotations

import re
import secrets

import streamlit as st

from core.jobs.sharing import SharingLimitError, SharingRules

COOKIE = "mnist_lab_visitor"
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
VISITOR_KEY, TEACHER_KEY = "visitor_id", "teacher_signed_in"
COOKIE_DAYS = 365


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
        return None, str(problem)


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
    sent = st.context.cookies.get(COOKIE)
    if sent and ID_PATTERN.fullmatch(sent):
        visitor = sent
    else:
        visitor = secrets.token_urlsafe(18)
        st.html(f"<script>document.cookie = '{COOKIE}={visitor}; path=/; max-age={COOKIE_DAYS * 86400}; "
                "SameSite=Strict';</script>", unsafe_allow_javascript=True)
    st.session_state[VISITOR_KEY] = visitor
    return visitor


def is_teacher() -> bool:
    return bool(st.session_state.get(TEACHER_KEY))


def may_manage(owner: str | None) -> bool:
    """Whether this visitor may stop, steer or delete what `owner` started."""
    return sharing_rules().may_manage(owner, visitor_id(), is_teacher())


def teacher_sign_in(rules: SharingRules, clear_queue) -> None:
    """The sidebar's sign-in box (only where a teacher password is set), and, once in, the queue's clear button."""
    if not rules.teacher_password:
        return
    with st.sidebar.expander("Teacher", icon=":material/school:", expanded=False):
        if is_teacher():
            st.caption("Signed in: you can stop, steer and delete every training and run.")
            if st.button("Clear the queue", key="teacher_clear_queue", icon=":material/playlist_remove:",
                         help="Every training still waiting leaves the queue; the running ones go on."):
                st.toast(f"{clear_queue()} waiting training(s) left the queue.")
            if st.button("Sign out", key="teacher_sign_out"):
                st.session_state[TEACHER_KEY] = False
                st.rerun()
            return
        with st.form("teacher_sign_in", border=False):
            attempt = st.text_input("Password", type="password", key="teacher_password")
            if st.form_submit_button("Sign in"):
                if rules.is_teacher_password(attempt):
                    st.session_state[TEACHER_KEY] = True
                    st.rerun()
                st.error("That is not the teacher's password.")
