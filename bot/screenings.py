"""Screening records and callback requests: what a consenting person told the assistant.

Written only after consent; read by the study team (CLI now, staff console later).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import List, Optional

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot import models
from bot.db import session_scope

OUTCOMES = ("in_progress", "may_be_eligible", "not_eligible", "unsure", "stopped")
CALLBACK_STATUSES = ("new", "contacted", "closed")


def start(nct_id: str, conversation_id: str, channel: Optional[str]) -> int:
    """A new screening record, stamped with the moment of consent; returns its id."""
    with session_scope() as session:
        study_id = session.scalars(
            select(models.Study.id).where(models.Study.nct_id == nct_id)
        ).one()
        record = models.Screening(
            study_id=study_id, conversation_id=conversation_id, channel=channel,
            consent_at=models.utcnow(),
        )
        session.add(record)
        session.flush()
        return record.id


def record_answer(
    screening_id: int, criterion_id: int, text: str, value: str, result: str
) -> None:
    """Store (or replace) one criterion's answer."""
    with session_scope() as session:
        answer = session.scalars(
            select(models.ScreeningAnswer).where(
                models.ScreeningAnswer.screening_id == screening_id,
                models.ScreeningAnswer.criterion_id == criterion_id,
            )
        ).one_or_none()
        if answer is None:
            answer = models.ScreeningAnswer(screening_id=screening_id, criterion_id=criterion_id)
            session.add(answer)
        answer.answer_text, answer.value, answer.result = text[:2000], value, result
        answer.answered_at = models.utcnow()


def finish(screening_id: int, outcome: str) -> None:
    assert outcome in OUTCOMES
    with session_scope() as session:
        record = session.get(models.Screening, screening_id)
        if record is not None and record.outcome == "in_progress":
            record.outcome, record.finished_at = outcome, models.utcnow()


def add_callback(screening_id: int, name: str, phone: str) -> int:
    """A callback request for the study team, attached to the screening it came from."""
    with session_scope() as session:
        record = session.get(models.Screening, screening_id)
        request = models.CallbackRequest(
            screening_id=screening_id, study_id=record.study_id,
            conversation_id=record.conversation_id, name=name, phone=phone,
        )
        session.add(request)
        session.flush()
        return request.id


@dataclass(frozen=True)
class AnswerRow:
    criterion: str
    answer_text: Optional[str]
    value: Optional[str]
    result: str


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
    outcome: Optional[str] = None, conversation_id: Optional[str] = None, limit: int = 50
) -> List[ScreeningRow]:
    """Newest first, with answers and any callback request."""
    with session_scope() as session:
        query = (
            select(models.Screening)
            .options(
                selectinload(models.Screening.answers).selectinload(models.ScreeningAnswer.criterion),
                selectinload(models.Screening.callback),
                selectinload(models.Screening.study),
            )
            .order_by(models.Screening.consent_at.desc(), models.Screening.id.desc())
            .limit(limit)
        )
        if outcome:
            query = query.where(models.Screening.outcome == outcome)
        if conversation_id:
            query = query.where(models.Screening.conversation_id == conversation_id)
        return [
            ScreeningRow(
                id=s.id, nct_id=s.study.nct_id, conversation_id=s.conversation_id,
                channel=s.channel, consent_at=s.consent_at, finished_at=s.finished_at,
                outcome=s.outcome,
                answers=[AnswerRow(a.criterion.key, a.answer_text, a.value, a.result)
                         for a in s.answers],
                callback_name=s.callback.name if s.callback else None,
                callback_phone=s.callback.phone if s.callback else None,
                callback_status=s.callback.status if s.callback else None,
            )
            for s in session.scalars(query)
        ]


def results(screening_id: int) -> List[AnswerRow]:
    """The answers given so far in one screening, in the order they were asked."""
    with session_scope() as session:
        record = session.get(models.Screening, screening_id)
        if record is None:
            return []
        return [AnswerRow(a.criterion.key, a.answer_text, a.value, a.result)
                for a in record.answers]
