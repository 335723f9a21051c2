"""Helpers shared by the test packages (fixtures themselves live in conftest.py files)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, TypeVar

from sqlalchemy.orm import Session

from bot.config import ROOT, get_settings
from bot.db import database

SEED = ROOT / "bot" / "seed"
T = TypeVar("T")


@contextmanager
def unit_of_work(url: Optional[str] = None) -> Iterator[Session]:
    """A unit of work on the given database, else on the installed settings' trial database."""
    with database(url or get_settings().database_url).unit_of_work() as session:
        yield session


def read(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """fn(session, *args) on the installed settings' trial database."""
    with unit_of_work() as session:
        return fn(session, *args, **kwargs)
