"""Damaged `owners.json` / `notes.json` are kept aside and named on the Runs page, never overwritten;
titles and notes say they are public (issue 17).

Core checks run on real files; the page checks run the real Runs page through AppTest on a
real (tiny) recorded run.
"""

import json
import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MNIST_PATH", str(ROOT.parent / "shared/data/mnist.npz"))

from streamlit.testing.v1 import AppTest  # noqa: E402

from core.config.train_form import build_config, default_values  # noqa: E402
from core.runs import run_notes, run_owners  # noqa: E402
from core.runs.damaged_files import keep_aside, kept_copies  # noqa: E402
from core.runs.recorded_run import RecordedRun  # noqa: E402
from dashboard_workers import end_the_dashboards_workers  # noqa: F401  (ends the queue's workers with this module)

APP = str(ROOT / "dashboard" / "app.py")
DAMAGES = {  # what a disk fault or a hand edit leaves
    "not-json": b'{"mlp-1": "visitor-a", "mlp-2": ',
    "empty": b"",
    "binary": bytes(range(256)),
    "a-list": b'["mlp-1"]',
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_owners_file_is_kept_aside_and_never_overwritten(tmp_path, damage):
    damaged = DAMAGES[damage]
    (tmp_path / "owners.json").write_bytes(damaged)
    run_owners.record_owner(tmp_path, "mlp-3", "visitor-b")  # the write that used to overwrite it
    [kept] = kept_copies(tmp_path, "owners.json")
    assert kept.read_bytes() == damaged  # every byte, under its new name
    assert kept.name.startswith("owners.json.damaged-")
    assert json.loads((tmp_path / "owners.json").read_text()) == {"mlp-3": "visitor-b"}  # a fresh ledger beside it
    [report] = run_owners.damage_reports(tmp_path)
    assert report.startswith(f"owners.json was damaged and was kept as {kept.name};") and "teacher" in report
    assert run_owners.owner_of(tmp_path, "mlp-3") == "visitor-b"


def test_a_damaged_notes_file_is_found_by_a_read_and_kept_before_a_write(tmp_path):
    (tmp_path / "notes.json").write_text('{"mlp-1": {"title": "relu + adam", "note": "')  # torn
    assert run_notes.all_notes(tmp_path) == {}  # read as empty ...
    [kept] = kept_copies(tmp_path, "notes.json")  # ... but already kept, before anything is written
    assert not (tmp_path / "notes.json").exists()
    run_notes.set_note(tmp_path, "mlp-2", "sigmoid", "")
    assert "relu + adam" in kept.read_text()
    assert set(run_notes.all_notes(tmp_path)) == {"mlp-2"}
    [report] = run_notes.damage_reports(tmp_path)
    assert report.startswith(f"notes.json was damaged and was kept as {kept.name};")
    assert run_owners.damage_reports(tmp_path) == []  # owners.json was never damaged


def test_keeping_aside_twice_in_one_second_never_replaces_an_earlier_copy(tmp_path):
    path = tmp_path / "owners.json"
    kept = []
    for content in (b"first", b"second", b"third"):
        path.write_bytes(content)
        kept.append(keep_aside(path))
    assert [k.read_bytes() for k in kept] == [b"first", b"second", b"third"]
    assert sorted(kept_copies(tmp_path, "owners.json")) == sorted(kept) and not path.exists()


def test_a_valid_ledger_is_never_kept_aside(tmp_path):
    run_owners.record_owner(tmp_path, "mlp-1", "visitor-a")
    run_notes.set_note(tmp_path, "mlp-1", "a title", "a note")
    assert run_owners.damage_reports(tmp_path) == [] and run_notes.damage_reports(tmp_path) == []
    assert run_notes.all_notes(tmp_path)["mlp-1"].title == "a title"


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recorded")
    config = build_config(default_values("mlp") | dict(epochs=1, train_size=200, batch_size=50, validation_size=200))
    *_, done = list(RecordedRun(config, runs_dir=folder, name="mlp-ledger"))
    assert done.status == "completed"
    return folder / "mlp-ledger"


def open_runs(runs_dir: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("MNIST_LAB_RUNS_DIR", str(runs_dir))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("../pages/runs.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_runs_page_names_each_kept_ledger_and_says_notes_are_public(tmp_path, monkeypatch, recorded_run):
    runs_dir = tmp_path / "runs"
    shutil.copytree(recorded_run, runs_dir / "mlp-ledger")
    (runs_dir / "owners.json").write_text("{not json")
    (runs_dir / "notes.json").write_text('"a string, not an object"')
    at = open_runs(runs_dir, monkeypatch)
    warnings = [re.sub(r"\\(.)", r"\1", w.value) for w in at.warning]  # as shown: markdown_text's escapes undone
    [owners] = [w for w in warnings if w.startswith("owners.json was damaged")]
    [notes] = [w for w in warnings if w.startswith("notes.json was damaged")]
    [kept_owners] = kept_copies(runs_dir, "owners.json")
    [kept_notes] = kept_copies(runs_dir, "notes.json")
    assert f"kept as {kept_owners.name};" in owners and f"kept as {kept_notes.name};" in notes
    assert kept_owners.read_text() == "{not json" and kept_notes.read_text() == '"a string, not an object"'
    captions = [c.value for c in at.caption]
    assert "Public: a title and a note are visible to everyone on this server." in captions
    at.text_input(key="runs_note_title_mlp-ledger").input("first title")
    at.button[[b.label for b in at.button].index("Save")].click().run()
    assert not at.exception
    assert json.loads((runs_dir / "notes.json").read_text())["mlp-ledger"]["title"] == "first title"
    assert kept_notes.read_text() == '"a string, not an object"'  # the save wrote a fresh file beside the kept one
