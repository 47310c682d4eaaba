"""A damaged `runs/sweeps.db` is named with the fix on the Sweep page, never with Optuna's or
SQLAlchemy's own message, and the next sweep keeps it aside and starts a new one (issue 17)."""

import os
import shutil
from pathlib import Path

import optuna
import pytest
import sqlalchemy
from streamlit.testing.v1 import AppTest

from core.jobs.sweep import SWEEPS_DB, Sweep, SweepsDamagedError, is_damage, open_storage
from core.jobs.sweep_jobs import kept_damaged_sweeps, list_sweeps, storage_problem
from core.runs.damaged_files import kept_copies
from core.runs.store import RUNS_DIR_ENV
from dashboard_workers import end_the_dashboards_workers  # noqa: F401  (ends the queue's workers with this module)

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard" / "app.py")
INTERNALS = ("file is not a database", "sqlalche", "SQL:", "PRAGMA", "malformed", "DatabaseError")  # Optuna's/SQLAlchemy's text


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv(RUNS_DIR_ENV, str(folder))
    return folder


@pytest.fixture(scope="module")
def real_db(tmp_path_factory) -> Path:
    """A real sweeps.db holding one study, made by Optuna."""
    folder = tmp_path_factory.mktemp("sweeps")
    optuna.create_study(storage=open_storage(folder), study_name="sweep-mlp-real")
    return folder / SWEEPS_DB


def torn(real_db: Path) -> bytes:
    """The real database with every page after the first overwritten: its header still says SQLite."""
    data = bytearray(real_db.read_bytes())
    data[4096:] = b"\xa5" * (len(data) - 4096)
    return bytes(data)


@pytest.mark.parametrize("damage", ["text", "torn"])
def test_a_damaged_sweeps_db_is_named_with_the_fix_never_optunas_message(runs_dir, real_db, damage):
    (runs_dir / SWEEPS_DB).write_bytes(b"not a database at all\n" * 50 if damage == "text" else torn(real_db))
    try:
        list_sweeps(open_storage(runs_dir))
    except Exception as error:  # noqa: BLE001 - whatever the storage raised is what the page gets
        message = storage_problem(error, runs_dir)
    else:
        pytest.fail("a damaged sweeps.db was read without complaint")
    assert message.startswith("runs/sweeps.db is damaged (")
    assert "Move it aside or delete it; the next sweep keeps it as sweeps.db.damaged-<time> and starts a new one." in message
    assert not any(internal in message for internal in INTERNALS), message


def test_a_sound_database_is_not_called_damaged(runs_dir, real_db):
    shutil.copy(real_db, runs_dir / SWEEPS_DB)
    assert list_sweeps(open_storage(runs_dir)) == ["sweep-mlp-real"]
    (runs_dir / "empty").mkdir()
    (runs_dir / "empty" / SWEEPS_DB).write_bytes(b"")  # SQLite's own reading: an empty file is a new database
    assert list_sweeps(open_storage(runs_dir / "empty")) == []


def sqlalchemy_error_from(database: Path, statements: list[str]) -> sqlalchemy.exc.SQLAlchemyError:
    """The error SQLAlchemy raises (wrapping SQLite's) when `statements` run on `database`."""
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(sqlalchemy.text(statement))
    except sqlalchemy.exc.SQLAlchemyError as error:
        return error
    finally:
        engine.dispose()
    raise AssertionError("the statements ran without an error")


def test_only_a_corrupt_file_counts_as_damage_not_two_sweeps_racing_to_create_it(tmp_path, real_db):
    # Two processes creating a new sweeps.db at once: one fails Optuna's UNIQUE alembic_version row,
    # an IntegrityError (a sqlite3.DatabaseError too). The file is sound; the page used to call it damaged.
    raced = sqlalchemy_error_from(tmp_path / "raced.db", ["CREATE TABLE version (number TEXT UNIQUE)",
                                                           "INSERT INTO version VALUES ('v3.2.0.a')",
                                                           "INSERT INTO version VALUES ('v3.2.0.a')"])
    assert isinstance(raced, sqlalchemy.exc.IntegrityError) and not is_damage(raced)
    (tmp_path / "text.db").write_text("not a database at all, but long enough to have a header")
    not_a_database = sqlalchemy_error_from(tmp_path / "text.db", ["SELECT * FROM sqlite_master"])
    (tmp_path / "torn.db").write_bytes(torn(real_db))
    malformed = sqlalchemy_error_from(tmp_path / "torn.db", ["SELECT * FROM studies"])
    assert is_damage(not_a_database) and is_damage(malformed), (not_a_database, malformed)


def test_the_next_sweep_keeps_the_damaged_file_and_starts_a_new_one(runs_dir):
    damaged = b"{\"this\": \"was never a database\"}"
    (runs_dir / SWEEPS_DB).write_bytes(damaged)
    with pytest.raises(SweepsDamagedError):
        open_storage(runs_dir)
    sweep = Sweep(None, "mlp", ["learning_rate=0.01:0.1:log"], 1, runs_dir=runs_dir)
    sweep.create_study()
    [kept] = kept_copies(runs_dir, SWEEPS_DB)
    assert kept.read_bytes() == damaged
    assert list_sweeps(open_storage(runs_dir)) == [sweep.sweep_id]  # a new database, holding the new sweep
    assert sweep.notes[-1] == f"runs/sweeps.db was damaged (not an SQLite database) and was kept as {kept.name}; this sweep started a new one."
    assert kept_damaged_sweeps(runs_dir) == [f"A damaged sweeps.db was kept as {kept.name}: its sweeps are not shown. "
                                             "Delete it once you no longer need it."]


def shown_text(at: AppTest) -> str:
    return " ".join(e.value for kind in ("error", "warning", "info", "caption", "code", "markdown") for e in at.get(kind))


def test_the_sweep_page_names_the_damaged_file_and_the_fix(runs_dir, real_db):
    (runs_dir / SWEEPS_DB).write_bytes(torn(real_db))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("../pages/sweep.py")
    at.run()
    assert not at.exception, at.exception
    [error] = [e.value.replace("\\", "") for e in at.error]  # as shown: markdown_text's escapes undone
    assert error.startswith("runs/sweeps.db is damaged (SQLite cannot read it): its sweeps cannot be read. Move it aside")
    assert not any(internal in shown_text(at) for internal in INTERNALS), shown_text(at)
    assert at.button(key="sweep_start").disabled is False  # the form still works
    os.replace(runs_dir / SWEEPS_DB, runs_dir / "sweeps.db.damaged-20261206-050000")  # as a sweep keeps it
    at.run()
    assert not at.error
    assert "A damaged sweeps.db was kept as sweeps.db.damaged-20261206-050000" in shown_text(at).replace("\\", "")
