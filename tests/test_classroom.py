"""The class: display names, the challenge's checks, the leaderboard's order, the session's ledger
(teacher-only changes, kept across a restart), the results CSV and the board's cards."""

import base64
import csv
import io
import json
import re
from dataclasses import fields

import pytest

from core.classroom.board_html import SPARK_HEIGHT, board_html, leaderboard_html, sparkline_img, sparkline_svg
from core.classroom.challenge import (
    MAX_PARAMETERS, MAX_TRAIN_IMAGES, SECONDS_TO_ACCURACY, Challenge, ChallengeError, check_fit, why_not_counted,
)
from core.classroom.class_ledger import CLASS_FILE, ClassLedger, ClassState, NotTeacherError
from core.classroom.class_runs import ClassRun, class_runs, thin
from core.classroom.class_view import IDLE_REFRESH_SECONDS, LIVE_REFRESH_SECONDS, ClassView
from core.classroom.display_names import MAX_NAME_CHARACTERS, DisplayNameError, check_display_name
from core.classroom.leaderboard import Standing, standings, visitor_rank
from core.classroom.results_csv import COLUMNS, results_csv
from core.config.train_config import TrainConfig, preset_config
from core.runs.store import STATUS_FILE

SOFTMAX = preset_config("softmax", epochs=1, train_size=300, validation_size=100)  # 784*10 + 10 = 7,850 parameters
MLP = preset_config("mlp", epochs=1, train_size=300, validation_size=100)  # 784-256-256-10: 269,322 parameters


def finished(key, visitor, config, accuracy, seconds=5.0, submitted=100.0, ended=200.0, status="completed"):
    return ClassRun(key, key, visitor, config.to_dict() if isinstance(config, TrainConfig) else config, status,
                    accuracy, seconds, submitted, ended, (2.0, 1.0), (0.5, 0.9), 1)


# --- display names ---------------------------------------------------------------------------

def test_a_name_is_tidied_and_may_hold_markdown_or_html_as_plain_text():
    assert check_display_name("  Ada   Lovelace ", "v1", {}) == "Ada Lovelace"
    assert check_display_name("**bold** <b>x</b>", "v1", {}) == "**bold** <b>x</b>"


@pytest.mark.parametrize("name, problem", [
    ("", "empty"), ("   ", "empty"), ("x" * 10_000, "at most 24 characters; yours has 10,000"),
    ("Ann\nBob", "line breaks or invisible characters"), ("Ann\u202eboB", "U\\+202E"),
    ("A\u200bnn", "U\\+200B"), (42, "must be text"),
])
def test_a_bad_name_is_refused_naming_the_problem_and_the_fix(name, problem):
    with pytest.raises(DisplayNameError, match=problem) as refused:
        check_display_name(name, "v1", {})
    assert re.search(r"Type|Shorten", str(refused.value))


def test_a_name_another_visitor_holds_is_refused_even_in_other_case_but_ones_own_is_kept():
    names = {"v1": "Ada Lovelace"}
    with pytest.raises(DisplayNameError, match="already has that name"):
        check_display_name("ada  LOVELACE", "v2", names)
    assert check_display_name("Ada Lovelace", "v1", names) == "Ada Lovelace"
    assert len(check_display_name("y" * MAX_NAME_CHARACTERS, "v2", names)) == MAX_NAME_CHARACTERS


# --- the challenge -----------------------------------------------------------------------------

def test_the_parameter_constraint_counts_the_model_before_it_is_built():
    challenge = Challenge(MAX_PARAMETERS, 20_000)
    fit = check_fit(challenge, SOFTMAX)
    assert fit.fits and "7,850 parameters" in fit.message
    over = check_fit(challenge, MLP)
    parameters = 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10  # the write-up's 784-256-256-10
    assert not over.fits and f"{parameters:,} parameters, over the challenge's 20,000" in over.message
    assert "Hidden units" in over.message


def test_the_training_images_constraint_counts_the_images_an_epoch_trains_on():
    challenge = Challenge(MAX_TRAIN_IMAGES, 1_000)
    assert check_fit(challenge, SOFTMAX).fits  # 300
    everything = check_fit(challenge, preset_config("softmax"))  # 60,000 less the 5,000 held out
    assert not everything.fits and "55,000 training images" in everything.message and "1,000 or fewer" in everything.message


def test_any_settings_play_the_time_challenge_and_only_runs_reaching_its_accuracy_count():
    challenge = Challenge(SECONDS_TO_ACCURACY, 90, set_at=50.0)
    assert check_fit(challenge, MLP).fits
    assert why_not_counted(challenge, MLP.to_dict(), 0.95, 60.0) is None
    assert why_not_counted(challenge, MLP.to_dict(), 0.85, 60.0) == "test accuracy 85.00%, under 90%"
    assert why_not_counted(challenge, MLP.to_dict(), 0.95, 40.0) == "started before the challenge was set"
    assert why_not_counted(challenge, MLP.to_dict(), None, 60.0) == "no test accuracy (it saved no model)"
    assert why_not_counted(challenge, {"model": "nonesuch"}, 0.95, 60.0) == "its settings cannot be read"


@pytest.mark.parametrize("kind, limit, problem", [
    ("fastest_lap", 3, "`kind`"), (MAX_PARAMETERS, 0, "`limit`.*from 100 to 10,000,000"),
    (SECONDS_TO_ACCURACY, 120, "`limit`"), (MAX_TRAIN_IMAGES, float("nan"), "`limit`"), (MAX_PARAMETERS, True, "`limit`"),
])
def test_a_challenge_out_of_range_is_refused_naming_the_field(kind, limit, problem):
    with pytest.raises(ChallengeError, match=problem):
        Challenge(kind, limit)


# --- the leaderboard ---------------------------------------------------------------------------

def test_runs_rank_by_test_accuracy_ties_by_the_earlier_finish_and_breakers_are_not_ranked():
    challenge = Challenge(MAX_PARAMETERS, 20_000, set_at=50.0)
    runs = [
        finished("late-tie", "v1", SOFTMAX, 0.90, ended=300.0),
        finished("early-tie", "v2", SOFTMAX, 0.90, ended=250.0),
        finished("best", "v3", SOFTMAX, 0.92),
        finished("too-big", "v4", MLP, 0.99),
        finished("before", "v5", SOFTMAX, 0.99, submitted=10.0),
        ClassRun("still", "still", "v6", SOFTMAX.to_dict(), "running", None, 1.0, 100.0, None),
    ]
    table = standings(runs, challenge)
    assert [(s.run.key, s.rank) for s in table] == [
        ("best", 1), ("early-tie", 2), ("late-tie", 3), ("too-big", None), ("before", None), ("still", None)]
    assert table[3].why_not.startswith("269,322 parameters, over the challenge's 20,000")
    assert table[4].why_not == "started before the challenge was set" and table[5].why_not == "still training"
    assert visitor_rank(table, "v2") == (2, 3) and visitor_rank(table, "v4") == (None, 3)


def test_the_time_challenge_ranks_the_fewest_seconds_first():
    challenge = Challenge(SECONDS_TO_ACCURACY, 90)
    runs = [finished("slow", "v1", MLP, 0.97, seconds=30.0), finished("fast", "v2", MLP, 0.91, seconds=4.0),
            finished("short-of-it", "v3", MLP, 0.80, seconds=1.0)]
    assert [(s.run.key, s.rank) for s in standings(runs, challenge)] == [("fast", 1), ("slow", 2), ("short-of-it", None)]


def test_without_a_challenge_nothing_is_ranked():
    table = standings([finished("a", "v1", SOFTMAX, 0.9)], None)
    assert [s.rank for s in table] == [None] and table[0].why_not == "no challenge is set"


# --- the session's ledger ----------------------------------------------------------------------

def test_only_the_teacher_changes_the_class_and_a_refused_change_leaves_the_file_as_it_was(tmp_path):
    ledger = ClassLedger(tmp_path)
    ledger.open_class(by_teacher=True, now=100.0)
    before = (tmp_path / CLASS_FILE).read_bytes()
    refusals = [
        lambda: ledger.open_class(by_teacher=False), lambda: ledger.close_class(by_teacher=False),
        lambda: ledger.set_challenge(Challenge(MAX_PARAMETERS, 20_000), by_teacher=False),
        lambda: ledger.set_challenge(None, by_teacher=False), lambda: ledger.hide_visitor("v1", by_teacher=False),
        lambda: ledger.hide_run("run-1", by_teacher=False), lambda: ledger.clear_runs(by_teacher=False),
    ]
    for refused in refusals:
        with pytest.raises(NotTeacherError, match="Only the signed-in teacher can .*Sign in from the sidebar"):
            refused()
    assert (tmp_path / CLASS_FILE).read_bytes() == before


def test_a_session_lists_only_runs_started_while_it_is_open_and_survives_a_restart(tmp_path):
    ledger = ClassLedger(tmp_path)
    assert not ledger.record_run("before-any-class", "v1", 50.0)
    ledger.open_class(by_teacher=True, now=100.0)
    assert not ledger.record_run("started-before-opening", "v1", 99.0)
    assert ledger.record_run("run-a", "v1", 120.0)
    assert not ledger.record_run("run-a", "v1", 120.0)  # listed once
    ledger.set_name("v1", "Ada")
    ledger.set_challenge(Challenge(MAX_PARAMETERS, 20_000, set_at=110.0), by_teacher=True)
    ledger.hide_visitor("v1", by_teacher=True)
    ledger.close_class(by_teacher=True, now=200.0)
    assert not ledger.record_run("run-after-closing", "v2", 210.0)
    restarted = ClassLedger(tmp_path).state()  # a new server process reads the same file
    assert [r.run_name for r in restarted.runs] == ["run-a"] and not restarted.is_open
    assert restarted.names == {"v1": "Ada"} and restarted.shown_name("v1") == "(name hidden)"
    assert restarted.challenge == Challenge(MAX_PARAMETERS, 20_000, set_at=110.0)
    reopened = ClassLedger(tmp_path).open_class(by_teacher=True, now=300.0)
    assert reopened.runs == () and reopened.names == {} and reopened.challenge is None and reopened.is_open


def test_two_visitors_cannot_take_one_name_through_the_ledger(tmp_path):
    ledger = ClassLedger(tmp_path)
    ledger.open_class(by_teacher=True)
    assert ledger.set_name("v1", " Grace  Hopper") == "Grace Hopper"
    with pytest.raises(DisplayNameError, match="already has that name"):
        ledger.set_name("v2", "grace hopper")
    assert ledger.state().names == {"v1": "Grace Hopper"}


def test_a_damaged_class_file_is_kept_aside_and_the_class_starts_empty(tmp_path):
    (tmp_path / CLASS_FILE).write_text("{ not json")
    ledger = ClassLedger(tmp_path)
    assert ledger.state().session_id is None
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(f"{CLASS_FILE}.damaged-")]
    ledger.open_class(by_teacher=True)
    assert ledger.state().is_open


def write_run(runs_dir, name, config: TrainConfig, accuracy, status="completed"):
    """A finished run folder as the run writer leaves it (the files the board reads)."""
    folder = runs_dir / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(config.to_dict()))
    (folder / STATUS_FILE).write_text(json.dumps({"status": status, "reason": "all epochs ran", "test_accuracy": accuracy,
                                                  "started": 120.0, "ended": 130.0, "epochs_completed": 1}))
    (folder / "metrics.jsonl").write_text(json.dumps({"epoch": 1, "loss": 0.5, "accuracy": 0.8, "val_loss": None,
                                                      "val_accuracy": None, "learning_rate": 0.1, "seconds": 3.5,
                                                      "samples_per_second": 100.0}) + "\n")
    (folder / "batches.jsonl").write_text("".join(
        json.dumps({"epoch": 1, "fraction": i / 60, "loss": 2.0 - i / 60, "accuracy": i / 60}) + "\n" for i in range(1, 61)))
    return folder


def test_the_board_reads_the_sessions_runs_hides_hidden_ones_and_clearing_deletes_them(tmp_path):
    ledger = ClassLedger(tmp_path)
    ledger.open_class(by_teacher=True, now=100.0)
    write_run(tmp_path, "run-a", SOFTMAX, 0.88)
    write_run(tmp_path, "run-b", MLP, 0.93)
    write_run(tmp_path, "cli-run", SOFTMAX, 0.99)  # not started by the class: never on its board
    ledger.record_run("run-a", "v1", 120.0)
    ledger.record_run("run-b", "v2", 121.0)
    runs = class_runs(ledger.state(), tmp_path)
    assert [(r.key, r.visitor, r.test_accuracy, r.seconds) for r in runs] == [("run-a", "v1", 0.88, 3.5), ("run-b", "v2", 0.93, 3.5)]
    assert len(runs[0].losses) == 48 and runs[0].losses[0] == pytest.approx(2.0 - 1 / 60) and runs[0].losses[-1] == 1.0
    ledger.hide_run("run-b", by_teacher=True)
    assert [r.key for r in class_runs(ledger.state(), tmp_path)] == ["run-a"]
    assert ledger.clear_runs(by_teacher=True, keep={"run-b"}) == ["run-a"]
    assert not (tmp_path / "run-a").exists() and (tmp_path / "run-b").exists() and (tmp_path / "cli-run").exists()
    assert [r.run_name for r in ledger.state().runs] == ["run-b"]


# --- the CSV and the cards ---------------------------------------------------------------------

def test_the_csv_holds_every_run_with_its_name_rank_and_every_hyperparameter_and_defuses_formulas(tmp_path):
    ledger = ClassLedger(tmp_path)
    ledger.open_class(by_teacher=True, now=100.0)
    ledger.set_name("v1", "=HYPERLINK(\"x\")")
    ledger.set_name("v2", "Bob")
    challenge = Challenge(MAX_PARAMETERS, 20_000, set_at=50.0)
    table = standings([finished("run-a", "v1", SOFTMAX, 0.9123), finished("run-b", "v2", MLP, 0.97, seconds=12.34)], challenge)
    rows = list(csv.DictReader(io.StringIO(results_csv(table, ledger.state()))))
    assert list(rows[0]) == COLUMNS and {f.name for f in fields(TrainConfig)} <= set(COLUMNS)
    assert [(r["rank"], r["name"], r["run"], r["model"], r["test_accuracy"], r["seconds"]) for r in rows] == [
        ("1", "'=HYPERLINK(\"x\")", "run-a", "softmax", "0.9123", "5.0"), ("", "Bob", "run-b", "mlp", "0.9700", "12.3")]
    assert rows[1]["counted"].startswith("269,322 parameters") and rows[0]["counted"] == "yes"
    assert rows[0]["train_size"] == "300" and rows[1]["hidden_units"] == str(MLP.hidden_units)


def test_a_card_shows_a_name_as_text_never_as_markup(tmp_path):
    ledger = ClassLedger(tmp_path)
    ledger.open_class(by_teacher=True)
    ledger.set_name("v1", "<img src=x onerror=1>*b*")
    state = ledger.state()
    table = standings([finished("run-a", "v1", SOFTMAX, 0.9)], Challenge(MAX_PARAMETERS, 20_000))
    page = board_html(table, state) + leaderboard_html(table, state)
    assert "<img src=x" not in page and "onerror=1>" not in page and "&lt;img src=x onerror=1&gt;*b*" in page
    assert page.count("&lt;img") == 2 and "#1" in page and "90.00%" in page


def test_a_sparkline_draws_accuracy_on_a_fixed_scale_and_loss_on_its_own():
    svg = sparkline_svg((3.0, 2.0, 1.0), (0.0, 0.5, 1.0))
    lines = re.findall(r'points="([^"]+)"', svg)
    assert len(lines) == 2
    loss, accuracy = ([tuple(map(float, p.split(","))) for p in line.split()] for line in lines)
    assert [y for _, y in accuracy] == [SPARK_HEIGHT - 2, SPARK_HEIGHT / 2, 2.0]  # 0 at the bottom, 1 at the top
    assert [y for _, y in loss] == [2.0, SPARK_HEIGHT / 2, SPARK_HEIGHT - 2]  # highest loss at the top
    assert "loss 1, accuracy 100.0%" in svg
    assert "polyline" not in sparkline_svg((1.0,), ())  # one point: no line
    image = re.fullmatch(r'<img class="spark" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)" .*>',
                         sparkline_img((3.0, 2.0, 1.0), (0.0, 0.5, 1.0)))
    assert image and base64.b64decode(image.group(1)).decode() == svg  # st.html keeps images, not inline SVG
    assert thin(list(range(100)), 5) == (0, 25, 50, 74, 99)


def test_pages_redraw_the_board_often_only_while_a_card_is_queued_or_running():
    done = [Standing(finished("run-a", "v1", SOFTMAX, 0.9), 1), Standing(finished("run-b", "v2", SOFTMAX, 0.8), 2)]
    running = finished("run-c", "v3", SOFTMAX, None, status="running", ended=None)
    idle, live = ClassView(ClassState(), done, "", ""), ClassView(ClassState(), done + [Standing(running, None)], "", "")
    assert not idle.live and idle.refresh_seconds == IDLE_REFRESH_SECONDS
    assert live.live and live.refresh_seconds == LIVE_REFRESH_SECONDS
    assert ClassView(ClassState(), [], "", "").refresh_seconds == IDLE_REFRESH_SECONDS  # an empty board
    assert LIVE_REFRESH_SECONDS < IDLE_REFRESH_SECONDS
