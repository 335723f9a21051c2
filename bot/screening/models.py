"""Screening records and callback requests: what a consenting person told the assistant.

Written only after consent (the pre-screening form, the callback form); read by the study team.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import relationship

from bot.db import Base, utcnow
from bot.trial.models import Criterion, Study


class Screening(Base):
    """One pre-screening attempt; stored only after the person consented."""

    __tablename__ = "screening"

    id = Column(Integer, primary_key=True)
    study_id = Column(ForeignKey("study.id", ondelete="CASCADE"), nullable=False, index=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    channel = Column(String(60))
    consent_at = Column(DateTime(timezone=True), nullable=False)
    finished_at = Column(DateTime(timezone=True))
    # in_progress / may_be_eligible / not_eligible / unsure / stopped
    outcome = Column(String(20), nullable=False, default="in_progress", index=True)

    answers = relationship(
        "ScreeningAnswer", cascade="all, delete-orphan", order_by="ScreeningAnswer.id"
    )
    callback = relationship("CallbackRequest", uselist=False, back_populates="screening")
    study = relationship(Study)


class ScreeningAnswer(Base):
    """One answer, kept as it was given: the criterion's key and the question as it was asked
    are stored with it, so editing or removing the criterion later (a registry refresh, a
    criteria file) never changes or deletes it; the link to the criterion row is then NULL."""

    __tablename__ = "screening_answer"
    __table_args__ = (UniqueConstraint("screening_id", "criterion_key"),)

    id = Column(Integer, primary_key=True)
    screening_id = Column(ForeignKey("screening.id", ondelete="CASCADE"), nullable=False)
    criterion_id = Column(ForeignKey("criterion.id", ondelete="SET NULL"), nullable=True)
    criterion_key = Column(String(60), nullable=False)
    question = Column(Text)  # as it was asked
    answer_text = Column(Text)  # what the person wrote, last attempt
    value = Column(String(40))  # yes / no / unsure / a number / a choice
    result = Column(String(10), nullable=False)  # pass / fail / unsure
    answered_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)

    criterion = relationship(Criterion)


class CallbackRequest(Base):
    __tablename__ = "callback_request"

    id = Column(Integer, primary_key=True)
    screening_id = Column(ForeignKey("screening.id", ondelete="SET NULL"), unique=True)
    study_id = Column(ForeignKey("study.id", ondelete="CASCADE"), nullable=False)
    conversation_id = Column(String(255), nullable=False)
    name = Column(String(200), nullable=False)
    phone = Column(String(40), nullable=False)
    status = Column(String(20), nullable=False, default="new", index=True)  # new/contacted/closed
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)
    updated_by = Column(String(120))

    screening = relationship("Screening", back_populates="callback")


class DeletionRequest(Base):
    """A patient asked, in the conversation, for their data to be deleted (PIPL Art. 15, 47).

    Their screening answers and callback requests are deleted at once; the conversation itself
    is deleted from Rasa's tracker store by the next `python -m bot logs purge`."""

    __tablename__ = "deletion_request"

    conversation_id = Column(String(255), primary_key=True)
    requested_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    deleted = Column(Text)  # what was deleted at once, as JSON counts
    purged_at = Column(DateTime(timezone=True))  # when the conversation left the tracker store
