"""Tables of the staff console, in the trial database, on the same metadata as bot.models.

The console never writes Rasa's tracker store (except `logs purge`); everything it adds to a
conversation (summary, review, tags, notes, NLU inbox decisions) lives here, keyed by the
conversation's Rasa sender id. Migration: bot/migrations/versions/0002_staff_console.py.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)

from bot.db import Base, utcnow

ROLES = ("coordinator", "admin")
NLU_STATES = ("new", "accepted", "irrelevant")


class StaffUser(Base):
    __tablename__ = "staff_user"

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    password_hash = Column(String(255), nullable=False)
    role = Column(String(20), nullable=False, default="coordinator")  # coordinator / admin
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    password_changed_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    last_login_at = Column(DateTime(timezone=True))


class StaffSession(Base):
    """A signed-in staff session, server side: the cookie carries a random token whose SHA-256
    is the id here. Signing out, disabling the user or changing the password ends it at once,
    whatever the cookie still says. Migration: 0005_staff_sessions.py."""

    __tablename__ = "staff_session"

    id = Column(String(64), primary_key=True)  # sha256 hex of the cookie's token
    user_id = Column(ForeignKey("staff_user.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    ended_at = Column(DateTime(timezone=True))
    ip = Column(String(64))


class LoginThrottle(Base):
    """Sign-in attempts per key ("pair:NAME|ADDRESS", "ip:ADDRESS", "user:NAME"), counted
    before the password is checked and given back on success; a growing lockout after a few."""

    __tablename__ = "login_throttle"

    key = Column(String(200), primary_key=True)
    failures = Column(Integer, nullable=False, default=0)
    last_failure_at = Column(DateTime(timezone=True))
    locked_until = Column(DateTime(timezone=True))


class AuditLog(Base):
    """Who viewed, revealed, exported or changed what, and when. Never holds revealed values."""

    __tablename__ = "audit_log"

    id = Column(Integer, primary_key=True)
    at = Column(DateTime(timezone=True), nullable=False, default=utcnow, index=True)
    username = Column(String(64), index=True)  # "cli" for command-line actions
    role = Column(String(20))
    action = Column(String(40), nullable=False, index=True)
    target = Column(String(300))
    detail = Column(Text)  # JSON
    ip = Column(String(64))


class ConversationSummary(Base):
    """One row per Rasa conversation (sender id), kept up to date from the tracker store's
    events by bot.conversations.index_events, so listing never loads whole conversations."""

    __tablename__ = "conversation_summary"
    __table_args__ = (Index("ix_conversation_summary_started", "started_at", "id"),)

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(255), nullable=False, unique=True)
    started_at = Column(DateTime(timezone=True), nullable=False)
    last_event_at = Column(DateTime(timezone=True), nullable=False, index=True)
    channel = Column(String(60), index=True)
    language = Column(String(8), index=True)  # the conversation's language slot (en / zh)
    turns = Column(Integer, nullable=False, default=0)  # user messages
    bot_turns = Column(Integer, nullable=False, default=0)
    fallback_count = Column(Integer, nullable=False, default=0, index=True)
    min_confidence = Column(Float, index=True)
    screening_outcome = Column(String(20), index=True)  # latest screening's outcome, if any
    callback_asked = Column(Boolean, nullable=False, default=False, index=True)
    handoff = Column(Boolean, nullable=False, default=False, index=True)
    preview = Column(Text)  # the first user message
    search_text = Column(Text)  # the user messages, lower-cased, for the free-text filter
    first_event_id = Column(Integer)
    last_event_id = Column(Integer)
    # indexer state: the last user message and whether it already counted as a fallback
    last_user_event_id = Column(Integer)
    last_user_fallback = Column(Boolean, nullable=False, default=False)


class ConversationReview(Base):
    __tablename__ = "conversation_review"

    sender_id = Column(String(255), primary_key=True)
    reviewed_by = Column(String(64), nullable=False)
    reviewed_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class ConversationTag(Base):
    __tablename__ = "conversation_tag"
    __table_args__ = (UniqueConstraint("sender_id", "tag"),)

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(255), nullable=False)
    tag = Column(String(40), nullable=False, index=True)
    created_by = Column(String(64))
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class ConversationNote(Base):
    __tablename__ = "conversation_note"

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(255), nullable=False, index=True)
    author = Column(String(64), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    text = Column(Text, nullable=False)


class NluInboxItem(Base):
    """A user message that fell to fallback or had low intent confidence, for staff to label."""

    __tablename__ = "nlu_inbox"

    id = Column(Integer, primary_key=True)
    event_id = Column(Integer, nullable=False, unique=True)  # events.id in the tracker store
    sender_id = Column(String(255), nullable=False, index=True)
    text = Column(Text, nullable=False)
    predicted_intent = Column(String(120))
    confidence = Column(Float)
    reason = Column(String(20), nullable=False)  # fallback / low_confidence
    said_at = Column(DateTime(timezone=True), nullable=False)
    status = Column(String(20), nullable=False, default="new", index=True)
    intent = Column(String(120))  # the intent staff picked (status accepted)
    decided_by = Column(String(64))
    decided_at = Column(DateTime(timezone=True))
    exported_at = Column(DateTime(timezone=True))


class ScreeningFollowup(Base):
    """Follow-up status of a screening record (callback requests carry their own status)."""

    __tablename__ = "screening_followup"

    screening_id = Column(ForeignKey("screening.id", ondelete="CASCADE"), primary_key=True)
    status = Column(String(20), nullable=False, default="new")
    updated_by = Column(String(64))
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)


class IndexerState(Base):
    """How far the conversation indexer has read the tracker store's events table."""

    __tablename__ = "indexer_state"

    name = Column(String(40), primary_key=True)
    last_event_id = Column(Integer, nullable=False, default=0)
    # ids below last_event_id not seen yet (a transaction still open when we read): JSON
    # [[low, high, first_seen_epoch], ...], re-read until they appear or grow old
    gaps = Column(Text, nullable=False, default="[]")
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
