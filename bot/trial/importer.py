"""Load ClinicalTrials.gov v2 JSON into the trial database (kept apart from reading it).

A file holds one study record or a search page (`{"studies": [...], "nextPageToken": ...}`).
Studies are matched by NCT id and updated in place, and only what differs is written: importing
an unchanged record rewrites nothing, and every write is noted (bot.trial.changes). A whole
record (`GET /studies/{nctId}`) replaces what it covers; a field-filtered one (`?fields=...`)
changes only the fields it holds. A file with any invalid record changes nothing.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Type, TypeVar, cast

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.trial import models
from bot.trial.changes import Change, list_change, set_value, sync_rows
from bot.trial.registry import StudyRecord

V1_KEYS = ("FullStudiesResponse", "FullStudy", "StudyFieldsResponse", "Study")
V2_EXAMPLE = "https://clinicaltrials.gov/api/v2/studies/NCT05113290"


class ImportFailed(ValueError):
    """The file cannot be imported; the message names the file and the field."""


@dataclass
class ImportResult:
    created: List[str]
    updated: List[str]  # in the database already, and something changed
    unchanged: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)  # keep_refreshed: left as refreshed
    changes: Dict[str, List[Change]] = field(default_factory=dict)  # of the updated ones


def field_path(prefix: str, loc: Iterable) -> str:
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


Parsed = TypeVar("Parsed", bound=BaseModel)


def read_json_file(path: Path, model: Type[Parsed], what: str) -> Parsed:
    """A JSON file of ours (criteria, translations) validated by `model`; ImportFailed names
    the file and, for an invalid one (`what`: "criteria file"), every bad field."""
    try:
        return model.parse_obj(json.loads(Path(path).read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ImportFailed(f"{path}: no such file")
    except json.JSONDecodeError as error:
        raise ImportFailed(f"{path}: not valid JSON ({error})")
    except ValidationError as error:
        raise ImportFailed(
            f"{path}: invalid {what}\n  "
            + "\n  ".join(f"{field_path('', e['loc'])}: {e['msg']}" for e in error.errors())
        )


def parse_records(data: object, source: str = "input") -> List[StudyRecord]:
    """Validate a decoded file; raise ImportFailed naming every bad field."""
    if isinstance(data, dict) and any(key in data for key in V1_KEYS):
        found = next(key for key in V1_KEYS if key in data)
        raise ImportFailed(
            f"{source}: this is a ClinicalTrials.gov API v1 response ({found}); API v1 was "
            f"retired in 2024 and its format is not read here. Save the study from API v2 "
            f"instead, e.g. {V2_EXAMPLE}"
        )
    if isinstance(data, dict) and "studies" in data:
        raw, prefix = data["studies"], "studies"
        if not isinstance(raw, list):
            raise ImportFailed(f"{source}: 'studies' must be a list of study records")
        items = [(f"{prefix}[{i}]", item) for i, item in enumerate(raw)]
    elif isinstance(data, dict):
        items = [("", data)]
    else:
        raise ImportFailed(f'{source}: expected a study record or {{"studies": [...]}}')
    records, problems = [], []
    for where, item in items:
        try:
            records.append(StudyRecord.parse_obj(item))
        except ValidationError as error:
            for e in error.errors():
                problems.append(f"{field_path(where, e['loc'])}: {e['msg']}")
    if problems:
        raise ImportFailed(f"{source}: invalid study record\n  " + "\n  ".join(problems))
    if not records:
        raise ImportFailed(f"{source}: no studies in the file")
    return records


def load_file(path: Path) -> List[StudyRecord]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ImportFailed(f"{path}: no such file")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ImportFailed(f"{path}: not valid JSON ({error})")
    return parse_records(data, str(path))


def _age_years(text: Optional[str]) -> Optional[float]:
    if not text:
        return None
    number, unit = text.split(" ", 1)
    per_year = {"Year": 1, "Month": 12, "Week": 52, "Day": 365, "Hour": 8760, "Minute": 525600}
    return round(float(number) / per_year[unit.rstrip("s")], 3)


MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # any ASCII punctuation, as CommonMark


def readable(text: Optional[str]) -> Optional[str]:
    """Registry free text is Markdown: `\\>` and `\\*` are shown as `>` and `*`."""
    return MARKDOWN_ESCAPE.sub(r"\1", text) if text else text


def phone_line(phone: Optional[str], ext: Optional[str]) -> Optional[str]:
    """The number as written (full-width digits and brackets made plain), with its extension:
    '+86 29 8532 3900 ext. 1234'."""
    if not phone:
        return None
    line = " ".join(unicodedata.normalize("NFKC", phone).split())
    ext = " ".join(unicodedata.normalize("NFKC", ext or "").split())
    if ext and "ext" not in line.lower():
        line += f" ext. {ext}"
    return line


REGISTRY_SOURCE = "eligibility_module"  # criteria made from the registry's age and sex limits


def _limits(study: models.Study) -> Dict[str, Dict[str, Any]]:
    """The screening questions the study's registry age and sex limits make, by key."""
    made: Dict[str, Dict[str, Any]] = {}
    low, high = _age_years(study.minimum_age), _age_years(study.maximum_age)
    if low is not None or high is not None:
        limits = " and ".join(
            part
            for part in (
                f"at least {(study.minimum_age or '').lower()} old" if low is not None else "",
                f"at most {(study.maximum_age or '').lower()} old" if high is not None else "",
            )
            if part
        )
        made["age"] = dict(
            kind="inclusion",
            question="How old is the person who would take part? (in years)",
            rephrase="Could you tell me the age in years, for example 58?",
            answer_type="number",
            choices=[],
            pass_values=[],
            min_value=low,
            max_value=high,
            fail_reason=f"this study is for people {limits}",
        )
    if study.sex in ("FEMALE", "MALE"):
        sex = study.sex.lower()
        made["sex"] = dict(
            kind="inclusion",
            question="Is the person who would take part female or male?",
            rephrase="Please answer female or male.",
            answer_type="choice",
            choices=["female", "male"],
            pass_values=[sex],
            min_value=None,
            max_value=None,
            fail_reason=f"this study is only for {sex} participants",
        )
    return made


def _sync_limits(study: models.Study, changes: List[Change]) -> None:
    """Registry-made criteria follow the stored limits: updated in place (their answers keep
    pointing at them), added, or removed from future screenings (past answers stay, see
    bot.screening.models). A staff criterion with the same key wins over the registry's."""
    made = _limits(study)
    by_key = {c.key: c for c in study.criteria}
    added, removed = [], []
    for key in ("age", "sex"):
        row, wanted = by_key.get(key), made.get(key)
        if row is not None and row.source != REGISTRY_SOURCE:
            continue
        if row is None and wanted is not None:
            row = models.Criterion(key=key, source=REGISTRY_SOURCE, translations={}, **wanted)
            study.criteria.append(row)
            added.append(f"{key}: {wanted['fail_reason']}")
        elif row is not None and wanted is None:
            study.criteria.remove(row)
            removed.append(f"{key}: {row.fail_reason}")
        elif row is not None and wanted is not None:
            before = row.fail_reason
            if any(getattr(row, name) != value for name, value in wanted.items()):
                for name, value in wanted.items():
                    if getattr(row, name) != value:
                        setattr(row, name, value)
                added.append(f"{key}: {row.fail_reason}")
                removed.append(f"{key}: {before}")
    if added or removed:
        changes.append(list_change("criteria", removed, added))
    order_criteria(study)


def order_criteria(study: models.Study) -> None:
    """Registry limits are asked first (they are quickest), then the others in their order."""
    ranked = sorted(
        study.criteria,
        key=lambda c: (
            c.source != REGISTRY_SOURCE,
            c.key if c.source == REGISTRY_SOURCE else "",  # age, then sex
            c.position or 0,
            c.id or 1 << 62,
        ),
    )
    for position, criterion in enumerate(ranked):
        if criterion.position != position:
            criterion.position = position


def _value(node: Any, name: str) -> Any:
    if node is None:
        return None
    return node.get(name) if isinstance(node, dict) else getattr(node, name)


class _Reader:
    """What a record says, and whether it says it (a whole record says everything)."""

    def __init__(self, record: StudyRecord) -> None:
        self.root: Any = record.protocolSection
        self.complete = record.complete

    def has(self, *path: str) -> bool:
        if self.complete:
            return True
        if path[0] == "eligibilityModule" and path[-1] in LIMIT_FIELDS:
            # the age and sex limits are read together: a module with any of them lists all
            # the study has (a whole module always has sex), so a missing age means none
            module = self.root.eligibilityModule
            return module is not None and bool(LIMIT_FIELDS & module.__fields_set__)
        node = self.root
        for name in path:
            present = node.keys() if isinstance(node, dict) else getattr(node, "__fields_set__", ())
            if node is None or name not in present:
                return False
            node = _value(node, name)
        return True

    def get(self, *path: str) -> Any:
        node = self.root
        for name in path:
            node = _value(node, name)
        return node


def _enum(value: Any) -> Any:
    return value.value if value is not None else None


def _date(struct: Any) -> Optional[str]:
    return struct.date if struct else None


def _date_type(struct: Any) -> Optional[str]:
    return struct.type.value if struct and struct.type else None


# column: (path in protocolSection, how the value is stored); None values of required columns
# (title, status) are never written.
SCALARS: Dict[str, Tuple[Tuple[str, ...], Callable[[Any], Any]]] = {
    "org_study_id": (("identificationModule", "orgStudyInfo"), lambda v: (v or {}).get("id")),
    "brief_title": (("identificationModule", "briefTitle"), lambda v: v),
    "official_title": (("identificationModule", "officialTitle"), lambda v: v),
    "overall_status": (("statusModule", "overallStatus"), _enum),
    "status_verified_date": (("statusModule", "statusVerifiedDate"), lambda v: v),
    "start_date": (("statusModule", "startDateStruct"), _date),
    "start_date_type": (("statusModule", "startDateStruct"), _date_type),
    "primary_completion_date": (("statusModule", "primaryCompletionDateStruct"), _date),
    "primary_completion_date_type": (("statusModule", "primaryCompletionDateStruct"), _date_type),
    "completion_date": (("statusModule", "completionDateStruct"), _date),
    "completion_date_type": (("statusModule", "completionDateStruct"), _date_type),
    "lead_sponsor": (("sponsorCollaboratorsModule", "leadSponsor"), lambda v: v and v.name),
    "brief_summary": (("descriptionModule", "briefSummary"), readable),
    "detailed_description": (("descriptionModule", "detailedDescription"), readable),
    "conditions": (("conditionsModule", "conditions"), lambda v: list(v or [])),
    "keywords": (("conditionsModule", "keywords"), lambda v: list(v or [])),
    "study_type": (("designModule", "studyType"), _enum),
    "phases": (("designModule", "phases"), lambda v: [p.value for p in v or []]),
    "allocation": (("designModule", "designInfo", "allocation"), lambda v: v),
    "intervention_model": (("designModule", "designInfo", "interventionModel"), lambda v: v),
    "masking": (("designModule", "designInfo", "maskingInfo", "masking"), lambda v: v),
    "enrollment_count": (("designModule", "enrollmentInfo"), lambda v: v and v.count),
    "enrollment_type": (("designModule", "enrollmentInfo"), lambda v: v and _enum(v.type)),
    "eligibility_criteria": (("eligibilityModule", "eligibilityCriteria"), readable),
    "sex": (("eligibilityModule", "sex"), _enum),
    "minimum_age": (("eligibilityModule", "minimumAge"), lambda v: v),
    "maximum_age": (("eligibilityModule", "maximumAge"), lambda v: v),
    "healthy_volunteers": (
        ("eligibilityModule", "healthyVolunteers"),
        lambda v: None if v is None else str(v).lower(),
    ),
}
REQUIRED = ("brief_title", "overall_status")
LIMITS = ("sex", "minimum_age", "maximum_age")
LIMIT_FIELDS = {"sex", "minimumAge", "maximumAge"}


def _describe_contact(c: Dict[str, Any]) -> str:
    parts = [c.get("name") or "(no name)", c.get("role")]
    parts += [f"phone {c['phone']}" if c.get("phone") else None]
    parts += [f"e-mail {c['email']}" if c.get("email") else None]
    return ", ".join(p for p in parts if p)


def _describe_location(loc: Dict[str, Any]) -> str:
    place = ", ".join(
        p for p in (loc.get(k) for k in ("facility", "city", "state", "country")) if p
    )
    return f"{place or '(no place given)'} [{loc.get('status') or 'no site status'}]"


def _apply(study: models.Study, record: StudyRecord) -> List[Change]:
    """Write what the record says into the study; returns what changed."""
    read, changes = _Reader(record), cast(List[Change], [])
    for column, (path, convert) in SCALARS.items():
        if not read.has(*path):
            continue
        value = convert(read.get(*path))
        if value is None and column in REQUIRED:
            continue
        set_value(study, column, value, changes)
    if read.complete or "hasResults" in record.__fields_set__:
        set_value(study, "has_results", record.hasResults, changes)

    if read.has("armsInterventionsModule", "interventions"):
        items = read.get("armsInterventionsModule", "interventions") or []
        wanted = [
            dict(
                type=x.type,
                name=x.name,
                description=readable(x.description),
                other_names=list(x.otherNames),
            )
            for x in items
        ]
        sync_rows(
            study.interventions,
            wanted,
            models.Intervention,
            lambda x: f"{x['type'] or 'intervention'}: {x['name']}",
            "interventions",
            changes,
        )
    if read.has("armsInterventionsModule", "armGroups"):
        items = read.get("armsInterventionsModule", "armGroups") or []
        wanted = [
            dict(
                label=a.label,
                type=a.type,
                description=readable(a.description),
                intervention_names=list(a.interventionNames),
            )
            for a in items
        ]
        sync_rows(
            study.arm_groups,
            wanted,
            models.ArmGroup,
            lambda a: f"{a['label']} ({a['type'] or 'no type'})",
            "arm_groups",
            changes,
        )
    if read.has("contactsLocationsModule", "centralContacts"):
        items = read.get("contactsLocationsModule", "centralContacts") or []
        wanted = [
            dict(name=c.name, role=c.role, phone=phone_line(c.phone, c.phoneExt), email=c.email)
            for c in items
        ]
        sync_rows(study.contacts, wanted, models.Contact, _describe_contact, "contacts", changes)
    if read.has("contactsLocationsModule", "locations"):
        items = read.get("contactsLocationsModule", "locations") or []
        wanted = [
            dict(
                facility=x.facility, status=x.status, city=x.city, state=x.state, country=x.country
            )
            for x in items
        ]
        sync_rows(
            study.locations, wanted, models.Location, _describe_location, "locations", changes
        )
    if any(c["field"] in LIMITS for c in changes) or read.complete or study.id is None:
        _sync_limits(study, changes)
    return changes


def _find(session: Session, nct_id: str) -> Optional[models.Study]:
    return session.scalars(select(models.Study).where(models.Study.nct_id == nct_id)).one_or_none()


def import_records(
    session: Session,
    records: List[StudyRecord],
    related_to: Optional[str] = None,
    keep_refreshed: bool = False,
) -> ImportResult:
    """Upsert the records; link them as related studies of `related_to` when given.

    keep_refreshed: a study already refreshed from the registry (`trials refresh`) is left as
    it is (the shipped records are older than the registry; `make run` loads them each time).
    """
    result = ImportResult(created=[], updated=[])
    anchor = None
    if related_to:
        anchor = _find(session, related_to)
        if anchor is None:
            raise ImportFailed(f"--related-to {related_to}: no such study in the database")
    refreshed = set()
    if keep_refreshed:
        refreshed = set(
            session.scalars(
                select(models.StudyRefresh.nct_id).where(models.StudyRefresh.ok.is_(True))
            )
        )
    for record in records:
        ident = record.protocolSection.identificationModule
        nct_id = ident.nctId
        study = _find(session, nct_id)
        if study is None:
            status = record.protocolSection.statusModule
            if not ident.briefTitle or not status or not status.overallStatus:
                raise ImportFailed(
                    f"{nct_id}: not in the database yet, so its record needs "
                    "identificationModule.briefTitle and statusModule.overallStatus "
                    "(this one is field-filtered)"
                )
            study = models.Study(nct_id=nct_id)
            session.add(study)
            _apply(study, record)
            result.created.append(nct_id)
        elif nct_id in refreshed:
            result.skipped.append(nct_id)
        else:
            changes = _apply(study, record)
            if changes:
                result.updated.append(nct_id)
                result.changes[nct_id] = changes
            else:
                result.unchanged.append(nct_id)
        if anchor is not None and study is not anchor and study not in anchor.related:
            anchor.related.append(study)
        session.flush()
    return result
