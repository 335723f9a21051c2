"""Rasa's tracker store, read-only: its `events` table and the events of one conversation.

Rasa's SQLTrackerStore keeps one row per event (id, sender_id, type_name, timestamp,
intent_name, action_name, data = the event as JSON). The console reads it through the engine
of `database(settings.tracker_store_url)`; only the purge deletes from it.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple, overload

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, inspect, select
from sqlalchemy.engine import Engine

# Rasa's SQLTrackerStore.SQLEvent, declared here so the web app needs no Rasa import.
EVENTS = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("type_name", String(255), nullable=False),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)
FALLBACK_INTENT = "nlu_fallback"

_tables_seen: Set[str] = set()


@overload
def utc(dt: datetime) -> datetime: ...
@overload
def utc(dt: None) -> None: ...
def utc(dt: Optional[datetime]) -> Optional[datetime]:
    """Aware UTC datetime (SQLite hands back naive ones, which are stored as UTC)."""
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def from_epoch(ts: Optional[float]) -> datetime:
    return datetime.fromtimestamp(ts if ts is not None else time.time(), timezone.utc)


def has_events_table(engine: Engine) -> bool:
    """Rasa creates the table on its first start; until then there is nothing to read."""
    key = str(engine.url)
    if key not in _tables_seen and inspect(engine).has_table("events"):
        _tables_seen.add(key)
    return key in _tables_seen


def event_data(data: Optional[str]) -> Dict[str, Any]:
    """An event row's JSON, or {} when it is not a JSON object."""
    try:
        value = json.loads(data or "{}")
        return value if isinstance(value, dict) else {}
    except ValueError:
        return {}


def user_prediction(data: Mapping[str, Any]) -> Tuple[Optional[str], Optional[float], bool]:
    """(intent, confidence, fell to nlu_fallback); for nlu_fallback the intent the model
    actually ranked first, since the fallback's own confidence says nothing about the text."""
    parse = data.get("parse_data") or {}
    intent = parse.get("intent") or {}
    name, confidence = intent.get("name"), intent.get("confidence")
    if name == FALLBACK_INTENT:
        for ranked in parse.get("intent_ranking") or []:
            if ranked.get("name") and ranked.get("name") != FALLBACK_INTENT:
                return ranked.get("name"), ranked.get("confidence"), True
        return None, confidence, True
    return name, confidence, False


def load_events(engine: Engine, sender_id: str) -> List[Dict[str, Any]]:
    """The conversation's events in the order Rasa stored them (every session)."""
    if not has_events_table(engine):
        return []
    with engine.connect() as connection:
        rows = connection.execute(
            select(EVENTS).where(EVENTS.c.sender_id == sender_id).order_by(EVENTS.c.id)
        ).all()
    events = []
    for row in rows:
        data = event_data(row.data)
        data["_id"] = row.id
        data.setdefault("event", row.type_name)
        if row.timestamp is not None:
            data["timestamp"] = row.timestamp
        events.append(data)
    return events
