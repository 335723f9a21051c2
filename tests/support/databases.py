"""Test databases: a schema migrated once per test session, copied for every test.

SQLite: the migrated file is copied. PostgreSQL (TEST_POSTGRES_URL, which CI sets): a migrated
template database is cloned with CREATE DATABASE ... TEMPLATE. A PostgreSQL server that does
not answer fails the test; it is never skipped.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Optional

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.db import upgrade

POSTGRES: Optional[str] = os.environ.get("TEST_POSTGRES_URL")
REDIS: Optional[str] = os.environ.get("TEST_REDIS_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES else [])


def _admin(statement: str) -> None:
    assert POSTGRES
    engine = create_engine(POSTGRES, isolation_level="AUTOCOMMIT", future=True)
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def fresh_postgres_database(template: Optional[str] = None) -> str:
    """A new, empty (or template-cloned) database on the test server; its URL."""
    assert POSTGRES, "TEST_POSTGRES_URL is not set"
    name = f"trialbot_test_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{make_url(template).database}"' if template else ""
    try:
        _admin(f'CREATE DATABASE "{name}"{clause}')
    except Exception as error:  # a down server must fail loudly
        pytest.fail(f"TEST_POSTGRES_URL is set but PostgreSQL did not answer: {error}")
    return str(make_url(POSTGRES).set(database=name))


def drop_postgres_database(url: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


class Templates:
    """Migrated-once schemas for the session; `copy(backend, directory)` gives a test its own."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._sqlite: Optional[Path] = None
        self._postgres: Optional[str] = None

    def copy(self, backend: str, directory: Path) -> str:
        if backend == "sqlite":
            if self._sqlite is None:
                self._sqlite = self.directory / "template.db"
                upgrade(f"sqlite:///{self._sqlite}")
            target = directory / "trials.db"
            shutil.copyfile(self._sqlite, target)
            os.chmod(target, 0o600)
            return f"sqlite:///{target}"
        if self._postgres is None:
            self._postgres = fresh_postgres_database()
            upgrade(self._postgres)
        return fresh_postgres_database(template=self._postgres)

    def close(self) -> None:
        if self._postgres:
            drop_postgres_database(self._postgres)
