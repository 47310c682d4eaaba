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
`.streamlit/secrets.toml`); the browser then keeps a second cookie, `mnist_lab_teacher`, holding
an HMAC of its visitor id keyed by the password, so the sign-in survives reloads and new tabs, is
worthless in another browser, and ends for everyone when the password changes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

import streamlit as st

from core.jobs.sharing import SharingLimitError, SharingRules

COOKIE, TEACHER_COOKIE = "mnist_lab_visitor", "mnist_lab_teacher"
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
VISITOR_KEY, TEACHER_KEY = "visitor_id", "teacher_signed_in"
COOKIE_BOX_KEY = "cookie_box"  # this run's container for cookie scripts (`reserve_cookie_box`)
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


def reserve_cookie_box() -> None:
    """Reserve this run's place for cookie scripts: call it at the same place of every run, before `visitor_id()`.

    A cookie is set by a script element. Written among the page's elements in the one run that sets it, it
    shifted every element after it by one place in the next run, and the browser remounts a shifted element:
    Draw's canvas dropped a new visitor's first stroke that way. An empty container, present in every run at
    the same place, holds the scripts instead, so nothing after it moves; it is never displayed, so a script
    in it does not push the page down by a gap either (a style-only `st.html` takes no place).
    """
    st.html("<style>[data-testid='stLayoutWrapper']:has(> .st-key-cookie_box) { display: none; }</style>")
    st.session_state[COOKIE_BOX_KEY] = st.container(key="cookie_box")


def _set_cookie(name: str, value: str, max_age_seconds: int) -> None:
    """Store a cookie in this browser (values here are ours: URL-safe ids and hex digests, never a visitor's text)."""
    box = st.session_state.get(COOKIE_BOX_KEY, st)  # no box reserved (a page run on its own, under AppTest): in place
    box.html(f"<script>document.cookie = '{name}={value}; path=/; max-age={max_age_seconds}; SameSite=Strict';</script>",
             unsafe_allow_javascript=True)


def _teacher_token(rules: SharingRules, visitor: str) -> str:
    return hmac.new(str(rules.teacher_password).encode(), visitor.encode(), hashlib.sha256).hexdigest()


def is_teacher() -> bool:
    """Signed in as the teacher: in this session, or earlier in this browser (its cookie)."""
    if TEACHER_KEY in st.session_state:
        return bool(st.session_state[TEACHER_KEY])
    rules, _ = _rules_or_problem()
    sent = _cookie(TEACHER_COOKIE)
    signed_in = bool(rules and rules.teacher_password and sent
                     and hmac.compare_digest(sent, _teacher_token(rules, visitor_id())))
    st.session_state[TEACHER_KEY] = signed_in
    return signed_in


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
                    if rules.is_teacher_password(attempt):
                        st.session_state[TEACHER_KEY] = True  # the page below this sidebar runs as the teacher's already
                    else:
                        st.error("That is not the teacher's password.")
            if not is_teacher():
                return
            # Signed in just now: the teacher's controls in this same run, not after the next click.
            form_slot.empty()
            _set_cookie(TEACHER_COOKIE, _teacher_token(rules, visitor_id()), COOKIE_DAYS * 86400)  # outside the emptied slot
        st.caption("Signed in: you can stop, steer and delete every training and run.")
        if st.button("Clear the queue", key="teacher_clear_queue", icon=":material/playlist_remove:",
                     help="Every training still waiting leaves the queue; the running ones go on."):
            st.toast(f"{clear_queue()} waiting training(s) left the queue.")
        if st.button("Sign out", key="teacher_sign_out"):
            st.session_state[TEACHER_KEY] = False
            _set_cookie(TEACHER_COOKIE, "", 0)
            st.caption("Signed out.")
