"""The one way to a database: `database(url)` gives its engine and units of work.

Query functions everywhere take a `Session` as their first argument and never open one
themselves; the caller opens one unit of work (`with database(url).unit_of_work() as s:`)
per request, action or command, never shared across concurrent requests. Jobs that commit in
batches (the console's indexer, the purge) take the `Database` and open their own units.
"""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, declarative_base, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Tables of every package (trial, screening, console) share this metadata; Alembic reads it.
Base: Any = declarative_base()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA foreign_keys=ON")


def _private_sqlite_file(path: Path) -> None:
    """Patient data at rest: the SQLite file is readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    kwargs: Dict[str, Any] = {"future": True, "pool_pre_ping": True}
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        if parsed.database and parsed.database != ":memory:":
            _private_sqlite_file(Path(parsed.database))
        # The action server and the web app read it from threads of their own.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """One database: a pooled engine, and units of work on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(bind=self.engine, future=True, expire_on_commit=False)

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


_databases: Dict[str, Database] = {}


def database(url: str) -> Database:
    """The process's `Database` for a URL (one pool per URL)."""
    if url not in _databases:
        _databases[url] = Database(url)
    return _databases[url]


def dispose_all() -> None:
    """Close every pooled connection (tests, and workers after a fork, start clean)."""
    for db in list(_databases.values()):
        db.dispose()
    _databases.clear()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Create or migrate the schema to the newest revision."""
    make_engine(url).dispose()  # creates the private SQLite file when needed
    command.upgrade(alembic_config(url), "head")
