"""The button that downloads a run's standalone training script (`core.export`), on Runs and on a run's report."""

from __future__ import annotations

import streamlit as st

from core.config.shown_text import markdown_text
from core.export.run_export import ExportError, run_config, run_facts, script_file_name, training_script
from core.runs.store import RunSummary

SCRIPT_HELP = ("One Python file that trains this run's model again with plain Keras (TensorFlow alone, no part of "
               "this lab): the same layers, seed, split, batches and optimizer.")


def script_download_button(run: RunSummary, key: str, label: str = "Download script (.py)", where=st) -> None:
    """A download button for `run`'s script; disabled, saying why, when its config cannot be read.

    Args:
        run: the run to export.
        key: the button's widget key.
        label: its label.
        where: the container to draw it in (`st`, a column, a popover).
    """
    try:  # text only, no TensorFlow: a few milliseconds
        script, problem = training_script(run_config(run), run_facts(run)), None
    except ExportError as error:
        script, problem = "", str(error)
    where.download_button(
        label, script, file_name=script_file_name(run.name), mime="text/x-python", key=key, icon=":material/code:",
        disabled=problem is not None, help=markdown_text(problem, 600) if problem else SCRIPT_HELP,
    )
