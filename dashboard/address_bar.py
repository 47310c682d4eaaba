"""The address bar, kept equal to the query parameters the server holds for this session.

How Streamlit 1.67 moves a query string (checked in its Python side and its frontend bundle,
`static/js/index.*.js`): `st.query_params` changes on the server at once and goes to the browser
as a `pageInfoChanged` message. The browser's handler writes the address bar at once
(`history.pushState`), but the query string it sends with its next rerun request is React state
(`this.state.queryParams`, set by `setState` in the same handler: applied a moment later). A click
in that moment sends the previous query string, and the server takes it as `st.query_params` for
that run. A page that treats a query string it did not expect as a newly opened link would load
the old values into its form, undoing the click; its server-side copy then equals the form, so
nothing more is sent, and the address bar stays on the newer value (the rerun storm caught it).

So:
- `sync_address_bar()`, at the end of every full run, sends the server's query parameters again:
  the browser's React state, whatever it missed, ends equal to the server's copy (a run
  interrupted before its end leaves that to the next);
- `is_stale_echo()` tells a page that the query string of this run is one this session itself
  sent earlier on this page, echoed back late, and not a Back/Forward step (Streamlit flags those
  runs `is_history_navigation`): the page then keeps its form and sends the form's link again.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

SENT_KEY = "address_bar_sent"  # (page, [query parameters this session sent on that page, oldest first])
MAX_REMEMBERED = 64  # sends remembered per page visit; a storm of clicks sends one per run


def _current_page() -> str:
    ctx = get_script_run_ctx()
    return ctx.page_script_hash if ctx is not None else ""


def _is_history_navigation() -> bool:
    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.is_history_navigation)


def remember_sent(params: dict[str, str] | None = None) -> None:
    """Note query parameters as sent to the browser from the current page: `params`, or the server's.

    Call it right before changing `st.query_params` (the change is sent at once, and a click can stop
    the run just after it). Entering another page starts the list again: a link from one page to
    another is always a new link.
    """
    page, held = _current_page(), (st.query_params.to_dict() if params is None else dict(params))
    remembered_page, sent = st.session_state.get(SENT_KEY, (None, []))
    if remembered_page != page:
        sent = []
    if not sent or sent[-1] != held:
        sent = [*sent[-(MAX_REMEMBERED - 1):], held]
    st.session_state[SENT_KEY] = (page, sent)


def is_stale_echo() -> bool:
    """Whether this run's query parameters are ones this session sent earlier on this page, not its latest.

    A Back/Forward step is never a stale echo: it asks for an earlier address on purpose.
    """
    if _is_history_navigation():
        return False
    remembered_page, sent = st.session_state.get(SENT_KEY, (None, []))
    if remembered_page != _current_page() or not sent:
        return False
    held = st.query_params.to_dict()
    return held != sent[-1] and held in sent[:-1]


def sync_address_bar() -> None:
    """Send the browser the server's query parameters, at the end of a full run, and remember them."""
    remember_sent()
    st.query_params.from_dict(st.query_params.to_dict())  # one message: React's copy ends equal to the server's
