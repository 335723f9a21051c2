"""Eligibility pre-screening: consent first, then one database criterion at a time.

The form has two slots. `screening_consent` is asked once; `screening_answer` is asked again
for every criterion, the current one being `screening_step`. Nothing is stored before consent.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

from actions.common import contact_line, db, load_study
from actions.related import Filters, list_studies, study_lines
from actions.replies import say
from bot import screenings, trials
from bot.answers import judge, read_yes_no
from bot.settings import get_settings

MAX_REPHRASES = 2  # an unclear answer is asked again in other words at most twice
YES_NO_BUTTONS = [
    {"title": "Yes", "payload": "/affirm"},
    {"title": "No", "payload": "/deny"},
    {"title": "Not sure", "payload": "/unsure"},
]
RESET = ["screening_consent", "screening_answer", "screening_step", "screening_retries",
         "screening_outcome"]


def _intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _step(tracker: Tracker) -> int:
    return int(tracker.get_slot("screening_step") or 0)


def _channel(tracker: Tracker) -> Optional[str]:
    return tracker.get_latest_input_channel()


class ValidateScreeningForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_screening_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> List[Text]:
        if tracker.get_slot("screening_consent") == "no":
            return []  # no consent: the form ends without a single health question
        return domain_slots

    async def validate_screening_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain
    ) -> Dict[Text, Any]:
        answer = read_yes_no(str(value), _intent(tracker))
        if answer is None:
            say(dispatcher, "screening_unclear_consent")
            return {"screening_consent": None}
        if answer != "yes":
            return {"screening_consent": "no"}
        nct_id = get_settings().trial_id
        screening_id = await db(screenings.start, nct_id, tracker.sender_id, _channel(tracker))
        slots = {"screening_consent": "yes", "screening_id": screening_id,
                 "screening_step": 0, "screening_retries": 0}
        if not await db(trials.criteria, nct_id):
            await db(screenings.finish, screening_id, "unsure")
            slots.update(screening_answer="done", screening_outcome="unsure")
        return slots

    async def validate_screening_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain
    ) -> Dict[Text, Any]:
        criteria = await db(trials.criteria, get_settings().trial_id)
        step, screening_id = _step(tracker), int(tracker.get_slot("screening_id"))
        criterion = criteria[min(step, len(criteria) - 1)]
        text = str(value)
        answer, result = judge(criterion, text, _intent(tracker))
        if answer is None:
            retries = int(tracker.get_slot("screening_retries") or 0) + 1
            if retries <= MAX_REPHRASES:
                say(dispatcher, "screening_unclear_answer")
                return {"screening_answer": None, "screening_retries": retries}
            answer, result = "unsure", "unsure"
        await db(screenings.record_answer, screening_id, criterion.id, text, answer, result)

        outcome = None
        if result == "fail":  # ruled out: stop asking
            outcome = "not_eligible"
        elif step + 1 >= len(criteria):
            answers = await db(screenings.results, screening_id)
            outcome = "unsure" if any(a.result == "unsure" for a in answers) else "may_be_eligible"
        if outcome:
            await db(screenings.finish, screening_id, outcome)
            return {"screening_answer": "done", "screening_outcome": outcome}
        return {"screening_answer": None, "screening_step": step + 1, "screening_retries": 0}


class ActionAskScreeningConsent(Action):
    def name(self) -> Text:
        return "action_ask_screening_consent"

    async def run(self, dispatcher, tracker, domain) -> List[Dict[Text, Any]]:
        study = await load_study(dispatcher)
        if study is None:
            return [ActiveLoop(None), SlotSet("requested_slot", None)]
        count = len(await db(trials.criteria, study.nct_id))
        say(dispatcher, "screening_consent", count=count, nct_id=study.nct_id,
            sponsor=study.sponsor or "this hospital",
        )
        return []


class ActionAskScreeningAnswer(Action):
    def name(self) -> Text:
        return "action_ask_screening_answer"

    async def run(self, dispatcher, tracker, domain) -> List[Dict[Text, Any]]:
        criteria = await db(trials.criteria, get_settings().trial_id)
        step = min(_step(tracker), len(criteria) - 1)
        criterion = criteria[step]
        rephrase = int(tracker.get_slot("screening_retries") or 0) > 0 and criterion.rephrase
        question = f"({step + 1} of {len(criteria)}) {rephrase or criterion.question}"
        if criterion.answer_type == "yes_no":
            buttons = YES_NO_BUTTONS
        elif criterion.answer_type == "choice":
            buttons = [{"title": c, "payload": c} for c in criterion.choices]
        else:
            buttons = []
        dispatcher.utter_message(text=question, buttons=buttons)
        return []


class ActionScreeningOutcome(Action):
    """Runs when the form ends: the outcome, what to do next, and the study phone."""

    def name(self) -> Text:
        return "action_screening_outcome"

    async def run(self, dispatcher, tracker, domain) -> List[Dict[Text, Any]]:
        events = [SlotSet(slot, None) for slot in RESET]
        study = await load_study(dispatcher)
        if study is None:
            return events
        contact = contact_line(study) or "through the hospital"
        outcome = tracker.get_slot("screening_outcome")
        if tracker.get_slot("screening_consent") == "no":
            say(dispatcher, "screening_no_consent")
            say(dispatcher, "status", nct_id=study.nct_id, status=study.status_label
            )
            say(dispatcher, "contact", contact=contact)
        elif outcome == "may_be_eligible":
            say(dispatcher, "screening_may_be_eligible")
            say(dispatcher, "contact", contact=contact)
            say(dispatcher, "offer_callback")
            events.append(SlotSet("callback_offered", True))
        elif outcome == "not_eligible":
            await self._not_eligible(dispatcher, tracker, study, contact)
        else:
            say(dispatcher, "screening_unsure", contact=contact)
        return events

    async def _not_eligible(self, dispatcher, tracker, study, contact) -> None:
        failed = [a for a in await db(screenings.results, int(tracker.get_slot("screening_id")))
                  if a.result == "fail"]
        by_key = {c.key: c for c in await db(trials.criteria, study.nct_id)}
        reason = by_key[failed[-1].criterion].fail_reason if failed else "of one of the answers"
        say(dispatcher, "screening_not_eligible", reason=reason)
        filters = Filters(recruiting_only=True, liver_only=True)
        found, total = await db(
            trials.related_studies, study.nct_id, recruiting_only=True, liver_only=True, limit=3
        )
        if found:
            say(dispatcher, "related_alternatives", studies=study_lines(found))
        else:
            list_studies(dispatcher, found, total, filters)
        say(dispatcher, "contact", contact=contact)


class ActionStopScreening(Action):
    """'Stop' or 'cancel': end the questions at once and keep what was answered, marked stopped."""

    def name(self) -> Text:
        return "action_stop_screening"

    async def run(self, dispatcher, tracker, domain) -> List[Dict[Text, Any]]:
        screening_id = tracker.get_slot("screening_id")
        if screening_id is not None and tracker.get_slot("screening_consent") == "yes":
            await db(screenings.finish, int(screening_id), "stopped")
        say(dispatcher, "screening_stopped")
        return [ActiveLoop(None), SlotSet("requested_slot", None),
                *[SlotSet(slot, None) for slot in RESET]]
