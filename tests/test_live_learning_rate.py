"""The Train page's live learning-rate field (issue 17): an invalid entry says what was refused and
why, with the allowed range; a valid one says the new rate; never the rate that was there before.

The parser is checked directly; the page through AppTest on a real training (the MLP on 300
images, asked for 1,000 epochs and stopped at the end).
"""

import json
import os
import re
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MNIST_PATH", str(ROOT.parent / "shared/data/mnist.npz"))

from streamlit.testing.v1 import AppTest  # noqa: E402

from core.config.live_learning_rate import parse_learning_rate  # noqa: E402
from core.runs.store import RUNS_DIR_ENV, list_runs  # noqa: E402
from dashboard_workers import end_the_dashboards_workers  # noqa: F401  (ends the queue's workers with this module)

APP = str(ROOT / "dashboard" / "app.py")
JOB_WAIT_SECONDS = 300  # an upper bound on a busy 2-core machine, not a speed claim
RANGE = "Type a number from 1e-06 to 10, e.g. 0.001."


@pytest.mark.parametrize("typed, value", [("0.002", 0.002), (" 2e-3 ", 0.002), ("10", 10.0), ("1e-6", 1e-6)])
def test_a_valid_entry_is_read(typed, value):
    assert parse_learning_rate(typed) == value


@pytest.mark.parametrize("typed, message", [
    ("50", "Learning rate 50 was not set: it is above the largest allowed, 10. " + RANGE),
    ("0", "Learning rate 0 was not set: it must be above 0. " + RANGE),
    ("-0.1", "Learning rate -0.1 was not set: it must be above 0. " + RANGE),
    ("5e-7", "Learning rate 5e-7 was not set: it is below the smallest allowed, 1e-06. " + RANGE),  # commands refuse it too
    ("abc", "Learning rate 'abc' was not set: it is not a number. " + RANGE),
    ("", "Learning rate '' was not set: it is not a number. " + RANGE),
    ("0,01", "Learning rate '0,01' was not set: it is not a number. " + RANGE),
    ("nan", "Learning rate 'nan' was not set: it is not a finite number. " + RANGE),
    ("1e999", "Learning rate '1e999' was not set: it is not a finite number. " + RANGE),
    ("9" * 500, f"Learning rate '{'9' * 40}…' was not set: it is not a finite number. " + RANGE),
])
def test_an_invalid_entry_is_refused_naming_the_value_and_the_range(typed, message):
    with pytest.raises(ValueError) as refused:
        parse_learning_rate(typed)
    assert str(refused.value) == message


def shown(elements) -> list[str]:
    return [re.sub(r"\\(.)", r"\1", element.value) for element in elements]  # markdown_text's escapes undone


def wait_until(at: AppTest, done, what: str) -> None:
    deadline = time.monotonic() + JOB_WAIT_SECONDS
    while not done(at):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1.0)
        at.run()
        assert not at.exception, at.exception


def set_rate(at: AppTest, typed: str) -> None:
    at.text_input(key="train_live_learning_rate").set_value(typed)
    at.button(key="train_set_learning_rate").click().run()
    assert not at.exception, at.exception


def test_the_live_field_says_what_it_refused_and_what_it_set(tmp_path, monkeypatch):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    monkeypatch.setenv(RUNS_DIR_ENV, str(runs_dir))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("../pages/train.py")
    at.run()
    at.selectbox(key="train_model").set_value("mlp").run()  # preset: SGD at 0.1
    for key, value in (("train_train_size", 300), ("train_batch_size", 32), ("train_validation_size", 500),
                       ("train_epochs", 1000)):
        at.number_input(key=key).set_value(value).run()
    at.button(key="train_start").click().run()
    try:
        wait_until(at, lambda at: any(b.key == "train_set_learning_rate" and not b.disabled for b in at.button),
                   "the training to run")
        assert at.text_input(key="train_live_learning_rate").value == "0.1"
        set_rate(at, "50")
        assert shown(at.error) == ["Learning rate 50 was not set: it is above the largest allowed, 10. " + RANGE
                                   + " The training goes on at 0.1."]
        at.run()  # the answer stays while the live view redraws
        assert len(at.error) == 1
        set_rate(at, "abc")
        assert shown(at.error) == ["Learning rate 'abc' was not set: it is not a number. " + RANGE
                                   + " The training goes on at 0.1."]
        set_rate(at, "0.05")
        assert not at.error
        assert "Learning rate 0.05 from the next batch on." in shown(at.caption)
        assert [toast.value for toast in at.toast] == ["Learning rate 0.05 from the next batch on."]
        set_rate(at, "0")
        assert shown(at.error) == ["Learning rate 0 was not set: it must be above 0. " + RANGE
                                   + " The training goes on at 0.05."]  # the rate in force now, not the preset's
        wait_until(at, lambda at: list(runs_dir.glob("*/controls.jsonl")), "the change to be recorded")
    finally:
        if any(b.key == "train_stop" for b in at.button):
            at.button(key="train_stop").click().run()  # never leave a 1000-epoch job behind
    wait_until(at, lambda at: list_runs(runs_dir)[0].status != "running", "the stop")
    [controls] = runs_dir.glob("*/controls.jsonl")
    changes = [json.loads(line) for line in controls.read_text().splitlines()]
    assert [change["learning_rate"] for change in changes] == [pytest.approx(0.05)]  # refused entries sent nothing
