"""The queue flood of issue 12, shortened, in a real browser on a real hosted server: one visitor
opens tabs, presses Start in each, then closes them all.

Only one of their trainings queues (every other tab is told why, and how to go on); once all their
tabs are gone, that job leaves the queue, so the next newcomer is first in line while the running
training goes on; then the teacher signs in and clears the queue. The server drops a queued job 5 s after its
visitor's last page closed (`MNIST_LAB_CLOSED_TAB_GRACE_SECONDS=5`; the default is 20 s, for a reload), and
after 15 s without its visitor in any case (`MNIST_LAB_ABANDONED_AFTER_MINUTES=0.25`; an open tab then says
"still here" every 3.75 s), so that the test is short; the default is 3 minutes. No timing is asserted beyond
generous waits.
"""

import re

from live_server import assert_page_clean, chromium, fresh_log, new_page, open_view, running_server, wait_idle, wait_text

TABS = 4
QUERY = "model=mlp&train_size=3000&validation_size=500&epochs=30&batch_size=10&patience=0"  # over a minute
WAIT_MS = 180_000
PASSWORD = "clear-the-board-7"  # a teacher's password makes the server hosted
ENV = {"MNIST_LAB_TEACHER_PASSWORD": PASSWORD, "MNIST_LAB_MAX_CONCURRENT_TRAININGS": "1",
       "MNIST_LAB_ABANDONED_AFTER_MINUTES": "0.25", "MNIST_LAB_MAX_PAUSE_MINUTES": "30",  # the holder's pause lasts
       "MNIST_LAB_CLOSED_TAB_GRACE_SECONDS": "5"}


def press_start(page) -> None:
    wait_idle(page)
    page.locator(".st-key-train_start").get_by_role("button", name="Start training").click()


def test_a_flood_of_tabs_queues_one_training_which_leaves_when_the_tabs_close(tmp_path):
    with running_server(tmp_path / "runs", fresh_log("flood"), ENV) as server, chromium() as browser:
        holder = new_page(browser)  # holds the one training slot throughout, and stays
        open_view(holder, server, "train", QUERY)
        press_start(holder)
        holder.locator(".st-key-train_pause").get_by_role("button", name="Pause").click(timeout=WAIT_MS)
        holder.locator(".st-key-train_resume").wait_for(state="visible", timeout=WAIT_MS)

        first_tab = new_page(browser)
        flooder = first_tab.context  # one browser: its tabs share the visitor cookie
        tabs = [first_tab, *(flooder.new_page() for _ in range(TABS - 1))]
        for tab in tabs:
            open_view(tab, server, "train", QUERY)
        press_start(tabs[0])
        wait_text(tabs[0], "Waiting in the queue: position 1", WAIT_MS)
        for tab in tabs[1:]:
            press_start(tab)
            wait_text(tab, "You already have 1 training queued or running", WAIT_MS)
        for tab in tabs:
            assert_page_clean(tab)
        flooder.close()  # every tab gone: no more "still here"

        newcomer = new_page(browser)
        open_view(newcomer, server, "train", QUERY.replace("epochs=30", "epochs=2"))
        press_start(newcomer)
        wait_text(newcomer, re.compile(r"Waiting in the queue: position [12]"), WAIT_MS)
        wait_text(newcomer, "Waiting in the queue: position 1", WAIT_MS)  # the flooder's job left the line
        assert holder.locator(".st-key-train_resume").is_visible()  # not because the slot came free: it is still held

        # The teacher signs in and clears the queue: the newcomer's waiting job leaves it; the running one goes on.
        teacher = new_page(browser)
        open_view(teacher, server, "train")
        teacher.get_by_text("Teacher").first.click()
        teacher.get_by_label("Password", exact=True).fill(PASSWORD)
        teacher.get_by_role("button", name="Sign in").click()
        teacher.get_by_role("button", name="Clear the queue").click(timeout=WAIT_MS)
        wait_text(teacher, re.compile(re.escape("1 waiting training(s) left the queue.")), WAIT_MS)  # the toast
        wait_text(newcomer, "stopped while waiting in the queue", WAIT_MS)
        assert holder.locator(".st-key-train_resume").is_visible()
        assert_page_clean(teacher)
        assert_page_clean(newcomer)
        assert_page_clean(holder)
