"""What every action shares: the conversation's language, reading the trial database, and
answering when it is down."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, List, Optional, Text, TypeVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.replies import say
from bot.config import get_settings
from bot.db import database
from bot.language import LANGUAGES, decide
from bot.trial.queries import StudyFacts, format_contact, get_study

logger = logging.getLogger(__name__)
T = TypeVar("T")
Events = List[Dict[Text, Any]]

# The study's contact as last read from the database, so an outage still gets a number to call.
_last_contact: Dict[str, tuple] = {}


def intent_of(tracker: Tracker) -> Optional[str]:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def conversation_language(tracker: Tracker) -> str:
    """The language to answer in (bot.language.decide over the latest message)."""
    latest = tracker.latest_message or {}
    text = str(latest.get("text") or "")
    current = tracker.get_slot("language")
    chosen = next(
        (
            str(e.get("value"))
            for e in latest.get("entities") or []
            if e.get("entity") == "language"
        ),
        None,
    )
    if chosen in LANGUAGES:
        return chosen  # a language button or an explicit choice
    metadata = latest.get("metadata") or {}
    hint = metadata.get("language") if isinstance(metadata, dict) else None
    if text.startswith("/"):  # a button payload says nothing about the language
        text = ""
    return decide(
        text,
        current if current in LANGUAGES else None,
        hint,
        get_settings().default_language,
        switch=intent_of(tracker) == "switch_language",
    )


def language_events(tracker: Tracker, language: str) -> Events:
    """Keep the language on the conversation (the console shows and filters by it)."""
    return [] if tracker.get_slot("language") == language else [SlotSet("language", language)]


def _in_unit_of_work(fn: Callable[..., T], args: Any, kwargs: Any) -> T:
    with database(get_settings().database_url).unit_of_work() as session:
        return fn(session, *args, **kwargs)


async def db(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """fn(session, *args) in one unit of work on the trial database, off the event loop."""
    return await asyncio.to_thread(_in_unit_of_work, fn, args, kwargs)


def contact_line(study: StudyFacts) -> Optional[str]:
    """The study's contact line, remembered for when the database is down."""
    contact = study.phone_contact
    if contact is not None:
        _last_contact[study.nct_id] = (contact.name, contact.phone)
    return study.contact_line


def last_contact(language: str) -> Optional[str]:
    """The contact line read before the database went away, in a language."""
    known = _last_contact.get(get_settings().trial_id)
    return format_contact(known[0], known[1], language) if known else None


def reach_them(study: Optional[StudyFacts], language: str) -> str:
    """Who to call, for a sentence: the contact line, else 'the hospital'."""
    line = (contact_line(study) if study else None) or last_contact(language)
    return line or ("研究团队所在的医院" if language == "zh" else "the hospital")


def say_unavailable(dispatcher: CollectingDispatcher, language: str) -> None:
    """The database is down: say so, and give the last phone we read."""
    say(dispatcher, language, "data_unavailable")
    line = last_contact(language)
    if line:
        say(dispatcher, language, "contact", contact=line)


async def load_study(dispatcher: CollectingDispatcher, language: str) -> Optional[StudyFacts]:
    """This assistant's study, or None after telling the user why there is no answer."""
    try:
        study = await db(get_study, get_settings().trial_id, language)
    except SQLAlchemyError:
        logger.exception("trial database unavailable")
        study = None
    if study is None:
        say_unavailable(dispatcher, language)
        return None
    contact_line(study)
    return study


class StudyAction(Action, ABC):
    """An action that answers from this assistant's study record, in the conversation's
    language (the study's facts come in that language)."""

    @abstractmethod
    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, study: StudyFacts
    ) -> Events:
        """Say the answer with `say(dispatcher, study.language, ...)`; return events."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> Events:
        language = conversation_language(tracker)
        study = await load_study(dispatcher, language)
        if study is None:
            return language_events(tracker, language)
        try:
            events = await self.answer(dispatcher, tracker, study)
        except SQLAlchemyError:
            logger.exception("trial database unavailable")
            say_unavailable(dispatcher, language)
            events = []
        return events + language_events(tracker, language)


class ReplyAction(Action):
    """An action that says one fixed reply (wording only, no facts) in the conversation's
    language. Subclasses set `action_name` and `reply`."""

    action_name: str = ""
    reply: str = ""

    def name(self) -> Text:
        return self.action_name

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> Events:
        language = conversation_language(tracker)
        say(dispatcher, language, self.reply)
        return language_events(tracker, language)
