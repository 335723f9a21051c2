"""The conversation list: filters, keyset pagination, CSV/JSON rows."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from bot.console.indexer import LOW_CONFIDENCE
from bot.console.models import ConversationReview, ConversationSummary, ConversationTag
from bot.console.privacy import mask_text
from bot.console.tracker import utc
from bot.screening.records import OUTCOMES

# A screening outcome to filter by, or "none" for conversations without a screening.
OUTCOME_CHOICES = (*OUTCOMES, "none")


def _yes_no(value: Any) -> Optional[str]:
    return value if value in ("yes", "no") else None


@dataclass
class Filters:
    date_from: Optional[date] = None
    date_to: Optional[date] = None
    channel: Optional[str] = None
    language: Optional[str] = None  # en / zh
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
        language = text("language", 2)
        return cls(
            date_from=day("date_from"),
            date_to=day("date_to"),
            channel=text("channel", 60),
            language=language if language in ("en", "zh") else None,
            outcome=outcome if outcome in OUTCOME_CHOICES else None,
            fallback=_yes_no(query.get("fallback")),
            callback=_yes_no(query.get("callback")),
            handoff=_yes_no(query.get("handoff")),
            low_confidence=_yes_no(query.get("low_confidence")),
            review=review if review in ("reviewed", "unreviewed") else None,
            tag=text("tag", 40),
            q=text("q", 200),
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
    if filters.language:
        stmt = stmt.where(s.language == filters.language)
    if filters.outcome == "none":
        stmt = stmt.where(s.screening_outcome.is_(None))
    elif filters.outcome:
        stmt = stmt.where(s.screening_outcome == filters.outcome)
    if filters.fallback:
        stmt = stmt.where(
            s.fallback_count > 0 if filters.fallback == "yes" else s.fallback_count == 0
        )
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
        stmt = stmt.where(
            exists().where(
                ConversationTag.sender_id == s.sender_id, ConversationTag.tag == filters.tag.lower()
            )
        )
    if filters.q:
        # search_text is the masked copy (bot.console.indexer): digits typed here never match
        # inside a phone number, so a number cannot be rebuilt by searching digit by digit
        stmt = stmt.where(s.search_text.contains(filters.q.lower(), autoescape=True))
    return stmt


@dataclass
class ConversationRow:
    id: int
    sender_id: str
    started_at: datetime
    last_event_at: datetime
    channel: Optional[str]
    language: Optional[str]
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

    def as_dict(self, masked: bool = True, keep: frozenset = frozenset()) -> Dict[str, Any]:
        return {
            "id": self.id,
            "sender_id": mask_text(self.sender_id, keep) if masked else self.sender_id,
            "started_at": self.started_at.isoformat(),
            "last_event_at": self.last_event_at.isoformat(),
            "channel": self.channel,
            "language": self.language,
            "turns": self.turns,
            "fallback_count": self.fallback_count,
            "min_confidence": (
                round(self.min_confidence, 4) if self.min_confidence is not None else None
            ),
            "screening_outcome": self.screening_outcome,
            "callback_asked": self.callback_asked,
            "handoff": self.handoff,
            "reviewed": self.reviewed_by is not None,
            "reviewed_by": self.reviewed_by,
            "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None,
            "tags": self.tags,
            "preview": mask_text(self.preview, keep) if masked else self.preview,
        }


EXPORT_FIELDS = (
    "id",
    "sender_id",
    "started_at",
    "last_event_at",
    "channel",
    "language",
    "turns",
    "fallback_count",
    "min_confidence",
    "screening_outcome",
    "callback_asked",
    "handoff",
    "reviewed",
    "reviewed_by",
    "reviewed_at",
    "tags",
    "preview",
)


def _base_query():
    return select(
        ConversationSummary, ConversationReview.reviewed_by, ConversationReview.reviewed_at
    ).outerjoin(ConversationReview, ConversationReview.sender_id == ConversationSummary.sender_id)


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
            id=s.id,
            sender_id=s.sender_id,
            started_at=utc(s.started_at),
            last_event_at=utc(s.last_event_at),
            channel=s.channel,
            language=s.language,
            turns=s.turns,
            fallback_count=s.fallback_count,
            min_confidence=s.min_confidence,
            screening_outcome=s.screening_outcome,
            callback_asked=bool(s.callback_asked),
            handoff=bool(s.handoff),
            preview=s.preview,
            reviewed_by=by,
            reviewed_at=utc(at),
        )
        for s, by, at in result
    ]
    if rows:
        tags: Dict[str, List[str]] = {}
        for sender_id, tag in session.execute(
            select(ConversationTag.sender_id, ConversationTag.tag)
            .where(ConversationTag.sender_id.in_([r.sender_id for r in rows]))
            .order_by(ConversationTag.tag)
        ):
            tags.setdefault(sender_id, []).append(tag)
        for row in rows:
            row.tags = tags.get(row.sender_id, [])
    return rows


@dataclass
class Page:
    items: List[ConversationRow]
    next_cursor: Optional[str]
    total: Optional[int]


def list_conversations(
    session: Session,
    filters: Filters,
    tz=timezone.utc,
    cursor: Optional[str] = None,
    limit: int = 50,
    with_total: bool = True,
) -> Page:
    """Newest first; keyset pagination on (started_at, id), so page 2,000 is as quick as 1."""
    s = ConversationSummary
    stmt = filtered(_base_query(), filters, tz)
    after = decode_cursor(cursor)
    if after:
        stmt = stmt.where(
            or_(s.started_at < after[0], and_(s.started_at == after[0], s.id < after[1]))
        )
    stmt = stmt.order_by(s.started_at.desc(), s.id.desc()).limit(limit + 1)
    items = _rows(session, session.execute(stmt))
    next_cursor = encode_cursor(items[limit - 1]) if len(items) > limit else None
    total = None
    if with_total:
        count = filtered(
            select(func.count())
            .select_from(s)
            .outerjoin(ConversationReview, ConversationReview.sender_id == s.sender_id),
            filters,
            tz,
        )
        total = session.execute(count).scalar_one()
    return Page(items[:limit], next_cursor, total)


def channels(session: Session) -> List[str]:
    return [
        c
        for (c,) in session.execute(
            select(ConversationSummary.channel)
            .distinct()
            .where(ConversationSummary.channel.isnot(None))
            .order_by(ConversationSummary.channel)
        )
    ]


def all_tags(session: Session) -> List[str]:
    return [
        t
        for (t,) in session.execute(
            select(ConversationTag.tag).distinct().order_by(ConversationTag.tag)
        )
    ]


def get_conversation(session: Session, conversation_id: int) -> Optional[ConversationRow]:
    rows = _rows(
        session, session.execute(_base_query().where(ConversationSummary.id == conversation_id))
    )
    return rows[0] if rows else None


def csv_text(rows: Iterable[Dict[str, Any]], header: bool) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, extrasaction="ignore")
    if header:
        writer.writeheader()
    for row in rows:
        row = dict(row, tags=" ".join(row["tags"]))
        # a cell starting with = + - @ would be a formula in a spreadsheet
        writer.writerow(
            {
                k: (f"'{v}" if isinstance(v, str) and v[:1] in "=+-@\t\r" else v)
                for k, v in row.items()
            }
        )
    return out.getvalue()
