"""Conversations from Rasa's SQL tracker store, for the staff console.

Rasa's SQLTrackerStore keeps one row per event in its `events` table (id, sender_id,
type_name, timestamp, intent_name, action_name, data = the event as JSON). This module only
reads that table, except `purge`, which deletes old conversations.

Listing never loads whole conversations: `index_events` reads the events with an id above the
last one it saw and keeps one `conversation_summary` row per conversation up to date (turns,
fallbacks, lowest intent confidence, screening outcome, callback, hand-off, the user text for
the free-text filter), and fills the NLU inbox. It runs before each list request and before the
CLI commands that need it; concurrent runs serialize on the `indexer_state` row.

Phone numbers and e-mail addresses are masked for display with `mask_text`.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import re
import time
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time as dtime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import yaml
from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    exists,
    func,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import models
from bot.console_models import (
    ConversationNote,
    ConversationReview,
    ConversationSummary,
    ConversationTag,
    IndexerState,
    NluInboxItem,
    ScreeningFollowup,
)
from bot.db import get_engine, session_scope
from bot.settings import get_settings

log = logging.getLogger(__name__)

# Rasa's SQLTrackerStore.SQLEvent, declared here so the web app needs no Rasa import.
EVENTS = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)

LOW_CONFIDENCE = 0.6  # user messages below this go to the NLU inbox
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTION = "action_fallback"
# The assistant handed the person over to people: medical-advice referral or study contact.
HANDOFF_ACTIONS = frozenset({"action_medical_advice", "action_contact", "action_email"})
CALLBACK_ACTION = "action_save_callback"
SKIPPED_STORY_ACTIONS = frozenset({"action_listen", "action_session_start",
                                   "action_unlikely_intent"})
SEARCH_TEXT_LIMIT = 20000
GAP_TTL_SECONDS = 600  # how long an unseen id below the high-water mark is re-read
MAX_GAPS = 1000
OUTCOME_CHOICES = ("in_progress", "may_be_eligible", "not_eligible", "unsure", "stopped", "none")


# --------------------------------------------------------------------------- time helpers

def utc(dt: Optional[datetime]) -> Optional[datetime]:
    """Aware UTC datetime (SQLite hands back naive ones, which are stored as UTC)."""
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def from_epoch(ts: Optional[float]) -> datetime:
    return datetime.fromtimestamp(ts if ts is not None else time.time(), timezone.utc)


# --------------------------------------------------------------------------- masking

EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE_RE = re.compile(r"(?<![\w+])\+?\d(?:[ ().\-]{0,2}\d){6,}(?![\w])")
DATE_LIKE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4}")
BULLET = "\u2022"


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _mask_email(match: "re.Match[str]", keep: frozenset = frozenset()) -> str:
    if match.group(0).lower() in keep:
        return match.group(0)
    local, _, domain = match.group(0).partition("@")
    tld = domain.rsplit(".", 1)[-1]
    return f"{local[:1]}{BULLET * 3}@{BULLET * 3}.{tld}"


def _mask_phone(match: "re.Match[str]", keep: frozenset = frozenset()) -> str:
    value = match.group(0)
    if DATE_LIKE.fullmatch(value) or _digits(value) in keep:
        return value
    digits = sum(c.isdigit() for c in value)
    seen, out = 0, []
    for c in value:
        if c.isdigit():
            seen += 1
            out.append(c if seen > digits - 2 else BULLET)
        else:
            out.append(c)
    return "".join(out)


def mask_text(text: Optional[str], keep: frozenset = frozenset()) -> Optional[str]:
    """Phone numbers and e-mail addresses replaced by bullets (last two digits kept).

    `keep`: public contact details left as they are (see `public_contacts`)."""
    if not text:
        return text
    text = EMAIL_RE.sub(lambda m: _mask_email(m, keep), text)
    return PHONE_RE.sub(lambda m: _mask_phone(m, keep), text)


def contains_contact(text: Optional[str], keep: frozenset = frozenset()) -> bool:
    return bool(text) and mask_text(text, keep) != text


def mask_value(value: Any, keep: frozenset = frozenset()) -> Any:
    """Masks strings inside slot values and entity values of any JSON shape."""
    if isinstance(value, str):
        return mask_text(value, keep)
    if isinstance(value, list):
        return [mask_value(v, keep) for v in value]
    if isinstance(value, dict):
        return {k: mask_value(v, keep) for k, v in value.items()}
    return value


def public_contacts(session: Session) -> frozenset:
    """The studies' published phone numbers (digits) and e-mail addresses (lower case): the
    assistant says them in its answers, and they identify no patient, so they stay visible."""
    keep = set()
    for phone, email in session.execute(select(models.Contact.phone, models.Contact.email)):
        if phone and len(_digits(phone)) >= 7:
            keep.add(_digits(phone))
        if email and "@" in email:
            keep.add(email.strip().lower())
    return frozenset(keep)


# --------------------------------------------------------------------------- tracker store

_tables_seen: Set[str] = set()


def tracker_engine(url: Optional[str] = None) -> Engine:
    return get_engine(url or get_settings().tracker_store_url)


def has_events_table(engine: Engine) -> bool:
    """Rasa creates the table on its first start; until then there is nothing to read."""
    key = str(engine.url)
    if key not in _tables_seen and inspect(engine).has_table("events"):
        _tables_seen.add(key)
    return key in _tables_seen


def _load(data: Optional[str]) -> Dict[str, Any]:
    try:
        value = json.loads(data or "{}")
        return value if isinstance(value, dict) else {}
    except ValueError:
        return {}


def _user_prediction(data: Mapping[str, Any]) -> Tuple[Optional[str], Optional[float], bool]:
    """(intent, confidence, fell to nlu_fallback); for nlu_fallback the intent the model
    actually ranked first, since the fallback's own confidence says nothing about the text."""
    parse = data.get("parse_data") or {}
    intent = parse.get("intent") or {}
    name, confidence = intent.get("name"), intent.get("confidence")
    if name == FALLBACK_INTENT:
        for ranked in parse.get("intent_ranking") or []:
            if ranked.get("name") and ranked.get("name") != FALLBACK_INTENT:
                return ranked.get("name"), ranked.get("confidence"), True
        return None, confidence, True
    return name, confidence, False


# --------------------------------------------------------------------------- indexer

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


def _lock_state(session: Session) -> IndexerState:
    """Takes the indexer's row lock (an UPDATE) so two processes never index the same events."""
    now = models.utcnow()
    result = session.execute(
        update(IndexerState).where(IndexerState.name == "events").values(updated_at=now))
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
    data = _load(row.data)
    intent, confidence, _ = _user_prediction(data)
    return _UserEvent(row.id, row.sender_id, data.get("text") or "", intent, confidence,
                      from_epoch(row.timestamp))


def _apply(summary: ConversationSummary, row, batch: _Batch, tconn) -> None:
    data = _load(row.data)
    at = from_epoch(row.timestamp if row.timestamp is not None else data.get("timestamp"))
    if summary.started_at is None or at < utc(summary.started_at):
        summary.started_at = at
    if summary.last_event_at is None or at > utc(summary.last_event_at):
        summary.last_event_at = at
    summary.first_event_id = min(summary.first_event_id or row.id, row.id)
    summary.last_event_id = max(summary.last_event_id or 0, row.id)

    if row.type_name == "user":
        text = data.get("text") or ""
        intent, confidence, fell_back = _user_prediction(data)
        event = _UserEvent(row.id, row.sender_id, text, intent, confidence, at)
        batch.user_events[row.id] = event
        summary.turns = (summary.turns or 0) + 1
        if not summary.channel and data.get("input_channel"):
            summary.channel = str(data["input_channel"])[:60]
        if summary.preview is None and text:
            summary.preview = text[:500]
        if text and len(summary.search_text or "") < SEARCH_TEXT_LIMIT:
            summary.search_text = ((summary.search_text or "") + "\n" + text.lower())[
                :SEARCH_TEXT_LIMIT]
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
    elif row.type_name == "action":
        name = row.action_name or data.get("name")
        if name == FALLBACK_ACTION and summary.last_user_event_id and not summary.last_user_fallback:
            summary.fallback_count = (summary.fallback_count or 0) + 1
            summary.last_user_fallback = True
            event = (batch.user_events.get(summary.last_user_event_id)
                     or _user_event_by_id(tconn, summary.last_user_event_id))
            if event is not None and event.text:
                batch.inbox[event.event_id] = (event, "fallback")
        if name in HANDOFF_ACTIONS:
            summary.handoff = True
        if name == CALLBACK_ACTION:
            summary.callback_asked = True


def _refresh_flags(session: Session, summaries: Iterable[ConversationSummary]) -> None:
    """Screening outcome and callback request, from the trial database's screening tables."""
    by_sender = {s.sender_id: s for s in summaries}
    senders = list(by_sender)
    for i in range(0, len(senders), 500):
        chunk = senders[i:i + 500]
        rows = session.execute(
            select(models.Screening.conversation_id, models.Screening.outcome)
            .where(models.Screening.conversation_id.in_(chunk))
            .order_by(models.Screening.consent_at, models.Screening.id)).all()
        for conversation_id, outcome in rows:  # the newest screening wins
            by_sender[conversation_id].screening_outcome = outcome
        for (conversation_id,) in session.execute(
                select(models.CallbackRequest.conversation_id).distinct()
                .where(models.CallbackRequest.conversation_id.in_(chunk))):
            by_sender[conversation_id].callback_asked = True


def _store_inbox(session: Session, batch: _Batch) -> None:
    ids = list(batch.inbox)
    existing: Dict[int, NluInboxItem] = {}
    for i in range(0, len(ids), 500):
        for item in session.scalars(
                select(NluInboxItem).where(NluInboxItem.event_id.in_(ids[i:i + 500]))):
            existing[item.event_id] = item
    for event_id, (event, reason) in batch.inbox.items():
        item = existing.get(event_id)
        if item is not None:
            if reason == "fallback":
                item.reason = reason
            continue
        session.add(NluInboxItem(
            event_id=event_id, sender_id=event.sender_id, text=event.text[:2000],
            predicted_intent=event.intent, confidence=event.confidence, reason=reason,
            said_at=event.at, status="new"))


def index_events(db_url: Optional[str] = None, tracker_url: Optional[str] = None,
                 batch_size: int = 2000, max_batches: int = 50) -> int:
    """Folds new tracker-store events into the summaries; returns how many were read."""
    engine = tracker_engine(tracker_url)
    if not has_events_table(engine):
        return 0
    total = 0
    for _ in range(max_batches):
        with session_scope(db_url) as session, engine.connect() as tconn:
            state = _lock_state(session)
            last = state.last_event_id
            gaps = json.loads(state.gaps or "[]")
            condition = EVENTS.c.id > last
            if gaps:
                condition = or_(condition, *[EVENTS.c.id.between(lo, hi) for lo, hi, _ in gaps])
            rows = tconn.execute(
                select(EVENTS).where(condition).order_by(EVENTS.c.id).limit(batch_size)).all()
            now = time.time()
            if not rows:
                state.gaps = json.dumps(_new_gaps(gaps, last, [], now))
                break
            batch = _Batch()
            senders = sorted({r.sender_id for r in rows})
            for i in range(0, len(senders), 500):
                for summary in session.scalars(select(ConversationSummary).where(
                        ConversationSummary.sender_id.in_(senders[i:i + 500]))):
                    batch.summaries[summary.sender_id] = summary
            for row in rows:
                summary = batch.summaries.get(row.sender_id)
                if summary is None:
                    summary = ConversationSummary(
                        sender_id=row.sender_id, turns=0, bot_turns=0, fallback_count=0,
                        callback_asked=False, handoff=False, last_user_fallback=False)
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


# --------------------------------------------------------------------------- listing

def _yes_no(value: Any) -> Optional[str]:
    return value if value in ("yes", "no") else None


@dataclass
class Filters:
    date_from: Optional[date] = None
    date_to: Optional[date] = None
    channel: Optional[str] = None
    outcome: Optional[str] = None
    fallback: Optional[str] = None  # yes / no
    callback: Optional[str] = None
    handoff: Optional[str] = None
    low_confidence: Optional[str] = None
    review: Optional[str] = None  # reviewed / unreviewed
    tag: Optional[str] = None
    q: Optional[str] = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> "Filters":
        def day(name: str) -> Optional[date]:
            try:
                return date.fromisoformat((query.get(name) or "").strip())
            except ValueError:
                return None

        def text(name: str, limit: int) -> Optional[str]:
            value = (query.get(name) or "").strip()
            return value[:limit] or None

        outcome = text("outcome", 20)
        review = text("review", 20)
        return cls(
            date_from=day("date_from"), date_to=day("date_to"), channel=text("channel", 60),
            outcome=outcome if outcome in OUTCOME_CHOICES else None,
            fallback=_yes_no(query.get("fallback")), callback=_yes_no(query.get("callback")),
            handoff=_yes_no(query.get("handoff")),
            low_confidence=_yes_no(query.get("low_confidence")),
            review=review if review in ("reviewed", "unreviewed") else None,
            tag=text("tag", 40), q=text("q", 200),
        )

    def to_query(self) -> Dict[str, str]:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value.isoformat() if isinstance(value, date) else str(value)
        return out

    def active(self) -> bool:
        return bool(self.to_query())


def _day_start(day: date, tz) -> datetime:
    return datetime.combine(day, dtime.min, tzinfo=tz).astimezone(timezone.utc)


def filtered(stmt, filters: Filters, tz=timezone.utc):
    s = ConversationSummary
    if filters.date_from:
        stmt = stmt.where(s.started_at >= _day_start(filters.date_from, tz))
    if filters.date_to:
        stmt = stmt.where(s.started_at < _day_start(filters.date_to + timedelta(days=1), tz))
    if filters.channel:
        stmt = stmt.where(s.channel == filters.channel)
    if filters.outcome == "none":
        stmt = stmt.where(s.screening_outcome.is_(None))
    elif filters.outcome:
        stmt = stmt.where(s.screening_outcome == filters.outcome)
    if filters.fallback:
        stmt = stmt.where(s.fallback_count > 0 if filters.fallback == "yes" else s.fallback_count == 0)
    if filters.callback:
        stmt = stmt.where(s.callback_asked.is_(filters.callback == "yes"))
    if filters.handoff:
        stmt = stmt.where(s.handoff.is_(filters.handoff == "yes"))
    if filters.low_confidence == "yes":
        stmt = stmt.where(s.min_confidence < LOW_CONFIDENCE)
    elif filters.low_confidence == "no":
        stmt = stmt.where(or_(s.min_confidence.is_(None), s.min_confidence >= LOW_CONFIDENCE))
    if filters.review == "reviewed":
        stmt = stmt.where(ConversationReview.sender_id.isnot(None))
    elif filters.review == "unreviewed":
        stmt = stmt.where(ConversationReview.sender_id.is_(None))
    if filters.tag:
        stmt = stmt.where(exists().where(
            ConversationTag.sender_id == s.sender_id, ConversationTag.tag == filters.tag.lower()))
    if filters.q:
        stmt = stmt.where(s.search_text.contains(filters.q.lower(), autoescape=True))
    return stmt


@dataclass
class ConversationRow:
    id: int
    sender_id: str
    started_at: datetime
    last_event_at: datetime
    channel: Optional[str]
    turns: int
    fallback_count: int
    min_confidence: Optional[float]
    screening_outcome: Optional[str]
    callback_asked: bool
    handoff: bool
    preview: Optional[str]
    reviewed_by: Optional[str]
    reviewed_at: Optional[datetime]
    tags: List[str] = field(default_factory=list)

    def as_dict(self, masked: bool = True) -> Dict[str, Any]:
        return {
            "id": self.id,
            "sender_id": mask_text(self.sender_id) if masked else self.sender_id,
            "started_at": self.started_at.isoformat(),
            "last_event_at": self.last_event_at.isoformat(),
            "channel": self.channel,
            "turns": self.turns,
            "fallback_count": self.fallback_count,
            "min_confidence": (round(self.min_confidence, 4)
                               if self.min_confidence is not None else None),
            "screening_outcome": self.screening_outcome,
            "callback_asked": self.callback_asked,
            "handoff": self.handoff,
            "reviewed": self.reviewed_by is not None,
            "reviewed_by": self.reviewed_by,
            "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None,
            "tags": self.tags,
            "preview": mask_text(self.preview) if masked else self.preview,
        }


EXPORT_FIELDS = ("id", "sender_id", "started_at", "last_event_at", "channel", "turns",
                 "fallback_count", "min_confidence", "screening_outcome", "callback_asked",
                 "handoff", "reviewed", "reviewed_by", "reviewed_at", "tags", "preview")


def _base_query():
    return (select(ConversationSummary, ConversationReview.reviewed_by,
                   ConversationReview.reviewed_at)
            .outerjoin(ConversationReview,
                       ConversationReview.sender_id == ConversationSummary.sender_id))


def encode_cursor(row: ConversationRow) -> str:
    return f"{row.started_at.isoformat()}|{row.id}"


def decode_cursor(cursor: Optional[str]) -> Optional[Tuple[datetime, int]]:
    if not cursor:
        return None
    try:
        stamp, _, ident = cursor.rpartition("|")
        return utc(datetime.fromisoformat(stamp)), int(ident)
    except ValueError:
        return None


def _rows(session: Session, result) -> List[ConversationRow]:
    rows = [
        ConversationRow(
            id=s.id, sender_id=s.sender_id, started_at=utc(s.started_at),
            last_event_at=utc(s.last_event_at), channel=s.channel, turns=s.turns,
            fallback_count=s.fallback_count, min_confidence=s.min_confidence,
            screening_outcome=s.screening_outcome, callback_asked=bool(s.callback_asked),
            handoff=bool(s.handoff), preview=s.preview, reviewed_by=by,
            reviewed_at=utc(at))
        for s, by, at in result
    ]
    if rows:
        tags: Dict[str, List[str]] = {}
        for sender_id, tag in session.execute(
                select(ConversationTag.sender_id, ConversationTag.tag)
                .where(ConversationTag.sender_id.in_([r.sender_id for r in rows]))
                .order_by(ConversationTag.tag)):
            tags.setdefault(sender_id, []).append(tag)
        for row in rows:
            row.tags = tags.get(row.sender_id, [])
    return rows


@dataclass
class Page:
    items: List[ConversationRow]
    next_cursor: Optional[str]
    total: Optional[int]


def list_conversations(session: Session, filters: Filters, tz=timezone.utc,
                       cursor: Optional[str] = None, limit: int = 50,
                       with_total: bool = True) -> Page:
    """Newest first; keyset pagination on (started_at, id), so page 2,000 is as quick as 1."""
    s = ConversationSummary
    stmt = filtered(_base_query(), filters, tz)
    after = decode_cursor(cursor)
    if after:
        stmt = stmt.where(or_(s.started_at < after[0],
                              and_(s.started_at == after[0], s.id < after[1])))
    stmt = stmt.order_by(s.started_at.desc(), s.id.desc()).limit(limit + 1)
    items = _rows(session, session.execute(stmt))
    next_cursor = encode_cursor(items[limit - 1]) if len(items) > limit else None
    total = None
    if with_total:
        count = filtered(select(func.count()).select_from(s).outerjoin(
            ConversationReview, ConversationReview.sender_id == s.sender_id), filters, tz)
        total = session.execute(count).scalar_one()
    return Page(items[:limit], next_cursor, total)


def channels(session: Session) -> List[str]:
    return [c for (c,) in session.execute(
        select(ConversationSummary.channel).distinct()
        .where(ConversationSummary.channel.isnot(None)).order_by(ConversationSummary.channel))]


def all_tags(session: Session) -> List[str]:
    return [t for (t,) in session.execute(
        select(ConversationTag.tag).distinct().order_by(ConversationTag.tag))]


def get_conversation(session: Session, conversation_id: int) -> Optional[ConversationRow]:
    rows = _rows(session, session.execute(
        _base_query().where(ConversationSummary.id == conversation_id)))
    return rows[0] if rows else None


def csv_text(rows: Iterable[Dict[str, Any]], header: bool) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, extrasaction="ignore")
    if header:
        writer.writeheader()
    for row in rows:
        row = dict(row, tags=" ".join(row["tags"]))
        # a cell starting with = + - @ would be a formula in a spreadsheet
        writer.writerow({k: (f"'{v}" if isinstance(v, str) and v[:1] in "=+-@\t\r" else v)
                         for k, v in row.items()})
    return out.getvalue()


# --------------------------------------------------------------------------- transcript

@dataclass
class TranscriptItem:
    event_id: int
    kind: str  # user / bot / action / slot / session / reverted / loop / other
    at: datetime
    text: Optional[str] = None
    intent: Optional[str] = None
    confidence: Optional[float] = None
    fell_back: bool = False
    entities: List[Dict[str, Any]] = field(default_factory=list)
    channel: Optional[str] = None
    name: Optional[str] = None  # action, slot or loop name; other: event type
    policy: Optional[str] = None
    value: Any = None  # slot value
    buttons: List[str] = field(default_factory=list)

    def has_contact(self, keep: frozenset = frozenset()) -> bool:
        return self.masked(keep) != self

    def masked(self, keep: frozenset = frozenset()) -> "TranscriptItem":
        copy = TranscriptItem(**{f.name: getattr(self, f.name) for f in fields(self)})
        copy.text = mask_text(self.text, keep)
        copy.value = mask_value(self.value, keep)
        copy.entities = [dict(e, value=mask_value(e.get("value"), keep)) for e in self.entities]
        copy.buttons = [mask_text(b, keep) for b in self.buttons]
        return copy

    def as_dict(self) -> Dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["at"] = self.at.isoformat()
        return {k: v for k, v in out.items() if v not in (None, [], False) or k == "kind"}


def load_events(sender_id: str, tracker_url: Optional[str] = None) -> List[Dict[str, Any]]:
    """The conversation's events in the order Rasa stored them (every session)."""
    engine = tracker_engine(tracker_url)
    if not has_events_table(engine):
        return []
    with engine.connect() as tconn:
        rows = tconn.execute(select(EVENTS).where(EVENTS.c.sender_id == sender_id)
                             .order_by(EVENTS.c.id)).all()
    events = []
    for row in rows:
        data = _load(row.data)
        data["_id"] = row.id
        data.setdefault("event", row.type_name)
        if row.timestamp is not None:
            data["timestamp"] = row.timestamp
        events.append(data)
    return events


def transcript(events: Sequence[Dict[str, Any]]) -> List[TranscriptItem]:
    items = []
    for data in events:
        kind, at, event_id = data.get("event"), from_epoch(data.get("timestamp")), data["_id"]
        if kind == "user":
            intent, confidence, fell_back = _user_prediction(data)
            parse = data.get("parse_data") or {}
            items.append(TranscriptItem(
                event_id, "user", at, text=data.get("text") or "", intent=intent,
                confidence=confidence, fell_back=fell_back,
                entities=[{"entity": e.get("entity"), "value": e.get("value"),
                           "start": e.get("start"), "end": e.get("end")}
                          for e in parse.get("entities") or data.get("entities") or []
                          if isinstance(e, dict)],
                channel=data.get("input_channel")))
        elif kind == "bot":
            buttons = [str(b.get("title") or b.get("payload") or "")
                       for b in (data.get("data") or {}).get("buttons") or []
                       if isinstance(b, dict)]
            items.append(TranscriptItem(event_id, "bot", at, text=data.get("text") or "",
                                        buttons=buttons))
        elif kind == "action":
            if data.get("name") == "action_listen":
                continue
            items.append(TranscriptItem(event_id, "action", at, name=data.get("name"),
                                        policy=data.get("policy"),
                                        confidence=data.get("confidence")))
        elif kind == "slot":
            items.append(TranscriptItem(event_id, "slot", at, name=data.get("name"),
                                        value=data.get("value")))
        elif kind == "session_started":
            items.append(TranscriptItem(event_id, "session", at))
        elif kind == "rewind":
            items.append(TranscriptItem(event_id, "reverted", at))
        elif kind == "user_featurization":
            continue  # Rasa's bookkeeping, nothing a reader needs
        elif kind == "active_loop":
            items.append(TranscriptItem(event_id, "loop", at, name=data.get("name")))
        else:
            items.append(TranscriptItem(event_id, "other", at, name=kind))
    return items


def _annotated(text: str, entities: Sequence[Dict[str, Any]], masked: bool) -> str:
    """User text with entities in Rasa's [text](entity) markup, for test stories."""
    mask = mask_text if masked else (lambda t: t)
    spans = sorted((e for e in entities if isinstance(e.get("start"), int)
                    and isinstance(e.get("end"), int) and e.get("entity")),
                   key=lambda e: e["start"])
    out, position = [], 0
    for entity in spans:
        start, end = entity["start"], entity["end"]
        if start < position or end > len(text) or start >= end:
            continue
        piece = text[start:end]
        if "[" in piece or "]" in piece:
            continue
        out.append(mask(text[position:start]))
        value = entity.get("value")
        if value == piece or not isinstance(value, str):
            out.append(f"[{mask(piece)}]({entity['entity']})")
        else:
            out.append(f"[{mask(piece)}]" + json.dumps(
                {"entity": entity["entity"], "value": mask(value)}, ensure_ascii=False))
        position = end
    out.append(mask(text[position:]))
    return "".join(out)


def stories_yaml(name: str, events: Sequence[Dict[str, Any]], masked: bool = True) -> str:
    """One conversation as a Rasa test story: user text with intent (and entities), then the
    actions the assistant ran, forms' active loops and slot changes, in order."""
    steps: List[Dict[str, Any]] = []
    for data in events:
        kind = data.get("event")
        if kind == "user":
            parse = data.get("parse_data") or {}
            intent = (parse.get("intent") or {}).get("name")
            text = data.get("text") or ""
            if not intent:
                continue
            steps.append({"user": _annotated(text, parse.get("entities") or [], masked),
                          "intent": intent})
        elif kind == "action" and data.get("name") not in SKIPPED_STORY_ACTIONS:
            steps.append({"action": data.get("name")})
        elif kind == "active_loop":
            steps.append({"active_loop": data.get("name")})
        elif kind == "slot" and data.get("name"):
            value = data.get("value")
            steps.append({"slot_was_set": [{data["name"]: mask_value(value) if masked else value}]})
    document = {"stories": [{"story": name, "steps": steps}]}
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)
    return ('version: "3.1"\n# Exported from the staff console. Turns the fallback reverted '
            'are kept as they happened.\n' + body)


# --------------------------------------------------------------------------- purge

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

    def as_dict(self) -> Dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def purge(days: float, db_url: Optional[str] = None, tracker_url: Optional[str] = None,
          now: Optional[float] = None) -> PurgeResult:
    """Deletes every conversation whose last event is older than `days`, from the tracker
    store and from the app's tables together (summaries, reviews, tags, notes, NLU inbox rows,
    screening records and callback requests of those conversations)."""
    index_events(db_url, tracker_url)
    cutoff = (now if now is not None else time.time()) - days * 86400
    cutoff_dt = from_epoch(cutoff)
    engine = tracker_engine(tracker_url)
    have_events = has_events_table(engine)
    recent: Set[str] = set()
    doomed: Set[str] = set()
    if have_events:
        with engine.connect() as tconn:
            recent = {s for (s,) in tconn.execute(
                select(EVENTS.c.sender_id).distinct().where(EVENTS.c.timestamp >= cutoff))}
            doomed = {s for (s,) in tconn.execute(
                select(EVENTS.c.sender_id).group_by(EVENTS.c.sender_id)
                .having(func.max(EVENTS.c.timestamp) < cutoff))}
    with session_scope(db_url) as session:
        for query in (
            select(ConversationSummary.sender_id).where(
                ConversationSummary.last_event_at < cutoff_dt),
            select(models.Screening.conversation_id).where(
                models.Screening.consent_at < cutoff_dt),
            select(models.CallbackRequest.conversation_id).where(
                models.CallbackRequest.created_at < cutoff_dt),
        ):
            doomed |= {s for (s,) in session.execute(query)} - recent
    result = PurgeResult(conversations=len(doomed))
    senders = sorted(doomed)
    for i in range(0, len(senders), 500):
        chunk = senders[i:i + 500]
        if have_events:
            with engine.begin() as tconn:
                result.events += tconn.execute(
                    delete(EVENTS).where(EVENTS.c.sender_id.in_(chunk))).rowcount
        with session_scope(db_url) as session:
            def gone(statement) -> int:
                return session.execute(statement.execution_options(
                    synchronize_session=False)).rowcount

            screening_ids = [i for (i,) in session.execute(select(models.Screening.id).where(
                models.Screening.conversation_id.in_(chunk)))]
            result.callbacks += gone(delete(models.CallbackRequest).where(or_(
                models.CallbackRequest.conversation_id.in_(chunk),
                models.CallbackRequest.screening_id.in_(screening_ids or [-1]))))
            if screening_ids:
                gone(delete(models.ScreeningAnswer).where(
                    models.ScreeningAnswer.screening_id.in_(screening_ids)))
                gone(delete(ScreeningFollowup).where(
                    ScreeningFollowup.screening_id.in_(screening_ids)))
                result.screenings += gone(delete(models.Screening).where(
                    models.Screening.id.in_(screening_ids)))
            result.summaries += gone(delete(ConversationSummary).where(
                ConversationSummary.sender_id.in_(chunk)))
            result.reviews += gone(delete(ConversationReview).where(
                ConversationReview.sender_id.in_(chunk)))
            result.tags += gone(delete(ConversationTag).where(
                ConversationTag.sender_id.in_(chunk)))
            result.notes += gone(delete(ConversationNote).where(
                ConversationNote.sender_id.in_(chunk)))
            result.nlu_inbox += gone(delete(NluInboxItem).where(
                NluInboxItem.sender_id.in_(chunk)))
    if have_events:
        # SQLite hands out max(id)+1: after deleting the newest events, ids get reused, so the
        # indexer's high-water mark comes down to what is left (those ids were all indexed).
        with engine.connect() as tconn:
            highest = tconn.execute(select(func.max(EVENTS.c.id))).scalar() or 0
        with session_scope(db_url) as session:
            state = _lock_state(session)
            if highest < state.last_event_id:
                state.last_event_id = highest
                state.gaps = "[]"
    log.warning("purged %d conversations older than %s days: %s", result.conversations, days,
                result.as_dict())
    return result
