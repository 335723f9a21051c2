"""Eligibility pre-screening: consent first, then one database criterion at a time, in the
conversation's language.

The form has two slots. `screening_consent` is asked once; `screening_answer` is asked again
for every criterion, the current one being `screening_step`. Nothing is stored before consent.
When the trial database is down, the patient is told so once, with the last known phone, and
the form keeps its place: the next answer goes on where it was.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
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
from actions.related import THIS_STUDY_CONDITION, Filters, list_studies, study_lines
from actions.replies import render, say, variant
from bot.config import get_settings
from bot.screening import records
from bot.screening.answers import judge, read_yes_no
from bot.trial import queries

logger = logging.getLogger(__name__)
MAX_REPHRASES = 2  # an unclear answer is asked again in other words at most twice
RESET = [
    "screening_consent",
    "screening_answer",
    "screening_step",
    "screening_retries",
    "screening_outcome",
]
CHOICES = {"zh": {"female": "女", "male": "男"}}
BECAUSE_OF_AN_ANSWER = {"en": "of one of the answers", "zh": "其中一个回答不符合要求"}


def _intent(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def _step(tracker: Tracker) -> int:
    return int(tracker.get_slot("screening_step") or 0)


def said_this_turn(tracker: Tracker, language: str, reply: str) -> bool:
    """Whether a reply was already sent since the patient's last message (no reply twice)."""
    text = render(reply, language)
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot" and event.get("text") == text:
            return True
    return False


class ValidateScreeningForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_screening_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> List[Text]:
        if tracker.get_slot("screening_consent") == "no":
            return []  # no consent: the form ends without a single health question
        return domain_slots

    async def validate_screening_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Any
    ) -> Dict[Text, Any]:
        language = conversation_language(tracker)
        answer = read_yes_no(str(value), _intent(tracker))
        if answer is None:
            say(dispatcher, language, "screening_unclear_consent")
            return {"screening_consent": None, "language": language}
        if answer != "yes":
            return {"screening_consent": "no", "language": language}
        nct_id = get_settings().trial_id
        try:
            screening_id = await db(
                records.start, nct_id, tracker.sender_id, tracker.get_latest_input_channel()
            )
            criteria = await db(queries.criteria, nct_id, language)
        except SQLAlchemyError:
            logger.exception("trial database unavailable at consent")
            say_unavailable(dispatcher, language)
            return {"screening_consent": None, "language": language}  # asked again later
        slots: Dict[Text, Any] = {
            "screening_consent": "yes",
            "screening_id": screening_id,
            "screening_step": 0,
            "screening_retries": 0,
            "language": language,
        }
        if not criteria:
            await db(records.finish, screening_id, "unsure")
            slots.update(screening_answer="done", screening_outcome="unsure")
        return slots

    async def validate_screening_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Any
    ) -> Dict[Text, Any]:
        language = conversation_language(tracker)
        step, screening_id = _step(tracker), int(tracker.get_slot("screening_id"))
        text = str(value)
        try:
            criteria = await db(queries.criteria, get_settings().trial_id, language)
            criterion = criteria[min(step, len(criteria) - 1)]
            answer, result = judge(criterion, text, _intent(tracker))
            if answer is None:
                retries = int(tracker.get_slot("screening_retries") or 0) + 1
                if retries <= MAX_REPHRASES:
                    say(dispatcher, language, "screening_unclear_answer")
                    return {
                        "screening_answer": None,
                        "screening_retries": retries,
                        "language": language,
                    }
                answer, result = "unsure", "unsure"
            await db(
                records.record_answer,
                screening_id,
                criterion.id,
                text,
                answer,
                result,
                criterion.question,
            )
            outcome = None
            if result == "fail":  # ruled out: stop asking
                outcome = "not_eligible"
            elif step + 1 >= len(criteria):
                answers = await db(records.results, screening_id)
                unsure = any(a.result == "unsure" for a in answers)
                outcome = "unsure" if unsure else "may_be_eligible"
            if outcome:
                await db(records.finish, screening_id, outcome)
                return {
                    "screening_answer": "done",
                    "screening_outcome": outcome,
                    "language": language,
                }
        except SQLAlchemyError:
            logger.exception("trial database unavailable during the pre-screening")
            say_unavailable(dispatcher, language)
            # Nothing moves: the same question is open when the database is back.
            return {"screening_answer": None, "language": language}
        return {
            "screening_answer": None,
            "screening_step": step + 1,
            "screening_retries": 0,
            "language": language,
        }


class ActionAskScreeningConsent(Action):
    def name(self) -> Text:
        return "action_ask_screening_consent"

    async def run(self, dispatcher, tracker, domain) -> Events:
        language = conversation_language(tracker)
        if said_this_turn(tracker, language, "data_unavailable"):
            return language_events(tracker, language)
        study = await load_study(dispatcher, language)
        if study is None:
            return [ActiveLoop(None), SlotSet("requested_slot", None)]
        condition = _other_condition(tracker)
        if condition:  # "my father has lung cancer, can he join?"
            await _other_condition_answer(dispatcher, study, condition)
            return [ActiveLoop(None), SlotSet("requested_slot", None)]
        count = len(await db(queries.criteria, study.nct_id, language))
        events = [SlotSet("deletion_pending", False)]  # a pending "delete?" is not this "yes"
        say(
            dispatcher,
            language,
            "screening_consent",
            count=count,
            nct_id=study.nct_id,
            sponsor=study.sponsor or "",
            days=get_settings().retention_days,
        )
        return events + language_events(tracker, language)


def _other_condition(tracker: Tracker) -> Optional[str]:
    from bot.trial import vocabulary

    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "condition":
            found = vocabulary.condition(str(entity.get("value")))
            if found and found != THIS_STUDY_CONDITION:
                return found
    return None


async def _other_condition_answer(dispatcher, study, condition: str) -> None:
    from actions.related import CONDITION_NAMES

    language = study.language
    name = CONDITION_NAMES[language].get(condition, condition)
    say(dispatcher, language, "other_condition", condition=name)
    found, total = await db(
        queries.related_studies, study.nct_id, condition=condition, limit=3, language=language
    )
    if found:
        list_studies(dispatcher, language, found, total, Filters(condition=condition))
    else:
        say(dispatcher, language, "other_condition_none", condition=name)
    say(dispatcher, language, "contact", contact=reach_them(study, language))


class ActionAskScreeningAnswer(Action):
    def name(self) -> Text:
        return "action_ask_screening_answer"

    async def run(self, dispatcher, tracker, domain) -> Events:
        language = conversation_language(tracker)
        if said_this_turn(tracker, language, "data_unavailable"):
            return language_events(tracker, language)
        try:
            criteria = await db(queries.criteria, get_settings().trial_id, language)
        except SQLAlchemyError:
            logger.exception("trial database unavailable")
            say_unavailable(dispatcher, language)
            return language_events(tracker, language)
        step = min(_step(tracker), len(criteria) - 1)
        criterion = criteria[step]
        rephrase = int(tracker.get_slot("screening_retries") or 0) > 0 and criterion.rephrase
        question = render(
            "screening_question",
            language,
            step=step + 1,
            total=len(criteria),
            question=rephrase or criterion.question,
        )
        if criterion.answer_type == "yes_no":
            buttons = variant("answer_buttons", language)[1]
        elif criterion.answer_type == "choice":
            names = CHOICES.get(language, {})
            buttons = [{"title": names.get(c, c), "payload": c} for c in criterion.choices]
        else:
            buttons = []
        dispatcher.utter_message(text=question, buttons=buttons)
        return language_events(tracker, language)


class ActionScreeningOutcome(Action):
    """Runs when the form ends: the outcome, what to do next, and the study phone."""

    def name(self) -> Text:
        return "action_screening_outcome"

    async def run(self, dispatcher, tracker, domain) -> Events:
        language = conversation_language(tracker)
        events: Events = [SlotSet(slot, None) for slot in RESET]
        study = await load_study(dispatcher, language)
        if study is None:
            return events
        contact = reach_them(study, language)
        outcome = tracker.get_slot("screening_outcome")
        if tracker.get_slot("screening_consent") == "no":
            say(dispatcher, language, "screening_no_consent")
            say(dispatcher, language, "status", nct_id=study.nct_id, status=study.status_label)
            say(dispatcher, language, "contact", contact=contact)
        elif outcome == "may_be_eligible":
            say(dispatcher, language, "screening_may_be_eligible")
            say(dispatcher, language, "contact", contact=contact)
            say(dispatcher, language, "offer_callback")
            events.append(SlotSet("callback_offered", True))
        elif outcome == "not_eligible":
            await self._not_eligible(dispatcher, tracker, study, contact)
        else:
            say(dispatcher, language, "screening_unsure", contact=contact)
        return events + language_events(tracker, language)

    async def _not_eligible(self, dispatcher, tracker, study, contact) -> None:
        language = study.language
        answers = await db(records.results, int(tracker.get_slot("screening_id")))
        failed = [a for a in answers if a.result == "fail"]
        by_key = {c.key: c for c in await db(queries.criteria, study.nct_id, language)}
        last = by_key.get(failed[-1].criterion) if failed else None
        reason = last.fail_reason if last else BECAUSE_OF_AN_ANSWER[language]
        say(dispatcher, language, "screening_not_eligible", reason=reason)
        filters = Filters(recruiting_only=True, condition=THIS_STUDY_CONDITION)
        found, total = await db(
            queries.related_studies,
            study.nct_id,
            recruiting_only=True,
            condition=THIS_STUDY_CONDITION,
            limit=3,
            language=language,
        )
        if found:
            say(dispatcher, language, "related_alternatives", studies=study_lines(found))
        else:
            list_studies(dispatcher, language, found, total, filters)
        say(dispatcher, language, "contact", contact=contact)


class ActionStopScreening(Action):
    """'Stop' or 'cancel': end the questions at once and keep what was answered, marked stopped."""

    def name(self) -> Text:
        return "action_stop_screening"

    async def run(self, dispatcher, tracker, domain) -> Events:
        language = conversation_language(tracker)
        screening_id = tracker.get_slot("screening_id")
        if screening_id is not None and tracker.get_slot("screening_consent") == "yes":
            try:
                await db(records.finish, int(screening_id), "stopped")
            except SQLAlchemyError:
                logger.exception("could not mark screening %s stopped", screening_id)
        say(dispatcher, language, "screening_stopped")
        return [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            *[SlotSet(slot, None) for slot in RESET],
        ] + language_events(tracker, language)
