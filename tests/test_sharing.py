"""A shared server's rules: one training per visitor, abandoned jobs leave the queue, the epoch and
time caps, and who may manage what (a real worker process, shared by the module's trainings; real MNIST
subsets)."""

import time

import pytest

import core.jobs.training_jobs
from core.config.train_config import preset_config
from core.jobs.sharing import SharingLimitError, SharingRules
from core.jobs.training_jobs import JobState, TrainingJobs
from core.runs.run_owners import forget_owner, owner_of
from core.runs.store import load_run
from core.training.events import QUEUED, RUNNING, STOPPED

WAIT = 300  # seconds; generous for a CPU shared with other work, never a performance check
LONG = preset_config("mlp", epochs=25, train_size=1000, validation_size=100, batch_size=20)
SHORT = preset_config("mlp", epochs=1, train_size=200, validation_size=100, batch_size=50)


def wait_until(predicate, what: str):
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def hosted(**changes) -> SharingRules:
    return SharingRules.from_settings({"MNIST_LAB_HOSTED": "1", **changes})


def test_a_local_server_has_no_limits_and_its_user_manages_everything():
    local = SharingRules.from_settings({})
    assert not local.hosted and local.describe_caps() is None
    assert local.may_manage("someone", "someone-else") and local.may_manage(None, None)
    local.check_epochs(10_000)  # no cap


def test_hosted_defaults_owner_only_and_the_teacher_password():
    rules = SharingRules.from_settings({"MNIST_LAB_TEACHER_PASSWORD": "s3cret"})  # a password alone means hosted
    assert rules.hosted and rules.jobs_per_visitor == 1 and rules.max_epochs == 30
    assert rules.max_job_seconds == 600 and rules.abandoned_after_seconds == 180
    assert rules.closed_tab_grace_seconds == 20 and hosted(MNIST_LAB_CLOSED_TAB_GRACE_SECONDS="2.5").closed_tab_grace_seconds == 2.5
    with pytest.raises(SharingLimitError, match="MNIST_LAB_CLOSED_TAB_GRACE_SECONDS='0' is not a positive number.*default is 20"):
        hosted(MNIST_LAB_CLOSED_TAB_GRACE_SECONDS="0")
    assert rules.may_manage("v1", "v1") and not rules.may_manage("v1", "v2")
    assert not rules.may_manage(None, "v2")  # a CLI or sweep run: a teacher's to manage
    assert rules.may_manage("v1", "v2", teacher=True)
    assert rules.is_teacher_password("s3cret") and not rules.is_teacher_password("s3cre") and not rules.is_teacher_password("")
    assert not hosted().is_teacher_password("")  # no password set: nobody signs in
    caps = rules.describe_caps()
    assert "30 epochs" in caps and "10 minutes" in caps and "one training" in caps
    with pytest.raises(SharingLimitError, match="at most 30 epochs.*Lower Epochs to 30"):
        rules.check_epochs(31)


def test_an_open_page_says_still_here_several_times_within_the_abandonment_limit():
    assert SharingRules().heartbeat_seconds is None  # local: nothing is ever abandoned, no heartbeat reruns
    assert hosted().heartbeat_seconds == 30  # the 3-minute default: every 30 s
    short = hosted(MNIST_LAB_ABANDONED_AFTER_MINUTES="0.25")  # 15 s
    assert short.heartbeat_seconds * 3 < short.abandoned_after_seconds


def test_visitors_gone_long_ago_are_forgotten_and_a_local_server_keeps_no_table(tmp_runs_dir, monkeypatch):
    monkeypatch.setattr(core.jobs.training_jobs, "SEEN_PRUNED_ABOVE", 10)
    jobs = TrainingJobs(max_concurrent=1, runs_dir=tmp_runs_dir, rules=hosted())  # no submit: no workers start
    clock = [1000.0]
    monkeypatch.setattr(core.jobs.training_jobs.time, "monotonic", lambda: clock[0])
    for number in range(10):
        jobs.seen(f"long-gone-{number}")
    clock[0] += 2 * 3600
    jobs.seen("still-here")  # eleven remembered: the ten gone for two hours are forgotten
    assert set(jobs._last_seen) == {"still-here"}
    local = TrainingJobs(max_concurrent=1, runs_dir=tmp_runs_dir)
    local.seen("anyone")
    assert local._last_seen == {}


@pytest.mark.parametrize("value", ["zero", "0", "-3"])
def test_a_bad_setting_names_itself_and_the_fix(value):
    with pytest.raises(SharingLimitError, match="MNIST_LAB_MAX_EPOCHS=.*not a positive number.*default is 30"):
        hosted(MNIST_LAB_MAX_EPOCHS=value)


def test_one_job_per_visitor_and_a_job_too_long_is_refused_before_it_queues(jobs_on_the_warm_worker, tmp_runs_dir):
    jobs = jobs_on_the_warm_worker(rules=hosted(MNIST_LAB_MAX_EPOCHS="30"))
    try:
        with pytest.raises(SharingLimitError, match="at most 30 epochs"):
            jobs.submit(LONG.replace(epochs=31), owner="alice")
        first = jobs.submit(LONG, name="alice-run", owner="alice")
        with pytest.raises(SharingLimitError, match="already have 1 training queued or running"):
            jobs.submit(SHORT, owner="alice")  # a second tab of the same browser: same visitor
        other = jobs.submit(SHORT, name="bob-run", owner="bob")
        assert jobs.get(other).status in (QUEUED, RUNNING) and jobs.get(other).owner == "bob"
        wait_until(lambda: jobs.get(first).run_name is not None, "alice's run to get its name")
        assert owner_of(tmp_runs_dir, "alice-run") == "alice"
        jobs.stop(first)
        assert jobs.wait(first, timeout=WAIT).status == STOPPED
        again = jobs.submit(SHORT, name="alice-again", owner="alice")  # her first one ended: she may start another
        assert jobs.wait(again, timeout=WAIT).finished and jobs.wait(other, timeout=WAIT).finished
        forget_owner(tmp_runs_dir, "alice-run")
        assert owner_of(tmp_runs_dir, "alice-run") is None and owner_of(tmp_runs_dir, "bob-run") == "bob"
    finally:
        jobs.close()


def test_a_waiting_job_whose_visitor_left_leaves_the_queue_and_a_present_ones_stays(jobs_on_the_warm_worker, tmp_runs_dir, monkeypatch):
    monkeypatch.setattr(core.jobs.training_jobs, "ABANDONED_CHECK_SECONDS", 0.2)
    jobs = jobs_on_the_warm_worker(rules=hosted(MNIST_LAB_ABANDONED_AFTER_MINUTES="0.05", MNIST_LAB_MAX_EPOCHS="1000"))  # 3 s
    try:
        running = jobs.submit(LONG.replace(epochs=1000), owner="teacher-demo")  # holds the one slot throughout
        wait_until(lambda: jobs.get(running).status == RUNNING, "the first job to start")
        gone = jobs.submit(SHORT, owner="closed-the-tab")
        present = jobs.submit(SHORT, owner="still-here")  # queued at the same moment: as long without it as `gone`
        deadline = time.monotonic() + WAIT
        while not jobs.get(gone).finished:  # "still-here" keeps a page open: its page views say so
            assert time.monotonic() < deadline, "the job whose visitor left never left the queue"
            jobs.seen("still-here")
            jobs.seen("teacher-demo")
            time.sleep(0.2)
        keep_visiting(jobs, ["still-here", "teacher-demo"], 1.0)  # five more checks: the present one still stays
        left = jobs.get(gone)
        assert left.status == STOPPED and "left the queue" in left.reason and "0.05 minutes" in left.reason
        assert left.run_name is None  # it never started: no run folder
        assert jobs.get(present).status == QUEUED and jobs.get(present).queue_position == 1
        assert jobs.get(running).status == RUNNING  # a running job is never dropped for that
        assert jobs.stop_queued() == 1 and jobs.wait(present, timeout=WAIT).status == STOPPED
        jobs.stop(running)
        jobs.wait(running, timeout=WAIT)
    finally:
        jobs.close()


def test_a_training_stops_at_the_time_limit_keeping_its_epochs_and_saying_why(jobs_on_the_warm_worker, tmp_runs_dir):
    jobs = jobs_on_the_warm_worker(rules=hosted(MNIST_LAB_MAX_JOB_MINUTES="0.25", MNIST_LAB_MAX_EPOCHS="1000"))  # 15 s
    try:
        assert jobs.warm_up().wait_until_warm(WAIT)  # the cap counts from the job's start: not the worker's own
        job = jobs.submit(LONG.replace(epochs=1000, train_size=2000), name="capped", owner="alice")  # well past 15 s
        wait_until(lambda: jobs.get(job).status == RUNNING, "the job to start")
        started = time.monotonic()
        ended = jobs.wait(job, timeout=WAIT)
        assert ended.status == STOPPED and ended.reason == "stopped at the server's 0.25-minute limit"
        assert time.monotonic() - started < 60 and 1 <= len(ended.epochs) < 1000
        saved = load_run("capped", tmp_runs_dir)  # the run folder's status.json says why, as the Runs page shows it
        assert saved.status == STOPPED and saved.reason == ended.reason
        assert len(saved.epochs) == len(ended.epochs) and saved.has_model
    finally:
        jobs.close()


def keep_visiting(jobs, visitors, seconds: float) -> None:
    """The page views (and heartbeats) of visitors who keep a page open, for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for visitor in visitors:
            jobs.seen(visitor)
        time.sleep(0.1)


def test_a_paused_training_whose_visitor_walked_away_stops_keeping_its_epochs(jobs_on_the_warm_worker, tmp_runs_dir, monkeypatch):
    monkeypatch.setattr(core.jobs.training_jobs, "ABANDONED_CHECK_SECONDS", 0.2)
    jobs = jobs_on_the_warm_worker(rules=hosted(MNIST_LAB_ABANDONED_AFTER_MINUTES="0.05", MNIST_LAB_MAX_PAUSE_MINUTES="30",
                                     MNIST_LAB_MAX_EPOCHS="1000"))  # gone after 3 s; the pause limit plays no part
    try:
        paused = jobs.submit(LONG.replace(epochs=1000), name="walked-away", owner="alice")
        deadline = time.monotonic() + WAIT
        while len(jobs.get(paused).epochs) < 1:  # Alice watches her first epoch finish
            assert time.monotonic() < deadline and not jobs.get(paused).finished, "no first epoch"
            keep_visiting(jobs, ["alice"], 0.2)
        jobs.pause(paused)
        waiting = jobs.submit(SHORT, name="bob-waits", owner="bob")
        keep_visiting(jobs, ["alice", "bob"], 1.0)
        assert jobs.get(paused).paused and jobs.get(paused).status == RUNNING  # still here: the pause holds
        deadline = time.monotonic() + WAIT
        while not jobs.get(paused).finished:  # Alice closed her browser; Bob keeps his page open
            assert time.monotonic() < deadline, "the walked-away pause never ended"
            keep_visiting(jobs, ["bob"], 0.2)
        ended = jobs.wait(paused, timeout=WAIT)
        assert ended.status == STOPPED
        assert ended.reason == "its visitor had no page of this server open for 0.05 minutes"
        saved = load_run("walked-away", tmp_runs_dir)
        assert saved.status == STOPPED and saved.reason == ended.reason  # status.json says why
        assert len(saved.epochs) == len(ended.epochs) >= 1 and saved.has_model  # its epochs are kept
        assert jobs.wait(waiting, timeout=WAIT).status != STOPPED  # Bob got the worker
    finally:
        jobs.close()


def test_a_pause_that_holds_others_up_stops_at_its_own_limit(jobs_on_the_warm_worker, tmp_runs_dir, monkeypatch):
    monkeypatch.setattr(core.jobs.training_jobs, "ABANDONED_CHECK_SECONDS", 0.2)
    jobs = jobs_on_the_warm_worker(rules=hosted(MNIST_LAB_MAX_PAUSE_MINUTES="0.05", MNIST_LAB_MAX_EPOCHS="1000"))  # 3 s
    try:
        paused = jobs.submit(LONG.replace(epochs=1000), name="paused-long", owner="alice")
        wait_until(lambda: jobs.get(paused).progress is not None, "the job's first progress")
        jobs.pause(paused)
        keep_visiting(jobs, ["alice"], 5.0)  # nobody waits: a pause may last
        assert jobs.get(paused).paused and jobs.get(paused).status == RUNNING
        assert jobs.pause_deadline(paused) is None
        queued_at = time.time()
        waiting = jobs.submit(SHORT, name="bob-waits", owner="bob")
        deadline = jobs.pause_deadline(paused)
        assert deadline is not None and queued_at + 3.0 <= deadline <= time.time() + 3.0  # from when Bob queued
        ended = jobs.wait(paused, timeout=WAIT)
        assert ended.status == STOPPED and ended.reason == "paused for 0.05 minutes while others waited for a worker"
        assert ended.ended >= deadline
        assert load_run("paused-long", tmp_runs_dir).reason == ended.reason
        assert jobs.wait(waiting, timeout=WAIT).status != STOPPED
    finally:
        jobs.close()


def test_a_queued_job_leaves_soon_after_its_visitors_last_page_closed_a_quiet_one_stays(jobs_on_the_warm_worker, tmp_runs_dir, monkeypatch):
    monkeypatch.setattr(core.jobs.training_jobs, "ABANDONED_CHECK_SECONDS", 0.2)
    connected = {"holder", "closes-tab", "quiet-phone"}  # what the web server would say: connected pages
    jobs = jobs_on_the_warm_worker(rules=hosted(MNIST_LAB_ABANDONED_AFTER_MINUTES="10", MNIST_LAB_MAX_EPOCHS="1000",
                                                MNIST_LAB_CLOSED_TAB_GRACE_SECONDS="1"),
                        live_visitors=lambda: set(connected))
    try:
        running = jobs.submit(LONG.replace(epochs=1000), owner="holder")
        wait_until(lambda: jobs.get(running).status == RUNNING, "the first job to start")
        closing = jobs.submit(SHORT, owner="closes-tab")
        quiet = jobs.submit(SHORT, owner="quiet-phone")  # connected, but sends no page views
        time.sleep(2.0)
        assert jobs.get(closing).status == QUEUED and jobs.get(quiet).queue_position == 2
        connected.discard("closes-tab")  # its last tab closed: its websocket is gone
        left = jobs.wait(closing, timeout=WAIT)
        assert left.status == STOPPED and left.reason == "left the queue: its visitor closed their last page of this server"
        time.sleep(2.0)
        assert jobs.get(quiet).status == QUEUED and jobs.get(quiet).queue_position == 1  # the 10-minute limit holds
        assert jobs.get(running).status == RUNNING
        jobs.stop_queued()
        jobs.stop(running)
        jobs.wait(running, timeout=WAIT)
    finally:
        jobs.close()


def test_the_grace_after_a_visitors_last_page_closed_is_the_servers_setting(tmp_runs_dir, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(core.jobs.training_jobs.time, "monotonic", lambda: clock[0])
    for setting, grace in ((None, 20.0), ("2", 2.0)):
        rules = hosted() if setting is None else hosted(MNIST_LAB_CLOSED_TAB_GRACE_SECONDS=setting)
        jobs = TrainingJobs(max_concurrent=1, runs_dir=tmp_runs_dir, rules=rules, live_visitors=set)  # no submit: no workers
        jobs._states["queued"] = JobState(job_id="queued", config=SHORT, owner="bob")
        jobs._live_known, jobs._last_live["bob"] = True, clock[0]  # his page was connected at the last check
        assert jobs._check_seconds() == min(5.0, grace / 4)  # the checks come often enough for the grace
        clock[0] += grace - 0.5
        assert not jobs._visitor_closed_their_pages("queued")  # a reload has this long to reconnect
        clock[0] += 1.0
        assert jobs._visitor_closed_their_pages("queued")
        jobs.close()


def test_a_full_queue_makes_room_by_dropping_the_jobs_of_visitors_with_no_page_open(jobs_on_the_warm_worker, tmp_runs_dir, monkeypatch):
    monkeypatch.setattr(core.jobs.training_jobs, "MAX_QUEUED", 3)
    connected = {"holder", "learner", "flood-0", "flood-1", "flood-2"}
    jobs = jobs_on_the_warm_worker(rules=hosted(MNIST_LAB_MAX_EPOCHS="1000"), live_visitors=lambda: set(connected))
    try:
        running = jobs.submit(LONG.replace(epochs=1000), owner="holder")
        wait_until(lambda: jobs.get(running).status == RUNNING, "the first job to start")
        flood = [jobs.submit(SHORT, owner=f"flood-{i}") for i in range(3)]  # a script's fresh cookies, one per browser
        with pytest.raises(core.jobs.training_jobs.QueueFullError):  # their browsers still open: the queue is full
            jobs.submit(SHORT, owner="learner")
        connected.difference_update({"flood-0", "flood-2"})  # the script closed two of its browsers
        learner = jobs.submit(SHORT, owner="learner")
        assert jobs.get(learner).status == QUEUED and jobs.get(learner).queue_position == 2  # behind flood-1, still open
        dropped = [jobs.wait(flood[i], timeout=WAIT) for i in (0, 2)]
        assert all(d.status == STOPPED and "the queue was full" in d.reason for d in dropped)
        assert jobs.get(flood[1]).status == QUEUED and jobs.get(flood[1]).queue_position == 1
        jobs.stop_queued()
        jobs.stop(running)
        jobs.wait(running, timeout=WAIT)
    finally:
        jobs.close()
