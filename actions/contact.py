"""Who to call, e-mail, and the answers that hand over to people: medical advice and fallback."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk.events import UserUtteranceReverted

from actions.common import StudyAction, contact_line
from actions.replies import say


def say_contact(dispatcher, study) -> None:
    contact = contact_line(study)
    if contact:
        say(dispatcher, "contact", contact=contact)
    else:
        say(dispatcher, "no_contact")


class ActionContact(StudyAction):
    def name(self) -> Text:
        return "action_contact"

    async def answer(self, dispatcher, tracker, study) -> List[Dict[Text, Any]]:
        say_contact(dispatcher, study)
        return []


class ActionEmail(StudyAction):
    def name(self) -> Text:
        return "action_email"

    async def answer(self, dispatcher, tracker, study) -> List[Dict[Text, Any]]:
        contact = study.email_contact
        if contact:
            say(dispatcher, "email", email=contact.email)
        else:
            say(dispatcher, "no_email")
            say_contact(dispatcher, study)
        return []


class ActionMedicalAdvice(StudyAction):
    """Never advice: refer to the patient's doctor, and offer the study team for study questions."""

    def name(self) -> Text:
        return "action_medical_advice"

    async def answer(self, dispatcher, tracker, study) -> List[Dict[Text, Any]]:
        say(dispatcher, "medical_advice")
        say_contact(dispatcher, study)
        return []


class ActionFallback(StudyAction):
    """Low NLU confidence, an out-of-scope question, or a turn no rule covers: say what I can
    do and who to call. The message is reverted, so the conversation goes on as before it and
    the dialogue cannot loop on a turn it has no rule for."""

    def name(self) -> Text:
        return "action_fallback"

    async def answer(self, dispatcher, tracker, study) -> List[Dict[Text, Any]]:
        say(dispatcher, "fallback")
        say_contact(dispatcher, study)
        return [UserUtteranceReverted()]
