"""Screening records and callback requests: written after consent, read by the study team.

Every function takes the caller's `Session` (one unit of work, see bot.db).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import List, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from bot.db import utcnow
from bot.screening.models import CallbackRequest, Screening, ScreeningAnswer
from bot.trial.models import Criterion, Study

# A screening's outcome: in progress until the form ends one way or the other.
OUTCOMES = ("in_progress", "may_be_eligible", "not_eligible", "unsure", "stopped")
# Follow-up of a callback request or a screening record by the study team.
FOLLOWUP_STATUSES = ("new", "contacted", "closed")


def start(session: Session, nct_id: str, conversation_id: str, channel: Optional[str]) -> int:
    """A new screening record, stamped with the moment of consent; returns its id."""
    study_id = session.scalars(select(Study.id).where(Study.nct_id == nct_id)).one()
    record = Screening(
        study_id=study_id,
        conversation_id=conversation_id,
        channel=channel,
        consent_at=utcnow(),
    )
    session.add(record)
    session.flush()
    return int(record.id)


def record_answer(
    session: Session,
    screening_id: int,
    criterion_id: int,
    text: str,
    value: str,
    result: str,
    question: Optional[str] = None,
    key: Optional[str] = None,
) -> None:
    """Store (or replace) one criterion's answer, with the criterion's key and the question as
    it was asked (`question`, e.g. in the conversation's language; else the criterion's own).
    A criterion removed while it was being asked (a refresh at that moment) is stored by `key`,
    without a link; without `key` that is a LookupError."""
    criterion = session.get(Criterion, criterion_id)
    if criterion is None and not key:
        raise LookupError(f"no criterion {criterion_id}: it was removed while it was asked")
    key = criterion.key if criterion is not None else str(key)
    answer = session.scalars(
        select(ScreeningAnswer).where(
            ScreeningAnswer.screening_id == screening_id,
            ScreeningAnswer.criterion_key == key,
        )
    ).one_or_none()
    if answer is None:
        answer = ScreeningAnswer(screening_id=screening_id, criterion_key=key)
        session.add(answer)
    answer.criterion_id = criterion.id if criterion is not None else None
    answer.question = question or (criterion.question if criterion is not None else None)
    answer.answer_text, answer.value, answer.result = text[:2000], value, result
    answer.answered_at = utcnow()


def finish(session: Session, screening_id: int, outcome: str) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    record = session.get(Screening, screening_id)
    if record is not None and record.outcome == "in_progress":
        record.outcome, record.finished_at = outcome, utcnow()


def add_callback(session: Session, screening_id: int, name: str, phone: str) -> int:
    """A callback request for the study team, attached to the screening it came from."""
    record = session.get(Screening, screening_id)
    if record is None:
        raise LookupError(f"no screening {screening_id}")
    request = CallbackRequest(
        screening_id=screening_id,
        study_id=record.study_id,
        conversation_id=record.conversation_id,
        name=name,
        phone=phone,
    )
    session.add(request)
    session.flush()
    return int(request.id)


def add_direct_callback(
    session: Session, nct_id: str, conversation_id: str, name: str, phone: str
) -> int:
    """A callback request a patient asked for without a pre-screening ("call me back")."""
    study_id = session.scalars(select(Study.id).where(Study.nct_id == nct_id)).one()
    request = CallbackRequest(
        study_id=study_id, conversation_id=conversation_id, name=name, phone=phone
    )
    session.add(request)
    session.flush()
    return int(request.id)


def recent_callbacks(session: Session, conversation_id: str, since: datetime) -> int:
    """How many callback requests a conversation made since a moment (to limit floods)."""
    count = session.scalar(
        select(func.count()).where(
            CallbackRequest.conversation_id == conversation_id,
            CallbackRequest.created_at >= since,
        )
    )
    return int(count or 0)


@dataclass(frozen=True)
class AnswerRow:
    criterion: str  # the criterion's key, as stored with the answer
    answer_text: Optional[str]
    value: Optional[str]
    result: str
    question: Optional[str] = None  # as it was asked


@dataclass(frozen=True)
class ScreeningRow:
    id: int
    nct_id: str
    conversation_id: str
    channel: Optional[str]
    consent_at: datetime
    finished_at: Optional[datetime]
    outcome: str
    answers: List[AnswerRow]
    callback_name: Optional[str]
    callback_phone: Optional[str]
    callback_status: Optional[str]


def list_screenings(
    session: Session,
    outcome: Optional[str] = None,
    conversation_id: Optional[str] = None,
    limit: int = 50,
) -> List[ScreeningRow]:
    """Newest first, with answers and any callback request."""
    query = (
        select(Screening)
        .options(
            selectinload(Screening.answers),
            selectinload(Screening.callback),
            selectinload(Screening.study),
        )
        .order_by(Screening.consent_at.desc(), Screening.id.desc())
        .limit(limit)
    )
    if outcome:
        query = query.where(Screening.outcome == outcome)
    if conversation_id:
        query = query.where(Screening.conversation_id == conversation_id)
    return [
        ScreeningRow(
            id=s.id,
            nct_id=s.study.nct_id,
            conversation_id=s.conversation_id,
            channel=s.channel,
            consent_at=s.consent_at,
            finished_at=s.finished_at,
            outcome=s.outcome,
            answers=[_row(a) for a in s.answers],
            callback_name=s.callback.name if s.callback else None,
            callback_phone=s.callback.phone if s.callback else None,
            callback_status=s.callback.status if s.callback else None,
        )
        for s in session.scalars(query)
    ]


def results(session: Session, screening_id: int) -> List[AnswerRow]:
    """The answers given so far in one screening, in the order they were asked."""
    record = session.get(Screening, screening_id)
    if record is None:
        return []
    return [_row(a) for a in record.answers]


def _row(answer: ScreeningAnswer) -> AnswerRow:
    return AnswerRow(
        answer.criterion_key, answer.answer_text, answer.value, answer.result, answer.question
    )
