"""Other studies related to this one, filtered by what the user asked for (either language).

A condition this study is not for ("is there a trial for bile duct cancer?") is said plainly:
this study is for hepatocellular carcinoma; related studies are filtered by the condition asked
about, and when there are none the answer says so and suggests the patient's doctor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import Events, StudyAction, db
from actions.replies import render, say
from bot.language import to_simplified
from bot.trial import vocabulary
from bot.trial.queries import StudyBrief, related_studies

MAX_SHOWN = 5
THIS_STUDY_CONDITION = "liver cancer"
PHASE_WORDS = {
    "i": "1",
    "ii": "2",
    "iii": "3",
    "iv": "4",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "ⅰ": "1",
    "ⅱ": "2",
    "ⅲ": "3",
    "ⅳ": "4",
    "一": "1",
    "二": "2",
    "三": "3",
    "四": "4",
    "1": "1",
    "2": "2",
    "3": "3",
    "4": "4",
}
ROMAN = {"1": "I", "2": "II", "3": "III", "4": "IV"}
PHASE = re.compile(r"\bphase\s*(iv|iii|ii|i|one|two|three|four|[1-4])\b", re.IGNORECASE)
PHASE_ZH = re.compile(r"(IV|III|II|I|Ⅳ|Ⅲ|Ⅱ|Ⅰ|[1-4一二三四])\s*[abAB]?\s*期")
RECRUITING = re.compile(
    r"\b(recrui\w*|open|enrol\w*|accepting)\b|招募中|正在招|在招|还招|招人|在招募|招募的",
    re.IGNORECASE,
)
# Drug names by their generic-name stems (-mab antibodies, -nib kinase inhibitors, statins).
DRUG = re.compile(r"\b([a-z]{3,}(?:mab|nib|statin))\b", re.IGNORECASE)
CONDITION_NAMES = {
    "en": {
        "liver cancer": "liver cancer",
        "bile duct cancer": "bile duct cancer",
        "lung cancer": "lung cancer",
        "breast cancer": "breast cancer",
        "stomach cancer": "stomach cancer",
        "colorectal cancer": "colorectal cancer",
        "pancreatic cancer": "pancreatic cancer",
        "kidney cancer": "kidney cancer",
        "nasopharyngeal cancer": "nasopharyngeal cancer",
        "solid tumor": "solid tumours",
    },
    "zh": {
        "liver cancer": "肝癌",
        "bile duct cancer": "胆管癌",
        "lung cancer": "肺癌",
        "breast cancer": "乳腺癌",
        "stomach cancer": "胃癌",
        "colorectal cancer": "结直肠癌",
        "pancreatic cancer": "胰腺癌",
        "kidney cancer": "肾癌",
        "nasopharyngeal cancer": "鼻咽癌",
        "solid tumor": "实体瘤",
    },
}


@dataclass
class Filters:
    recruiting_only: bool = False
    phase: Optional[str] = None
    keyword: Optional[str] = None
    condition: Optional[str] = None  # canonical (bot.trial.vocabulary)

    def describe(self, language: str) -> str:
        parts = []
        if self.recruiting_only:
            parts.append(render("filter_recruiting", language))
        if self.phase:
            phase = ROMAN[self.phase] if language == "zh" else self.phase
            parts.append(render("filter_phase", language, phase=phase))
        if self.condition:
            name = CONDITION_NAMES[language].get(self.condition, self.condition)
            parts.append(render("filter_condition", language, condition=name))
        if self.keyword:
            parts.append(render("filter_drug", language, drug=self.keyword))
        if not parts:
            return ""
        if language == "zh":
            return "（" + "、".join(parts) + "）"
        return " (" + ", ".join(parts) + ")"


def _mentioned(text: str, index: Dict[str, List[str]]) -> Optional[str]:
    """The canonical term whose name appears in the text (longest name first)."""
    simplified = to_simplified(text).lower()
    names = sorted(((n, c) for c, ns in index.items() for n in ns), key=lambda p: -len(p[0]))
    for name, canonical in names:
        lowered = name.lower()
        if re.search(r"[a-z]", lowered):
            if re.search(rf"\b{re.escape(lowered)}\b", simplified):
                return canonical
        elif lowered in simplified:
            return canonical
    return None


def filters_from(tracker: Tracker) -> Filters:
    """Entities first; the message text catches what the NLU model missed."""
    text = str(tracker.latest_message.get("text") or "")
    entities = {
        e["entity"]: str(e.get("value")) for e in tracker.latest_message.get("entities", [])
    }
    phase = PHASE_WORDS.get(entities.get("phase", "").lower().replace("phase", "").strip())
    if phase is None and (found := PHASE.search(text) or PHASE_ZH.search(text)):
        phase = PHASE_WORDS.get(found.group(1).lower())
    keyword = vocabulary.drug(entities.get("drug"))
    if keyword is None:
        if found_drug := DRUG.search(text):
            keyword = vocabulary.drug(found_drug.group(1).lower())
        else:
            keyword = _mentioned(text, vocabulary.DRUGS)
    condition = vocabulary.condition(entities.get("condition")) or _mentioned(
        text, {c: list(names) for c, (names, _) in vocabulary.CONDITIONS.items()}
    )
    return Filters(
        recruiting_only="status_filter" in entities or bool(RECRUITING.search(text)),
        phase=phase,
        keyword=keyword,
        condition=condition,
    )


def study_lines(found: List[StudyBrief]) -> str:
    return "\n".join(f"• {s.nct_id}: {s.title} ({s.status_label}, {s.phase_label})" for s in found)


def list_studies(
    dispatcher: CollectingDispatcher,
    language: str,
    found: List[StudyBrief],
    total: int,
    filters: Filters,
) -> None:
    if not found:
        say(dispatcher, language, "related_none", filters=filters.describe(language))
        return
    say(
        dispatcher,
        language,
        "related_studies",
        shown=len(found),
        total=total,
        filters=filters.describe(language),
        studies=study_lines(found),
    )
    if total > len(found):
        say(dispatcher, language, "related_more", more=total - len(found))


class ActionRelatedStudies(StudyAction):
    def name(self) -> Text:
        return "action_related_studies"

    async def answer(self, dispatcher, tracker, study) -> Events:
        language = study.language
        filters = filters_from(tracker)
        found, total = await db(
            related_studies,
            study.nct_id,
            recruiting_only=filters.recruiting_only,
            phase=filters.phase,
            keyword=filters.keyword,
            condition=filters.condition,
            limit=MAX_SHOWN,
            language=language,
        )
        if filters.condition and filters.condition != THIS_STUDY_CONDITION:
            name = CONDITION_NAMES[language].get(filters.condition, filters.condition)
            say(dispatcher, language, "other_condition", condition=name)
            if not found:
                say(dispatcher, language, "other_condition_none", condition=name)
                return []
        list_studies(dispatcher, language, found, total, filters)
        return []
