"""Load pre-screening criteria files (kept apart from reading them, which is bot.trials).

A file is {"nctId": ..., "source": ..., "criteria": [{key, kind, question, answer_type, ...}]};
criteria are matched by key, so a file can be edited and loaded again without retraining.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Literal, Optional

from pydantic import BaseModel, ValidationError, root_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import models
from bot.importer import ImportError_, _field_path


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


def load_criteria(session: Session, path: Path) -> int:
    """Upsert a criteria file's rows; returns how many were written."""
    try:
        parsed = CriteriaFile.parse_obj(json.loads(Path(path).read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise ImportError_(f"{path}: no such file")
    except json.JSONDecodeError as error:
        raise ImportError_(f"{path}: not valid JSON ({error})")
    except ValidationError as error:
        raise ImportError_(
            f"{path}: invalid criteria file\n  "
            + "\n  ".join(f"{_field_path('', e['loc'])}: {e['msg']}" for e in error.errors())
        )
    study = session.scalars(
        select(models.Study).where(models.Study.nct_id == parsed.nctId)
    ).one_or_none()
    if study is None:
        raise ImportError_(f"{path}: study {parsed.nctId} is not in the database; import it first")
    existing = {c.key: c for c in study.criteria}
    first = max((c.position for c in study.criteria if c.source == "eligibility_module"),
                default=-1) + 1
    for offset, item in enumerate(parsed.criteria):
        row = existing.get(item.key) or models.Criterion(key=item.key)
        for name, value in item.dict().items():
            setattr(row, name, value)
        row.source, row.position = parsed.source, first + offset
        if item.key not in existing:
            study.criteria.append(row)
    session.flush()
    return len(parsed.criteria)
