"""Shared fixtures: a fresh trial database per test, on SQLite and (when configured) PostgreSQL.

TEST_POSTGRES_URL names a PostgreSQL server database to create test databases from (CI sets
it). When it is set, the server must answer: a down server fails the run, it is never skipped.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.db import dispose_engines, session_scope, upgrade
from bot.settings import ROOT

POSTGRES = os.environ.get("TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES else [])
SEED = ROOT / "bot" / "seed"


def pytest_sessionstart(session) -> None:
    if os.environ.get("CI") and not POSTGRES:
        raise pytest.UsageError("CI must set TEST_POSTGRES_URL: PostgreSQL tests may not be skipped")


def _admin_engine():
    return create_engine(POSTGRES, isolation_level="AUTOCOMMIT", future=True)


def _fresh_postgres_database() -> str:
    name = f"trialbot_test_{uuid.uuid4().hex[:12]}"
    try:
        engine = _admin_engine()
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
    except Exception as error:  # a down server must fail loudly
        pytest.fail(f"TEST_POSTGRES_URL is set but PostgreSQL did not answer: {error}")
    return str(make_url(POSTGRES).set(database=name))


def _drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    engine = _admin_engine()
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path: Path, monkeypatch) -> str:
    """An empty, migrated trial database; TRIAL_DATABASE_URL points at it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'trials.db'}"
    else:
        url = _fresh_postgres_database()
    monkeypatch.setenv("TRIAL_DATABASE_URL", url)
    upgrade(url)
    yield url
    dispose_engines()
    if request.param == "postgresql":
        _drop_postgres_database(url)


def load_seed(url: str | None = None) -> None:
    from bot.criteria import load_criteria
    from bot.importer import import_records, load_file

    with session_scope(url) as session:
        import_records(session, load_file(SEED / "NCT05113290.json"))
        import_records(session, load_file(SEED / "see-also.json"), related_to="NCT05113290")
        load_criteria(session, SEED / "criteria" / "NCT05113290.json")


@pytest.fixture
def seeded(database_url: str) -> str:
    """The trial database with the shipped records, as `make run` loads them."""
    load_seed(database_url)
    return database_url
