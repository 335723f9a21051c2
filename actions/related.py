"""Other studies related to this one, filtered by what the user asked for."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import StudyAction, db, join_words
from actions.replies import say
from bot import trials

MAX_SHOWN = 5
PHASE_WORDS = {"i": "1", "ii": "2", "iii": "3", "iv": "4", "one": "1", "two": "2",
               "three": "3", "four": "4", "1": "1", "2": "2", "3": "3", "4": "4"}
PHASE = re.compile(r"\bphase\s*(iv|iii|ii|i|one|two|three|four|[1-4])\b", re.IGNORECASE)
RECRUITING = re.compile(r"\b(recrui\w*|open|enrol\w*|accepting)\b", re.IGNORECASE)
LIVER = re.compile(r"\b(liver|hcc|hepat\w*)\b", re.IGNORECASE)
# Drug names by their generic-name stems (-mab antibodies, -nib kinase inhibitors, statins).
DRUG = re.compile(r"\b([a-z]{3,}(?:mab|nib|statin))\b", re.IGNORECASE)


@dataclass
class Filters:
    recruiting_only: bool = False
    phase: Optional[str] = None
    keyword: Optional[str] = None
    liver_only: bool = False

    def describe(self) -> str:
        parts = [
            "recruiting" if self.recruiting_only else "",
            f"phase {self.phase}" if self.phase else "",
            "on liver cancer" if self.liver_only else "",
            f"mentioning {self.keyword}" if self.keyword else "",
        ]
        words = join_words([p for p in parts if p])
        return f" ({words})" if words else ""


def filters_from(tracker: Tracker) -> Filters:
    """Entities first; the message text catches what the NLU model missed."""
    text = tracker.latest_message.get("text") or ""
    entities = {e["entity"]: str(e.get("value")) for e in tracker.latest_message.get("entities", [])}
    phase = entities.get("phase")
    if phase is None and PHASE.search(text):
        phase = PHASE_WORDS[PHASE.search(text).group(1).lower()]
    keyword = entities.get("drug")
    if keyword is None and DRUG.search(text):
        keyword = DRUG.search(text).group(1).lower()
    return Filters(
        recruiting_only="status_filter" in entities or bool(RECRUITING.search(text)),
        phase=PHASE_WORDS.get(phase.lower().replace("phase", "").strip()) if phase else None,
        keyword=keyword,
        liver_only="condition" in entities or bool(LIVER.search(text)),
    )


def study_lines(found) -> str:
    return "\n".join(f"• {s.nct_id}: {s.title} ({s.status_label}, {s.phase_label})" for s in found)


def list_studies(dispatcher: CollectingDispatcher, found, total: int, filters: Filters) -> None:
    if not found:
        say(dispatcher, "related_none", filters=filters.describe())
        return
    say(dispatcher, "related_studies", shown=len(found), total=total,
        filters=filters.describe(), studies=study_lines(found),
    )
    if total > len(found):
        say(dispatcher, "related_more", more=total - len(found))


class ActionRelatedStudies(StudyAction):
    def name(self) -> Text:
        return "action_related_studies"

    async def answer(self, dispatcher, tracker, study) -> List[Dict[Text, Any]]:
        filters = filters_from(tracker)
        found, total = await db(
            trials.related_studies, study.nct_id, recruiting_only=filters.recruiting_only,
            phase=filters.phase, keyword=filters.keyword, liver_only=filters.liver_only,
            limit=MAX_SHOWN,
        )
        list_studies(dispatcher, found, total, filters)
        return []
