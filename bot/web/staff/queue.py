"""The screenings and callbacks queue: screening records with their callback request, newest
first, each with a follow-up status (new / contacted / closed). A callback request's status is
callback_request.status; a screening without one keeps its status in screening_followup."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Dict, List, Optional, Tuple

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from bot import models
from bot.console_models import FOLLOWUP_STATUSES, ConversationSummary, ScreeningFollowup
from bot.conversations import utc
from bot.models import utcnow

STATUS_FILTERS = ("open", "new", "contacted", "closed", "all")
KINDS = ("all", "callbacks")
PER_PAGE = 50


@dataclass
class Answer:
    key: str
    question: str
    text: Optional[str]
    value: Optional[str]
    result: str


@dataclass
class QueueItem:
    screening_id: Optional[int]
    callback_id: Optional[int]
    received_at: datetime
    nct_id: Optional[str]
    conversation_id: str
    summary_id: Optional[int]
    channel: Optional[str]
    outcome: Optional[str]
    finished_at: Optional[datetime]
    name: Optional[str]
    phone: Optional[str]
    status: str
    updated_by: Optional[str]
    updated_at: Optional[datetime]
    answers: List[Answer] = field(default_factory=list)


def _status_clause(expr, status: str):
    if status == "open":
        return expr.in_(("new", "contacted"))
    if status in FOLLOWUP_STATUSES:
        return expr == status
    return None


def queue_page(session: Session, status: str = "open", kind: str = "all",
               page: int = 1) -> Tuple[List[QueueItem], int]:
    """(items of the page, total) — screenings (with any callback) and orphaned callbacks."""
    S, C, F = models.Screening, models.CallbackRequest, ScreeningFollowup
    state = func.coalesce(C.status, F.status, literal("new"))
    received = func.coalesce(C.created_at, S.consent_at)
    query = (
        select(S, C, F, state.label("state"), received.label("received"),
               models.Study.nct_id, ConversationSummary.id)
        .join(models.Study, models.Study.id == S.study_id)
        .outerjoin(C, C.screening_id == S.id)
        .outerjoin(F, F.screening_id == S.id)
        .outerjoin(ConversationSummary, ConversationSummary.sender_id == S.conversation_id)
    )
    orphans = (
        select(C, ConversationSummary.id)
        .outerjoin(ConversationSummary, ConversationSummary.sender_id == C.conversation_id)
        .where(C.screening_id.is_(None))
    )
    clause = _status_clause(state, status)
    if clause is not None:
        query = query.where(clause)
        orphans = orphans.where(_status_clause(C.status, status))
    if kind == "callbacks":
        query = query.where(C.id.isnot(None))
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(received.desc(), S.id.desc())
                           .limit(PER_PAGE).offset((max(page, 1) - 1) * PER_PAGE)).all()
    items = []
    for screening, callback, followup, state_value, when, nct_id, summary_id in rows:
        updated = callback or followup
        items.append(QueueItem(
            screening_id=screening.id, callback_id=callback.id if callback else None,
            received_at=utc(when), nct_id=nct_id, conversation_id=screening.conversation_id,
            summary_id=summary_id, channel=screening.channel, outcome=screening.outcome,
            finished_at=utc(screening.finished_at),
            name=callback.name if callback else None, phone=callback.phone if callback else None,
            status=state_value, updated_by=updated.updated_by if updated else None,
            updated_at=utc(updated.updated_at) if updated and updated.updated_by else None))
    if page <= 1:
        for callback, summary_id in session.execute(
                orphans.order_by(C.created_at.desc()).limit(PER_PAGE)):
            total += 1
            items.append(QueueItem(
                screening_id=None, callback_id=callback.id, received_at=utc(callback.created_at),
                nct_id=None, conversation_id=callback.conversation_id, summary_id=summary_id,
                channel=None, outcome=None, finished_at=None, name=callback.name,
                phone=callback.phone, status=callback.status,
                updated_by=callback.updated_by,
                updated_at=utc(callback.updated_at) if callback.updated_by else None))
        items.sort(key=lambda i: i.received_at, reverse=True)
    ids = [i.screening_id for i in items if i.screening_id]
    if ids:
        answers: Dict[int, List[Answer]] = {}
        for answer, key, question in session.execute(
                select(models.ScreeningAnswer, models.Criterion.key, models.Criterion.question)
                .join(models.Criterion, models.Criterion.id == models.ScreeningAnswer.criterion_id)
                .where(models.ScreeningAnswer.screening_id.in_(ids))
                .order_by(models.ScreeningAnswer.id)):
            answers.setdefault(answer.screening_id, []).append(Answer(
                key, question, answer.answer_text, answer.value, answer.result))
        for item in items:
            item.answers = answers.get(item.screening_id, []) if item.screening_id else []
    return items, total


def set_callback_status(session: Session, callback_id: int, status: str,
                        username: str) -> Tuple[str, str, str]:
    """-> (old status, new status, conversation id)."""
    if status not in FOLLOWUP_STATUSES:
        raise ValueError(status)
    callback = session.get(models.CallbackRequest, callback_id)
    if callback is None:
        raise LookupError(callback_id)
    old = callback.status
    callback.status, callback.updated_by, callback.updated_at = status, username, utcnow()
    return old, status, callback.conversation_id


def set_screening_status(session: Session, screening_id: int, status: str,
                         username: str) -> Tuple[str, str, str]:
    if status not in FOLLOWUP_STATUSES:
        raise ValueError(status)
    screening = session.get(models.Screening, screening_id)
    if screening is None:
        raise LookupError(screening_id)
    followup = session.get(ScreeningFollowup, screening_id)
    old = followup.status if followup else "new"
    if followup is None:
        followup = ScreeningFollowup(screening_id=screening_id)
        session.add(followup)
    followup.status, followup.updated_by, followup.updated_at = status, username, utcnow()
    return old, status, screening.conversation_id


def callback_phone(session: Session, callback_id: int) -> Optional[Tuple[str, str]]:
    callback = session.get(models.CallbackRequest, callback_id)
    return (callback.phone, callback.conversation_id) if callback else None
