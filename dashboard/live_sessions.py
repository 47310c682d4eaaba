"""Which visitors have a page of this server connected right now, from the web server's own sessions.

Each page view notes its Streamlit session (one browser tab, one websocket) against its visitor.
Streamlit's runtime counts a session as active while its websocket is connected: closing the tab
(or the last tab of a browser) closes it at once, and a connection that timed out is closed too.
A tab that is merely quiet (a phone with its screen off, still connected) stays active, so its
visitor stays here; the abandonment limit of `core.jobs.sharing` is what applies to it.

The job queue (`core.jobs.training_jobs`) asks `connected_visitors()` every few seconds, from its
own thread; core never imports Streamlit itself.
"""

from __future__ import annotations

import threading
import time

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

FORGET_AFTER_SECONDS = 600.0  # a session gone this long is dropped from the table (it reconnects as a new one)


class LiveSessions:
    """Sessions and their visitors, safe to use from any thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._visitor_of: dict[str, str] = {}  # session id → visitor
        self._last_live: dict[str, float] = {}  # session id → time.monotonic() it was last seen connected

    def note(self, session_id: str, visitor: str) -> None:
        """Session `session_id` (connected now: it is running a page) belongs to `visitor`."""
        with self._lock:
            self._visitor_of[session_id] = visitor
            self._last_live[session_id] = time.monotonic()

    def connected_visitors(self) -> set[str] | None:
        """The visitors with at least one session connected now; None when no Streamlit server runs."""
        if not Runtime.exists():
            return None
        runtime = Runtime.instance()
        now = time.monotonic()
        with self._lock:
            sessions = list(self._visitor_of.items())
        connected = [(session_id, visitor) for session_id, visitor in sessions if runtime.is_active_session(session_id)]
        with self._lock:
            for session_id, _ in connected:
                self._last_live[session_id] = now
            for session_id in [sid for sid, when in self._last_live.items() if now - when > FORGET_AFTER_SECONDS]:
                self._last_live.pop(session_id, None)
                self._visitor_of.pop(session_id, None)
        return {visitor for _, visitor in connected}


@st.cache_resource(show_spinner=False)
def live_sessions() -> LiveSessions:
    """The one table every session of this server writes to."""
    return LiveSessions()


def note_this_session(visitor: str) -> None:
    """Record that this page view's session belongs to `visitor` (each page view and heartbeat calls it)."""
    context = get_script_run_ctx()
    if context is not None:
        live_sessions().note(context.session_id, visitor)

