"""Questions every trial candidate asks that this study's record does not answer (cost,
payment, visits, side effects, results, current treatment), and general facts about clinical
trials that are the same for every trial (what happens after signing up, leaving, phases,
status words)."""

from __future__ import annotations

from typing import Dict, Text

from rasa_sdk import Tracker

from actions.common import Events, StudyAction, intent_of, reach_them
from actions.replies import render, say

# intent -> what the record does not say (replies.yml topic_*)
NOT_IN_RECORD: Dict[str, str] = {
    "ask_cost": "topic_cost",
    "ask_compensation": "topic_compensation",
    "ask_schedule": "topic_schedule",
    "ask_side_effects": "topic_side_effects",
    "ask_results": "topic_results",
    "ask_current_treatment": "topic_current_treatment",
}
# questions where a patient might act on their own: add "ask your doctor, change nothing"
ADVISE = frozenset({"ask_side_effects", "ask_current_treatment"})


class ActionNotInRecord(StudyAction):
    """ "The study record doesn't say ..., the study team can answer: phone" — never another
    question's answer, never a guess."""

    def name(self) -> Text:
        return "action_not_in_record"

    async def answer(self, dispatcher, tracker: Tracker, study) -> Events:
        intent = intent_of(tracker) or ""
        topic_key = NOT_IN_RECORD.get(intent)
        if topic_key is None:  # a button or story that reached here without one of those
            say(dispatcher, study.language, "fallback")
            return []
        say(
            dispatcher,
            study.language,
            "not_in_record",
            topic=render(topic_key, study.language),
            contact=reach_them(study, study.language),
        )
        if intent in ADVISE:
            say(dispatcher, study.language, "not_in_record_advice")
        return []


class ActionNextSteps(StudyAction):
    def name(self) -> Text:
        return "action_next_steps"

    async def answer(self, dispatcher, tracker, study) -> Events:
        say(dispatcher, study.language, "next_steps", contact=reach_them(study, study.language))
        return []


class ActionWithdraw(StudyAction):
    def name(self) -> Text:
        return "action_withdraw"

    async def answer(self, dispatcher, tracker, study) -> Events:
        say(dispatcher, study.language, "withdraw", contact=reach_them(study, study.language))
        return []


class ActionPhaseMeaning(StudyAction):
    def name(self) -> Text:
        return "action_phase_meaning"

    async def answer(self, dispatcher, tracker, study) -> Events:
        say(dispatcher, study.language, "phase_meaning")
        if study.phases:
            say(
                dispatcher,
                study.language,
                "phase_of_this_study",
                nct_id=study.nct_id,
                phase=study.phase_label,
            )
        return []


class ActionStatusMeaning(StudyAction):
    def name(self) -> Text:
        return "action_status_meaning"

    async def answer(self, dispatcher, tracker, study) -> Events:
        say(dispatcher, study.language, "status_meaning")
        say(
            dispatcher,
            study.language,
            "status_of_this_study",
            nct_id=study.nct_id,
            status=study.status_label,
        )
        return []
