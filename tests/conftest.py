"""Fixtures of every test package: a migrated trial database per test (SQLite, and PostgreSQL
when TEST_POSTGRES_URL is set), the shipped records, and the settings pointing at them.

Settings are installed with bot.config.use_settings, never by patching os.environ.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import AsyncIterator, Iterator, Optional

import pytest

from bot.config import ROOT, Settings, get_settings, use_settings
from bot.db import database, dispose_all
from tests.support.databases import (
    BACKENDS,
    POSTGRES,
    REDIS,
    Templates,
    drop_postgres_database,
    fresh_postgres_database,
)

SEED = ROOT / "bot" / "seed"


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CI") and not (POSTGRES and REDIS):
        raise pytest.UsageError(
            "CI must set TEST_POSTGRES_URL and TEST_REDIS_URL: their tests may not be skipped"
        )


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    found = Templates(tmp_path_factory.mktemp("templates"))
    yield found
    dispose_all()
    found.close()


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, templates: Templates
) -> Iterator[str]:
    """An empty, migrated trial database of its own; the installed settings point at it."""
    url = templates.copy(request.param, tmp_path)
    use_settings(Settings(database_url=url, var_dir=tmp_path))
    yield url
    use_settings(None)
    dispose_all()
    if request.param == "postgresql":
        drop_postgres_database(url)


def load_seed(url: str) -> None:
    """The shipped records, as `make run` loads them."""
    from bot.trial.criteria import load_criteria
    from bot.trial.importer import import_records, load_file
    from bot.trial.translations import load_translations

    with database(url).unit_of_work() as session:
        import_records(session, load_file(SEED / "NCT05113290.json"))
        import_records(session, load_file(SEED / "see-also.json"), related_to="NCT05113290")
        load_criteria(session, SEED / "criteria" / "NCT05113290.json")
        load_translations(session, SEED / "zh" / "NCT05113290.json")


@pytest.fixture
def seeded(database_url: str) -> str:
    """The trial database with the shipped records."""
    load_seed(database_url)
    return database_url


@pytest.fixture
def tracker_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """Rasa's tracker store on the same kind of server as the trial database (the installed
    settings point at it too)."""
    postgres = not database_url.startswith("sqlite")
    url = fresh_postgres_database() if postgres else f"sqlite:///{tmp_path / 'tracker.db'}"
    use_settings(get_settings().copy(update={"tracker_store_url": url}))
    yield url
    if postgres:
        dispose_all()
        drop_postgres_database(url)


@pytest.fixture
def store(tracker_url: str) -> Iterator[object]:
    """Rasa's own SQLTrackerStore on the test's tracker database."""
    from rasa.core.tracker_store import SQLTrackerStore

    from tests.support.events import domain

    tracker_store = SQLTrackerStore(domain(), host=tracker_url)
    yield tracker_store
    tracker_store.engine.dispose()


@pytest.fixture
def web_settings(database_url: str, tracker_url: str, tmp_path: Path) -> Settings:
    """Settings for the web app over the test's databases (installed for the test)."""
    settings = Settings(
        database_url=database_url,
        tracker_store_url=tracker_url,
        rasa_url="http://127.0.0.1:5005",
        var_dir=tmp_path,
    )
    use_settings(settings)
    return settings


@pytest.fixture
async def client(web_settings: Settings) -> AsyncIterator[object]:
    """The web app (widget and staff console) over the test's databases."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot.web.app import create_app

    test_client = TestClient(TestServer(create_app(web_settings)))
    await test_client.start_server()
    yield test_client
    await test_client.close()


def index(url: Optional[str] = None) -> int:
    """Fold the tracker store's new events into the console's index now (the web app does it
    in the background)."""
    from bot.config import get_settings
    from bot.console.indexer import index_events

    settings = get_settings()
    return index_events(
        database(url or settings.database_url), database(settings.tracker_store_url).engine
    )


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One running action server + Rasa server over the shipped records, shared by the live
    and browser suites (started on first use, stopped at the end of the session)."""
    from tests.support.stack import seeded_stack

    with seeded_stack(tmp_path_factory.mktemp("live")) as running:
        yield running


def pytest_terminal_summary(terminalreporter: object) -> None:
    """`make test` timed its earlier stages (scripts/test.sh); show them before the summary."""
    stages = ROOT / "results" / "stages.txt"
    if not stages.exists() or not stages.read_text().strip():
        return
    write = terminalreporter.write_line  # type: ignore[attr-defined]
    write(
        "make test stages (seconds): "
        + ", ".join(
            f"{name} {seconds}"
            for name, seconds, _ in (
                line.split() for line in stages.read_text().splitlines() if line.strip()
            )
        )
        + "; pytest: below"
    )
