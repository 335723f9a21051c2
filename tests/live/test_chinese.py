"""Live end-to-end in Chinese: the real Rasa server with the trained bilingual model and the
action server, over REST (the session's shared `live_stack`)."""

import random
import uuid

import pytest

pytestmark = pytest.mark.live
PHONE = "0086-18991232095"
SURNAMES = "王李张刘陈杨赵黄周吴"
GIVEN = "芳伟敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"


@pytest.fixture
def stack(live_stack):
    return live_stack


def sender() -> str:
    return f"zh-{uuid.uuid4().hex[:8]}"


def unique_name() -> str:
    return random.choice(SURNAMES) + "".join(random.choices(GIVEN, k=2))


def test_status_in_chinese_from_the_database(stack):
    reply = stack.say(sender(), "试验现在招人吗")
    assert "尚未招募" in reply and "NCT05113290" in reply and PHONE in reply
    assert "not yet recruiting" not in reply


def test_the_phone_in_traditional_characters(stack):
    reply = stack.say(sender(), "醫生電話多少")
    assert f"Chang Liu, MD（电话：{PHONE}）" in reply


def test_related_studies_by_a_chinese_drug_name(stack):
    reply = stack.say(sender(), "有没有用卡博替尼的试验")
    for nct_id in ("NCT01908426", "NCT03170960", "NCT03963206", "NCT04767906"):
        assert nct_id in reply
    assert "NCT04401800" not in reply


def test_short_messages_keep_the_language_and_english_switches_it(stack):
    who = sender()
    assert "尚未招募" in stack.say(who, "这个试验在招人吗")
    assert "您" in stack.say(who, "ok")
    assert "I'll answer in English" in stack.say(who, "English please")
    assert "not yet recruiting" in stack.say(who, "is it recruiting")
    assert "中文" in stack.say(who, "说中文")


def test_a_full_screening_in_chinese_ends_with_a_callback(stack):
    who, name = sender(), unique_name()
    consent = stack.say(who, "我父亲是肝癌，能参加吗")
    assert "健康信息" in consent and "您是否同意" in consent
    assert "（1/5）" in stack.say(who, "同意")
    assert "（2/5）" in stack.say(who, "是的")
    assert "（3/5）" in stack.say(who, "没有")
    assert "（4/5）" in stack.say(who, "对")
    assert "（5/5）" in stack.say(who, "嗯")
    outcome = stack.say(who, "稳定的")
    assert "可能符合" in outcome and "研究团队" in outcome and PHONE in outcome
    assert stack.say(who, "好的，请给我打电话")  # asks for the name
    assert stack.say(who, name)  # asks for the phone
    saved = stack.say(who, "13912345678")
    assert name in saved and "+86 139 1234 5678" in saved
    listing = stack.cli("screenings", "list").stdout
    block = next(b for b in listing.split("\n#") if f"callback: {name} " in b)
    assert "may_be_eligible" in block and "stable_on_sorafenib: yes (pass)" in block
