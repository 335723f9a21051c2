"""Loading a study's display text in another language (kept apart from reading it).

A file is {"nctId": ..., "language": "zh", "source": "...", "fields": {field: text}} (see
bot/seed/zh/NCT05113290.json and StudyTranslation for the field names). Loading it makes that
study's translations in that language the file's (only what changed is written; loading the
same file again writes nothing); a field not in the file is shown in English.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict

from pydantic import BaseModel, validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.trial import models
from bot.trial.importer import ImportFailed, read_json_file

FIELD = re.compile(
    r"^(brief_title|official_title|brief_summary|aim|lead_sponsor|conditions"
    r"|intervention\.\d+\.(name|description)|arm\.\d+\.label)$"
)


class TranslationFile(BaseModel):
    nctId: str
    language: str
    source: str
    fields: Dict[str, str]

    @validator("language")
    def _language(cls, value: str) -> str:
        if value not in ("zh",):
            raise ValueError("language must be zh (English is the registry's own)")
        return value

    @validator("fields")
    def _fields(cls, value: Dict[str, str]) -> Dict[str, str]:
        unknown = [name for name in value if not FIELD.match(name)]
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(unknown)}")
        if any(not text.strip() for text in value.values()):
            raise ValueError("a translated text is empty")
        return value


def load_translations(session: Session, path: Path) -> int:
    """Replace a study's translations in one language by the file's; returns how many."""
    parsed = read_json_file(path, TranslationFile, "translation file")
    study_id = session.scalars(
        select(models.Study.id).where(models.Study.nct_id == parsed.nctId)
    ).one_or_none()
    if study_id is None:
        raise ImportFailed(f"{path}: study {parsed.nctId} is not in the database; import it first")
    existing = {
        row.field: row
        for row in session.scalars(
            select(models.StudyTranslation).where(
                models.StudyTranslation.study_id == study_id,
                models.StudyTranslation.language == parsed.language,
            )
        )
    }
    for name, row in existing.items():
        if name not in parsed.fields:
            session.delete(row)
    for name, text in parsed.fields.items():
        row = existing.get(name)
        if row is None:
            session.add(
                models.StudyTranslation(
                    study_id=study_id,
                    field=name,
                    language=parsed.language,
                    text=text.strip(),
                    source=parsed.source,
                )
            )
        elif (row.text, row.source) != (text.strip(), parsed.source):
            row.text, row.source = text.strip(), parsed.source
    session.flush()
    return len(parsed.fields)
