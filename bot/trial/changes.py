"""What an import changed, field by field, and how a change reads.

The importer writes a column or a child row only when its value differs, so importing an
unchanged record rewrites nothing; every write is noted as a change:
`{"field": column, "label": words, "old": ..., "new": ...}` for a value, and
`{"field": "contacts", "label": ..., "added": [...], "removed": [...], "changed": [...]}` for a
list of rows (each row described in one line). These dicts are what `trials refresh` prints and
what the study_refresh table keeps for staff.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

Change = Dict[str, Any]

LABELS = {
    "org_study_id": "org study id",
    "brief_title": "title",
    "official_title": "official title",
    "overall_status": "status",
    "status_verified_date": "status verified",
    "start_date": "start date",
    "start_date_type": "start date type",
    "primary_completion_date": "primary completion date",
    "primary_completion_date_type": "primary completion date type",
    "completion_date": "completion date",
    "completion_date_type": "completion date type",
    "lead_sponsor": "sponsor",
    "brief_summary": "summary",
    "detailed_description": "description",
    "study_type": "study type",
    "intervention_model": "intervention model",
    "enrollment_count": "enrollment",
    "enrollment_type": "enrollment type",
    "eligibility_criteria": "eligibility criteria",
    "minimum_age": "minimum age",
    "maximum_age": "maximum age",
    "healthy_volunteers": "healthy volunteers",
    "has_results": "has results",
    "arm_groups": "arms",
}
LONG_TEXT = {"brief_summary", "detailed_description", "eligibility_criteria", "official_title"}


def label(field: str) -> str:
    return LABELS.get(field, field.replace("_", " "))


def set_value(row: Any, column: str, value: Any, changes: List[Change]) -> None:
    """row.column = value, only when it differs (no write, no change otherwise)."""
    old = getattr(row, column)
    if old == value:
        return
    setattr(row, column, value)
    changes.append({"field": column, "label": label(column), "old": old, "new": value})


def sync_rows(
    rows: List[Any],
    wanted: Sequence[Dict[str, Any]],
    make: Callable[..., Any],
    describe: Callable[[Dict[str, Any]], str],
    field: str,
    changes: List[Change],
) -> None:
    """Make the child rows (a relationship ordered by position) hold `wanted`, in that order:
    rows are updated in place position by position, extra rows appended or deleted; when they
    already hold it nothing is written."""
    target = [dict(item, position=i) for i, item in enumerate(wanted)]
    columns = list(target[0]) if target else ["position"]
    if [{k: getattr(r, k) for k in columns} for r in rows] == target:
        return
    before = [describe(_values(r)) for r in rows]
    for i, item in enumerate(target):
        if i < len(rows):
            for column, value in item.items():
                if getattr(rows[i], column) != value:
                    setattr(rows[i], column, value)
        else:
            rows.append(make(**item))
    for extra in list(rows[len(target) :]):
        rows.remove(extra)
    changes.append(list_change(field, before, [describe(dict(w)) for w in wanted]))


def _values(row: Any) -> Dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def list_change(field: str, old: List[str], new: List[str]) -> Change:
    """Rows described in one line each: which were added, removed, or changed in details that
    their one line does not show (listed under "changed")."""
    before, after = Counter(old), Counter(new)
    added = list((after - before).elements())
    removed = list((before - after).elements())
    same = [line for line in dict.fromkeys(new) if line in old and line not in added]
    change: Change = {"field": field, "label": label(field), "added": added, "removed": removed}
    if not added and not removed:
        change["changed"] = same or ["order"]
    return change


def _short(value: Any, field: str) -> str:
    if value is None or value == [] or value == "":
        return "(none)"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    text = str(value)
    if field in LONG_TEXT and len(text) > 60:
        return f"{len(text)} characters"
    return text


def render(changes: List[Change]) -> List[str]:
    """One line per change: 'status: NOT_YET_RECRUITING → RECRUITING', '+ contact: ...'."""
    lines = []
    for change in changes:
        name = change.get("label") or label(change["field"])
        if "added" in change or "removed" in change:
            lines += [f"{name}: + {line}" for line in change.get("added", [])]
            lines += [f"{name}: - {line}" for line in change.get("removed", [])]
            lines += [f"{name}: ~ {line}" for line in change.get("changed", [])]
        else:
            field = change["field"]
            old, new = _short(change.get("old"), field), _short(change.get("new"), field)
            lines.append(f"{name}: {old} → {new}" if old != new else f"{name}: changed")
    return lines


def summary(changes: List[Change], limit: int = 4) -> Tuple[str, Optional[str]]:
    """A short line for lists ('status, start date, contacts') and the rest's count."""
    names = list(dict.fromkeys(c.get("label") or label(c["field"]) for c in changes))
    more = f"and {len(names) - limit} more" if len(names) > limit else None
    return ", ".join(names[:limit]), more
