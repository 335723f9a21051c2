"""Who to call, e-mail, talking to a person, and the answers that hand over to people:
medical advice, the fallback."""

from __future__ import annotations

from typing import Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    Events,
    StudyAction,
    contact_line,
    intent_of,
    last_contact,
    load_study,
)
from actions.replies import say
from bot.config import get_settings
from bot.trial.queries import StudyFacts

WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "zh": ["周一", "周二", "周三", "周四", "周五", "周六", "周日"],
}


def office_hours(setting: str, language: str) -> Optional[str]:
    """STUDY_OFFICE_HOURS ("1-5 08:00-17:00") in words, or None when unset or unreadable."""
    try:
        days, hours = setting.split()
        first, last = (int(d) for d in days.split("-"))
        start, end = hours.split("-")
        names = WEEKDAYS[language]
        span = names[first - 1] if first == last else None
        if language == "zh":
            span = span or f"{names[first - 1]}至{names[last - 1]}"
            return f"{span} {start}–{end}"
        span = span or f"{names[first - 1]} to {names[last - 1]}"
        return f"{span}, {start} to {end}"
    except (ValueError, IndexError, KeyError):
        return None


def say_office_hours(dispatcher: CollectingDispatcher, language: str) -> None:
    hours = office_hours(get_settings().study_office_hours, language)
    if hours:
        say(dispatcher, language, "office_hours", hours=hours)
    else:
        say(dispatcher, language, "office_hours_unknown")


async def say_contact(
    dispatcher: CollectingDispatcher, language: str, study: Optional[StudyFacts] = None
) -> None:
    """The study phone: from the study, else read now, else the last one known."""
    if study is None:
        study = await load_study(CollectingDispatcher(), language)  # quiet when down
    line = (contact_line(study) if study else None) or last_contact(language)
    if line:
        say(dispatcher, language, "contact", contact=line)
    else:
        say(dispatcher, language, "no_contact")


class ActionContact(StudyAction):
    def name(self) -> Text:
        return "action_contact"

    async def answer(self, dispatcher, tracker, study) -> Events:
        await say_contact(dispatcher, study.language, study)
        return []


class ActionEmail(StudyAction):
    def name(self) -> Text:
        return "action_email"

    async def answer(self, dispatcher, tracker, study) -> Events:
        contact = study.email_contact
        if contact:
            say(dispatcher, study.language, "email", email=contact.email)
        else:
            say(dispatcher, study.language, "no_email")
            await say_contact(dispatcher, study.language, study)
        return []


class ActionRequestHuman(StudyAction):
    """ "Talk to a person" / "call me back": a callback request (the callback form) and the
    phone, and when the team usually calls. Inside the pre-screening, the phone only: the
    callback is offered when the questions are done."""

    def name(self) -> Text:
        return "action_request_human"

    async def answer(self, dispatcher, tracker: Tracker, study) -> Events:
        contact = contact_line(study) or last_contact(study.language) or ""
        if tracker.active_loop.get("name"):
            say(dispatcher, study.language, "human_in_form", contact=contact)
            say_office_hours(dispatcher, study.language)
            return []
        say(dispatcher, study.language, "human_offer", contact=contact)
        say_office_hours(dispatcher, study.language)
        say(dispatcher, study.language, "offer_callback")
        return [SlotSet("callback_offered", True), SlotSet("deletion_pending", False)]


class ActionMedicalAdvice(StudyAction):
    """Never advice: refer to the patient's doctor, and offer the study team for study questions."""

    def name(self) -> Text:
        return "action_medical_advice"

    async def answer(self, dispatcher, tracker, study) -> Events:
        say(dispatcher, study.language, "medical_advice")
        await say_contact(dispatcher, study.language, study)
        return []


class ActionFallback(StudyAction):
    """Low NLU confidence, an out-of-scope question, or a turn no rule covers: say what I can
    do (or that the record may not have it) and who to call. The message is reverted, so the
    conversation goes on as before it and the dialogue cannot loop on a turn it has no rule
    for."""

    def name(self) -> Text:
        return "action_fallback"

    async def answer(self, dispatcher, tracker: Tracker, study) -> Events:
        reply = "out_of_scope" if intent_of(tracker) == "out_of_scope" else "fallback"
        say(dispatcher, study.language, reply)
        await say_contact(dispatcher, study.language, study)
        return [UserUtteranceReverted()]
