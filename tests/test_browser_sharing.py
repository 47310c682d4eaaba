"""A hosted server in a real browser: a visitor is a browser (its cookie), not a tab; one training
per visitor; a job's link gives a view, not control; only the owner (or the teacher) deletes a run;
the teacher signs in with the server's password and manages everything.

Three browser contexts are three visitors (each its own cookie jar): Alice (two tabs), Bob, and the
teacher, on one server started with `MNIST_LAB_TEACHER_PASSWORD` (which makes it hosted).
"""

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest

from live_server import (
    assert_page_clean, chromium, fresh_log, new_page, open_view, running_server, wait_cookies, wait_idle, wait_text,
)

PASSWORD = "chalk-and-talk-42"
QUERY = "model=mlp&train_size=3000&validation_size=500&epochs=30&batch_size=10&patience=0"  # ~a minute, under the 30-epoch cap
WAIT_MS = 180_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("sharing_server")
    env = {"MNIST_LAB_TEACHER_PASSWORD": PASSWORD, "MNIST_LAB_MAX_CONCURRENT_TRAININGS": "1",
           "MNIST_LAB_MAX_PAUSE_MINUTES": "30"}  # Alice's pause holds the worker while Bob waits, throughout
    with running_server(root / "runs", fresh_log("sharing"), env) as live:
        yield live


def start_button(page):
    return page.locator(".st-key-train_start").get_by_role("button", name="Start training")


def test_visitors_own_their_trainings_and_runs_and_the_teacher_manages_all(server):
    with chromium() as browser:
        alice = new_page(browser)
        open_view(alice, server, "train", QUERY)
        wait_text(alice, "Shared server: each training trains at most 30 epochs and stops after 10 minutes")
        wait_idle(alice)
        cookie = [c for c in alice.context.cookies() if c["name"] == "mnist_lab_visitor"]
        assert cookie and re.fullmatch(r"[A-Za-z0-9_-]{16,64}", cookie[0]["value"]), alice.context.cookies()
        start_button(alice).click()
        alice.locator(".st-key-train_stop").wait_for(state="visible", timeout=WAIT_MS)
        alice.locator(".st-key-train_pause").get_by_role("button", name="Pause").click(timeout=WAIT_MS)  # holds the slot
        alice.locator(".st-key-train_resume").wait_for(state="visible", timeout=WAIT_MS)
        job_id = None
        deadline = time.monotonic() + 60
        while job_id is None and time.monotonic() < deadline:
            job_id = parse_qs(urlparse(alice.url).query).get("job", [None])[0]
            time.sleep(0.2)
        assert job_id, alice.url

        # Alice's second tab is the same visitor (same cookie): a second training is refused, with the fix.
        second_tab = alice.context.new_page()
        open_view(second_tab, server, "train", QUERY)
        wait_idle(second_tab)
        start_button(second_tab).click()
        wait_text(second_tab, "You already have 1 training queued or running", WAIT_MS)
        assert_page_clean(second_tab)

        # Bob follows Alice's link: he sees her training, and gets no control over it.
        bob = new_page(browser)
        open_view(bob, server, "train", f"job={job_id}")
        wait_text(bob, "You are following someone else's training", WAIT_MS)
        assert bob.locator(".st-key-train_stop").count() == 0
        assert bob.locator(".st-key-train_pause").count() == 0

        # Bob may start his own (it waits: one training at a time on this server).
        open_view(bob, server, "train", QUERY.replace("epochs=30", "epochs=1"))
        wait_idle(bob)
        start_button(bob).click()
        wait_text(bob, "Waiting in the queue: position 1", WAIT_MS)

        # The teacher signs in (a wrong password first) and stops Alice's training from her link.
        teacher = new_page(browser)
        open_view(teacher, server, "train", f"job={job_id}")
        teacher.get_by_text("Teacher").first.click()
        teacher.get_by_label("Password", exact=True).fill("not-it")
        teacher.get_by_role("button", name="Sign in").click()
        wait_text(teacher, "That is not the teacher's password.", WAIT_MS)
        teacher.get_by_label("Password", exact=True).fill(PASSWORD)
        teacher.get_by_role("button", name="Sign in").click()
        wait_text(teacher, "Signed in: you can stop, steer and delete every training and run.", WAIT_MS)
        # The next page load is a new session that knows the teacher only by the cookie (race: opening Sweep before
        # it was set read a visitor).
        wait_cookies(teacher, ("mnist_lab_teacher",), WAIT_MS)
        open_view(teacher, server, "sweep")
        teacher.locator(".st-key-sweep_start").get_by_role("button").wait_for(state="visible", timeout=WAIT_MS)
        assert teacher.locator(".st-key-sweep_start").get_by_role("button").is_enabled()
        open_view(teacher, server, "train", f"job={job_id}")
        teacher.locator(".st-key-train_stop").get_by_role("button").click(timeout=WAIT_MS)
        wait_text(alice, re.compile(r"stopped"), WAIT_MS)
        wait_text(bob, re.compile(r"completed|Test accuracy"), WAIT_MS)  # Bob's queued job got the slot

        # Sweeps (many trainings at once) are the teacher's on a shared server.
        open_view(bob, server, "sweep")
        wait_text(bob, "only a signed-in teacher starts sweeps", WAIT_MS)
        assert bob.locator(".st-key-sweep_start").get_by_role("button").is_disabled()

        # Runs: Bob cannot delete or rename Alice's run; Alice can.
        alice_runs = [p.name for p in server.runs_dir.iterdir() if p.is_dir()]
        deadline = time.monotonic() + 60
        owners = {}
        while time.monotonic() < deadline and len(owners) < 2:
            owners_file = server.runs_dir / "owners.json"
            owners = __import__("json").loads(owners_file.read_text()) if owners_file.exists() else {}
            time.sleep(0.2)
        alice_run = next(name for name, owner in owners.items() if owner == cookie[0]["value"])
        assert alice_run in alice_runs
        open_view(bob, server, "runs", f"run={alice_run}")
        delete = bob.locator(".st-key-runs_delete").get_by_role("button")
        delete.wait_for(state="visible", timeout=WAIT_MS)
        assert delete.is_disabled()
        bob.get_by_text("Title and note").first.click()  # nor rename it
        save = bob.get_by_role("button", name="Save")
        save.wait_for(state="visible", timeout=WAIT_MS)
        assert save.is_disabled()
        open_view(alice, server, "runs", f"run={alice_run}")
        delete = alice.locator(".st-key-runs_delete").get_by_role("button")
        delete.wait_for(state="visible", timeout=WAIT_MS)
        assert delete.is_enabled()
        alice.get_by_text("Title and note").first.click()
        save = alice.get_by_role("button", name="Save")
        save.wait_for(state="visible", timeout=WAIT_MS)
        assert save.is_enabled()
        for page in (alice, bob, teacher):
            assert_page_clean(page)
