"""Engine, sessions and migrations for the trial database.

Use `session_scope()` for one unit of work: a fresh Session per request or action, never one
shared across concurrent requests.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Optional

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import get_settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _sqlite_foreign_keys(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA foreign_keys=ON")


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    kwargs = {"future": True, "pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # The action server and the web app read it from threads of their own.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_foreign_keys)
    return engine


_engines: Dict[str, Engine] = {}


def get_engine(url: Optional[str] = None) -> Engine:
    """One pooled engine per database URL, shared by the sessions of this process."""
    url = url or get_settings().database_url
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def get_sessionmaker(url: Optional[str] = None) -> sessionmaker:
    return sessionmaker(bind=get_engine(url), future=True, expire_on_commit=False)


@contextmanager
def session_scope(url: Optional[str] = None) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any error."""
    session = get_sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: Optional[str] = None) -> None:
    """Create or migrate the schema to the newest revision."""
    url = url or get_settings().database_url
    make_engine(url).dispose()  # creates the SQLite folder when needed
    command.upgrade(alembic_config(url), "head")


def dispose_engines() -> None:
    """Close every pooled connection (tests and forked workers start clean)."""
    for engine in list(_engines.values()):
        engine.dispose()
    _engines.clear()
