"""The console's incremental index over the tracker store's events.

`index_events` reads the events with an id above the last one it saw and keeps one
`conversation_summary` row per conversation up to date (turns, fallbacks, lowest intent
confidence, screening outcome, callback, hand-off, the user text for the free-text filter), and
fills the NLU inbox. The user text for the search is stored masked (bot.console.privacy), so the
search matches what staff see. Concurrent runs serialize on the `indexer_state` row."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.console.deletions import mirror_deletion_requests
from bot.console.models import ConversationSummary, IndexerState, NluInboxItem
from bot.console.privacy import public_contacts, search_copy
from bot.console.tracker import (
    EVENTS,
    event_data,
    from_epoch,
    has_events_table,
    user_prediction,
    utc,
)
from bot.db import Database, utcnow
from bot.screening.models import CallbackRequest, Screening

log = logging.getLogger(__name__)

LOW_CONFIDENCE = 0.6  # user messages below this go to the NLU inbox
FALLBACK_ACTION = "action_fallback"
# The assistant handed the person over to people: medical-advice referral or study contact.
HANDOFF_ACTIONS = frozenset({"action_medical_advice", "action_contact", "action_email"})
CALLBACK_ACTION = "action_save_callback"
SEARCH_TEXT_LIMIT = 20000
GAP_TTL_SECONDS = 600  # how long an unseen id below the high-water mark is re-read
MAX_GAPS = 1000


@dataclass
class _UserEvent:
    event_id: int
    sender_id: str
    text: str
    intent: Optional[str]
    confidence: Optional[float]
    at: datetime


@dataclass
class _Batch:
    summaries: Dict[str, ConversationSummary] = field(default_factory=dict)
    user_events: Dict[int, _UserEvent] = field(default_factory=dict)
    inbox: Dict[int, Tuple[_UserEvent, str]] = field(default_factory=dict)
    keep: frozenset = frozenset()  # the studies' public contact details (not masked)


def lock_state(session: Session) -> IndexerState:
    """Takes the indexer's row lock (an UPDATE) so two processes never index the same events."""
    now = utcnow()
    result = session.execute(
        update(IndexerState).where(IndexerState.name == "events").values(updated_at=now)
    )
    if result.rowcount == 0:
        session.add(IndexerState(name="events", last_event_id=0, gaps="[]", updated_at=now))
        session.flush()
    return session.get(IndexerState, "events", populate_existing=True)


def _new_gaps(old: List[list], last: int, ids: Sequence[int], now: float) -> List[list]:
    found = set(ids)
    gaps: List[list] = []
    for low, high, first_seen in old:  # split old gaps around the ids that turned up
        if now - first_seen > GAP_TTL_SECONDS:
            continue
        start = low
        for event_id in sorted(i for i in found if low <= i <= high):
            if event_id > start:
                gaps.append([start, event_id - 1, first_seen])
            start = event_id + 1
        if start <= high:
            gaps.append([start, high, first_seen])
    previous = last
    for event_id in sorted(i for i in found if i > last):
        if event_id > previous + 1:
            gaps.append([previous + 1, event_id - 1, now])
        previous = event_id
    return gaps[-MAX_GAPS:]


def _user_event_by_id(tconn, event_id: int) -> Optional[_UserEvent]:
    row = tconn.execute(select(EVENTS).where(EVENTS.c.id == event_id)).first()
    if row is None or row.type_name != "user":
        return None
    data = event_data(row.data)
    intent, confidence, _ = user_prediction(data)
    return _UserEvent(
        row.id, row.sender_id, data.get("text") or "", intent, confidence, from_epoch(row.timestamp)
    )


def _apply(summary: ConversationSummary, row, batch: _Batch, tconn) -> None:
    data = event_data(row.data)
    at = from_epoch(row.timestamp if row.timestamp is not None else data.get("timestamp"))
    if summary.started_at is None or at < utc(summary.started_at):
        summary.started_at = at
    if summary.last_event_at is None or at > utc(summary.last_event_at):
        summary.last_event_at = at
    summary.first_event_id = min(summary.first_event_id or row.id, row.id)
    summary.last_event_id = max(summary.last_event_id or 0, row.id)

    if row.type_name == "user":
        text = data.get("text") or ""
        intent, confidence, fell_back = user_prediction(data)
        event = _UserEvent(row.id, row.sender_id, text, intent, confidence, at)
        batch.user_events[row.id] = event
        summary.turns = (summary.turns or 0) + 1
        if not summary.channel and data.get("input_channel"):
            summary.channel = str(data["input_channel"])[:60]
        if summary.preview is None and text:
            summary.preview = text[:500]
        if text and len(summary.search_text or "") < SEARCH_TEXT_LIMIT:
            # masked: a search for digits never matches inside a phone number
            summary.search_text = (
                (summary.search_text or "") + "\n" + search_copy(text, batch.keep)
            )[:SEARCH_TEXT_LIMIT]
        if confidence is not None and not text.startswith("/"):
            if summary.min_confidence is None or confidence < summary.min_confidence:
                summary.min_confidence = float(confidence)
        summary.last_user_event_id = row.id
        summary.last_user_fallback = fell_back
        if fell_back:
            summary.fallback_count = (summary.fallback_count or 0) + 1
            batch.inbox[row.id] = (event, "fallback")
        elif confidence is not None and confidence < LOW_CONFIDENCE and not text.startswith("/"):
            batch.inbox[row.id] = (event, "low_confidence")
    elif row.type_name == "bot":
        summary.bot_turns = (summary.bot_turns or 0) + 1
    elif row.type_name == "slot" and data.get("name") == "language":
        if data.get("value") in ("en", "zh"):
            summary.language = data["value"]  # the conversation's latest language
    elif row.type_name == "action":
        name = row.action_name or data.get("name")
        if (
            name == FALLBACK_ACTION
            and summary.last_user_event_id
            and not summary.last_user_fallback
        ):
            summary.fallback_count = (summary.fallback_count or 0) + 1
            summary.last_user_fallback = True
            found = batch.user_events.get(summary.last_user_event_id) or _user_event_by_id(
                tconn, summary.last_user_event_id
            )
            if found is not None and found.text:
                batch.inbox[found.event_id] = (found, "fallback")
        if name in HANDOFF_ACTIONS:
            summary.handoff = True
        if name == CALLBACK_ACTION:
            summary.callback_asked = True


def _refresh_flags(session: Session, summaries: Iterable[ConversationSummary]) -> None:
    """Screening outcome and callback request, from the trial database's screening tables."""
    by_sender = {s.sender_id: s for s in summaries}
    senders = list(by_sender)
    for i in range(0, len(senders), 500):
        chunk = senders[i : i + 500]
        rows = session.execute(
            select(Screening.conversation_id, Screening.outcome)
            .where(Screening.conversation_id.in_(chunk))
            .order_by(Screening.consent_at, Screening.id)
        ).all()
        for conversation_id, outcome in rows:  # the newest screening wins
            by_sender[conversation_id].screening_outcome = outcome
        for (conversation_id,) in session.execute(
            select(CallbackRequest.conversation_id)
            .distinct()
            .where(CallbackRequest.conversation_id.in_(chunk))
        ):
            by_sender[conversation_id].callback_asked = True


def _store_inbox(session: Session, batch: _Batch) -> None:
    ids = list(batch.inbox)
    existing: Dict[int, NluInboxItem] = {}
    for i in range(0, len(ids), 500):
        for item in session.scalars(
            select(NluInboxItem).where(NluInboxItem.event_id.in_(ids[i : i + 500]))
        ):
            existing[item.event_id] = item
    for event_id, (event, reason) in batch.inbox.items():
        item = existing.get(event_id)
        if item is not None:
            if reason == "fallback":
                item.reason = reason
            continue
        session.add(
            NluInboxItem(
                event_id=event_id,
                sender_id=event.sender_id,
                text=event.text[:2000],
                predicted_intent=event.intent,
                confidence=event.confidence,
                reason=reason,
                said_at=event.at,
                status="new",
            )
        )


def index_events(
    trial: Database, tracker: Engine, batch_size: int = 2000, max_batches: int = 50
) -> int:
    """Folds new tracker-store events into the summaries; returns how many were read. Also
    mirrors patients' new deletion requests into the audit log."""
    with trial.unit_of_work() as session:
        lock_state(session)  # one process at a time: never two audit entries for one request
        mirror_deletion_requests(session)
    if not has_events_table(tracker):
        return 0
    total = 0
    for _ in range(max_batches):
        with trial.unit_of_work() as session, tracker.connect() as tconn:
            state = lock_state(session)
            last = state.last_event_id
            gaps = json.loads(state.gaps or "[]")
            condition = EVENTS.c.id > last
            if gaps:
                condition = or_(condition, *[EVENTS.c.id.between(lo, hi) for lo, hi, _ in gaps])
            rows = tconn.execute(
                select(EVENTS).where(condition).order_by(EVENTS.c.id).limit(batch_size)
            ).all()
            now = time.time()
            if not rows:
                state.gaps = json.dumps(_new_gaps(gaps, last, [], now))
                break
            batch = _Batch(keep=public_contacts(session))
            senders = sorted({r.sender_id for r in rows})
            for i in range(0, len(senders), 500):
                for summary in session.scalars(
                    select(ConversationSummary).where(
                        ConversationSummary.sender_id.in_(senders[i : i + 500])
                    )
                ):
                    batch.summaries[summary.sender_id] = summary
            for row in rows:
                summary = batch.summaries.get(row.sender_id)
                if summary is None:
                    summary = ConversationSummary(
                        sender_id=row.sender_id,
                        turns=0,
                        bot_turns=0,
                        fallback_count=0,
                        callback_asked=False,
                        handoff=False,
                        last_user_fallback=False,
                    )
                    session.add(summary)
                    batch.summaries[row.sender_id] = summary
                _apply(summary, row, batch, tconn)
            _refresh_flags(session, batch.summaries.values())
            _store_inbox(session, batch)
            ids = [r.id for r in rows]
            state.gaps = json.dumps(_new_gaps(gaps, last, ids, now))
            state.last_event_id = max(last, max(ids))
            total += len(rows)
        if len(rows) < batch_size:
            break
    if total:
        log.info("indexed %d tracker-store events", total)
    return total
