"""The class session's results as CSV, for the teacher: one row per run, every hyperparameter a column.

Columns: rank, name, run, model, status, test_accuracy, seconds, counted (or why not), hidden,
then every `TrainConfig` field in its order. A display name is a visitor's text: a cell that a
spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return)
gets a leading `'`, so opening the file never runs one.
"""

from __future__ import annotations

import csv
import io
from dataclasses import fields

from core.classroom.class_ledger import ClassState
from core.classroom.leaderboard import Standing
from core.config.train_config import TrainConfig

CONFIG_COLUMNS = [f.name for f in fields(TrainConfig) if f.name != "model"]
COLUMNS = ["rank", "name", "run", "model", "status", "test_accuracy", "seconds", "counted", "hidden", *CONFIG_COLUMNS]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert_cell(text: str) -> str:
    """`text` as a spreadsheet shows it, never as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def results_csv(table: list[Standing], state: ClassState) -> str:
    """The standings `table` (`core.classroom.leaderboard.standings`) as CSV text, with the teacher's view
    of names (a hidden name is written, and marked hidden)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for standing in table:
        run = standing.run
        hidden = run.visitor in state.hidden_visitors
        writer.writerow([
            "" if standing.rank is None else standing.rank,
            inert_cell(state.names.get(run.visitor, "")),
            run.run_name or "(queued)",
            run.config.get("model", ""),
            run.status,
            "" if run.test_accuracy is None else f"{run.test_accuracy:.4f}",
            f"{run.seconds:.1f}",
            "yes" if standing.rank is not None else standing.why_not or "no",
            "name" if hidden else "",
            *(inert_cell(str(run.config.get(name, ""))) for name in CONFIG_COLUMNS),
        ])
    return out.getvalue()
