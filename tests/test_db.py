"""bot.db: the Alembic migrations create exactly the tables the models declare (trial,
screening, console; on SQLite and PostgreSQL), downgrade cleanly, and SQLite files are private."""

import os
import stat

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import bot.console.models  # noqa: F401  (registers the tables on the metadata)
import bot.rasa_ext.channels.models  # noqa: F401
import bot.screening.models  # noqa: F401
import bot.trial.models  # noqa: F401
from bot.db import Base, alembic_config, make_engine

CONSOLE_TABLES = {
    "staff_user",
    "login_throttle",
    "audit_log",
    "conversation_summary",
    "conversation_review",
    "conversation_tag",
    "conversation_note",
    "nlu_inbox",
    "screening_followup",
    "indexer_state",
}


def test_migration_matches_the_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        assert CONSOLE_TABLES <= tables
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diffs == []


def test_downgrade_to_the_trial_database_and_back(database_url):
    config = alembic_config(database_url)
    command.downgrade(config, "0001")
    engine = make_engine(database_url)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert not CONSOLE_TABLES & tables and "screening" in tables
    command.upgrade(config, "head")
    with engine.connect() as connection:
        assert CONSOLE_TABLES <= set(inspect(connection).get_table_names())
    engine.dispose()


def test_sqlite_files_are_readable_by_their_owner_only(tmp_path):
    path = tmp_path / "fresh" / "trials.db"
    make_engine(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    os.chmod(path, 0o644)  # an existing file made readable by others is closed again
    make_engine(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_0004_keeps_existing_answers_with_their_key_and_question(database_url):
    """Answers stored before 0004 get their criterion's key and question; from then on removing
    the criterion keeps the answer (ON DELETE SET NULL), and downgrading works."""
    config = alembic_config(database_url)
    command.downgrade(config, "0003")
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO study (id, nct_id, brief_title, overall_status, conditions, keywords,"
                " phases, updated_at) VALUES (1, 'NCT05113290', 't', 'RECRUITING', '[]', '[]',"
                " '[]', CURRENT_TIMESTAMP)"
            )
        )
        for id_, key in ((1, "hcc"), (2, "age")):
            connection.execute(
                text(
                    "INSERT INTO criterion (id, study_id, key, position, kind, question,"
                    " answer_type, choices, pass_values, fail_reason, source, translations)"
                    " VALUES (:id, 1, :key, :id, 'inclusion', :q, 'yes_no', '[]', '[\"yes\"]',"
                    " 'r', 'staff', '{}')"
                ),
                {"id": id_, "key": key, "q": f"Question {key}?"},
            )
        connection.execute(
            text(
                "INSERT INTO screening (id, study_id, conversation_id, consent_at, outcome)"
                " VALUES (1, 1, 'c', CURRENT_TIMESTAMP, 'unsure')"
            )
        )
        for id_ in (1, 2):
            connection.execute(
                text(
                    "INSERT INTO screening_answer (id, screening_id, criterion_id, value, result,"
                    " answered_at) VALUES (:id, 1, :id, 'yes', 'pass', CURRENT_TIMESTAMP)"
                ),
                {"id": id_},
            )
    command.upgrade(config, "head")
    answers = "SELECT criterion_key, question, criterion_id FROM screening_answer ORDER BY id"
    with engine.begin() as connection:
        assert connection.execute(text(answers)).all() == [
            ("hcc", "Question hcc?", 1),
            ("age", "Question age?", 2),
        ]
        connection.execute(text("DELETE FROM criterion WHERE id = 2"))
        assert connection.execute(text(answers)).all()[1] == ("age", "Question age?", None)
    command.downgrade(config, "0003")  # an answer without its criterion cannot be kept there
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT criterion_id FROM screening_answer")).all()
    assert rows == [(1,)]
    command.upgrade(config, "head")
    engine.dispose()


def test_downgrade_and_upgrade_keep_screenings(seeded):
    """Batch migrations rebuild tables on SQLite; no rebuild may cascade-delete screenings."""
    from sqlalchemy import func, select

    from bot.screening import records
    from bot.screening.models import Screening
    from tests.support import unit_of_work

    with unit_of_work() as session:
        records.start(session, "NCT05113290", "kept-1", "rest")
    config = alembic_config(seeded)
    command.downgrade(config, "0002")
    command.upgrade(config, "head")
    with unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Screening)) == 1
