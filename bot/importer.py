"""Load ClinicalTrials.gov v2 JSON into the trial database (kept apart from reading it).

A file holds one study record or `{"studies": [...]}`. Studies are matched by NCT id and
updated in place; a file with any invalid record changes nothing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import models
from bot.registry import StudyRecord


class ImportError_(ValueError):
    """The file cannot be imported; the message names the file and the field."""


@dataclass
class ImportResult:
    created: List[str]
    updated: List[str]


def _field_path(prefix: str, loc: Iterable) -> str:
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def parse_records(data: object, source: str = "input") -> List[StudyRecord]:
    """Validate a decoded file; raise ImportError_ naming every bad field."""
    if isinstance(data, dict) and "studies" in data:
        raw, prefix = data["studies"], "studies"
        if not isinstance(raw, list):
            raise ImportError_(f"{source}: 'studies' must be a list of study records")
        items = [(f"{prefix}[{i}]", item) for i, item in enumerate(raw)]
    elif isinstance(data, dict):
        items = [("", data)]
    else:
        raise ImportError_(f"{source}: expected a study record or {{\"studies\": [...]}}")
    records, problems = [], []
    for where, item in items:
        try:
            records.append(StudyRecord.parse_obj(item))
        except ValidationError as error:
            for e in error.errors():
                problems.append(f"{_field_path(where, e['loc'])}: {e['msg']}")
    if problems:
        raise ImportError_(f"{source}: invalid study record\n  " + "\n  ".join(problems))
    if not records:
        raise ImportError_(f"{source}: no studies in the file")
    return records


def load_file(path: Path) -> List[StudyRecord]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ImportError_(f"{path}: no such file")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ImportError_(f"{path}: not valid JSON ({error})")
    return parse_records(data, str(path))


def _age_years(text: Optional[str]) -> Optional[float]:
    if not text:
        return None
    number, unit = text.split(" ", 1)
    per_year = {"Year": 1, "Month": 12, "Week": 52, "Day": 365, "Hour": 8760, "Minute": 525600}
    return round(float(number) / per_year[unit.rstrip("s")], 2)


def _eligibility_criteria(record: StudyRecord) -> List[models.Criterion]:
    """Age and sex limits from eligibilityModule become screening questions."""
    elig = record.protocolSection.eligibilityModule
    if elig is None:
        return []
    made = []
    low, high = _age_years(elig.minimumAge), _age_years(elig.maximumAge)
    if low is not None or high is not None:
        limits = " and ".join(
            part
            for part in (
                f"at least {elig.minimumAge.lower()} old" if low is not None else "",
                f"at most {elig.maximumAge.lower()} old" if high is not None else "",
            )
            if part
        )
        made.append(
            models.Criterion(
                key="age",
                kind="inclusion",
                question="How old is the person who would take part? (in years)",
                rephrase="Could you tell me the age in years, for example 58?",
                answer_type="number",
                min_value=low,
                max_value=high,
                fail_reason=f"this study is for people {limits}",
                source="eligibility_module",
            )
        )
    if elig.sex and elig.sex.value != "ALL":
        sex = elig.sex.value.lower()
        made.append(
            models.Criterion(
                key="sex",
                kind="inclusion",
                question="Is the person who would take part female or male?",
                rephrase="Please answer female or male.",
                answer_type="choice",
                choices=["female", "male"],
                pass_values=[sex],
                fail_reason=f"this study is only for {sex} participants",
                source="eligibility_module",
            )
        )
    return made


def _apply(study: models.Study, record: StudyRecord) -> None:
    p = record.protocolSection
    ident, status = p.identificationModule, p.statusModule
    design = p.designModule
    info = design.designInfo if design and design.designInfo else None
    elig = p.eligibilityModule
    sponsor = p.sponsorCollaboratorsModule

    def date(struct):
        return (struct.date, struct.type.value if struct.type else None) if struct else (None, None)

    study.nct_id = ident.nctId
    study.org_study_id = (ident.orgStudyInfo or {}).get("id")
    study.brief_title = ident.briefTitle
    study.official_title = ident.officialTitle
    study.overall_status = status.overallStatus.value
    study.status_verified_date = status.statusVerifiedDate
    study.start_date, study.start_date_type = date(status.startDateStruct)
    study.primary_completion_date, study.primary_completion_date_type = date(
        status.primaryCompletionDateStruct
    )
    study.completion_date, study.completion_date_type = date(status.completionDateStruct)
    study.lead_sponsor = sponsor.leadSponsor.name if sponsor and sponsor.leadSponsor else None
    study.brief_summary = p.descriptionModule.briefSummary if p.descriptionModule else None
    study.detailed_description = (
        p.descriptionModule.detailedDescription if p.descriptionModule else None
    )
    study.conditions = list(p.conditionsModule.conditions) if p.conditionsModule else []
    study.keywords = list(p.conditionsModule.keywords) if p.conditionsModule else []
    study.study_type = design.studyType.value if design and design.studyType else None
    study.phases = [phase.value for phase in design.phases] if design else []
    study.allocation = info.allocation if info else None
    study.intervention_model = info.interventionModel if info else None
    study.masking = (info.maskingInfo or {}).get("masking") if info else None
    study.eligibility_criteria = elig.eligibilityCriteria if elig else None
    study.sex = elig.sex.value if elig and elig.sex else None
    study.minimum_age = elig.minimumAge if elig else None
    study.maximum_age = elig.maximumAge if elig else None
    study.healthy_volunteers = (
        None if not elig or elig.healthyVolunteers is None else str(elig.healthyVolunteers).lower()
    )

    arms = p.armsInterventionsModule
    study.interventions = [
        models.Intervention(
            position=i, type=x.type, name=x.name, description=x.description,
            other_names=list(x.otherNames),
        )
        for i, x in enumerate(arms.interventions if arms else [])
    ]
    study.arm_groups = [
        models.ArmGroup(
            position=i, label=a.label, type=a.type, description=a.description,
            intervention_names=list(a.interventionNames),
        )
        for i, a in enumerate(arms.armGroups if arms else [])
    ]
    places = p.contactsLocationsModule
    study.contacts = [
        models.Contact(position=i, name=c.name, role=c.role, phone=c.phone, email=c.email)
        for i, c in enumerate(places.centralContacts if places else [])
    ]
    study.locations = [
        models.Location(
            position=i, facility=loc.facility, status=loc.status, city=loc.city,
            state=loc.state, country=loc.country,
        )
        for i, loc in enumerate(places.locations if places else [])
    ]
    # Registry-made criteria follow the registry; those from other sources are kept.
    kept = [c for c in study.criteria if c.source != "eligibility_module"]
    made = _eligibility_criteria(record)
    for position, criterion in enumerate(made):
        criterion.position = position  # registry limits are asked first: they are quickest
    for criterion in kept:
        criterion.position = max(criterion.position, len(made))
    study.criteria = made + kept


def import_records(
    session: Session, records: List[StudyRecord], related_to: Optional[str] = None
) -> ImportResult:
    """Upsert the records; link them as related studies of `related_to` when given."""
    result = ImportResult(created=[], updated=[])
    anchor = None
    if related_to:
        anchor = session.scalars(
            select(models.Study).where(models.Study.nct_id == related_to)
        ).one_or_none()
        if anchor is None:
            raise ImportError_(f"--related-to {related_to}: no such study in the database")
    for record in records:
        nct_id = record.protocolSection.identificationModule.nctId
        study = session.scalars(
            select(models.Study).where(models.Study.nct_id == nct_id)
        ).one_or_none()
        if study is None:
            study = models.Study(nct_id=nct_id)
            session.add(study)
            result.created.append(nct_id)
        else:
            result.updated.append(nct_id)
        _apply(study, record)
        if anchor is not None and study is not anchor and study not in anchor.related:
            anchor.related.append(study)
    session.flush()
    return result
