"""What staff add to a conversation: review marks, tags and notes (keyed by Rasa sender id)."""

from __future__ import annotations

import re
from typing import Dict, Iterable, List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console.models import (
    ConversationNote,
    ConversationReview,
    ConversationSummary,
    ConversationTag,
)
from bot.db import utcnow

TAG_RE = re.compile(r"[a-z0-9][a-z0-9 _-]{0,39}")


def clean_tag(text: str) -> Optional[str]:
    """A tag as stored (lower case, single spaces), or None when it is not a valid tag."""
    tag = " ".join(text.lower().split())[:40]
    return tag if TAG_RE.fullmatch(tag) else None


def set_reviewed(session: Session, sender_id: str, reviewed: bool, username: str) -> None:
    existing = session.get(ConversationReview, sender_id)
    if reviewed and existing is None:
        session.add(
            ConversationReview(sender_id=sender_id, reviewed_by=username, reviewed_at=utcnow())
        )
    elif not reviewed and existing is not None:
        session.delete(existing)


def add_tag(session: Session, sender_id: str, tag: str, username: str) -> None:
    existing = session.scalars(
        select(ConversationTag).where(
            ConversationTag.sender_id == sender_id, ConversationTag.tag == tag
        )
    ).first()
    if existing is None:
        session.add(ConversationTag(sender_id=sender_id, tag=tag, created_by=username))


def remove_tag(session: Session, sender_id: str, tag: str) -> None:
    existing = session.scalars(
        select(ConversationTag).where(
            ConversationTag.sender_id == sender_id, ConversationTag.tag == tag
        )
    ).first()
    if existing is not None:
        session.delete(existing)


def add_note(session: Session, sender_id: str, text: str, username: str) -> None:
    session.add(ConversationNote(sender_id=sender_id, author=username, text=text))


def notes(session: Session, sender_id: str) -> List[ConversationNote]:
    return list(
        session.scalars(
            select(ConversationNote)
            .where(ConversationNote.sender_id == sender_id)
            .order_by(ConversationNote.created_at)
        )
    )


def summary_ids(session: Session, sender_ids: Iterable[str]) -> Dict[str, int]:
    """The console's conversation id of each sender id that has one (for links)."""
    wanted = list(set(sender_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(ConversationSummary.sender_id, ConversationSummary.id).where(
            ConversationSummary.sender_id.in_(wanted)
        )
    ).all()
    return {sender: ident for sender, ident in rows}
