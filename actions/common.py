"""What every trial action shares: loading this study, and answering when the database is down."""
from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions.replies import say
from bot import trials
from bot.settings import get_settings

logger = logging.getLogger(__name__)

# The last contact line read from the database, so an outage still gets a number to call.
_last_contact: Dict[str, str] = {}


def contact_line(study: trials.StudyFacts) -> Optional[str]:
    """'Chang Liu, MD at 0086-…', or None when the study lists no phone."""
    contact = study.phone_contact
    if contact is None:
        return None
    line = f"{contact.name} at {contact.phone}" if contact.name else contact.phone
    _last_contact[study.nct_id] = line
    return line


async def db(function, *args, **kwargs):
    """Run a blocking trial-database call off the event loop."""
    return await asyncio.to_thread(function, *args, **kwargs)


async def load_study(dispatcher: CollectingDispatcher) -> Optional[trials.StudyFacts]:
    """This assistant's study, or None after telling the user why there is no answer."""
    nct_id = get_settings().trial_id
    try:
        study = await db(trials.get_study, nct_id)
    except SQLAlchemyError:
        logger.exception("trial database unavailable")
        study = None
    if study is None:
        say(dispatcher, "data_unavailable")
        if nct_id in _last_contact:
            say(dispatcher, "contact", contact=_last_contact[nct_id])
        return None
    contact_line(study)
    return study


def join_words(items: List[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


class StudyAction(Action, ABC):
    """An action that answers from this assistant's study record."""

    @abstractmethod
    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, study: trials.StudyFacts
    ) -> List[Dict[Text, Any]]:
        """Say the answer with `say(...)`; return the events to apply."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        study = await load_study(dispatcher)
        if study is None:
            return []
        try:
            return await self.answer(dispatcher, tracker, study)
        except SQLAlchemyError:
            logger.exception("trial database unavailable")
            say(dispatcher, "data_unavailable")
            return []
