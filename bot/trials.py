"""The trial-data module: every fact the assistant or the web app says comes from here.

One documented function per question. Each opens its own short session and returns plain,
detached values, so callers never hold a database session across an await.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import List, Optional, Tuple

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot import models
from bot.db import session_scope

STATUS_LABELS = {
    "ACTIVE_NOT_RECRUITING": "active, not recruiting",
    "COMPLETED": "completed",
    "ENROLLING_BY_INVITATION": "enrolling by invitation",
    "NOT_YET_RECRUITING": "not yet recruiting",
    "RECRUITING": "recruiting",
    "SUSPENDED": "suspended",
    "TERMINATED": "terminated",
    "WITHDRAWN": "withdrawn",
    "AVAILABLE": "available",
    "NO_LONGER_AVAILABLE": "no longer available",
    "TEMPORARILY_NOT_AVAILABLE": "temporarily not available",
    "APPROVED_FOR_MARKETING": "approved for marketing",
    "WITHHELD": "withheld",
    "UNKNOWN": "unknown",
}
PHASE_LABELS = {
    "NA": "not applicable",
    "EARLY_PHASE1": "Early Phase 1",
    "PHASE1": "Phase 1",
    "PHASE2": "Phase 2",
    "PHASE3": "Phase 3",
    "PHASE4": "Phase 4",
}
MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]
# A liver-cancer study names the liver or hepatocellular cancer in its title or conditions.
LIVER = re.compile(r"\b(liver|hepat\w*|hcc)\b", re.IGNORECASE)


def format_date(value: Optional[str]) -> Optional[str]:
    """'2021-12-01' -> 'December 1, 2021'; '2021-12' -> 'December 2021'."""
    if not value:
        return None
    parts = [int(p) for p in value.split("-")]
    month = MONTHS[parts[1] - 1]
    return f"{month} {parts[2]}, {parts[0]}" if len(parts) == 3 else f"{month} {parts[0]}"


def _last_day(value: str) -> date:
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 3:
        return date(*parts)
    year, month = parts
    return date(year + month // 12, month % 12 + 1, 1)  # first day after that month


def phase_label(phases: List[str]) -> str:
    if not phases:
        return "no phase listed"
    return "/".join(PHASE_LABELS.get(p, p) for p in phases)


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
    title: str
    official_title: Optional[str]
    status: str  # registry enum value
    status_verified: Optional[str]
    start_date: Optional[str]
    start_date_type: Optional[str]
    completion_date: Optional[str]
    completion_date_type: Optional[str]
    sponsor: Optional[str]
    summary: Optional[str]
    description: Optional[str]
    study_type: Optional[str]
    phases: List[str]
    intervention_model: Optional[str]
    allocation: Optional[str]
    masking: Optional[str]
    conditions: List[str]
    keywords: List[str]
    arm_count: int
    interventions: List[InterventionFacts] = field(default_factory=list)
    contacts: List[ContactFacts] = field(default_factory=list)
    locations: List[str] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status.lower().replace("_", " "))

    @property
    def phase_label(self) -> str:
        return phase_label(self.phases)

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

    def completion_passed(self, today: Optional[date] = None) -> bool:
        if not self.completion_date:
            return False
        return _last_day(self.completion_date) < (today or date.today())

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

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status.lower())

    @property
    def phase_label(self) -> str:
        return phase_label(self.phases)


def _facts(study: models.Study) -> StudyFacts:
    return StudyFacts(
        nct_id=study.nct_id,
        title=study.brief_title,
        official_title=study.official_title,
        status=study.overall_status,
        status_verified=study.status_verified_date,
        start_date=study.start_date,
        start_date_type=study.start_date_type,
        completion_date=study.completion_date,
        completion_date_type=study.completion_date_type,
        sponsor=study.lead_sponsor,
        summary=study.brief_summary,
        description=study.detailed_description,
        study_type=study.study_type,
        phases=list(study.phases or []),
        intervention_model=study.intervention_model,
        allocation=study.allocation,
        masking=study.masking,
        conditions=list(study.conditions or []),
        keywords=list(study.keywords or []),
        arm_count=len(study.arm_groups),
        interventions=[
            InterventionFacts(i.name, i.type, i.description, list(i.other_names or []))
            for i in study.interventions
        ],
        contacts=[ContactFacts(c.name, c.role, c.phone, c.email) for c in study.contacts],
        locations=[
            ", ".join(p for p in (loc.facility, loc.city, loc.country) if p)
            for loc in study.locations
        ],
    )


def get_study(nct_id: str) -> Optional[StudyFacts]:
    """All the facts of one study, or None when it is not in the database."""
    with session_scope() as session:
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
        return _facts(study) if study else None


def _matches(study: models.Study, keyword: str) -> bool:
    words = [study.brief_title, study.official_title or "", *(study.conditions or []),
             *(study.keywords or [])]
    for item in study.interventions:
        words += [item.name, *(item.other_names or [])]
    return keyword.lower() in " ".join(words).lower()


def related_studies(
    nct_id: str,
    *,
    recruiting_only: bool = False,
    phase: Optional[str] = None,
    keyword: Optional[str] = None,
    liver_only: bool = False,
    limit: int = 5,
) -> Tuple[List[StudyBrief], int]:
    """Studies related to `nct_id` that pass the filters: (the first `limit`, how many in all).

    phase is a digit ("2"); a study listed as Phase 1/Phase 2 counts for both.
    """
    with session_scope() as session:
        anchor = (
            select(models.Study.id).where(models.Study.nct_id == nct_id).scalar_subquery()
        )
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
            if liver_only and not LIVER.search(
                " ".join([study.brief_title, *(study.conditions or []), *(study.keywords or [])])
            ):
                continue
            found.append(StudyBrief(study.nct_id, study.brief_title, study.overall_status,
                                    list(study.phases or [])))
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


def criteria(nct_id: str) -> List[CriterionFacts]:
    """The pre-screening questions of a study, in the order they are asked."""
    with session_scope() as session:
        rows = session.scalars(
            select(models.Criterion)
            .join(models.Study)
            .where(models.Study.nct_id == nct_id)
            .order_by(models.Criterion.position, models.Criterion.id)
        )
        return [
            CriterionFacts(
                c.id, c.key, c.kind, c.question, c.rephrase, c.answer_type,
                list(c.choices or []), list(c.pass_values or []), c.min_value, c.max_value,
                c.fail_reason, c.source,
            )
            for c in rows
        ]
