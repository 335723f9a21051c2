"""The patient's data, in the conversation: what is stored and who sees it; deleting it."""

from __future__ import annotations

from typing import Text

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet

from actions.common import Events, StudyAction, db
from actions.replies import render, say
from bot.config import get_settings
from bot.screening import rights
from bot.trial.labels import join_words

UNNAMED = {"en": "the hospital", "zh": "医院"}
SCREENING_SLOTS = (
    "screening_consent",
    "screening_answer",
    "screening_step",
    "screening_retries",
    "screening_outcome",
    "screening_id",
)


class ActionDataStored(StudyAction):
    """What is stored for this conversation, who sees it, for how long, how to delete it."""

    def name(self) -> Text:
        return "action_data_stored"

    async def answer(self, dispatcher, tracker: Tracker, study) -> Events:
        language = study.language
        stored = await db(rights.stored_for, tracker.sender_id)
        items = [render("data_item_messages", language)]
        if stored.screening_answers:
            items.append(render("data_item_screening", language, count=stored.screening_answers))
        if stored.callbacks:
            items.append(render("data_item_callback", language))
        say(
            dispatcher,
            language,
            "data_stored",
            items=join_words(items, language),
            sponsor=study.sponsor or UNNAMED[language],
            days=get_settings().retention_days,
        )
        return []


class ActionConfirmDeletion(StudyAction):
    def name(self) -> Text:
        return "action_confirm_deletion"

    async def answer(self, dispatcher, tracker, study) -> Events:
        say(dispatcher, study.language, "deletion_confirm")
        return [SlotSet("deletion_pending", True), SlotSet("callback_offered", False)]


class ActionDeleteData(StudyAction):
    """Confirmed: delete this conversation's screening answers and callback requests now, and
    mark the conversation for the purge."""

    def name(self) -> Text:
        return "action_delete_data"

    async def answer(self, dispatcher, tracker: Tracker, study) -> Events:
        counts = await db(rights.delete_for, tracker.sender_id)
        say(dispatcher, study.language, "deletion_done", **counts)
        return [SlotSet("deletion_pending", False)] + [SlotSet(s, None) for s in SCREENING_SLOTS]


class ActionKeepData(StudyAction):
    def name(self) -> Text:
        return "action_keep_data"

    async def answer(self, dispatcher, tracker, study) -> Events:
        say(dispatcher, study.language, "deletion_kept")
        return [SlotSet("deletion_pending", False)]
