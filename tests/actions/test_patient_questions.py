"""What patients ask before joining a trial: answered from the record where it has the fact,
an honest "the record doesn't say" with the phone where it has not, general facts about trials,
talking to a person, and their rights over their data — in both languages."""

import copy
import json

import pytest
from sqlalchemy import func, select

from actions.callback import ActionSaveCallback
from actions.contact import ActionRequestHuman
from actions.practical import (
    ActionNextSteps,
    ActionNotInRecord,
    ActionPhaseMeaning,
    ActionStatusMeaning,
    ActionWithdraw,
)
from actions.privacy import (
    ActionConfirmDeletion,
    ActionDataStored,
    ActionDeleteData,
    ActionKeepData,
)
from actions.related import ActionRelatedStudies
from actions.study_info import ActionCriteria, ActionEnrollment, ActionStudyTitle
from bot.config import get_settings, use_settings
from bot.screening import records
from bot.screening.models import CallbackRequest, DeletionRequest, Screening, ScreeningAnswer
from tests.support import SEED, unit_of_work
from tests.support.sdk import run, tracker

PHONE = "0086-18991232095"


async def said(action, **kwargs):
    texts, events, messages = await run(action, tracker(**kwargs))
    return "\n".join(texts), events, messages


@pytest.mark.parametrize(
    "intent, topic",
    [
        ("ask_cost", "whether taking part costs anything"),
        ("ask_compensation", "whether participants are paid"),
        ("ask_schedule", "how many visits there are"),
        ("ask_side_effects", "what side effects were seen"),
        ("ask_results", "anything about results"),
        ("ask_current_treatment", "which other treatments may be continued"),
    ],
)
async def test_what_the_record_does_not_say_is_said_plainly_with_the_phone(seeded, intent, topic):
    reply, _, _ = await said(ActionNotInRecord(), text="a question", intent=intent)
    assert reply.startswith(f"The study record doesn't say {topic}")
    assert "study team can answer" in reply and PHONE in reply
    # never the answer to another question: no design, dates, sponsor or description
    for other in ("single-arm", "December", "First Affiliated", "oncolytic"):
        assert other not in reply
    if intent in ("ask_side_effects", "ask_current_treatment"):
        assert "don't change or stop any treatment on your own" in reply


async def test_the_same_in_chinese(seeded):
    reply, _, _ = await said(ActionNotInRecord(), text="免费吗", intent="ask_cost", language="zh")
    assert reply.startswith("研究记录中没有说明参加试验是否需要费用") and PHONE in reply


async def test_enrollment_from_the_record_or_not_in_it(seeded, tmp_path):
    reply, _, _ = await said(ActionEnrollment(), text="how many people")
    assert "doesn't say how many people will take part" in reply and PHONE in reply
    record = json.loads((SEED / "NCT05113290.json").read_text())
    changed = copy.deepcopy(record)
    changed["protocolSection"]["designModule"]["enrollmentInfo"] = {
        "count": 60,
        "type": "ESTIMATED",
    }
    from bot.trial.importer import import_records, parse_records

    with unit_of_work() as session:
        import_records(session, parse_records(changed))
    reply, _, _ = await said(ActionEnrollment(), text="how many people")
    assert reply == "The study plans to include 60 participants (estimated)."
    reply, _, _ = await said(ActionEnrollment(), text="招多少人", language="zh")
    assert "60" in reply and "（预计）" in reply


async def test_title_and_criteria(seeded):
    reply, _, _ = await said(ActionStudyTitle(), text="whats the full title")
    assert "Recombinant Human Adenovirus Type 5 Combined With Sorafenib" in reply
    assert "no separate official title" in reply
    reply, _, _ = await said(ActionCriteria(), text="what are the inclusion criteria")
    assert "no formal list of criteria" in reply and "hepatocellular carcinoma" in reply
    assert '"can I take part?"' in reply
    reply, _, _ = await said(ActionCriteria(), text="入组条件是什么", language="zh")
    assert "肝细胞癌" in reply and "肝内胆管癌" in reply


async def test_general_facts_about_trials_with_this_studys_facts(seeded):
    reply, _, _ = await said(ActionWithdraw(), text="can i quit")
    assert "voluntary" in reply and "leave at any time" in reply and PHONE in reply
    reply, _, _ = await said(ActionNextSteps(), text="what happens next")
    assert "informed consent" in reply and PHONE in reply
    reply, _, _ = await said(ActionPhaseMeaning(), text="what does phase 4 mean")
    assert "Phase 4 studies a treatment that is already approved" in reply
    assert "NCT05113290 is a Phase 4 study." in reply
    reply, _, _ = await said(ActionStatusMeaning(), text="what does not yet recruiting mean")
    assert '"Not yet recruiting" means' in reply and '"not yet recruiting"' in reply
    reply, _, _ = await said(ActionPhaseMeaning(), text="四期临床是什么意思", language="zh")
    assert "IV期" in reply


async def test_talking_to_a_person_offers_a_callback_the_phone_and_the_hours(seeded):
    reply, events, messages = await said(ActionRequestHuman(), text="can someone call me")
    assert "call you back" in reply and PHONE in reply
    assert "don't know the study team's office hours" in reply
    assert {"event": "slot", "name": "callback_offered", "value": True, "timestamp": None} in events
    assert [b["payload"] for b in messages[-1]["buttons"]] == ["/affirm", "/deny"]
    use_settings(get_settings().copy(update={"study_office_hours": "1-5 08:00-17:00"}))
    reply, _, _ = await said(ActionRequestHuman(), text="call me back")
    assert "usually calls back Monday to Friday, 08:00 to 17:00" in reply
    reply, _, _ = await said(ActionRequestHuman(), text="转人工", language="zh")
    assert "周一至周五 08:00–17:00" in reply
    # inside the pre-screening: the phone only, the callback comes at the end
    reply, events, _ = await said(ActionRequestHuman(), text="human", active_loop="screening_form")
    assert PHONE in reply and "when we have finished here" in reply and events == []


async def test_a_callback_without_a_screening_is_stored_and_floods_are_refused(seeded):
    slots = {"callback_name": "Li Na", "callback_phone": "+86 139 1234 5678"}
    for _ in range(3):
        reply, _, _ = await said(ActionSaveCallback(), slots=slots, sender_id="direct-1")
        assert "Thank you, Li Na" in reply
    reply, _, _ = await said(ActionSaveCallback(), slots=slots, sender_id="direct-1")
    assert "I won't take another one now" in reply and PHONE in reply
    with unit_of_work() as session:
        rows = session.scalars(select(CallbackRequest)).all()
    assert [(r.conversation_id, r.screening_id) for r in rows] == [("direct-1", None)] * 3


async def test_what_is_stored_and_deleting_it(seeded):
    from bot.trial.models import Criterion

    with unit_of_work() as session:
        screening = records.start(session, "NCT05113290", "patient-9", "rest")
        first = session.scalars(select(Criterion.id)).first()
        records.record_answer(session, screening, first, "yes", "yes", "pass")
        records.add_callback(session, screening, "Wang Fang", "+86 139 1234 5678")
    reply, _, _ = await said(ActionDataStored(), text="what do you store", sender_id="patient-9")
    assert "your messages and my replies" in reply
    assert "your answers to 1 screening questions" in reply
    assert "a callback request with a name and phone number" in reply
    assert "Conversations are deleted after 180 days" in reply and "delete my data" in reply

    _, events, messages = await said(ActionConfirmDeletion(), text="delete my data")
    assert any(e.get("name") == "deletion_pending" and e.get("value") for e in events)
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
    reply, _, _ = await said(ActionKeepData(), text="no", sender_id="patient-9")
    assert "nothing has been deleted" in reply
    reply, events, _ = await said(ActionDeleteData(), text="yes", sender_id="patient-9")
    assert "deleted 1 screening record(s) and 1 callback request(s)" in reply
    with unit_of_work() as session:
        for table in (Screening, ScreeningAnswer, CallbackRequest):
            assert session.scalar(select(func.count()).select_from(table)) == 0
        request = session.get(DeletionRequest, "patient-9")
        assert json.loads(request.deleted) == {"screenings": 1, "callbacks": 1}
        assert request.purged_at is None  # the purge removes the conversation itself
    assert {"event": "slot", "name": "screening_id", "value": None, "timestamp": None} in events


@pytest.mark.parametrize(
    "text, condition, language, says, shows",
    [
        (
            "is there any trial for bile duct cancer",
            "bile duct cancer",
            "en",
            [
                "This study is for hepatocellular carcinoma",
                "no related studies for bile duct cancer",
                "Your doctor",
            ],
            [],
        ),
        ("有没有胆管癌的试验", "胆管癌", "zh", ["肝细胞癌", "胆管癌"], []),
        (
            "trials for kidney cancer",
            "kidney cancer",
            "en",
            ["not for kidney cancer"],
            ["NCT03655613"],
        ),
        ("solid tumour studies", "solid tumor", "en", [], ["NCT03170960", "NCT04118114"]),
    ],
)
async def test_a_condition_the_study_is_not_for(seeded, text, condition, language, says, shows):
    reply, _, _ = await said(
        ActionRelatedStudies(),
        text=text,
        language=language,
        entities=[{"entity": "condition", "value": condition}],
    )
    for words in says:
        assert words in reply
    for nct_id in shows:
        assert nct_id in reply
    if condition in ("bile duct cancer", "胆管癌"):
        assert "NCT0" not in reply  # never padded with studies for another condition
