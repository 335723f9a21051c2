"""A few realistic conversations in Rasa's tracker store, for the console's tests."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.console.models import AuditLog, ConversationSummary
from bot.screening import records
from tests.support import unit_of_work
from tests.support.events import (
    DAY,
    action,
    bot,
    fallback_user,
    loop,
    reverted,
    save,
    session_start,
    slot,
    timed,
    turn,
    user,
)
from tests.support.staff import XSS

PHONE = "189 1234 5678"
EMAIL = "wang.fang@example.com"


def summary(database_url, sender):
    with unit_of_work(database_url) as session:
        return session.scalars(
            select(ConversationSummary).where(ConversationSummary.sender_id == sender)
        ).one()


def audit_actions(database_url):
    with unit_of_work(database_url) as session:
        return [
            (r.action, r.target, json.loads(r.detail or "{}"))
            for r in session.scalars(select(AuditLog).order_by(AuditLog.id))
        ]


async def three_conversations(store, base):
    """greeting-only (telegram), a fallback with contact details (rest), a screening with a
    callback (rest): one day apart."""
    await save(
        store,
        "tg-1",
        timed(
            session_start()
            + turn(
                "hello there",
                "greet",
                "Hello! I'm an automated assistant.",
                "utter_greet",
                channel="telegram",
            )
            + turn(
                "what is the study about",
                "ask_study_overview",
                "It tests H101.",
                "action_study_overview",
                0.91,
                channel="telegram",
            ),
            base,
        ),
    )
    await save(
        store,
        "rest-2",
        timed(
            session_start()
            + [
                fallback_user(f"call me on {PHONE} or {EMAIL}", "ask_contact", 0.31),
                action("action_fallback"),
                bot("I can only help with this study. Call 0086-18991232095."),
                reverted(),
                action("action_listen"),
            ]
            + turn(
                XSS,
                "out_of_scope",
                "I can only help with questions about this study.",
                "action_fallback",
                0.52,
            )
            + turn(
                "should i stop sorafenib",
                "ask_medical_advice",
                "Please ask your doctor.",
                "action_medical_advice",
                0.88,
            ),
            base + DAY,
        ),
    )
    await save(
        store,
        "rest-3",
        timed(
            session_start()
            + [
                user("can i take part", "ask_eligibility", 0.95),
                action("screening_form"),
                loop("screening_form"),
                slot("screening_consent", "yes"),
                bot("Do you agree?"),
                action("action_listen"),
                user(
                    "are there cabozantinib studies",
                    "ask_related_studies",
                    0.58,
                    entities=[{"entity": "drug", "value": "cabozantinib", "start": 10, "end": 22}],
                ),
                action("action_related_studies"),
                bot("Yes: NCT01908426"),
                action("action_listen"),
                user("Wang Fang", "inform", 0.7),
                action("callback_form"),
                slot("callback_phone", f"+86 {PHONE}"),
                loop(None),
                action("action_save_callback"),
                bot(f"Thank you, Wang Fang. We will call +86 {PHONE}."),
                action("action_listen"),
            ],
            base + 2 * DAY,
        ),
    )


def screen_rest3() -> int:
    """A finished screening with a callback request for the conversation "rest-3"."""
    with unit_of_work() as session:
        screening_id = records.start(session, "NCT05113290", "rest-3", "rest")
        records.finish(session, screening_id, "may_be_eligible")
        records.add_callback(session, screening_id, "Wang Fang", f"+86 {PHONE}")
    return screening_id
