"""The studies area of the console: each study's status, its last refresh from the registry and
its change history (study_refresh, written by `python -m bot trials refresh`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Dict, List, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.console.tracker import utc
from bot.trial.changes import render, summary
from bot.trial.labels import phase_label, status_label
from bot.trial.models import Study, StudyRefresh

HISTORY_LIMIT = 200


@dataclass
class Refresh:
    at: datetime
    ok: bool
    changed: bool
    lines: List[str]  # what changed, one line each (bot.trial.changes.render)
    error: Optional[str]
    source: Optional[str]


@dataclass
class StudyRow:
    nct_id: str
    title: str
    status: str
    phases: str
    updated_at: Optional[datetime]
    is_anchor: bool
    last_refresh: Optional[Refresh] = None
    last_change: Optional[Refresh] = None
    last_change_summary: str = ""
    extra: List[str] = field(default_factory=list)


def _refresh(row: StudyRefresh) -> Refresh:
    return Refresh(
        at=utc(row.at),
        ok=bool(row.ok),
        changed=bool(row.changed),
        lines=render(list(row.changes or [])),
        error=row.error,
        source=row.source,
    )


def _latest(session: Session, *conditions) -> Dict[str, StudyRefresh]:
    newest = select(func.max(StudyRefresh.id)).group_by(StudyRefresh.nct_id)
    for condition in conditions:
        newest = newest.where(condition)
    return {
        r.nct_id: r
        for r in session.scalars(select(StudyRefresh).where(StudyRefresh.id.in_(newest)))
    }


def study_list(session: Session, anchor: Optional[str] = None) -> List[StudyRow]:
    """Every study in the database, the assistant's own first, then by NCT id."""
    last = _latest(session)
    changed = _latest(session, StudyRefresh.changed.is_(True))
    rows = []
    for study in session.scalars(select(Study).order_by(Study.nct_id)):
        row = StudyRow(
            nct_id=study.nct_id,
            title=study.brief_title,
            status=status_label(study.overall_status),
            phases=phase_label(list(study.phases or [])),
            updated_at=utc(study.updated_at) if study.updated_at else None,
            is_anchor=study.nct_id == anchor,
        )
        if study.nct_id in last:
            row.last_refresh = _refresh(last[study.nct_id])
        if study.nct_id in changed:
            row.last_change = _refresh(changed[study.nct_id])
            text, more = summary(list(changed[study.nct_id].changes or []))
            row.last_change_summary = text or "added"
            row.extra = [more] if more else []
        rows.append(row)
    rows.sort(key=lambda r: (not r.is_anchor, r.nct_id))
    return rows


def study_history(
    session: Session, nct_id: str, limit: int = HISTORY_LIMIT
) -> Optional[Dict[str, object]]:
    """One study and its refreshes, newest first; None when it has neither."""
    study = session.scalars(select(Study).where(Study.nct_id == nct_id)).one_or_none()
    refreshes = [
        _refresh(r)
        for r in session.scalars(
            select(StudyRefresh)
            .where(StudyRefresh.nct_id == nct_id)
            .order_by(StudyRefresh.id.desc())
            .limit(limit)
        )
    ]
    if study is None and not refreshes:
        return None
    return {
        "nct_id": nct_id,
        "title": study.brief_title if study else None,
        "status": status_label(study.overall_status) if study else None,
        "phases": phase_label(list(study.phases or [])) if study else None,
        "in_database": study is not None,
        "refreshes": refreshes,
        "total": session.scalar(
            select(func.count()).select_from(StudyRefresh).where(StudyRefresh.nct_id == nct_id)
        ),
    }
