"""The assistant in Chinese: the conversation's language from what the patient writes, the
channel's hint or a switch; facts from the database in Chinese conventions; the pre-screening
and the callback in Chinese."""

import pytest
from rasa_sdk.events import SlotSet

from actions.callback import ActionSaveCallback, ValidateCallbackForm
from actions.chitchat import ActionGreet, ActionSwitchLanguage
from actions.contact import ActionContact
from actions.related import ActionRelatedStudies
from actions.screening import (
    ActionAskScreeningAnswer,
    ActionAskScreeningConsent,
    ActionScreeningOutcome,
    ValidateScreeningForm,
)
from actions.study_info import ActionRecruitmentStatus, ActionStudyDates, ActionStudyOverview
from bot.screening.records import list_screenings
from tests.support import read
from tests.support.sdk import run, tracker

PHONE = "0086-18991232095"
ZH_CONTACT = f"Chang Liu, MD（电话：{PHONE}）"
DOMAIN = {
    "forms": {
        "screening_form": {"required_slots": ["screening_consent", "screening_answer"]},
        "callback_form": {"required_slots": ["callback_name", "callback_phone"]},
    }
}


async def said(action, **kwargs):
    texts, events, _ = await run(action, tracker(**kwargs), DOMAIN)
    return "\n".join(texts), events


async def test_a_chinese_question_gets_a_chinese_answer_from_the_database(seeded):
    reply, events = await said(ActionRecruitmentStatus(), text="试验现在招人吗", language=None)
    assert "NCT05113290" in reply and "尚未招募" in reply
    assert "完成日期已经过去" in reply  # the completion date has passed
    assert PHONE in reply and "not yet recruiting" not in reply
    assert SlotSet("language", "zh") in events  # kept on the conversation


async def test_chinese_dates_phase_and_translated_study_text(seeded):
    dates, _ = await said(ActionStudyDates(), text="什么时候开始", language="zh")
    assert "2021年12月1日" in dates and "2023年12月1日" in dates
    overview, _ = await said(ActionStudyOverview(), text="这个研究是做什么的", language="zh")
    assert "IV期" in overview and "干预性" in overview
    assert "西安交通大学第一附属医院" in overview  # the sponsor's stored translation
    assert "重组人5型腺病毒（H101）" in overview and "索拉非尼" in overview
    assert "本研究旨在进一步验证" in overview  # the summary's aim, translated


async def test_a_name_with_no_chinese_form_stays_as_the_registry_writes_it(seeded):
    reply, _ = await said(ActionContact(), text="医生电话多少", language="zh")
    assert ZH_CONTACT in reply


@pytest.mark.parametrize(
    "text, current, hint, expected",
    [
        ("ok", "zh", None, "zh"),  # short and ambiguous: the conversation's language stays
        ("1", "en", "zh", "en"),
        ("H101?", "zh", None, "zh"),
        ("hello", None, "zh", "zh"),  # the widget's or WeChat's hint decides the first turn
        ("hello", None, None, "en"),
        ("請問這個試驗還招人嗎", "en", None, "zh"),  # Traditional is Chinese too
        ("is it recruiting", "zh", None, "en"),
    ],
)
async def test_the_language_follows_the_patient(seeded, text, current, hint, expected):
    reply, _ = await said(
        ActionGreet(), text=text, language=current, metadata={"language": hint} if hint else None
    )
    assert ("您好" in reply) == (expected == "zh")


@pytest.mark.parametrize(
    "text, entities, current, expected",
    [
        ("English please", [], "zh", "OK, I'll answer in English"),
        ("说中文", [], "en", "中文"),
        ("我看不懂英文", [], "en", "中文"),
        ("/switch_language", [{"entity": "language", "value": "zh"}], "en", "中文"),
    ],
)
async def test_switching_language_in_one_turn(seeded, text, entities, current, expected):
    reply, events = await said(
        ActionSwitchLanguage(),
        text=text,
        intent="switch_language",
        entities=entities,
        language=current,
    )
    assert expected in reply
    assert any(e.get("name") == "language" and e.get("value") != current for e in events)


async def test_related_studies_filtered_by_chinese_drug_phase_and_status(seeded):
    reply, _ = await said(
        ActionRelatedStudies(),
        text="有没有用卡博替尼的试验",
        language="zh",
        entities=[{"entity": "drug", "value": "卡博替尼"}],
    )
    for nct_id in ("NCT01908426", "NCT03170960", "NCT03963206", "NCT04767906"):
        assert nct_id in reply
    assert "涉及cabozantinib" in reply and "NCT04401800" not in reply
    reply, _ = await said(ActionRelatedStudies(), text="正在招募的II期肝癌试验", language="zh")
    assert "NCT04401800" in reply and "NCT04767906" in reply and "NCT04039607" not in reply
    assert "招募中" in reply and "II期" in reply
    # a related study with no Chinese title keeps its registry title inside the sentence
    assert "Preliminary Antitumor Activity" in reply


async def test_a_full_screening_in_chinese_is_stored_and_ends_with_a_callback(seeded):
    consent, _ = await said(ActionAskScreeningConsent(), text="我爸能参加吗", language="zh")
    assert "5个简短问题" in consent and "健康信息" in consent and "您是否同意" in consent
    slots = {"language": "zh"}
    for step, answer in enumerate(["是", "是的", "没有", "对", "嗯", "稳定的"]):
        requested = "screening_consent" if step == 0 else "screening_answer"
        t = tracker(
            text=answer,
            slots={**slots, requested: answer, "requested_slot": requested},
            active_loop="screening_form",
            sender_id="zh-patient",
            language="zh",
        )
        t.events.append({"event": "slot", "name": requested, "value": answer})
        _, events, _ = await run(ValidateScreeningForm(), t, DOMAIN)
        slots.update({e["name"]: e["value"] for e in events if e["event"] == "slot"})
        if step < 5:
            question, _ = await said(ActionAskScreeningAnswer(), slots=slots, language="zh")
            assert question.startswith(f"（{step + 1}/5）") and "？" in question
    assert slots["screening_outcome"] == "may_be_eligible"
    outcome, _ = await said(ActionScreeningOutcome(), slots=slots, language="zh")
    assert "研究团队" in outcome and "最终" in outcome and PHONE in outcome
    [record] = read(list_screenings)
    assert record.outcome == "may_be_eligible" and record.answers[-1].value == "yes"
    assert record.answers[0].question.startswith("请问医生是否已诊断")  # as it was asked

    values = {}
    for slot, text in (("callback_name", "我叫王芳"), ("callback_phone", "13912345678")):
        t = tracker(
            text=text,
            slots={**slots, slot: text, "requested_slot": slot},
            active_loop="callback_form",
            language="zh",
        )
        t.events.append({"event": "slot", "name": slot, "value": text})
        _, events, _ = await run(ValidateCallbackForm(), t, DOMAIN)
        values.update({e["name"]: e["value"] for e in events if e["name"] == slot})
    assert values == {"callback_name": "王芳", "callback_phone": "+86 139 1234 5678"}
    saved, _ = await said(
        ActionSaveCallback(), slots={**slots, **values}, language="zh", sender_id="zh-patient"
    )
    assert "王芳" in saved and "+86 139 1234 5678" in saved
    [record] = read(list_screenings)
    assert record.callback_name == "王芳"
