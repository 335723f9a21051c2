"""Deleting conversations everywhere at once: old ones (RETENTION_DAYS), and those a patient
asked to delete (deletion_request), whatever their age.

`purge` removes a conversation from Rasa's tracker store and from the console's tables
(summaries, reviews, tags, notes, NLU inbox rows, screening records and callback requests),
takes its examples out of the exported NLU training files, and redacts its sender id (on
Twilio, a phone number) from the audit log's details; the audit entries themselves stay. On
SQLite the freed pages are zeroed (secure_delete) and the files vacuumed, so nothing deleted
stays readable in them. `python -m bot logs purge` runs it; `make run-prod` runs it daily
(`DailyPurge`).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.config import ROOT
from bot.console.indexer import index_events, lock_state
from bot.console.models import (
    AuditLog,
    ConversationNote,
    ConversationReview,
    ConversationSummary,
    ConversationTag,
    NluInboxItem,
    ScreeningFollowup,
)
from bot.console.nlu_inbox import DEFAULT_OUT, normalize, remove_examples
from bot.console.tracker import EVENTS, from_epoch, has_events_table
from bot.db import Database, utcnow
from bot.screening.models import CallbackRequest, DeletionRequest, Screening, ScreeningAnswer

log = logging.getLogger(__name__)

REDACTED = "[purged]"
DAY_SECONDS = 86400.0
FIRST_RUN_DELAY = 300.0  # the daily purge's first run, seconds after the profile is up


@dataclass
class PurgeResult:
    conversations: int = 0
    events: int = 0
    summaries: int = 0
    reviews: int = 0
    tags: int = 0
    notes: int = 0
    nlu_inbox: int = 0
    screenings: int = 0
    callbacks: int = 0
    deletion_requests: int = 0  # conversations purged because the patient asked
    nlu_examples: int = 0  # taken out of exported training files
    audit_details: int = 0  # audit entries whose details named a purged sender id

    def as_dict(self) -> Dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _vacuum(engine: Engine) -> None:
    """Gives the freed pages back and rewrites the file (SQLite only)."""
    if not _sqlite(engine):
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM")


def exported_files(session: Session) -> List[Path]:
    """Where `python -m bot nlu export` wrote: the default file and every --out it was given."""
    found = {DEFAULT_OUT.resolve()}
    for (target,) in session.execute(
        select(AuditLog.target).distinct().where(AuditLog.action == "nlu_export")
    ):
        if target:
            path = Path(target)
            found.add((path if path.is_absolute() else ROOT / path).resolve())
    return sorted(found)


def _redact(value: Any, senders: Set[str]) -> Any:
    if isinstance(value, str):
        return REDACTED if value in senders else value
    if isinstance(value, list):
        return [_redact(v, senders) for v in value]
    if isinstance(value, dict):
        return {k: _redact(v, senders) for k, v in value.items()}
    return value


def redact_audit(session: Session, senders: Set[str], batch: int = 2000) -> int:
    """Replaces every value in the audit log's details that is one of these sender ids."""
    if not senders:
        return 0
    changed, last = 0, 0
    while True:
        rows = session.execute(
            select(AuditLog.id, AuditLog.detail)
            .where(AuditLog.id > last, AuditLog.detail.isnot(None))
            .order_by(AuditLog.id)
            .limit(batch)
        ).all()
        if not rows:
            return changed
        for ident, detail in rows:
            last = ident
            if len(senders) <= 50 and not any(sender in detail for sender in senders):
                continue  # a quick look first when there are few
            try:
                data = json.loads(detail)
            except ValueError:
                continue
            redacted = _redact(data, senders)
            if redacted != data:
                session.execute(
                    update(AuditLog)
                    .where(AuditLog.id == ident)
                    .values(detail=json.dumps(redacted, ensure_ascii=False, default=str))
                    .execution_options(synchronize_session=False)
                )
                changed += 1


def _doomed(
    trial: Database, tracker: Engine, cutoff: float, have_events: bool
) -> Tuple[Set[str], Set[str]]:
    """(conversations to purge, of them those a patient asked to delete)."""
    cutoff_dt = from_epoch(cutoff)
    recent: Set[str] = set()
    doomed: Set[str] = set()
    if have_events:
        with tracker.connect() as tconn:
            recent = {
                s
                for (s,) in tconn.execute(
                    select(EVENTS.c.sender_id).distinct().where(EVENTS.c.timestamp >= cutoff)
                )
            }
            doomed = {
                s
                for (s,) in tconn.execute(
                    select(EVENTS.c.sender_id)
                    .group_by(EVENTS.c.sender_id)
                    .having(func.max(EVENTS.c.timestamp) < cutoff)
                )
            }
    with trial.unit_of_work() as session:
        for query in (
            select(ConversationSummary.sender_id).where(
                ConversationSummary.last_event_at < cutoff_dt
            ),
            select(Screening.conversation_id).where(Screening.consent_at < cutoff_dt),
            select(CallbackRequest.conversation_id).where(CallbackRequest.created_at < cutoff_dt),
        ):
            doomed |= {s for (s,) in session.execute(query)} - recent
        requested = set(
            session.scalars(
                select(DeletionRequest.conversation_id).where(DeletionRequest.purged_at.is_(None))
            )
        )
    return doomed | requested, requested


def _purge_chunk(session: Session, chunk: List[str], result: PurgeResult) -> List[str]:
    """The console's and the screening tables' rows of these conversations; -> the NLU inbox
    texts of theirs that were exported."""

    def gone(statement: Any) -> int:
        return int(session.execute(statement.execution_options(synchronize_session=False)).rowcount)

    exported = list(
        session.scalars(
            select(NluInboxItem.text).where(
                NluInboxItem.sender_id.in_(chunk), NluInboxItem.exported_at.isnot(None)
            )
        )
    )
    screening_ids = list(
        session.scalars(select(Screening.id).where(Screening.conversation_id.in_(chunk)))
    )
    result.callbacks += gone(
        delete(CallbackRequest).where(
            or_(
                CallbackRequest.conversation_id.in_(chunk),
                CallbackRequest.screening_id.in_(screening_ids or [-1]),
            )
        )
    )
    if screening_ids:
        gone(delete(ScreeningAnswer).where(ScreeningAnswer.screening_id.in_(screening_ids)))
        gone(delete(ScreeningFollowup).where(ScreeningFollowup.screening_id.in_(screening_ids)))
        result.screenings += gone(delete(Screening).where(Screening.id.in_(screening_ids)))
    result.summaries += gone(
        delete(ConversationSummary).where(ConversationSummary.sender_id.in_(chunk))
    )
    result.reviews += gone(
        delete(ConversationReview).where(ConversationReview.sender_id.in_(chunk))
    )
    result.tags += gone(delete(ConversationTag).where(ConversationTag.sender_id.in_(chunk)))
    result.notes += gone(delete(ConversationNote).where(ConversationNote.sender_id.in_(chunk)))
    result.nlu_inbox += gone(delete(NluInboxItem).where(NluInboxItem.sender_id.in_(chunk)))
    result.deletion_requests += gone(
        update(DeletionRequest)
        .where(DeletionRequest.conversation_id.in_(chunk), DeletionRequest.purged_at.is_(None))
        .values(purged_at=utcnow())
    )
    return exported


def _clean_nlu_files(
    trial: Database, exported: List[str], nlu_files: Optional[Iterable[Path]]
) -> int:
    """Takes purged conversations' examples out of the exported training files, unless a
    message of a conversation still kept says the same thing."""
    if not exported:
        return 0
    with trial.unit_of_work() as session:
        still = {
            normalize(t)
            for t in session.scalars(
                select(NluInboxItem.text).where(NluInboxItem.status == "accepted")
            )
        }
        files = list(nlu_files) if nlu_files is not None else exported_files(session)
    texts = [t for t in exported if normalize(t) not in still]
    return sum(remove_examples(Path(path), texts) for path in files)


def purge(
    trial: Database,
    tracker: Engine,
    days: float,
    now: Optional[float] = None,
    nlu_files: Optional[Iterable[Path]] = None,
) -> PurgeResult:
    """Deletes every conversation whose last event is older than `days`, and every one a
    patient asked to delete, from the tracker store and from the app's tables together (see
    the module's doc). `nlu_files`: the exported training files to clean (default: where
    `nlu export` wrote)."""
    index_events(trial, tracker)  # also mirrors new deletion requests into the audit log
    cutoff = (now if now is not None else time.time()) - days * DAY_SECONDS
    have_events = has_events_table(tracker)
    doomed, requested = _doomed(trial, tracker, cutoff, have_events)
    result = PurgeResult(conversations=len(doomed))
    senders = sorted(doomed)
    exported: List[str] = []
    for i in range(0, len(senders), 500):
        chunk = senders[i : i + 500]
        if have_events:
            with tracker.begin() as tconn:
                if _sqlite(tracker):
                    tconn.exec_driver_sql("PRAGMA secure_delete=ON")
                result.events += tconn.execute(
                    delete(EVENTS).where(EVENTS.c.sender_id.in_(chunk))
                ).rowcount
        with trial.unit_of_work() as session:
            if _sqlite(trial.engine):
                session.execute(text("PRAGMA secure_delete=ON"))
            exported += _purge_chunk(session, chunk, result)
    if doomed:
        with trial.unit_of_work() as session:
            result.audit_details = redact_audit(session, doomed)
        result.nlu_examples = _clean_nlu_files(trial, exported, nlu_files)
    if have_events:
        # SQLite hands out max(id)+1: after deleting the newest events, ids get reused, so the
        # indexer's high-water mark comes down to what is left (those ids were all indexed).
        with tracker.connect() as tconn:
            highest = tconn.execute(select(func.max(EVENTS.c.id))).scalar() or 0
        with trial.unit_of_work() as session:
            state = lock_state(session)
            if highest < state.last_event_id:
                state.last_event_id = highest
                state.gaps = "[]"
    if doomed:
        _vacuum(tracker)
        _vacuum(trial.engine)
    log.warning(
        "purged %d conversations (older than %s days, or asked to delete: %d): %s",
        result.conversations,
        days,
        len(requested),
        result.as_dict(),
    )
    return result


# --------------------------------------------------------------------------- daily


def purge_command() -> List[str]:
    """`python -m bot logs purge` (RETENTION_DAYS), as the daily run starts it."""
    return [sys.executable, "-m", "bot", "logs", "purge"]


def run_purge_command(env: Mapping[str, str], timeout: float = 3600) -> int:
    """One purge in a child process (its own migrations check, audit entry and output)."""
    try:
        done = subprocess.run(purge_command(), cwd=ROOT, env=dict(env), timeout=timeout)
    except (OSError, subprocess.SubprocessError) as error:
        log.error("the daily purge did not run: %s", error)
        return 1
    if done.returncode != 0:
        log.error("the daily purge exited with %s", done.returncode)
    return done.returncode


class DailyPurge:
    """Runs `job` FIRST_RUN_DELAY seconds after start, then every `interval` seconds, in a
    background thread, until `stop()`. A failing run is logged; the next one still comes."""

    def __init__(
        self,
        job: Callable[[], Any],
        interval: float = DAY_SECONDS,
        first_delay: float = FIRST_RUN_DELAY,
    ) -> None:
        self.job, self.interval, self.first_delay = job, interval, first_delay
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="daily-purge", daemon=True)

    def _loop(self) -> None:
        wait = self.first_delay
        while not self._stop.wait(wait):
            try:
                self.job()
            except Exception:  # the next day's run still comes
                log.exception("the daily purge failed")
            self.runs += 1
            wait = self.interval

    def start(self) -> "DailyPurge":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
