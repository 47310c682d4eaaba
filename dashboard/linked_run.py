"""What a page's model picker opens on: the visitor's newest run, or the run a `?run=<name>` link names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st

from core.runs.model_sources import ModelSource, newest_own_source
from core.runs.run_owners import owner_of
from dashboard.visitor import sharing_rules, visitor_id

SESSION_RUNS_KEY = "session_runs"  # session state: the runs this session trained (set by the Train page)


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


def is_own_run(runs_dir, run_name: str) -> bool:
    """A run this visitor trained: on a local server every run is (one user); on a hosted one, the runs this
    session trained or that `owners.json` gives this visitor."""
    if not sharing_rules().hosted:
        return True
    return run_name in st.session_state.get(SESSION_RUNS_KEY, ()) or owner_of(runs_dir, run_name) == visitor_id()


def select_newest_own_run(picker_key: str, sources: Sequence[ModelSource]) -> None:
    """Before the picker is drawn: open it on the visitor's newest run with a model, not the shipped model.

    A newer run of theirs (trained since) is selected in turn, unless the visitor picked another model
    meanwhile; without a run of theirs the picker keeps its first entry, the shipped model. Call it
    before `select_linked_run`, so that a link wins.

    Args:
        picker_key: the picker's widget key.
        sources: `core.runs.model_sources.model_sources()`, newest run first; the picker lists their `label`s.
    """
    own = newest_own_source(sources, lambda source: is_own_run(source.runs_dir, source.run_name))
    if own is None:
        return
    default_key, label = f"{picker_key}_own_default", own.label
    previous = st.session_state.get(default_key)
    # Not in the state: a first visit, or a return from another page (Streamlit drops a widget's state when a run
    # does not draw it; the picker would then open on its first entry, the shipped model).
    if picker_key not in st.session_state or st.session_state[picker_key] == previous:
        st.session_state[picker_key] = label
    st.session_state[default_key] = label
