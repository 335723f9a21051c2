"""Load pre-screening criteria files (kept apart from reading them, which is bot.trials).

A file is {"nctId": ..., "source": ..., "criteria": [{key, kind, question, answer_type, ...}]};
criteria are matched by key, so a file can be edited and loaded again without retraining; a
criterion the file no longer lists leaves future screenings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Literal, Optional

from pydantic import BaseModel, root_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.trial import models
from bot.trial.importer import REGISTRY_SOURCE, ImportFailed, order_criteria, read_json_file


class CriterionIn(BaseModel):
    key: str
    kind: Literal["inclusion", "exclusion"]
    question: str
    rephrase: Optional[str] = None
    answer_type: Literal["yes_no", "number", "choice"]
    choices: List[str] = []
    pass_values: List[str] = []
    min_value: Optional[float] = None
    max_value: Optional[float] = None
    fail_reason: str
    # {"zh": {"question": ..., "rephrase": ..., "fail_reason": ...}}: the same criterion,
    # asked in another language
    translations: Dict[
        Literal["zh"], Dict[Literal["question", "rephrase", "fail_reason"], str]
    ] = {}

    @root_validator(skip_on_failure=True)
    def _passable(cls, values):
        kind = values["answer_type"]
        if kind == "yes_no" and not set(values["pass_values"]) <= {"yes", "no"}:
            raise ValueError("yes_no pass_values must be 'yes' and/or 'no'")
        if kind in ("yes_no", "choice") and not values["pass_values"]:
            raise ValueError("pass_values is needed for yes_no and choice answers")
        if kind == "number" and values["min_value"] is None and values["max_value"] is None:
            raise ValueError("a number criterion needs min_value or max_value")
        return values


class CriteriaFile(BaseModel):
    nctId: str
    source: str = "staff"
    criteria: List[CriterionIn]


@dataclass
class CriteriaLoaded:
    loaded: int  # criteria in the file
    written: List[str]  # keys added or changed
    removed: List[str]  # keys of the same source the file no longer lists


def load_criteria(session: Session, path: Path) -> int:
    """Load a criteria file (see sync_criteria); returns how many criteria it holds."""
    return sync_criteria(session, path).loaded


def sync_criteria(session: Session, path: Path) -> CriteriaLoaded:
    """Make the study's criteria of the file's source exactly the file's: rows are matched by
    key and updated in place only where they differ; criteria of that source the file no
    longer lists are removed from future screenings (answers already given keep their key and
    question, see bot.screening.models). Criteria of other sources (the registry's age and sex
    limits) are left alone."""
    parsed = read_json_file(path, CriteriaFile, "criteria file")
    keys = [item.key for item in parsed.criteria]
    if len(set(keys)) != len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise ImportFailed(f"{path}: criteria keys must be unique ({', '.join(twice)} twice)")
    study = session.scalars(
        select(models.Study).where(models.Study.nct_id == parsed.nctId)
    ).one_or_none()
    if study is None:
        raise ImportFailed(f"{path}: study {parsed.nctId} is not in the database; import it first")
    existing = {c.key: c for c in study.criteria}
    result = CriteriaLoaded(loaded=len(parsed.criteria), written=[], removed=[])
    for row in list(study.criteria):
        if row.source == parsed.source and row.key not in keys:
            study.criteria.remove(row)
            result.removed.append(row.key)
    registry = [c.position for c in study.criteria if c.source == REGISTRY_SOURCE]
    first = max(registry, default=-1) + 1
    for offset, item in enumerate(parsed.criteria):
        row = existing.get(item.key)
        wanted = dict(item.dict(), source=parsed.source, position=first + offset)
        if row is None:
            study.criteria.append(models.Criterion(**{"translations": {}, **wanted}))
            result.written.append(item.key)
        elif any(getattr(row, name) != value for name, value in wanted.items()):
            for name, value in wanted.items():
                if getattr(row, name) != value:
                    setattr(row, name, value)
            result.written.append(item.key)
    order_criteria(study)
    session.flush()
    return result
