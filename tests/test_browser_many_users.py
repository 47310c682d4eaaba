"""Five users at once on one server: the training cap holds, and nobody sees another's run.

Five browser contexts (five Streamlit sessions) each start a tiny training on a server capped
at one training at a time. Each session uses its own learning rate, so the run it shows can be
traced back to what it started through the run folder's `config.json`. The cap is checked on
the server's own record (each run's `started`/`ended` in `status.json` must not overlap), the
queue through what the sessions show, and the server's memory by polling its RSS.
"""

import json
import re
import time

import pytest

from live_server import (
    ARTIFACTS_DIR, PeakRss, assert_page_clean, chromium, fresh_log, new_page, open_view, running_server,
)

USERS = 5
LEARNING_RATES = [0.1, 0.2, 0.3, 0.4, 0.5]  # one per user: tells their runs apart
EPOCHS = 3
QUERY = f"model=mlp&train_size=500&validation_size=500&epochs={EPOCHS}&patience=0&learning_rate={{lr}}"
ALL_DONE_TIMEOUT = 600  # seconds for five tiny trainings in a row on a busy shared 2-core box
PEAK_RSS_BOUND = 6 * 2**30  # a sanity bound: one TensorFlow server process, not one per user
FIGURES_PATH = ARTIFACTS_DIR / "many_users.json"

READ_SESSION = """() => {
    const texts = (selector) => [...document.querySelectorAll(selector)].map(e => e.innerText.trim());
    return {
        progress: texts("[data-testid='stProgress']"),
        alerts: texts("[data-testid='stAlert']"),
        captions: texts("[data-testid='stCaptionContainer']").filter(t => t.includes(" · run ")),
    };
}"""
RUN_NAME = re.compile(r"\brun (mlp-\d{8}-\d{6}-[0-9a-f]{4})\b")  # core.runs.store.new_run_name
QUEUE_POSITION = re.compile(r"Waiting in the queue: position (\d+)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("many_users_server")
    with running_server(root / "runs", fresh_log("many_users"), {"MNIST_LAB_MAX_CONCURRENT_TRAININGS": "1"}) as live:
        yield live


def test_five_users_train_at_once_one_at_a_time(server):
    observed = [{"names": set(), "positions": set(), "ending": None} for _ in range(USERS)]
    most_running_shown = 0
    with chromium() as browser, PeakRss(server.pid) as rss:
        pages = [new_page(browser) for _ in range(USERS)]
        for page, lr in zip(pages, LEARNING_RATES):
            open_view(page, server, "train", QUERY.format(lr=lr))
            page.locator(".st-key-train_start").get_by_role("button", name="Start training").wait_for()
        started = time.monotonic()
        for page in pages:
            page.locator(".st-key-train_start").get_by_role("button", name="Start training").click()
        jobs = [None] * USERS
        deadline = time.monotonic() + ALL_DONE_TIMEOUT
        while time.monotonic() < deadline and not all(seen["ending"] for seen in observed):
            running_now = 0
            for index, (page, seen) in enumerate(zip(pages, observed)):
                job = re.search(r"[?&]job=([^&]+)", page.url)
                jobs[index] = job and job.group(1)  # set once the server has answered the click
                state = page.evaluate(READ_SESSION)
                for text in state["captions"] + state["alerts"]:
                    seen["names"].update(RUN_NAME.findall(text))
                for text in state["progress"]:
                    seen["positions"].update(int(p) for p in QUEUE_POSITION.findall(text))
                    running_now += text.startswith(("Epoch", "All "))
                endings = [text for text in state["alerts"] if re.match(r"(completed|stopped|failed|diverged)\b", text)]
                if endings:
                    seen["ending"] = endings[0]
            most_running_shown = max(most_running_shown, running_now)
            time.sleep(0.5)
        wall_seconds = time.monotonic() - started
        assert None not in jobs and len(set(jobs)) == USERS, f"sessions do not each follow their own job: {jobs}"
        for page in pages:
            assert_page_clean(page)

    unfinished = [i for i, seen in enumerate(observed) if not seen["ending"]]
    assert not unfinished, f"sessions {unfinished} did not finish within {ALL_DONE_TIMEOUT} s: {observed}"
    for i, seen in enumerate(observed):
        assert seen["ending"].startswith("completed"), f"session {i} ended: {seen['ending']!r}"

    # Each session showed exactly one run, its own: distinct names, each trained with that session's rate.
    names = []
    for i, seen in enumerate(observed):
        assert len(seen["names"]) == 1, f"session {i} showed runs {sorted(seen['names'])}"
        names.append(next(iter(seen["names"])))
    assert len(set(names)) == USERS, f"two sessions showed the same run: {names}"
    runs_dir = server.runs_dir
    assert sorted(path.name for path in runs_dir.iterdir()) == sorted(names)
    for name, lr in zip(names, LEARNING_RATES):
        config = json.loads((runs_dir / name / "config.json").read_text())
        assert config["learning_rate"] == pytest.approx(lr), f"{name} was not this session's training"

    # The cap, on the server's own record: no two runs' training intervals overlap.
    intervals = sorted(
        (status["started"], status["ended"])
        for status in (json.loads((runs_dir / name / "status.json").read_text()) for name in names)
    )
    for (_, ended), (next_started, _) in zip(intervals, intervals[1:]):
        assert next_started >= ended, f"two trainings ran at once: {intervals}"
    # The queue, as the users saw it: someone waited behind others.
    positions = set().union(*(seen["positions"] for seen in observed))
    assert positions and max(positions) >= 2, f"no session showed a queue position of 2 or more: {positions}"

    figures = {
        "users": USERS, "epochs_each": EPOCHS, "train_size": 500,
        "peak_rss_bytes": rss.peak, "peak_rss_gib": round(rss.peak / 2**30, 2),
        "wall_seconds": round(wall_seconds, 1), "max_queue_position_shown": max(positions),
        "max_sessions_showing_running_at_once": most_running_shown,
    }
    FIGURES_PATH.parent.mkdir(parents=True, exist_ok=True)
    FIGURES_PATH.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nmany users: {figures}")
    assert 0 < rss.peak < PEAK_RSS_BOUND, f"server peak RSS {rss.peak / 2**30:.2f} GiB"
