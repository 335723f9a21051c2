"""Tables the channels keep in the trial database."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, String

from bot.db import Base


class ChannelReplay(Base):
    """A signed webhook request already handled (e.g. WeChat's timestamp + nonce), kept until it
    could no longer pass the freshness check, so a replay fails on every replica and after a
    restart. With REDIS_URL set, Redis keeps them instead."""

    __tablename__ = "channel_replay"

    key = Column(String(200), primary_key=True)
    expires_at = Column(DateTime(timezone=True), nullable=False, index=True)
