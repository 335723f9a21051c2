"""How registry values read in a sentence, in English and Chinese: statuses, phases, dates."""

from __future__ import annotations

from datetime import date
from typing import Dict, List, Optional, Sequence

STATUS_LABELS: Dict[str, Dict[str, str]] = {
    "en": {
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
    },
    "zh": {
        "ACTIVE_NOT_RECRUITING": "进行中，不再招募",
        "COMPLETED": "已完成",
        "ENROLLING_BY_INVITATION": "仅限受邀者参加",
        "NOT_YET_RECRUITING": "尚未招募",
        "RECRUITING": "招募中",
        "SUSPENDED": "已暂停",
        "TERMINATED": "已终止",
        "WITHDRAWN": "已撤销",
        "AVAILABLE": "可申请",
        "NO_LONGER_AVAILABLE": "不再提供",
        "TEMPORARILY_NOT_AVAILABLE": "暂不提供",
        "APPROVED_FOR_MARKETING": "已批准上市",
        "WITHHELD": "未公开",
        "UNKNOWN": "状态不明",
    },
}
PHASE_LABELS: Dict[str, Dict[str, str]] = {
    "en": {
        "NA": "not applicable",
        "EARLY_PHASE1": "Early Phase 1",
        "PHASE1": "Phase 1",
        "PHASE2": "Phase 2",
        "PHASE3": "Phase 3",
        "PHASE4": "Phase 4",
    },
    "zh": {
        "NA": "不适用",
        "EARLY_PHASE1": "早期I期",
        "PHASE1": "I期",
        "PHASE2": "II期",
        "PHASE3": "III期",
        "PHASE4": "IV期",
    },
}
NO_PHASE = {"en": "no phase listed", "zh": "未列出分期"}
DATE_TYPES = {
    "en": {"ACTUAL": "actual", "ESTIMATED": "estimated"},
    "zh": {"ACTUAL": "实际", "ESTIMATED": "预计"},
}
STUDY_TYPES = {
    "en": {
        "INTERVENTIONAL": "interventional",
        "OBSERVATIONAL": "observational",
        "EXPANDED_ACCESS": "expanded access",
    },
    "zh": {"INTERVENTIONAL": "干预性", "OBSERVATIONAL": "观察性", "EXPANDED_ACCESS": "扩大使用"},
}
NOT_LISTED = {"en": "not listed", "zh": "未列出"}
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def status_label(status: str, language: str = "en") -> str:
    found = STATUS_LABELS.get(language, STATUS_LABELS["en"]).get(status)
    return found or status.lower().replace("_", " ")


def phase_label(phases: Sequence[str], language: str = "en") -> str:
    if not phases:
        return NO_PHASE.get(language, NO_PHASE["en"])
    labels = PHASE_LABELS.get(language, PHASE_LABELS["en"])
    if language == "zh" and all(p.startswith("PHASE") for p in phases) and len(phases) > 1:
        return "/".join(labels[p][:-1] for p in phases) + "期"  # I/II期
    return "/".join(labels.get(p, p) for p in phases)


def study_type_label(study_type: Optional[str], language: str = "en") -> str:
    return STUDY_TYPES.get(language, STUDY_TYPES["en"]).get(study_type or "", "")


def format_date(value: Optional[str], language: str = "en") -> Optional[str]:
    """'2021-12-01' -> 'December 1, 2021' / '2021年12月1日'; '2021-12' -> 'December 2021'."""
    if not value:
        return None
    parts = [int(p) for p in value.split("-")]
    if language == "zh":
        return "".join(f"{n}{unit}" for n, unit in zip(parts, "年月日", strict=False))
    month = MONTHS[parts[1] - 1]
    return f"{month} {parts[2]}, {parts[0]}" if len(parts) == 3 else f"{month} {parts[0]}"


def dated(value: Optional[str], kind: Optional[str], language: str = "en") -> str:
    """A registry date with its kind: 'December 1, 2021 (estimated)' / '2021年12月1日（预计）'."""
    text = format_date(value, language)
    if not text:
        return NOT_LISTED.get(language, NOT_LISTED["en"])
    if not kind:
        return text
    label = DATE_TYPES.get(language, DATE_TYPES["en"]).get(kind, kind.lower())
    return f"{text}（{label}）" if language == "zh" else f"{text} ({label})"


def join_words(items: List[str], language: str = "en") -> str:
    """'a, b and c' / 'a、b和c'."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    if language == "zh":
        return "、".join(items[:-1]) + "和" + items[-1]
    return ", ".join(items[:-1]) + " and " + items[-1]


def end_of(value: str) -> date:
    """When a (possibly partial) registry date is over: the day itself, or for '2023-12' the
    first day after that month."""
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 3:
        return date(*parts)
    year, month = parts
    return date(year + month // 12, month % 12 + 1, 1)
