"""Real Rasa events, stored with Rasa's own SQLTrackerStore, so the `events` rows are exactly
what a running Rasa server stores."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence

from bot.config import ROOT

DAY = 86400.0
_domain = None


def domain() -> Any:
    global _domain
    if _domain is None:
        from rasa.shared.core.domain import Domain

        _domain = Domain.load(str(ROOT / "domain.yml"))
    return _domain


def user(
    text: str,
    intent: str,
    confidence: float = 0.97,
    entities: Sequence[Dict] = (),
    channel: str = "rest",
    ranking: Optional[List[Dict]] = None,
    at: Optional[float] = None,
):
    from rasa.shared.core.events import UserUttered

    parse = {
        "intent": {"name": intent, "confidence": confidence},
        "entities": list(entities),
        "text": text,
        "message_id": None,
        "metadata": {},
        "intent_ranking": ranking or [{"name": intent, "confidence": confidence}],
    }
    return UserUttered(
        text, parse["intent"], list(entities), parse_data=parse, timestamp=at, input_channel=channel
    )


def fallback_user(
    text: str,
    guess: str,
    guess_confidence: float,
    at: Optional[float] = None,
    channel: str = "rest",
):
    """What Rasa stores when the FallbackClassifier replaced the intent by nlu_fallback."""
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.45},
        {"name": guess, "confidence": guess_confidence},
    ]
    return user(text, "nlu_fallback", 0.45, ranking=ranking, at=at, channel=channel)


def action(name: str, at: Optional[float] = None, policy: str = "RulePolicy"):
    from rasa.shared.core.events import ActionExecuted

    return ActionExecuted(
        name, policy=policy if name != "action_listen" else None, confidence=1.0, timestamp=at
    )


def bot(text: str, at: Optional[float] = None, buttons: Sequence[Dict] = ()):
    from rasa.shared.core.events import BotUttered

    return BotUttered(text, {"buttons": list(buttons)} if buttons else {}, {}, timestamp=at)


def slot(name: str, value, at: Optional[float] = None):
    from rasa.shared.core.events import SlotSet

    return SlotSet(name, value, timestamp=at)


def loop(name: Optional[str], at: Optional[float] = None):
    from rasa.shared.core.events import ActiveLoop

    return ActiveLoop(name, timestamp=at)


def session_start(at: Optional[float] = None):
    from rasa.shared.core.events import SessionStarted

    return [
        action("action_session_start", at),
        SessionStarted(timestamp=at),
        action("action_listen", at),
    ]


def reverted(at: Optional[float] = None):
    from rasa.shared.core.events import UserUtteranceReverted

    return UserUtteranceReverted(timestamp=at)


def timed(events: Iterable, start: float, step: float = 1.0) -> List:
    """Gives the events consecutive timestamps from `start` (Rasa stamps them as they happen)."""
    out = []
    for i, event in enumerate(events):
        event.timestamp = start + i * step
        out.append(event)
    return out


async def save(store, sender: str, events: Iterable, tracker=None):
    """Stores the events as Rasa does after a turn; returns the tracker to add more turns to."""
    from rasa.shared.core.trackers import DialogueStateTracker

    if tracker is None:
        tracker = DialogueStateTracker(sender, domain().slots)
    for event in events:
        tracker.update(event)
    await store.save(tracker)
    return tracker


def turn(
    text: str, intent: str, reply: str, action_name: str, confidence: float = 0.97, **user_kwargs
) -> List:
    return [
        user(text, intent, confidence, **user_kwargs),
        action(action_name),
        bot(reply),
        action("action_listen"),
    ]
