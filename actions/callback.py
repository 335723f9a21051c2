"""A callback request for the study team: name and phone, validated, stored only when given."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Text

import phonenumbers
from rasa_sdk import Action
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.forms import FormValidationAction

from actions.common import contact_line, db, load_study
from actions.replies import say
from bot import screenings
from bot.settings import get_settings

RESET = [SlotSet("callback_offered", False), SlotSet("callback_name", None),
         SlotSet("callback_phone", None)]
NAME = re.compile(r"[^\W\d_][^\d<>{}\[\]@#$%^*=+|\\/]{1,99}")


def clean_name(text: str) -> str:
    name = " ".join(text.split())
    name = re.sub(r"^(my name is|i am|i'm|it's|this is|call me)\s+", "", name, flags=re.IGNORECASE)
    return name.strip(" .,!")


def clean_phone(text: str) -> str:
    """The number in international format, or '' when it is not a valid phone number."""
    try:
        number = phonenumbers.parse(text, get_settings().phone_region)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number):
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


class ValidateCallbackForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_callback_form"

    async def validate_callback_name(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        name = clean_name(str(value))
        if not NAME.fullmatch(name):
            say(dispatcher, "invalid_callback_name")
            return {"callback_name": None}
        return {"callback_name": name}

    async def validate_callback_phone(self, value, dispatcher, tracker, domain) -> Dict[Text, Any]:
        phone = clean_phone(str(value))
        if not phone:
            say(dispatcher, "invalid_callback_phone")
            return {"callback_phone": None}
        return {"callback_phone": phone}


class ActionSaveCallback(Action):
    def name(self) -> Text:
        return "action_save_callback"

    async def run(self, dispatcher, tracker, domain) -> List[Dict[Text, Any]]:
        study = await load_study(dispatcher)
        if study is None:
            return []
        name, phone = tracker.get_slot("callback_name"), tracker.get_slot("callback_phone")
        await db(screenings.add_callback, int(tracker.get_slot("screening_id")), name, phone)
        say(dispatcher, "callback_saved", name=name, phone=phone,
            sponsor=study.sponsor or "this hospital",
            contact=contact_line(study) or "through the hospital",
        )
        return RESET


class ActionDeclineCallback(Action):
    """No callback (or 'stop' while giving one): nothing is stored; the phone is given."""

    def name(self) -> Text:
        return "action_decline_callback"

    async def run(self, dispatcher, tracker, domain) -> List[Dict[Text, Any]]:
        study = await load_study(dispatcher)
        contact = (contact_line(study) if study else None) or "through the hospital"
        say(dispatcher, "callback_declined", contact=contact)
        return [ActiveLoop(None), SlotSet("requested_slot", None), *RESET]


class ActionAskCallbackName(Action):
    def name(self) -> Text:
        return "action_ask_callback_name"

    async def run(self, dispatcher, tracker, domain) -> List[Dict[Text, Any]]:
        say(dispatcher, "ask_callback_name")
        # The offer is taken: from here a "no" is an answer inside the form, not a decline.
        return [SlotSet("callback_offered", False)]


class ActionAskCallbackPhone(Action):
    def name(self) -> Text:
        return "action_ask_callback_phone"

    async def run(self, dispatcher, tracker, domain) -> List[Dict[Text, Any]]:
        say(dispatcher, "ask_callback_phone")
        return []
