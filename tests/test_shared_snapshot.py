"""What a class of 40 open pages shares instead of redoing per page: a snapshot made once for all
callers (`core/jobs/shared_snapshot.py`), the board built once (`core/classroom/class_view.py`), the
class's file parsed again only when it changed, and the queue's estimates played forward once.
Each check is on content and order: a shared value still shows a change as soon as there is one."""

import json
import threading

import pytest

from core.classroom.challenge import MAX_PARAMETERS, Challenge
from core.classroom.class_ledger import CLASS_FILE, ClassLedger
from core.classroom.class_view import SharedClassView
from core.config.train_config import preset_config
from core.jobs.queue_estimate import estimated_starts, queue_shape
from core.jobs.shared_snapshot import SharedSnapshot
from core.jobs.training_jobs import JobState, TrainingJobs
from core.runs.atomic_files import write_json_atomic
from core.training.events import QUEUED, RUNNING
from test_classroom import SOFTMAX, write_run

TINY = preset_config("mlp", epochs=1, train_size=300, validation_size=100)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_snapshot_is_made_once_for_every_caller_until_its_version_changes():
    made = []
    snapshot = SharedSnapshot()
    values = [snapshot.get("v1", lambda: made.append("v1") or f"board {len(made)}") for _ in range(40)]
    assert values == ["board 1"] * 40 and made == ["v1"] and snapshot.made_count == 1
    assert snapshot.get("v2", lambda: made.append("v2") or f"board {len(made)}") == "board 2"  # a change: at once
    assert snapshot.get("v1", lambda: "board 3") == "board 3"  # back to an older version is a change too
    assert snapshot.made_count == 3


def test_a_live_change_waits_for_the_min_age_and_any_value_is_remade_at_the_max_age():
    clock = Clock()
    snapshot = SharedSnapshot(min_age_seconds=1.0, max_age_seconds=10.0, clock=clock)
    assert snapshot.get("class", lambda: "points 1", live_version=1) == "points 1"
    clock.now += 0.5
    assert snapshot.get("class", lambda: "points 2", live_version=2) == "points 1"  # younger than a second: kept
    assert snapshot.get("teacher hid a name", lambda: "hidden", live_version=2) == "hidden"  # `version`: at once
    clock.now += 1.0
    assert snapshot.get("teacher hid a name", lambda: "points 3", live_version=3) == "points 3"  # a second old: made again
    clock.now += 9.9
    assert snapshot.get("teacher hid a name", lambda: "unchanged", live_version=3) == "points 3"
    clock.now += 0.1
    assert snapshot.get("teacher hid a name", lambda: "ten seconds on", live_version=3) == "ten seconds on"


def test_callers_asking_at_once_wait_for_one_maker_and_a_failed_make_keeps_the_last_value():
    snapshot = SharedSnapshot()
    release, makers, answers = threading.Event(), [], []

    def make():
        makers.append(threading.get_ident())
        release.wait(30)
        return "one board"

    threads = [threading.Thread(target=lambda: answers.append(snapshot.get("v", make))) for _ in range(8)]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(30)
    assert answers == ["one board"] * 8 and len(makers) == 1

    def broken():
        raise OSError("the runs folder is gone")

    with pytest.raises(OSError, match="runs folder is gone"):
        snapshot.get("v2", broken)
    assert snapshot.get("v", lambda: "not made") == "one board"


@pytest.mark.parametrize("ages, problem", [((-1.0, 5.0), "must be 0 or more"), ((5.0, 1.0), "must be at least")])
def test_bad_ages_are_refused_naming_both(ages, problem):
    with pytest.raises(ValueError, match=f"{problem}.*min_age_seconds={ages[0]}, max_age_seconds={ages[1]}"):
        SharedSnapshot(*ages)


def test_the_class_file_is_parsed_again_only_when_it_changed_whoever_wrote_it(tmp_path):
    ledger, other_server = ClassLedger(tmp_path), ClassLedger(tmp_path)
    ledger.open_class(by_teacher=True, now=100.0)
    first = ledger.state()
    assert ledger.state() is first and other_server.state() is first  # nothing changed: the same parse, shared
    other_server.set_name("v1", "Ada")
    assert ledger.state().names == {"v1": "Ada"}
    # Replaced from outside with a file of the same size (another process, a restore): seen all the same.
    value = {**json.loads((tmp_path / CLASS_FILE).read_text()), "names": {"v1": "Bea"}}
    write_json_atomic(tmp_path / CLASS_FILE, value)
    assert ledger.state().names == {"v1": "Bea"}
    (tmp_path / CLASS_FILE).unlink()
    assert ledger.state().session_id is None


def test_one_board_serves_every_page_and_shows_a_teachers_change_at_the_next_draw(tmp_path):
    clock = Clock()
    ledger, jobs = ClassLedger(tmp_path), TrainingJobs(max_concurrent=1, runs_dir=tmp_path)
    ledger.open_class(by_teacher=True, now=100.0)
    ledger.set_challenge(Challenge(MAX_PARAMETERS, 20_000, set_at=100.0), by_teacher=True)
    for name, visitor, accuracy in (("run-a", "v1", 0.88), ("run-b", "v2", 0.91)):
        write_run(tmp_path, name, SOFTMAX, accuracy)
        ledger.record_run(name, visitor, 120.0)
    ledger.set_name("v1", "Ada Lovelace")
    ledger.set_name("v2", "Boris Quill")
    boards = SharedClassView(clock=clock)
    views = [boards.get(ClassLedger(tmp_path), jobs) for _ in range(40)]  # forty pages refresh
    assert boards.made_count == 1 and all(view is views[0] for view in views)
    assert [(row.run.key, row.rank) for row in views[0].table] == [("run-b", 1), ("run-a", 2)]
    assert "Ada Lovelace" in views[0].cards_html and "Boris Quill" in views[0].cards_html
    ledger.hide_visitor("v1", by_teacher=True)
    ledger.hide_run("run-b", by_teacher=True)
    after = boards.get(ledger, jobs)  # within the same second: the teacher's change is not held back
    assert boards.made_count == 2 and [(row.run.key, row.rank) for row in after.table] == [("run-a", 1)]
    assert "Ada Lovelace" not in after.cards_html and "(name hidden)" in after.cards_html
    assert "Boris Quill" not in after.cards_html


def test_the_queue_shape_changes_when_a_job_joins_moves_up_starts_or_finishes_an_epoch():
    waiting = [JobState(f"j{i}", TINY, status=QUEUED, queue_position=i, submitted=float(i)) for i in (1, 2, 3)]
    shape = queue_shape(waiting)
    assert queue_shape(list(waiting)) == shape
    moved = [JobState("j1", TINY, status=RUNNING, started=5.0)] + [
        JobState(s.job_id, TINY, status=QUEUED, queue_position=s.queue_position - 1, submitted=s.submitted) for s in waiting[1:]]
    assert queue_shape(moved) != shape
    starts = estimated_starts(moved, 1, lambda config: 10.0, now=5.0)
    assert list(starts) == ["j2", "j3"] and starts["j2"] <= starts["j3"]  # order kept: nobody overtakes
