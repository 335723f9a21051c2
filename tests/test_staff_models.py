"""The staff console's tables: the Alembic migration creates exactly what
bot/console_models.py declares (on SQLite and PostgreSQL), and downgrades cleanly."""
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import bot.console_models  # noqa: F401
from bot.db import alembic_config, make_engine
from bot.models import Base

CONSOLE_TABLES = {"staff_user", "login_throttle", "audit_log", "conversation_summary",
                  "conversation_review", "conversation_tag", "conversation_note", "nlu_inbox",
                  "screening_followup", "indexer_state"}


def _table_of(diff) -> str:
    item = diff[0] if isinstance(diff, list) else diff
    for part in item[1:]:
        name = getattr(part, "name", None)
        table = getattr(part, "table", None)
        if table is not None:
            return table.name
        if isinstance(part, str):
            return part
        if name:
            return name
    return ""


def test_migration_matches_the_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        assert CONSOLE_TABLES <= tables
        diffs = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    console_diffs = [d for d in diffs if _table_of(d) in CONSOLE_TABLES
                     or any(t in repr(d) for t in CONSOLE_TABLES)]
    assert console_diffs == []


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
