"""The teacher's door (issue 17): wrong passwords slow down, per visitor and server-wide, and are
logged without the password; an empty password refuses to serve; Sign out and a password change
revoke every teacher token, copies included. Real files in a temporary runs directory; the
throttle runs on a clock the test moves, so the checks are on order and content, not on seconds."""

import json
import logging
import os
import re
import stat
import threading

import pytest

from core.jobs.sharing import SharingLimitError, SharingRules
from core.jobs.sign_in_throttle import SignInRefused, SignInThrottle
from core.jobs.teacher_key import KEY_FILE, TeacherKey
from core.runs.damaged_files import kept_copies

ALICE, MALLORY = "alice-visitor-id-0001", "mallory-visitor-id-02"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refusal(throttle: SignInThrottle, visitor: str) -> str | None:
    try:
        throttle.check(visitor)
    except SignInRefused as refused:
        assert str(refused) == f"Too many attempts; try again in {refused.retry_after} s." or "on this server" in str(refused)
        return str(refused)
    return None


def test_wrong_passwords_in_a_row_wait_longer_and_longer_and_a_wait_refuses_even_before_the_password():
    clock = Clock()
    throttle = SignInThrottle(clock=clock)
    waits = []
    for _ in range(8):
        assert refusal(throttle, MALLORY) is None  # the wait (if any) is over: a try is looked at
        wait = throttle.failed(MALLORY)
        waits.append(wait)
        if wait:
            assert refusal(throttle, MALLORY) == f"Too many attempts; try again in {wait} s."
            clock.now += wait - 1
            assert refusal(throttle, MALLORY) == "Too many attempts; try again in 1 s."
            clock.now += 1
    assert waits == [0, 0, 0, 2, 4, 8, 16, 32]  # three typos free, then doubling
    assert refusal(throttle, ALICE) is None  # another visitor is not held up by Mallory's waits


def test_the_wait_stops_at_its_ceiling_and_the_right_password_starts_the_count_again():
    clock = Clock()
    throttle = SignInThrottle(max_wait_seconds=60, clock=clock)
    waits = []
    for _ in range(11):
        waits.append(throttle.failed(ALICE))
        clock.now += waits[-1]
    assert waits[-3:] == [60, 60, 60] and waits == sorted(waits)
    throttle.succeeded(ALICE)
    assert throttle.failed(ALICE) == 0


def test_fresh_visitor_ids_meet_the_server_wide_budget():
    clock = Clock()
    throttle = SignInThrottle(server_failures=5, server_window_seconds=600, clock=clock)
    for attempt in range(5):  # cookies thrown away: a new id each time, never a per-visitor wait
        visitor = f"fresh-visitor-id-{attempt:04d}"
        assert refusal(throttle, visitor) is None
        assert throttle.failed(visitor) == 0
        clock.now += 10
    refused = refusal(throttle, "fresh-visitor-id-9999")
    assert refused == "Too many attempts on this server; try again in 550 s."  # until the oldest leaves the window
    assert refusal(throttle, ALICE) == refused  # everyone waits, the teacher too (a signed-in teacher stays signed in)
    clock.now += 549
    assert refusal(throttle, ALICE) == "Too many attempts on this server; try again in 1 s."
    clock.now += 1
    assert refusal(throttle, ALICE) is None


def test_each_wrong_password_is_logged_with_the_visitor_prefix_and_counts_never_the_password(caplog):
    throttle = SignInThrottle(clock=Clock())
    typed = "hunter2-the-attempt"
    with caplog.at_level(logging.WARNING, logger="core.jobs.sign_in_throttle"):
        for _ in range(4):
            throttle.failed(MALLORY)  # the throttle is never given what was typed
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0] == "Teacher sign-in failed: visitor mallor… (1 wrong in a row; 1 on this server in the last 10 min)"
    assert lines[3] == ("Teacher sign-in failed: visitor mallor… (4 wrong in a row; 4 on this server in the last 10 min); "
                        "their next try waits 2 s")
    assert not any(typed in line or MALLORY in line for line in lines)


@pytest.mark.parametrize("password", ["", " ", "\t\n"])
@pytest.mark.parametrize("source", ["secrets", "environment"])
def test_an_empty_or_blank_password_refuses_to_serve_with_one_line(monkeypatch, password, source):
    monkeypatch.delenv("MNIST_LAB_HOSTED", raising=False)
    if source == "environment":
        monkeypatch.setenv("MNIST_LAB_TEACHER_PASSWORD", password)
        settings = None
    else:
        monkeypatch.delenv("MNIST_LAB_TEACHER_PASSWORD", raising=False)
        settings = {"MNIST_LAB_TEACHER_PASSWORD": password}
    with pytest.raises(SharingLimitError) as refused:
        SharingRules.from_settings(settings)
    assert str(refused.value) == ("MNIST_LAB_TEACHER_PASSWORD is set but empty, which would turn hosting off (no limits, "
                                  "anyone deletes anything). Set it to a password, or unset it for a local server.")
    monkeypatch.delenv("MNIST_LAB_TEACHER_PASSWORD", raising=False)
    assert SharingRules.from_settings({}) == SharingRules()  # unset: a local server, as before
    assert SharingRules.from_settings({"MNIST_LAB_TEACHER_PASSWORD": " pw "}).teacher_password == " pw "  # kept as typed


def test_sign_out_revokes_every_token_copies_included(tmp_path):
    key = TeacherKey(tmp_path, "s3cret")
    token = key.token(ALICE)
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    assert key.is_valid(token, ALICE)
    assert not key.is_valid(token, MALLORY)  # a copy is worthless under another visitor id
    copied = str(token)  # a cookie copied into another browser with Alice's visitor cookie: the same bytes
    assert TeacherKey(tmp_path, "s3cret").is_valid(copied, ALICE)  # as another session of the server sees it
    assert key.revoke_all() == 1
    assert not key.is_valid(token, ALICE) and not TeacherKey(tmp_path, "s3cret").is_valid(copied, ALICE)
    fresh = key.token(ALICE)
    assert fresh != token and key.is_valid(fresh, ALICE)  # signing in again works


def test_a_password_change_revokes_every_token(tmp_path):
    token = TeacherKey(tmp_path, "old-password").token(ALICE)
    assert not TeacherKey(tmp_path, "new-password").is_valid(token, ALICE)
    assert TeacherKey(tmp_path, "old-password").is_valid(token, ALICE)


def test_the_key_file_is_private_and_made_once_even_by_racing_threads(tmp_path):
    tokens = []
    threads = [threading.Thread(target=lambda: tokens.append(TeacherKey(tmp_path / "runs", "pw").token(ALICE)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(tokens)) == 1  # one secret, not eight
    path = tmp_path / "runs" / KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text())["generation"] == 0
    TeacherKey(tmp_path / "runs", "pw").revoke_all()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # still private after a rewrite
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [KEY_FILE]  # no temporary left behind


def test_a_damaged_key_file_is_kept_aside_and_its_tokens_end(tmp_path):
    key = TeacherKey(tmp_path, "pw")
    token = key.token(ALICE)
    (tmp_path / KEY_FILE).write_text('{"secret": "not hex", "generation": 0}')
    assert not key.is_valid(token, ALICE)
    [kept] = kept_copies(tmp_path, KEY_FILE)
    assert "not hex" in kept.read_text()
    assert key.is_valid(key.token(ALICE), ALICE)
