"""A callback request for the study team: name and phone, validated, stored only when given.

It follows a "may be eligible" outcome, or a patient's "call me back" at any time. A flood of
requests from one conversation is refused politely (CALLBACKS_PER_DAY)."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any, Dict, Text

import phonenumbers
from rasa_sdk import Action
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.forms import FormValidationAction
from sqlalchemy.exc import SQLAlchemyError

from actions.common import (
    Events,
    conversation_language,
    db,
    language_events,
    load_study,
    reach_them,
    say_unavailable,
)
from actions.replies import say
from bot.config import get_settings
from bot.db import utcnow
from bot.screening import records

logger = logging.getLogger(__name__)
RESET = [
    SlotSet("callback_offered", False),
    SlotSet("callback_name", None),
    SlotSet("callback_phone", None),
]
NAME = re.compile(r"[^\W\d_][^\d<>{}\[\]@#$%^*=+|\\/]{0,99}")
CALLBACKS_PER_DAY = 3
UNNAMED = {"en": "this hospital", "zh": "医院"}


def clean_name(text: str) -> str:
    name = " ".join(text.split())
    name = re.sub(r"^(my name is|i am|i'm|it's|this is|call me)\s+", "", name, flags=re.IGNORECASE)
    name = re.sub(r"^(我叫|我是|我姓|叫我|名字是|姓名[:：]?|联系人[:：]?)", "", name)
    return name.strip(" .,!。，！")


def clean_phone(text: str) -> str:
    """The number in international format, or '' when it is not a valid phone number."""
    digits = re.sub(r"^(我的)?(电话|手机|号码|手机号|电话号码)(是|[:：])?", "", text.strip())
    try:
        number = phonenumbers.parse(digits, get_settings().phone_region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


class ValidateCallbackForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_callback_form"

    async def validate_callback_name(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        language = conversation_language(tracker)
        name = clean_name(str(value))
        # two letters for a Latin name; a Chinese name may be two characters, e.g. 王芳
        if not NAME.fullmatch(name) or len(name) < 2:
            say(dispatcher, language, "invalid_callback_name")
            return {"callback_name": None}
        return {"callback_name": name}

    async def validate_callback_phone(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        language = conversation_language(tracker)
        phone = clean_phone(str(value))
        if not phone:
            say(dispatcher, language, "invalid_callback_phone")
            return {"callback_phone": None}
        return {"callback_phone": phone}


class ActionSaveCallback(Action):
    """Stores the request (with the screening it follows, if any) and says who will call."""

    def name(self) -> Text:
        return "action_save_callback"

    async def run(self, dispatcher, tracker, domain) -> Events:
        language = conversation_language(tracker)
        study = await load_study(dispatcher, language)
        if study is None:  # load_study said so, with the last known phone
            return offer_again(dispatcher, tracker, language)
        name, phone = tracker.get_slot("callback_name"), tracker.get_slot("callback_phone")
        screening_id = tracker.get_slot("screening_id")
        contact = reach_them(study, language)
        try:
            since = utcnow() - timedelta(days=1)
            if await db(records.recent_callbacks, tracker.sender_id, since) >= CALLBACKS_PER_DAY:
                say(dispatcher, language, "callback_limit", contact=contact)
                return RESET + language_events(tracker, language)
            if screening_id is not None:
                await db(records.add_callback, int(screening_id), name, phone)
            else:
                await db(records.add_direct_callback, study.nct_id, tracker.sender_id, name, phone)
        except SQLAlchemyError:
            logger.exception("trial database unavailable: callback not stored yet")
            say_unavailable(dispatcher, language)
            return offer_again(dispatcher, tracker, language)
        say(
            dispatcher,
            language,
            "callback_saved",
            name=name,
            phone=phone,
            sponsor=study.sponsor or UNNAMED[language],
            contact=contact,
        )
        return RESET + language_events(tracker, language)


def offer_again(dispatcher, tracker, language: str) -> Events:
    """The request could not be stored: it stays in the slots and the offer stands, so a "yes"
    runs the (already filled) form again and saves it."""
    say(dispatcher, language, "offer_callback")
    return [SlotSet("callback_offered", True)] + language_events(tracker, language)


class ActionDeclineCallback(Action):
    """No callback (or 'stop' while giving one): nothing is stored; the phone is given."""

    def name(self) -> Text:
        return "action_decline_callback"

    async def run(self, dispatcher, tracker, domain) -> Events:
        language = conversation_language(tracker)
        study = await load_study(dispatcher, language)
        say(dispatcher, language, "callback_declined", contact=reach_them(study, language))
        return [ActiveLoop(None), SlotSet("requested_slot", None), *RESET] + language_events(
            tracker, language
        )


class ActionAskCallbackName(Action):
    def name(self) -> Text:
        return "action_ask_callback_name"

    async def run(self, dispatcher, tracker, domain) -> Events:
        language = conversation_language(tracker)
        say(dispatcher, language, "ask_callback_name")
        # The offer is taken: from here a "no" is an answer inside the form, not a decline.
        return [SlotSet("callback_offered", False)] + language_events(tracker, language)


class ActionAskCallbackPhone(Action):
    def name(self) -> Text:
        return "action_ask_callback_phone"

    async def run(self, dispatcher, tracker, domain) -> Events:
        language = conversation_language(tracker)
        say(dispatcher, language, "ask_callback_phone")
        return language_events(tracker, language)
