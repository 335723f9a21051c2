"""A patient's rights over what they told the assistant (PIPL Art. 15 and 47): what is stored for
their conversation, and deleting it.

Deleting removes the conversation's screening records (with their answers and follow-up status)
and callback requests at once, and records a deletion request; `python -m bot logs purge`
then removes the conversation itself from Rasa's tracker store, whatever its age.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Dict

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.screening.models import CallbackRequest, DeletionRequest, Screening, ScreeningAnswer


@dataclass(frozen=True)
class Stored:
    screening_answers: int
    callbacks: int


def stored_for(session: Session, conversation_id: str) -> Stored:
    answers = session.scalar(
        select(func.count())
        .select_from(ScreeningAnswer)
        .join(Screening, Screening.id == ScreeningAnswer.screening_id)
        .where(Screening.conversation_id == conversation_id)
    )
    callbacks = session.scalar(
        select(func.count()).where(CallbackRequest.conversation_id == conversation_id)
    )
    return Stored(int(answers or 0), int(callbacks or 0))


def delete_for(session: Session, conversation_id: str) -> Dict[str, int]:
    """Delete the conversation's screenings and callbacks now; mark it for the purge."""
    callbacks = session.execute(
        delete(CallbackRequest).where(CallbackRequest.conversation_id == conversation_id)
    ).rowcount
    ids = list(
        session.scalars(select(Screening.id).where(Screening.conversation_id == conversation_id))
    )
    if ids:
        session.execute(delete(ScreeningAnswer).where(ScreeningAnswer.screening_id.in_(ids)))
    # the database cascades to the console's follow-up rows of these screenings
    screenings = session.execute(delete(Screening).where(Screening.id.in_(ids or [-1]))).rowcount
    counts = {"screenings": int(screenings or 0), "callbacks": int(callbacks or 0)}
    request = session.get(DeletionRequest, conversation_id)
    if request is None:
        request = DeletionRequest(conversation_id=conversation_id)
        session.add(request)
    request.requested_at, request.purged_at = utcnow(), None
    request.deleted = json.dumps(counts)
    session.flush()
    return counts
