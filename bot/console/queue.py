"""The screenings and callbacks queue: screening records with their callback request, newest
first, each with a follow-up status (new / contacted / closed). A callback request's status is
callback_request.status; a screening without one keeps its status in screening_followup."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Dict, List, Optional, Tuple

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from bot.console.models import ConversationSummary, ScreeningFollowup
from bot.console.tracker import utc
from bot.db import utcnow
from bot.screening.models import CallbackRequest, Screening, ScreeningAnswer
from bot.screening.records import FOLLOWUP_STATUSES
from bot.trial.models import Study

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


def _page_keys(session: Session, status: str, kind: str, page: int) -> Tuple[List[tuple], int]:
    """(kind, id) of the page's items, newest first, and the total: screenings (with any
    callback request) and callback requests without a screening, in one ordering, so every
    item is on the page its time puts it on."""
    S, C, F = Screening, CallbackRequest, ScreeningFollowup
    state = func.coalesce(C.status, F.status, literal("new"))
    screenings = (
        select(
            literal("s").label("kind"),
            S.id.label("ident"),
            func.coalesce(C.created_at, S.consent_at).label("received"),
        )
        .join(Study, Study.id == S.study_id)
        .outerjoin(C, C.screening_id == S.id)
        .outerjoin(F, F.screening_id == S.id)
    )
    orphans = select(
        literal("c").label("kind"), C.id.label("ident"), C.created_at.label("received")
    ).where(C.screening_id.is_(None))
    clause = _status_clause(state, status)
    if clause is not None:
        screenings = screenings.where(clause)
        orphans = orphans.where(_status_clause(C.status, status))
    if kind == "callbacks":
        screenings = screenings.where(C.id.isnot(None))
    both = union_all(screenings, orphans).subquery()
    total = session.execute(select(func.count()).select_from(both)).scalar_one()
    rows = session.execute(
        select(both.c.kind, both.c.ident)
        .order_by(both.c.received.desc(), both.c.kind.desc(), both.c.ident.desc())
        .limit(PER_PAGE)
        .offset((max(page, 1) - 1) * PER_PAGE)
    ).all()
    return [tuple(row) for row in rows], int(total)


def queue_page(
    session: Session, status: str = "open", kind: str = "all", page: int = 1
) -> Tuple[List[QueueItem], int]:
    """(items of the page, total) — screenings (with any callback) and orphaned callbacks."""
    S, C, F = Screening, CallbackRequest, ScreeningFollowup
    keys, total = _page_keys(session, status, kind, page)
    screening_ids = [ident for k, ident in keys if k == "s"]
    callback_ids = [ident for k, ident in keys if k == "c"]
    found: Dict[tuple, QueueItem] = {}
    if screening_ids:
        for screening, callback, followup, nct_id, summary_id in session.execute(
            select(S, C, F, Study.nct_id, ConversationSummary.id)
            .join(Study, Study.id == S.study_id)
            .outerjoin(C, C.screening_id == S.id)
            .outerjoin(F, F.screening_id == S.id)
            .outerjoin(ConversationSummary, ConversationSummary.sender_id == S.conversation_id)
            .where(S.id.in_(screening_ids))
        ):
            updated = callback or followup
            found[("s", screening.id)] = QueueItem(
                screening_id=screening.id,
                callback_id=callback.id if callback else None,
                received_at=utc(callback.created_at if callback else screening.consent_at),
                nct_id=nct_id,
                conversation_id=screening.conversation_id,
                summary_id=summary_id,
                channel=screening.channel,
                outcome=screening.outcome,
                finished_at=utc(screening.finished_at),
                name=callback.name if callback else None,
                phone=callback.phone if callback else None,
                status=(callback.status if callback else None)
                or (followup.status if followup else None)
                or "new",
                updated_by=updated.updated_by if updated else None,
                updated_at=utc(updated.updated_at) if updated and updated.updated_by else None,
            )
    if callback_ids:
        for callback, summary_id in session.execute(
            select(C, ConversationSummary.id)
            .outerjoin(ConversationSummary, ConversationSummary.sender_id == C.conversation_id)
            .where(C.id.in_(callback_ids))
        ):
            found[("c", callback.id)] = QueueItem(
                screening_id=None,
                callback_id=callback.id,
                received_at=utc(callback.created_at),
                nct_id=None,
                conversation_id=callback.conversation_id,
                summary_id=summary_id,
                channel=None,
                outcome=None,
                finished_at=None,
                name=callback.name,
                phone=callback.phone,
                status=callback.status,
                updated_by=callback.updated_by,
                updated_at=utc(callback.updated_at) if callback.updated_by else None,
            )
    items = [found[key] for key in keys if key in found]
    ids = [i.screening_id for i in items if i.screening_id]
    if ids:
        answers: Dict[int, List[Answer]] = {}
        # the key and question as they were asked, stored with the answer (the criterion may
        # have been edited or removed since)
        for answer in session.scalars(
            select(ScreeningAnswer)
            .where(ScreeningAnswer.screening_id.in_(ids))
            .order_by(ScreeningAnswer.id)
        ):
            answers.setdefault(answer.screening_id, []).append(
                Answer(
                    answer.criterion_key,
                    answer.question or "",
                    answer.answer_text,
                    answer.value,
                    answer.result,
                )
            )
        for item in items:
            item.answers = answers.get(item.screening_id, []) if item.screening_id else []
    return items, total


def set_callback_status(
    session: Session, callback_id: int, status: str, username: str
) -> Tuple[str, str, str]:
    """-> (old status, new status, conversation id)."""
    if status not in FOLLOWUP_STATUSES:
        raise ValueError(status)
    callback = session.get(CallbackRequest, callback_id)
    if callback is None:
        raise LookupError(callback_id)
    old = callback.status
    callback.status, callback.updated_by, callback.updated_at = status, username, utcnow()
    return old, status, callback.conversation_id


def set_screening_status(
    session: Session, screening_id: int, status: str, username: str
) -> Tuple[str, str, str]:
    if status not in FOLLOWUP_STATUSES:
        raise ValueError(status)
    screening = session.get(Screening, screening_id)
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
    callback = session.get(CallbackRequest, callback_id)
    return (callback.phone, callback.conversation_id) if callback else None
