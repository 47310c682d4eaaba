"""The address bar, kept equal to the query parameters the server holds for this session.

Streamlit changes `st.query_params` on the server at once, then sends the browser the new query
string in a message. A rerun asked for meanwhile (a visitor clicking fast) interrupts the script
inside that send: the server's copy has changed and the browser's has not. A page that compares
the form with the server's copy then sees nothing left to send, and the address bar stays behind
the form for good (seen in CI after a storm of clicks on Epochs' +/−). So every script run first
sends the server's query string again, unless the last one it sent was that.
"""

from __future__ import annotations

import streamlit as st

SENT_KEY = "address_bar_sent"  # the query parameters of this session's last send that went out whole


def sync_address_bar() -> None:
    """Send the browser the server's query parameters, unless this session last sent exactly those."""
    held = st.query_params.to_dict()
    if st.session_state.get(SENT_KEY) == held:
        return
    st.query_params.from_dict(held)  # one message; an interrupted run leaves SENT_KEY as it was, so the next sends again
    st.session_state[SENT_KEY] = held
