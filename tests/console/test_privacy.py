"""bot.console.privacy: one masking function for Chinese and English text (PhoneNumberMatcher
plus a fallback for digit runs), used by transcripts, previews, exports, the NLU inbox page and
export, and the search copy — on SQLite and PostgreSQL where a database is involved."""

import pytest
from sqlalchemy import select
from sqlalchemy import text as sql

from bot.cli import main
from bot.config import Settings, use_settings
from bot.console import nlu_inbox
from bot.console.models import NluInboxItem
from bot.console.privacy import BULLET, contains_contact, mask_text, public_contacts
from bot.console.transcripts import stories_yaml
from tests.conftest import index
from tests.support import unit_of_work
from tests.support.events import DAY, action, bot, fallback_user, save, session_start, timed, user
from tests.support.staff import now

HIDDEN = [
    # (text, what must not be left of it)
    ("我的电话是13800138000", "13800138000"),
    ("手机13800138000，谢谢", "13800138000"),
    ("电话：138 0013 8000。", "0013"),
    ("138/0013/8000", "0013"),
    ("call 138 - 0013 - 8000 please", "0013"),
    ("１３８００１３８０００", "１３８００１３８"),
    ("我的电话是一三八零零一三八零零零", "一三八零零一三八"),
    ("tel13800138000", "138001380"),
    ("+44 20 7946 0958 is my UK phone", "7946"),
    ("(415) 555-2671", "555"),
    ("我的邮箱是wang.fang@example.com谢谢", "wang.fang"),
    ("邮箱ｗａｎｇ＠ｑｑ．ｃｏｍ", "ａｎｇ＠ｑｑ"),
    ("13800138000@qq.com", "13800138000"),
    ("身份证610102199001011234", "6101021990"),
    ("QQ号 12345678", "123456"),
]
VISIBLE = [
    "NCT05113290目前的状态为“尚未招募”。",
    "研究开始于2021-12-01，预计2024-12-31结束",
    "I am 58, since 2021-12 on sorafenib 400 mg",
    "时间 08:00-17:00",
    "2022年3月15日",
    "the study ran 2021-2024",
    "id 1234567a",
]


@pytest.mark.parametrize("text,secret", HIDDEN)
def test_phone_numbers_and_addresses_are_masked_in_chinese_and_english(text, secret):
    masked = mask_text(text)
    assert secret not in masked, masked
    assert BULLET in masked and contains_contact(text)


@pytest.mark.parametrize("text", VISIBLE)
def test_ids_dates_and_small_numbers_stay(text):
    assert mask_text(text) == text


def test_the_last_two_digits_stay_and_the_layout_too():
    assert mask_text("我的电话是13800138000") == "我的电话是•••••••••00"
    assert mask_text("138 - 0013 - 8000") == "••• - •••• - ••00"
    assert mask_text("１３８００１３８０００") == "•••••••••００"
    assert mask_text("wang@example.com") == "w•••@•••.com"


def test_the_study_phone_stays_visible_in_any_spelling(seeded):
    with unit_of_work(seeded) as session:
        keep = public_contacts(session)
    for text in (
        "Call 0086-18991232095.",
        "请拨打 +86 189 9123 2095",
        "请拨打18991232095。",
    ):
        assert mask_text(text, keep) == text
    assert "13800138000" not in mask_text("请拨打18991232095或13800138000", keep)


def test_test_stories_never_leave_a_number_across_an_entity(seeded):
    events = [
        {
            "event": "user",
            "text": "call 1380013 8000",
            "parse_data": {
                "intent": {"name": "inform"},
                "entities": [{"entity": "x", "start": 5, "end": 12, "value": "1380013"}],
            },
        }
    ]
    body = stories_yaml("s", events)
    assert "1380013" not in body and "••00" in body


async def chinese_inbox(store):
    await save(
        store,
        "zh-nlu",
        timed(
            session_start()
            + [
                fallback_user("我的电话是13800138000", "inform", 0.2),
                action("action_fallback"),
                bot("抱歉"),
                action("action_listen"),
                fallback_user("手机１３８００１３８０００，谢谢", "inform", 0.2),
                action("action_fallback"),
                bot("抱歉"),
                action("action_listen"),
                fallback_user("我的邮箱是wang@qq.com", "inform", 0.2),
                action("action_fallback"),
                bot("抱歉"),
                action("action_listen"),
                fallback_user("这个研究是做什么的", "ask_study_overview", 0.3),
                action("action_fallback"),
                bot("抱歉"),
                action("action_listen"),
            ],
            now() - DAY,
        ),
    )


async def test_nlu_export_never_writes_a_phone_or_address(
    database_url, tracker_url, store, tmp_path, capsys
):
    use_settings(
        Settings(database_url=database_url, tracker_store_url=tracker_url, var_dir=tmp_path)
    )
    await chinese_inbox(store)
    index()
    intents = nlu_inbox.domain_intents()
    with unit_of_work(database_url) as session:
        for item in session.scalars(select(NluInboxItem)):
            intent = "ask_study_overview" if "研究" in item.text else "inform"
            nlu_inbox.decide(session, item.id, "accept", intent, "coord", intents)
    out = tmp_path / "nlu" / "inbox.yml"
    out.parent.mkdir()
    # an older export (before masking knew Chinese text) wrote a number: it goes too
    out.write_text('version: "3.1"\nnlu:\n- intent: inform\n  examples: |\n    - 电话13912345678\n')
    assert main(["nlu", "export", "--out", str(out)]) == 0
    written = out.read_text()
    assert "这个研究是做什么的" in written
    for secret in ("13800138000", "１３８", "wang@qq.com", "13912345678", "@"):
        assert secret not in written
    assert "4 with a phone number or e-mail address" in capsys.readouterr().out


async def test_search_copies_are_masked_and_the_migration_masks_old_ones(
    database_url, tracker_url, store
):
    from alembic import command

    from bot.db import alembic_config

    await save(
        store,
        "zh-1",
        timed(session_start() + [user("我的电话是13800138000", "inform")], now() - DAY),
    )
    index()
    with unit_of_work(database_url) as session:
        stored = session.execute(sql("SELECT search_text FROM conversation_summary")).scalar_one()
    assert "13800138000" not in stored and "•••00" in stored
    # a row indexed before 0005 held the text as it was
    command.downgrade(alembic_config(database_url), "0004")
    with unit_of_work(database_url) as session:
        session.execute(
            sql("UPDATE conversation_summary SET search_text = :t"), {"t": "\n手机13800138000"}
        )
    command.upgrade(alembic_config(database_url), "head")
    with unit_of_work(database_url) as session:
        stored = session.execute(sql("SELECT search_text FROM conversation_summary")).scalar_one()
    assert stored == "\n手机•••••••••00"
