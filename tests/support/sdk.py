"""Real rasa_sdk Trackers, and running actions the way the action server does."""

from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

DOMAIN: Dict[str, Any] = {}


def tracker(
    text: str = "",
    intent: Optional[str] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
    active_loop: Optional[str] = None,
    sender_id: str = "test-user",
    channel: str = "rest",
    language: Optional[str] = "en",
    metadata: Optional[Dict[str, Any]] = None,
) -> Tracker:
    """A tracker after the user's message; `language` is the conversation's so far (the slot;
    None: not known yet)."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99} if intent else {},
        "entities": entities or [],
        "metadata": metadata or {},
    }
    slots = {"language": language, **(slots or {})}
    events = [{"event": "user", "text": text, "parse_data": latest, "input_channel": channel}]
    return Tracker(
        sender_id,
        slots,
        latest,
        events,
        False,
        None,
        {"name": active_loop} if active_loop else {},
        "action_listen",
    )


async def run(action, t: Tracker, domain: Optional[Dict[str, Any]] = None):
    """(texts the action said, events it returned)."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, domain or DOMAIN)
    return [m.get("text") or "" for m in dispatcher.messages], events, dispatcher.messages
