"""The trial-data module: every fact the assistant or the web app says comes from here.

One documented function per question, each taking the caller's `Session` (one unit of work,
see bot.db) and returning plain, detached values, so callers never hold a session across an
await. Facts come in a language: the registry's English, or the study's stored translation
(study_translation rows) where there is one; what has no translation stays as the registry
writes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Dict, List, Optional, Tuple

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.trial import models
from bot.trial.labels import end_of, phase_label, status_label, study_type_label
from bot.trial.vocabulary import study_is_about

AIM = re.compile(r"\b(aims?|purpose|objective)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ContactFacts:
    name: Optional[str]
    role: Optional[str]
    phone: Optional[str]
    email: Optional[str]


@dataclass(frozen=True)
class InterventionFacts:
    name: str
    type: Optional[str]
    description: Optional[str]
    other_names: List[str]


@dataclass(frozen=True)
class StudyFacts:
    nct_id: str
    language: str  # of the display texts below; codes (status, phases) are the registry's
    title: str
    official_title: Optional[str]
    status: str
    status_verified: Optional[str]
    start_date: Optional[str]
    start_date_type: Optional[str]
    completion_date: Optional[str]
    completion_date_type: Optional[str]
    sponsor: Optional[str]
    summary: Optional[str]
    aim: Optional[str]  # the summary's statement of purpose
    description: Optional[str]
    study_type: Optional[str]
    phases: List[str]
    intervention_model: Optional[str]
    allocation: Optional[str]
    masking: Optional[str]
    conditions: List[str]
    keywords: List[str]
    arm_count: int
    enrollment_count: Optional[int] = None
    enrollment_type: Optional[str] = None
    eligibility_criteria: Optional[str] = None
    minimum_age: Optional[str] = None
    maximum_age: Optional[str] = None
    interventions: List[InterventionFacts] = field(default_factory=list)
    contacts: List[ContactFacts] = field(default_factory=list)
    locations: List[str] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return status_label(self.status, self.language)

    @property
    def phase_label(self) -> str:
        return phase_label(self.phases, self.language)

    @property
    def study_type_label(self) -> str:
        return study_type_label(self.study_type, self.language)

    @property
    def is_recruiting(self) -> bool:
        return self.status in ("RECRUITING", "ENROLLING_BY_INVITATION")

    @property
    def single_arm(self) -> bool:
        return self.intervention_model == "SINGLE_GROUP" or self.arm_count == 1

    @property
    def phone_contact(self) -> Optional[ContactFacts]:
        return next((c for c in self.contacts if c.phone), None)

    @property
    def email_contact(self) -> Optional[ContactFacts]:
        return next((c for c in self.contacts if c.email), None)

    @property
    def contact_line(self) -> Optional[str]:
        """Who to call and their number, for a sentence; None when the study lists no phone."""
        contact = self.phone_contact
        return format_contact(contact.name, contact.phone, self.language) if contact else None

    def completion_passed(self, today: Optional[date] = None) -> bool:
        if not self.completion_date:
            return False
        return end_of(self.completion_date) < (today or date.today())

    def intervention(self, drug: str) -> Optional[InterventionFacts]:
        """The intervention a user means by a drug name or one of its other names."""
        wanted = drug.strip().lower()
        for item in self.interventions:
            names = [n.lower() for n in (item.name, *item.other_names)]
            if any(wanted == n or wanted in re.findall(r"[\w-]+", n) for n in names):
                return item
        return None


@dataclass(frozen=True)
class StudyBrief:
    nct_id: str
    title: str
    status: str
    phases: List[str]
    language: str = "en"

    @property
    def status_label(self) -> str:
        return status_label(self.status, self.language)

    @property
    def phase_label(self) -> str:
        return phase_label(self.phases, self.language)


def format_contact(name: Optional[str], phone: Optional[str], language: str) -> Optional[str]:
    """'Chang Liu, MD at 0086-…' / 'Chang Liu, MD（电话：0086-…）'; a name with no known Chinese
    form stays as the registry writes it."""
    if not phone:
        return None
    if not name:
        return phone
    return f"{name}（电话：{phone}）" if language == "zh" else f"{name} at {phone}"


def aim_of(summary: Optional[str]) -> Optional[str]:
    """The summary's statement of purpose ('This study aims to ...'), else its last sentence."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", (summary or "").strip()) if s]
    for sentence in sentences:
        if AIM.search(sentence):
            return sentence
    return sentences[-1] if sentences else None


def _translations(session: Session, study_id: int, language: str) -> Dict[str, str]:
    if language == "en":
        return {}
    rows = session.execute(
        select(models.StudyTranslation.field, models.StudyTranslation.text).where(
            models.StudyTranslation.study_id == study_id,
            models.StudyTranslation.language == language,
        )
    )
    return {name: text for name, text in rows}


def _facts(study: models.Study, language: str, text: Dict[str, str]) -> StudyFacts:
    def shown(name: str, registry: Optional[str]) -> Optional[str]:
        return text.get(name) or registry

    conditions = list(study.conditions or [])
    return StudyFacts(
        nct_id=study.nct_id,
        language=language,
        title=shown("brief_title", study.brief_title) or study.nct_id,
        official_title=shown("official_title", study.official_title),
        status=study.overall_status,
        status_verified=study.status_verified_date,
        start_date=study.start_date,
        start_date_type=study.start_date_type,
        completion_date=study.completion_date,
        completion_date_type=study.completion_date_type,
        sponsor=shown("lead_sponsor", study.lead_sponsor),
        summary=shown("brief_summary", study.brief_summary),
        aim=text.get("aim") or aim_of(study.brief_summary),
        description=study.detailed_description,
        study_type=study.study_type,
        phases=list(study.phases or []),
        intervention_model=study.intervention_model,
        allocation=study.allocation,
        masking=study.masking,
        conditions=[text["conditions"]] if text.get("conditions") else conditions,
        keywords=list(study.keywords or []),
        arm_count=len(study.arm_groups),
        enrollment_count=study.enrollment_count,
        enrollment_type=study.enrollment_type,
        eligibility_criteria=study.eligibility_criteria,
        minimum_age=study.minimum_age,
        maximum_age=study.maximum_age,
        interventions=[
            InterventionFacts(
                text.get(f"intervention.{i}.name") or item.name,
                item.type,
                text.get(f"intervention.{i}.description") or item.description,
                [item.name, *(item.other_names or [])],
            )
            for i, item in enumerate(study.interventions)
        ],
        contacts=[ContactFacts(c.name, c.role, c.phone, c.email) for c in study.contacts],
        locations=[
            ", ".join(p for p in (loc.facility, loc.city, loc.country) if p)
            for loc in study.locations
        ],
    )


def get_study(session: Session, nct_id: str, language: str = "en") -> Optional[StudyFacts]:
    """All the facts of one study, or None when it is not in the database."""
    study = session.scalars(
        select(models.Study)
        .where(models.Study.nct_id == nct_id)
        .options(
            selectinload(models.Study.interventions),
            selectinload(models.Study.contacts),
            selectinload(models.Study.locations),
            selectinload(models.Study.arm_groups),
        )
    ).one_or_none()
    if study is None:
        return None
    return _facts(study, language, _translations(session, study.id, language))


def _matches(study: models.Study, keyword: str) -> bool:
    words = [
        study.brief_title,
        study.official_title or "",
        *(study.conditions or []),
        *(study.keywords or []),
    ]
    for item in study.interventions:
        words += [item.name, *(item.other_names or [])]
    return keyword.lower() in " ".join(words).lower()


def related_studies(
    session: Session,
    nct_id: str,
    *,
    recruiting_only: bool = False,
    phase: Optional[str] = None,
    keyword: Optional[str] = None,
    condition: Optional[str] = None,
    limit: int = 5,
    language: str = "en",
) -> Tuple[List[StudyBrief], int]:
    """Studies related to `nct_id` that pass the filters: (the first `limit`, how many in all).

    phase is a digit ("2"); a study listed as Phase 1/Phase 2 counts for both. condition is a
    canonical condition (bot.trial.vocabulary): only studies whose title, conditions or
    keywords name it, never padded with studies for another condition.
    """
    anchor = select(models.Study.id).where(models.Study.nct_id == nct_id).scalar_subquery()
    query = (
        select(models.Study)
        .join(models.related_study, models.related_study.c.related_id == models.Study.id)
        .where(models.related_study.c.study_id == anchor)
        .options(selectinload(models.Study.interventions))
        .order_by(models.Study.nct_id)
    )
    if recruiting_only:
        query = query.where(models.Study.overall_status == "RECRUITING")
    found = []
    for study in session.scalars(query):
        if phase and f"PHASE{phase}" not in (study.phases or []):
            continue
        if keyword and not _matches(study, keyword):
            continue
        about = [study.brief_title, *(study.conditions or []), *(study.keywords or [])]
        if condition and not study_is_about(condition, about):
            continue
        title = _translations(session, study.id, language).get("brief_title", study.brief_title)
        found.append(
            StudyBrief(
                study.nct_id, title, study.overall_status, list(study.phases or []), language
            )
        )
    return found[:limit], len(found)


@dataclass(frozen=True)
class CriterionFacts:
    id: int
    key: str
    kind: str
    question: str
    rephrase: Optional[str]
    answer_type: str
    choices: List[str]
    pass_values: List[str]
    min_value: Optional[float]
    max_value: Optional[float]
    fail_reason: str
    source: str


def criteria(session: Session, nct_id: str, language: str = "en") -> List[CriterionFacts]:
    """The pre-screening questions of a study, in the order they are asked, in a language
    (the English of the criterion row where it has no translation)."""
    rows = session.scalars(
        select(models.Criterion)
        .join(models.Study)
        .where(models.Study.nct_id == nct_id)
        .order_by(models.Criterion.position, models.Criterion.id)
    )
    found = []
    for c in rows:
        text = (c.translations or {}).get(language, {}) if language != "en" else {}
        found.append(
            CriterionFacts(
                c.id,
                c.key,
                c.kind,
                text.get("question") or c.question,
                text.get("rephrase") or c.rephrase,
                c.answer_type,
                list(c.choices or []),
                list(c.pass_values or []),
                c.min_value,
                c.max_value,
                text.get("fail_reason") or c.fail_reason,
                c.source,
            )
        )
    return found
