"""Live end-to-end: what patients ask before joining, in both languages, over REST, and the
data-deletion flow checked in the database."""

import uuid

import pytest
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.live
PHONE = "0086-18991232095"


@pytest.fixture
def stack(live_stack):
    return live_stack


def sender() -> str:
    return f"pq-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(
    "question, expected",
    [
        ("is the treatment free?", "doesn't say whether taking part costs anything"),
        ("do they pay for my travel", "doesn't say whether participants are paid"),
        ("how often do I need to come to the hospital", "doesn't say how many visits"),
        ("does H101 have side effects", "doesn't say what side effects"),
        ("can I quit the trial whenever I want", "leave at any time"),
        ("参加这个试验要花钱吗", "研究记录中没有说明参加试验是否需要费用"),
        ("中途可以退出吗", "自愿"),
    ],
)
def test_what_the_record_does_not_say_and_general_facts(stack, question, expected):
    reply = stack.say(sender(), question)
    assert expected in reply
    if "doesn't say" in expected or "没有说明" in expected:
        assert PHONE in reply
    for wrong in ("single-arm", "December 1, 2021", "oncolytic"):  # another question's answer
        assert wrong not in reply


def test_another_cancer_gets_this_studys_condition_and_no_padding(stack):
    reply = stack.say(sender(), "is there any trial for bile duct cancer")
    assert "This study is for hepatocellular carcinoma" in reply
    assert "no related studies for bile duct cancer" in reply and "NCT0" not in reply


def test_can_someone_call_me_offers_a_callback(stack):
    who = sender()
    reply = stack.say(who, "can someone call me")
    assert "call you back" in reply and PHONE in reply
    assert "What name" in stack.say(who, "yes please")


def _count(url: str, sql: str, **params) -> int:
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql), params).scalar() or 0)
    finally:
        engine.dispose()


def test_deleting_my_data_removes_it_from_the_database(stack):
    letters = "".join(c for c in uuid.uuid4().hex if c.isalpha())[:5].capitalize()
    who, name = sender(), f"Li {letters}"
    stack.say(who, "can someone call me")
    stack.say(who, "yes")
    stack.say(who, name)
    assert name in stack.say(who, "139 1234 5678")
    callbacks = "SELECT count(*) FROM callback_request WHERE name = :name"
    assert _count(stack.database_url, callbacks, name=name) == 1
    stored = stack.say(who, "what do you store about me")
    assert "a callback request with a name and phone number" in stored
    confirm = stack.say(who, "delete my data")
    assert "Shall I delete your data?" in confirm
    done = stack.say(who, "yes")
    assert "deleted 0 screening record(s) and 1 callback request(s)" in done
    assert _count(stack.database_url, callbacks, name=name) == 0
    assert _count(stack.database_url, "SELECT count(*) FROM deletion_request") >= 1
