"""The Runs table: one row per run folder, damaged folders included without breaking the table."""

import json

import pandas as pd
import pyarrow as pa

from core.runs.run_table import COLUMNS, run_rows
from core.runs.store import list_runs


def write_run(root, name, config, status, metric_lines):
    folder = root / name
    folder.mkdir(parents=True)
    if config is not None:
        (folder / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    if status is not None:
        (folder / "status.json").write_text(json.dumps(status))
    (folder / "metrics.jsonl").write_text("".join(line + "\n" for line in metric_lines))
    if isinstance(status, dict) and status.get("status") == "completed":
        (folder / "model.keras").write_bytes(b"")  # only their presence matters to the table
        (folder / "predictions.npz").write_bytes(b"")


def epoch_line(number, val_accuracy, seconds):
    return json.dumps({"epoch": number, "loss": 0.3, "accuracy": 0.9, "val_loss": 0.35,
                       "val_accuracy": val_accuracy, "seconds": seconds})


def test_rows_carry_the_runs_settings_and_best_scores(tmp_path):
    write_run(tmp_path, "good", {"model": "mlp", "optimizer": "sgd", "learning_rate": 0.1, "batch_size": 100, "train_size": 0},
              {"status": "completed", "reason": "all 2 epochs ran", "test_accuracy": 0.91, "started": 1.8e9},
              [epoch_line(1, 0.88, 2.0), epoch_line(2, 0.90, 1.5)])
    [row] = run_rows(list_runs(tmp_path))
    assert list(row) == list(COLUMNS)
    assert {k: v for k, v in row.items() if v is not None} | {"started": None} == {
        "run": "good", "model": "mlp", "status": "completed", "epochs": 2, "optimizer": "sgd", "learning_rate": 0.1,
        "batch_size": 100, "train_size": 0, "best_val_accuracy": 0.90, "test_accuracy": 0.91, "seconds": 3.5,
        "started": None, "problems": "", "checkpoints": 0,
        "size_mb": round(sum(f.stat().st_size for f in (tmp_path / "good").iterdir()) / 1e6, 2),
    }  # the settings this config.json leaves out are empty cells
    assert row["started"].startswith("20")


def test_damaged_runs_become_rows_with_their_problems_and_the_table_still_converts(tmp_path):
    write_run(tmp_path, "good", {"model": "mlp", "learning_rate": 0.1}, {"status": "completed"}, [epoch_line(1, 0.9, 1.0)])
    write_run(tmp_path, "torn", "{not json", None, [epoch_line(1, 0.5, 1.0), '{"epoch": 2, "val_acc'])
    write_run(tmp_path, "odd-types", {"model": 7, "learning_rate": "fast", "batch_size": True},
              {"status": "completed", "test_accuracy": "high", "started": 1e300},
              [json.dumps({"epoch": 1, "val_accuracy": "x", "seconds": "slow"}), epoch_line(2, 0.7, 2.0)])
    rows = {row["run"]: row for row in run_rows(list_runs(tmp_path))}
    assert "config.json is corrupt" in rows["torn"]["problems"] and "line 2 is corrupt" in rows["torn"]["problems"]
    assert rows["torn"]["status"] == "interrupted"
    odd = rows["odd-types"]
    assert (odd["model"], odd["learning_rate"], odd["batch_size"], odd["test_accuracy"], odd["started"]) == (None,) * 5
    assert odd["best_val_accuracy"] == 0.7 and odd["seconds"] == 2.0
    pa.Table.from_pandas(pd.DataFrame(list(rows.values())))  # what st.dataframe does; must not raise
