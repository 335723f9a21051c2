"""Refreshing studies from the registry: `python -m bot trials refresh [NCT_ID ...]`.

Each study is fetched from `{CTGOV_API_URL}/studies/{nctId}` (a whole v2 record), validated,
and upserted in a unit of work of its own (bot.trial.importer: only what differs is written).
Every attempt is kept in study_refresh for staff (the console's Studies area): when, what
changed, or why it failed. A study whose fetch or record fails is left exactly as it was.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import aiohttp
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import Database, utcnow
from bot.trial import models
from bot.trial.changes import Change
from bot.trial.importer import ImportFailed, import_records, parse_records
from bot.trial.registry import StudyRecord

TIMEOUT = 30.0  # seconds for one study's answer
NCT_ID = re.compile(r"^NCT\d{8}$")


class FetchFailed(Exception):
    """One line saying why a study could not be fetched or read."""


@dataclass
class Outcome:
    nct_id: str
    ok: bool
    created: bool = False
    changes: List[Change] = field(default_factory=list)
    error: Optional[str] = None


def study_url(base_url: str, nct_id: str) -> str:
    return f"{base_url.rstrip('/')}/studies/{nct_id}"


def one_line(text: str) -> str:
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


async def fetch_record(
    http: aiohttp.ClientSession, base_url: str, nct_id: str, timeout: float = TIMEOUT
) -> StudyRecord:
    """The study's v2 record from the registry, validated; FetchFailed says why not."""
    url = study_url(base_url, nct_id)
    try:
        async with http.get(
            url,
            timeout=aiohttp.ClientTimeout(total=timeout),
            headers={"Accept": "application/json"},
        ) as response:
            body = await response.read()
            if response.status >= 400:
                raise FetchFailed(f"HTTP {response.status} {response.reason or ''} from {url}")
    except asyncio.TimeoutError:
        raise FetchFailed(f"no answer from {url} within {timeout:g} s")
    except aiohttp.ClientError as error:
        raise FetchFailed(f"cannot reach {url}: {one_line(str(error)) or type(error).__name__}")
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise FetchFailed(f"{url}: the answer is not valid JSON ({error})")
    try:
        records = parse_records(data, url)
    except ImportFailed as error:
        raise FetchFailed(one_line(str(error)))
    found = [r.protocolSection.identificationModule.nctId for r in records]
    if found != [nct_id]:
        raise FetchFailed(f"{url}: the answer is the record of {', '.join(found)}, not {nct_id}")
    return records[0]


def all_nct_ids(session: Session) -> List[str]:
    return list(session.scalars(select(models.Study.nct_id).order_by(models.Study.nct_id)))


def _record(
    session: Session, outcome: Outcome, source: str, changes: Optional[List[Change]] = None
) -> None:
    session.add(
        models.StudyRefresh(
            nct_id=outcome.nct_id,
            at=utcnow(),
            ok=outcome.ok,
            changed=bool(changes) or outcome.created,
            changes=changes or [],
            error=outcome.error,
            source=source[:300],
        )
    )


def store(db: Database, nct_id: str, record: StudyRecord, url: str) -> Outcome:
    """Upsert one fetched record and note the refresh, in one unit of work."""
    try:
        with db.unit_of_work() as session:
            result = import_records(session, [record])
            outcome = Outcome(nct_id, ok=True, created=bool(result.created))
            outcome.changes = result.changes.get(nct_id, [])
            _record(session, outcome, url, outcome.changes)
        return outcome
    except ImportFailed as error:
        return note_failure(db, nct_id, one_line(str(error)), url)


def note_failure(db: Database, nct_id: str, error: str, url: str) -> Outcome:
    outcome = Outcome(nct_id, ok=False, error=error)
    with db.unit_of_work() as session:  # the study itself is not touched
        _record(session, outcome, url)
    return outcome


async def refresh(
    db: Database, nct_ids: Sequence[str], base_url: str, timeout: float = TIMEOUT
) -> List[Outcome]:
    """Fetch and upsert each study in turn (one request at a time, gentle on the registry)."""
    outcomes = []
    async with aiohttp.ClientSession() as http:
        for nct_id in nct_ids:
            url = study_url(base_url, nct_id)
            try:
                record = await fetch_record(http, base_url, nct_id, timeout)
            except FetchFailed as error:
                outcomes.append(await asyncio.to_thread(note_failure, db, nct_id, str(error), url))
                continue
            outcomes.append(await asyncio.to_thread(store, db, nct_id, record, url))
    return outcomes


def bad_ids(nct_ids: Sequence[str]) -> List[str]:
    return [n for n in nct_ids if not NCT_ID.match(n)]
