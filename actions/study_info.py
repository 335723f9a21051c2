"""Answers about this study: what it is, its treatments, design, phase, sponsor, dates, status."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import StudyAction, contact_line, join_words
from actions.replies import say
from bot.trials import StudyFacts, format_date

STUDY_TYPES = {"INTERVENTIONAL": "interventional", "OBSERVATIONAL": "observational",
               "EXPANDED_ACCESS": "expanded access"}


def intervention_names(study: StudyFacts) -> str:
    return join_words([i.name for i in study.interventions]) or "the study treatment"


def aim(study: StudyFacts) -> str:
    """The summary's statement of purpose ('This study aims to ...'), else its last sentence."""
    sentences = re.split(r"(?<=[.!?])\s+", (study.summary or "").strip())
    for sentence in sentences:
        if re.search(r"\b(aims?|purpose|objective)\b", sentence, re.IGNORECASE):
            return sentence
    return sentences[-1] if sentences else ""


def dated(value, kind) -> str:
    text = format_date(value)
    if not text:
        return "not listed"
    return f"{text} ({kind.lower()})" if kind else text


def completion_warning(dispatcher: CollectingDispatcher, study: StudyFacts) -> None:
    if study.completion_passed():
        contact = contact_line(study) or "through the hospital"
        say(dispatcher, "completion_passed", contact=contact)


class ActionStudyOverview(StudyAction):
    def name(self) -> Text:
        return "action_study_overview"

    async def answer(self, dispatcher, tracker, study) -> List[Dict[Text, Any]]:
        say(dispatcher, "study_overview", nct_id=study.nct_id,
            interventions=intervention_names(study),
            conditions=join_words(study.conditions) or "the condition named in its title",
            aim=aim(study),
            phase=study.phase_label,
            study_type=STUDY_TYPES.get(study.study_type or "", ""),
            sponsor=study.sponsor or "a sponsor not named in my record",
            status=study.status_label,
        )
        return []


class ActionDrugInfo(StudyAction):
    def name(self) -> Text:
        return "action_drug_info"

    async def answer(self, dispatcher, tracker: Tracker, study) -> List[Dict[Text, Any]]:
        asked = next(tracker.get_latest_entity_values("drug"), None)
        items = study.interventions
        if asked:
            match = study.intervention(asked)
            if match is None:
                say(dispatcher, "drug_not_in_study", drug=asked,
                    interventions=intervention_names(study),
                )
                return []
            items = [match]
        for item in items:
            if item.description:
                say(dispatcher, "drug_info", name=item.name, description=item.description
                )
            else:
                say(dispatcher, "drug_no_description", name=item.name)
        if asked and len(study.interventions) > 1:
            others = [i.name for i in study.interventions if i is not items[0]]
            say(dispatcher, "drug_in_combination", others=join_words(others))
        return []


class ActionStudyDesign(StudyAction):
    def name(self) -> Text:
        return "action_study_design"

    async def answer(self, dispatcher, tracker, study) -> List[Dict[Text, Any]]:
        if study.single_arm:
            say(dispatcher, "design_single_arm", interventions=intervention_names(study)
            )
        elif study.arm_count:
            say(dispatcher, "design_arms", arm_count=study.arm_count,
                allocation=(study.allocation or "allocation not listed").lower(),
            )
        else:
            say(dispatcher, "design_unknown")
        return []


class ActionStudyPhase(StudyAction):
    def name(self) -> Text:
        return "action_study_phase"

    async def answer(self, dispatcher, tracker, study) -> List[Dict[Text, Any]]:
        reply = "phase" if study.phases else "phase_unknown"
        say(dispatcher, reply, nct_id=study.nct_id, phase=study.phase_label)
        return []


class ActionSponsorLocation(StudyAction):
    def name(self) -> Text:
        return "action_sponsor_location"

    async def answer(self, dispatcher, tracker, study) -> List[Dict[Text, Any]]:
        if study.sponsor:
            say(dispatcher, "sponsor", sponsor=study.sponsor)
        if study.locations:
            say(dispatcher, "locations", locations="; ".join(study.locations)
            )
        else:
            say(dispatcher, "no_locations")
            contact = contact_line(study)
            if contact:
                say(dispatcher, "contact", contact=contact)
        return []


class ActionStudyDates(StudyAction):
    def name(self) -> Text:
        return "action_study_dates"

    async def answer(self, dispatcher, tracker, study) -> List[Dict[Text, Any]]:
        say(dispatcher, "dates", start=dated(study.start_date, study.start_date_type),
            completion=dated(study.completion_date, study.completion_date_type),
        )
        completion_warning(dispatcher, study)
        return []


class ActionRecruitmentStatus(StudyAction):
    def name(self) -> Text:
        return "action_recruitment_status"

    async def answer(self, dispatcher, tracker, study) -> List[Dict[Text, Any]]:
        say(dispatcher, "status", nct_id=study.nct_id, status=study.status_label
        )
        if study.status_verified:
            say(dispatcher, "status_verified", verified=format_date(study.status_verified)
            )
        else:
            say(dispatcher, "status_not_verified")
        completion_warning(dispatcher, study)
        if not study.completion_passed():
            contact = contact_line(study)
            if contact:
                say(dispatcher, "contact", contact=contact)
        if not study.is_recruiting:
            say(dispatcher, "status_suggest_related")
        return []

