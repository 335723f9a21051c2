"""Answers about this study from its record: what it is, its title, treatments, design, phase,
sponsor and sites, dates, status, size and who can take part."""

from __future__ import annotations

from typing import Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import Events, StudyAction, db, reach_them
from actions.replies import say
from bot.trial import queries, vocabulary
from bot.trial.labels import dated, format_date, join_words
from bot.trial.queries import StudyFacts

TREATMENT = {"en": "the study treatment", "zh": "研究治疗"}
CONDITION = {"en": "the condition named in its title", "zh": "其标题中所写的疾病"}
UNNAMED_SPONSOR = {"en": "a sponsor not named in my record", "zh": "（记录中未写明的）申办方"}
NOT_LISTED = {"en": "allocation not listed", "zh": "分组方式未列出"}
ENROLLMENT_KIND = {
    "en": {"ACTUAL": " (actual)", "ESTIMATED": " (estimated)"},
    "zh": {"ACTUAL": "（实际）", "ESTIMATED": "（预计）"},
}


def intervention_names(study: StudyFacts) -> str:
    names = [i.name for i in study.interventions]
    return join_words(names, study.language) or TREATMENT[study.language]


def completion_warning(dispatcher: CollectingDispatcher, study: StudyFacts) -> None:
    if study.completion_passed():
        say(
            dispatcher,
            study.language,
            "completion_passed",
            contact=reach_them(study, study.language),
        )


class ActionStudyOverview(StudyAction):
    def name(self) -> Text:
        return "action_study_overview"

    async def answer(self, dispatcher, tracker, study) -> Events:
        say(
            dispatcher,
            study.language,
            "study_overview",
            nct_id=study.nct_id,
            interventions=intervention_names(study),
            conditions=join_words(study.conditions, study.language) or CONDITION[study.language],
            aim=study.aim or "",
            phase=study.phase_label,
            study_type=study.study_type_label,
            sponsor=study.sponsor or UNNAMED_SPONSOR[study.language],
            status=study.status_label,
        )
        return []


class ActionStudyTitle(StudyAction):
    def name(self) -> Text:
        return "action_study_title"

    async def answer(self, dispatcher, tracker, study) -> Events:
        say(dispatcher, study.language, "title", title=study.title)
        if study.official_title and study.official_title != study.title:
            say(dispatcher, study.language, "official_title", official_title=study.official_title)
        else:
            say(dispatcher, study.language, "no_official_title")
        return []


class ActionDrugInfo(StudyAction):
    def name(self) -> Text:
        return "action_drug_info"

    async def answer(self, dispatcher, tracker: Tracker, study) -> Events:
        asked = vocabulary.first_known_drug(list(tracker.get_latest_entity_values("drug")))
        items = study.interventions
        if asked:
            match = study.intervention(asked)
            if match is None:
                say(
                    dispatcher,
                    study.language,
                    "drug_not_in_study",
                    drug=asked,
                    interventions=intervention_names(study),
                )
                return []
            items = [match]
        for item in items:
            if item.description:
                say(
                    dispatcher,
                    study.language,
                    "drug_info",
                    name=item.name,
                    description=item.description,
                )
            else:
                say(dispatcher, study.language, "drug_no_description", name=item.name)
        if asked and len(study.interventions) > 1:
            others = [i.name for i in study.interventions if i is not items[0]]
            say(
                dispatcher,
                study.language,
                "drug_in_combination",
                others=join_words(others, study.language),
            )
        return []


class ActionStudyDesign(StudyAction):
    def name(self) -> Text:
        return "action_study_design"

    async def answer(self, dispatcher, tracker, study) -> Events:
        if study.single_arm:
            say(
                dispatcher,
                study.language,
                "design_single_arm",
                interventions=intervention_names(study),
            )
        elif study.arm_count:
            say(
                dispatcher,
                study.language,
                "design_arms",
                arm_count=study.arm_count,
                allocation=(study.allocation or NOT_LISTED[study.language]).lower(),
            )
        else:
            say(dispatcher, study.language, "design_unknown")
        return []


class ActionStudyPhase(StudyAction):
    def name(self) -> Text:
        return "action_study_phase"

    async def answer(self, dispatcher, tracker, study) -> Events:
        reply = "phase" if study.phases else "phase_unknown"
        say(dispatcher, study.language, reply, nct_id=study.nct_id, phase=study.phase_label)
        return []


class ActionSponsorLocation(StudyAction):
    def name(self) -> Text:
        return "action_sponsor_location"

    async def answer(self, dispatcher, tracker, study) -> Events:
        if study.sponsor:
            say(dispatcher, study.language, "sponsor", sponsor=study.sponsor)
        if study.locations:
            say(dispatcher, study.language, "locations", locations="; ".join(study.locations))
        else:
            say(dispatcher, study.language, "no_locations")
            if study.contact_line:
                say(
                    dispatcher, study.language, "contact", contact=reach_them(study, study.language)
                )
        return []


class ActionStudyDates(StudyAction):
    def name(self) -> Text:
        return "action_study_dates"

    async def answer(self, dispatcher, tracker, study) -> Events:
        language = study.language
        say(
            dispatcher,
            language,
            "dates",
            start=dated(study.start_date, study.start_date_type, language),
            completion=dated(study.completion_date, study.completion_date_type, language),
        )
        completion_warning(dispatcher, study)
        return []


class ActionRecruitmentStatus(StudyAction):
    def name(self) -> Text:
        return "action_recruitment_status"

    async def answer(self, dispatcher, tracker, study) -> Events:
        language = study.language
        say(dispatcher, language, "status", nct_id=study.nct_id, status=study.status_label)
        if study.status_verified:
            say(
                dispatcher,
                language,
                "status_verified",
                verified=format_date(study.status_verified, language),
            )
        else:
            say(dispatcher, language, "status_not_verified")
        completion_warning(dispatcher, study)
        if not study.completion_passed() and study.contact_line:
            say(dispatcher, language, "contact", contact=reach_them(study, language))
        if not study.is_recruiting:
            say(dispatcher, language, "status_suggest_related")
        return []


class ActionEnrollment(StudyAction):
    """How many people take part: the registry's enrollment count, or "the record doesn't say"."""

    def name(self) -> Text:
        return "action_enrollment"

    async def answer(self, dispatcher, tracker, study) -> Events:
        language = study.language
        if study.enrollment_count:
            kind = ENROLLMENT_KIND[language].get(study.enrollment_type or "", "")
            say(dispatcher, language, "enrollment", count=study.enrollment_count, kind=kind)
        else:
            topic = {"en": "how many people will take part", "zh": "计划招募多少人"}[language]
            say(
                dispatcher,
                language,
                "not_in_record",
                topic=topic,
                contact=reach_them(study, language),
            )
        return []


class ActionCriteria(StudyAction):
    """Who can take part: the registry's criteria text and ages where it has them, else the
    pre-screening questions (from the study's description), with the offer to ask them."""

    def name(self) -> Text:
        return "action_criteria"

    async def answer(self, dispatcher, tracker, study) -> Events:
        language = study.language
        if study.eligibility_criteria:
            say(dispatcher, language, "criteria_text", criteria=study.eligibility_criteria.strip())
        ages = [a for a in (study.minimum_age, study.maximum_age) if a]
        if ages:
            say(dispatcher, language, "criteria_ages", ages=" – ".join(ages))
        if study.eligibility_criteria:
            return []
        questions = await db(queries.criteria, study.nct_id, language)
        if questions:
            lines = "\n".join(f"• {q.question}" for q in questions)
            say(dispatcher, language, "criteria_questions", questions=lines)
        elif not ages:
            say(dispatcher, language, "criteria_unknown")
        return []
