"""The teacher's door in a real browser (issue 17), on a real hosted server.

- Wrong passwords in a row are refused with waits that grow (read from the page, in order; the
  server log counts each one and never holds what was typed); a try during a wait is refused
  before the password is looked at, the right one included.
- A teacher cookie copied into another browser works until Sign out, and no longer after it.
- A server whose `MNIST_LAB_TEACHER_PASSWORD` is blank serves only the one-line message.
"""

import json
import os
import re
import stat
import time

import pytest

from live_server import (
    assert_page_clean, chromium, fresh_log, new_page, open_view, running_server, wait_cookies, wait_idle, wait_text,
)

PASSWORD = "chalk-and-talk-17"
WRONG = "wrong-guess-not-it"
WAIT_MS = 120_000
SIGNED_IN = "Signed in: you can stop, steer and delete every training and run."


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("teacher_server")
    with running_server(root / "runs", fresh_log("teacher"), {"MNIST_LAB_TEACHER_PASSWORD": PASSWORD}) as live:
        yield live


def open_teacher_box(page, server, view: str = "") -> None:
    open_view(page, server, view)
    wait_idle(page)
    page.locator("[data-testid='stSidebar']").get_by_text("Teacher", exact=True).first.click()


def sign_in_message(page, password: str, log_lines_before: int, server, expect_log: bool, changes: bool = True) -> str:
    """Submit `password`, wait for the server to answer it, and return the sidebar's error text.

    A wrong password is known answered by the server's log (its text may repeat the last one's);
    a try that is not logged is known answered when the sidebar's text changes, since wait_idle
    alone can look before the click's rerun has begun. The log is written while the click's run
    goes on, before the browser hears that the run began: where the answer's text is not the last
    one's (`changes`), that change is waited for too, or the last message could be read as this one's."""
    alert = page.locator("[data-testid='stSidebar'] [data-testid='stAlert']").first
    before = alert.inner_text().strip() if alert.count() else ""
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    deadline = time.monotonic() + WAIT_MS / 1000
    if expect_log:
        while failures_logged(server) == log_lines_before:
            assert time.monotonic() < deadline, "the wrong password was never logged"
            time.sleep(0.2)
    assert expect_log or changes, "a try that is not logged is known answered only by a change of text"
    if changes:
        while not alert.count() or alert.inner_text().strip() == before:
            assert time.monotonic() < deadline, f"the sidebar still reads {before!r}"
            time.sleep(0.2)
    wait_idle(page)
    alert.wait_for(state="visible", timeout=WAIT_MS)
    return alert.inner_text().strip()


def failures_logged(server) -> int:
    return server.log_tail(10**7).count("Teacher sign-in failed: visitor ")


def test_wrong_passwords_in_a_row_are_refused_with_growing_waits_and_logged_without_the_password(server):
    with chromium() as browser:
        page = new_page(browser)
        open_teacher_box(page, server)
        messages = []
        for attempt in range(1, 7):  # three typos, then waits of 2, 4 and 8 s (doubling to its ceiling: test_teacher_door.py)
            # three typos, the same text each; then each wait's own text (2, 4, 8 s): a change from the last message
            messages.append(sign_in_message(page, WRONG, attempt - 1, server, expect_log=True, changes=attempt in (1, 4, 5, 6)))
            wait = re.search(r"try again in (\d+) s\.$", messages[-1])
            if wait and attempt < 6:
                time.sleep(int(wait.group(1)) + 0.5)  # sit the wait out: the next try is looked at
        plain = "That is not the teacher's password."
        assert messages[:3] == [plain] * 3, messages  # three typos, no wait
        assert messages[3:] == [f"{plain} Too many attempts; try again in {s} s." for s in (2, 4, 8)], messages
        # Within the 8-s wait, even the right password is refused without being looked at.
        refused = sign_in_message(page, PASSWORD, 6, server, expect_log=False)
        assert re.fullmatch(r"Too many attempts; try again in [1-8] s\.", refused), refused
        assert not page.get_by_text(SIGNED_IN).count()
        assert failures_logged(server) == 6  # a refused try is not a wrong password
        log = server.log_tail(10**7)
        visitor = next(c["value"] for c in page.context.cookies() if c["name"] == "mnist_lab_visitor")
        assert f"Teacher sign-in failed: visitor {visitor[:6]}… (6 wrong in a row; 6 on this server in the last 10 min)" in log
        assert WRONG not in log and PASSWORD not in log and visitor not in log
        time.sleep(int(re.search(r"(\d+) s\.$", refused).group(1)) + 0.5)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        wait_text(page, SIGNED_IN, WAIT_MS)  # after the wait, the right password signs in
        assert_page_clean(page)


TEACHER_COOKIES = ("mnist_lab_visitor", "mnist_lab_teacher")


def teacher_cookies(page) -> list[dict]:
    return [c for c in page.context.cookies() if c["name"] in TEACHER_COOKIES and c["value"]]


def test_a_copied_teacher_cookie_stops_working_after_sign_out(server):
    with chromium() as browser:
        teacher = new_page(browser)
        open_teacher_box(teacher, server)
        teacher.get_by_label("Password", exact=True).fill(PASSWORD)
        teacher.get_by_role("button", name="Sign in").click()
        wait_text(teacher, SIGNED_IN, WAIT_MS)
        copied = wait_cookies(teacher, TEACHER_COOKIES, WAIT_MS)  # the page sets the teacher cookie from its script

        thief = new_page(browser)  # another browser, given both cookies
        thief.context.add_cookies([{"name": c["name"], "value": c["value"], "url": server.url} for c in copied])
        open_teacher_box(thief, server)
        wait_text(thief, SIGNED_IN, WAIT_MS)  # the copy works, as a copied cookie would before

        teacher.get_by_role("button", name="Sign out").click()
        wait_text(teacher, "Signed out, in every browser that was signed in as the teacher.", WAIT_MS)
        open_teacher_box(thief, server)  # a reload: a new session, the same copied cookies
        thief.get_by_label("Password", exact=True).wait_for(state="visible", timeout=WAIT_MS)
        assert not thief.get_by_text(SIGNED_IN).count()
        assert {c["name"]: c["value"] for c in teacher_cookies(thief)} == {c["name"]: c["value"] for c in copied}
        open_teacher_box(teacher, server)
        teacher.get_by_label("Password", exact=True).wait_for(state="visible", timeout=WAIT_MS)
        key = server.runs_dir / "teacher_key.json"
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600 and json.loads(key.read_text())["generation"] >= 1
        for page in (teacher, thief):
            assert_page_clean(page)


def test_a_blank_teacher_password_serves_only_the_one_line_message(tmp_path):
    message = ("This server's settings need fixing: MNIST_LAB_TEACHER_PASSWORD is set but empty, which would turn "
               "hosting off (no limits, anyone deletes anything). Set it to a password, or unset it for a local server. "
               "Then restart the server.")
    with running_server(tmp_path / "runs", fresh_log("teacher_blank"), {"MNIST_LAB_TEACHER_PASSWORD": "  "}) as blank:
        with chromium() as browser:
            page = new_page(browser)
            for view in ("", "train", "runs"):
                open_view(page, blank, view)
                wait_idle(page)
                alerts = page.locator("[data-testid='stMain'] [data-testid='stAlert'] [data-testid='stMarkdownContainer']")
                alerts.first.wait_for(state="visible", timeout=WAIT_MS)
                assert [text.strip() for text in alerts.all_inner_texts()] == [message]
                assert not page.locator(".st-key-train_start").count()  # nothing else works: no form, no Start
                assert not page.get_by_text("Teacher", exact=True).count()
            assert_page_clean(page)
        assert blank.log_tail(10**7).count("This server's settings need fixing: MNIST_LAB_TEACHER_PASSWORD") == 1
        assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
