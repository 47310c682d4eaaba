"""`?run=<name>` on a page with a model picker: the link selects that run, once per link."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st


def select_linked_run(picker_key: str, label_of_run: Mapping[str, str]) -> None:
    """Before the picker is drawn: if the URL names a run the picker lists, select it.

    Applied once per link value, so the visitor may pick another model afterwards; a name the picker
    does not list (deleted, mistyped) changes nothing.
    """
    linked = st.query_params.get("run")
    applied_key = f"{picker_key}_applied_link"
    if linked in label_of_run and st.session_state.get(applied_key) != linked:
        st.session_state[applied_key] = linked
        st.session_state[picker_key] = label_of_run[linked]
