"""Several servers on one runs folder: every read-modify-write of a ledger (`class.json`, `owners.json`,
`notes.json`) holds a lock across processes, so no process loses another's change (issue 21).

Real processes (multiprocessing's `fork`), real files in a temporary runs folder. The first two tests
force the one interleaving that loses a change: process A has read the ledger and is about to write
it back when process B changes it. Without the cross-process lock (the control: `locked` swapped for
nothing in the children) B's change is lost, every time; with it, B waits for A and both changes land.
The third has four processes add names, runs, owners and titles to one folder at once (with `locked`
swapped for nothing it lost 32-51 of the 100 names and 49-59 of the 100 runs in three tries).
"""

import contextlib
import json
import multiprocessing
import threading

import pytest

from core.classroom.class_ledger import ClassLedger
from core.runs import json_ledger, run_notes, run_owners
from core.runs.file_lock import lock_path, locked

FORK = multiprocessing.get_context("fork")
WAIT = 60.0  # generous bounds for a loaded machine; a passing run never waits them out
PROCESSES, ENTRIES = 4, 25  # each process adds ENTRIES names, runs and owners


def _add_while_told(path, key, inside, go):
    """Process A: read the ledger, say so, wait for `go`, then add `key` and write the ledger back."""
    def change(value):
        inside.set()
        go.wait(WAIT)
        value[key] = True
        return True

    json_ledger.update_ledger(path, change)


def _add(path, key, done):
    """Process B: add `key` to the ledger at once."""
    json_ledger.update_ledger(path, lambda value: value.update({key: True}) or True)
    done.set()


def _interleave(path, b_done_within):
    """A reads and holds; B changes the ledger meanwhile (or waits); A writes. Returns whether B was done before A wrote."""
    inside, go, done = FORK.Event(), FORK.Event(), FORK.Event()
    a = FORK.Process(target=_add_while_told, args=(path, "a", inside, go))
    a.start()
    assert inside.wait(WAIT), "process A never read the ledger"
    b = FORK.Process(target=_add, args=(path, "b", done))
    b.start()
    b_was_done = done.wait(b_done_within)
    go.set()
    for process in (a, b):
        process.join(WAIT)
        assert process.exitcode == 0, f"a writer process ended with {process.exitcode}"
    return b_was_done


def test_without_the_cross_process_lock_a_change_made_meanwhile_is_lost(tmp_path, monkeypatch):
    """The control: what the lock is for happens in this interleaving, so the next test can see it prevented."""
    monkeypatch.setattr(json_ledger, "locked", lambda path: contextlib.nullcontext())  # inherited by the forks
    path = tmp_path / "class.json"
    assert _interleave(path, b_done_within=WAIT)  # nothing stops B: it writes while A holds what it read
    assert json.loads(path.read_text()) == {"a": True}  # A wrote back what it read: B's change is gone


def test_with_the_lock_the_second_process_waits_and_both_changes_land(tmp_path):
    path = tmp_path / "class.json"
    assert not _interleave(path, b_done_within=1.0)  # B cannot change the ledger while A holds its lock
    assert json.loads(path.read_text()) == {"a": True, "b": True}
    assert lock_path(path) == tmp_path / ".class.json.lock" and lock_path(path).read_bytes() == b""


def _class_member(runs_dir, worker, start):
    """One server's visitors: each takes a display name, starts a run (listed in the class) and owns it."""
    start.wait(WAIT)
    ledger = ClassLedger(runs_dir)
    for i in range(ENTRIES):
        visitor, run = f"visitor-{worker}-{i}", f"mlp-{worker}-{i}"
        ledger.set_name(visitor, f"Learner {worker}.{i}")
        ledger.record_run(run, visitor, submitted=ledger.state().opened + 1.0)
        run_owners.record_owner(runs_dir, run, visitor)
        run_notes.set_note(runs_dir, run, f"title {worker}.{i}", "")


def test_four_processes_adding_names_runs_and_owners_at_once_lose_none(tmp_path):
    ledger = ClassLedger(tmp_path)
    ledger.open_class(by_teacher=True)
    start = FORK.Event()
    workers = [FORK.Process(target=_class_member, args=(tmp_path, w, start)) for w in range(PROCESSES)]
    for worker in workers:
        worker.start()
    start.set()  # all at once
    for worker in workers:
        worker.join(WAIT * 2)
        assert worker.exitcode == 0, f"a class member's process ended with {worker.exitcode}"

    state = ledger.state()
    expected_visitors = {f"visitor-{w}-{i}" for w in range(PROCESSES) for i in range(ENTRIES)}
    expected_runs = {f"mlp-{w}-{i}" for w in range(PROCESSES) for i in range(ENTRIES)}
    assert set(state.names) == expected_visitors
    assert state.names["visitor-2-7"] == "Learner 2.7"
    assert {record.run_name for record in state.runs} == expected_runs and len(state.runs) == len(expected_runs)
    for w in range(PROCESSES):  # each process's runs are listed in the order it started them
        mine = [record.run_name for record in state.runs if record.run_name.startswith(f"mlp-{w}-")]
        assert mine == [f"mlp-{w}-{i}" for i in range(ENTRIES)]
    assert all(run_owners.owner_of(tmp_path, f"mlp-{w}-{i}") == f"visitor-{w}-{i}"
               for w in range(PROCESSES) for i in range(ENTRIES))
    assert len(json.loads((tmp_path / "owners.json").read_text())) == PROCESSES * ENTRIES
    assert set(run_notes.all_notes(tmp_path)) == expected_runs
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".lock")) == [
        ".class.json.lock", ".notes.json.lock", ".owners.json.lock"]


@pytest.mark.parametrize("name", ["class.json", "owners.json"])
def test_a_lock_file_that_cannot_be_opened_refuses_the_change_and_names_it(tmp_path, name):
    lock_path(tmp_path / name).mkdir()  # what no process can open for writing, root included
    with pytest.raises(OSError, match=r"The lock file .*\." + name.replace(".", r"\.") + r"\.lock cannot be opened"
                                      r".*nothing was changed\. Make .* writable"):
        json_ledger.update_ledger(tmp_path / name, lambda value: True)
    assert not (tmp_path / name).exists()


def test_changes_that_change_nothing_leave_the_runs_folder_untouched(tmp_path):
    """Every Start asks the class to list its run, every deleted run forgets its owner and note: without a class
    open or an entry to drop, no ledger and no lock file appear (a runs folder holds run folders only)."""
    assert ClassLedger(tmp_path).record_run("mlp-1", "visitor-a", submitted=1.0) is False
    run_owners.forget_owner(tmp_path, "mlp-1")
    run_notes.forget_note(tmp_path, "mlp-1")
    assert list(tmp_path.iterdir()) == []
    run_owners.record_owner(tmp_path, "mlp-1", "visitor-a")
    run_owners.forget_owner(tmp_path, "mlp-1")
    assert run_owners.owner_of(tmp_path, "mlp-1") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [".owners.json.lock", "owners.json"]


def test_a_read_that_finds_damage_keeps_aside_only_what_is_still_damaged_under_the_lock(tmp_path, monkeypatch):
    """A reader saw a torn file while another writer held the lock and put a good one in its place: the good
    one is read, nothing is kept aside. (Threads here: the lock keeps them apart as it keeps processes.)"""
    path = tmp_path / "notes.json"
    path.write_text('{"mlp-1": {"title": "to')  # torn
    saw_damage, parse = threading.Event(), json_ledger._parse
    monkeypatch.setattr(json_ledger, "_parse", lambda p: (lambda v: v if v is not None else saw_damage.set())(parse(p)))
    with locked(path):  # the other writer
        reader = ThreadWithResult(lambda: json_ledger.read_ledger(path))
        assert saw_damage.wait(WAIT)  # the reader saw the torn file, then waits for the lock
        json_ledger.write_json_atomic(path, {"mlp-2": {"title": "good", "note": ""}})
    assert reader.result() == {"mlp-2": {"title": "good", "note": ""}}
    assert run_notes.damage_reports(tmp_path) == [] and json.loads(path.read_text()) == {"mlp-2": {"title": "good", "note": ""}}


class ThreadWithResult(threading.Thread):
    def __init__(self, call):
        super().__init__(daemon=True)
        self.call, self.value = call, None
        self.start()

    def run(self):
        self.value = self.call()

    def result(self):
        self.join(WAIT)
        assert not self.is_alive(), "the reader never finished"
        return self.value
