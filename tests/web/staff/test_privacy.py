"""Masking in the console's pages and exports, for Chinese and English text, and the free-text
search that cannot rebuild a masked number — on SQLite and PostgreSQL."""

import json

from tests.conftest import index
from tests.support.events import DAY, action, bot, fallback_user, save, session_start, timed, turn
from tests.support.scenarios import summary
from tests.support.staff import now, signed_in

SECRET = "13800138000"


async def chinese_conversation(store, sender="zh-phone"):
    await save(
        store,
        sender,
        timed(
            session_start()
            + [
                fallback_user(f"我的电话是{SECRET}", "inform", 0.2),
                action("action_fallback"),
                bot("抱歉，我没听懂。"),
                action("action_listen"),
            ]
            + turn("手机１３９１２３４５６７８，谢谢", "inform", "好的", "utter_greet"),
            now() - DAY,
        ),
    )


async def test_digit_by_digit_search_finds_nothing(client, store, database_url):
    """The attack: extend a known prefix one digit at a time, keeping the digit whose search
    still finds the conversation (about 90 requests for 11 digits). The search runs on the
    masked copy, so no prefix of the number ever matches."""
    await chinese_conversation(store)
    index()
    await signed_in(client, database_url)

    async def found(q):
        response = await client.get("/staff/api/conversations", params={"q": q})
        assert response.status == 200
        return (await response.json())["total"] > 0

    assert await found("我的电话是")  # the search works
    known, requests = "", 0
    for _ in range(len(SECRET)):
        for digit in "0123456789":
            requests += 1
            if await found(known + digit):
                known += digit
                break
        else:
            break
    assert requests >= 10
    assert SECRET[:3] not in known and len(known) <= 2, known  # at most the shown "00"
    assert not await found(SECRET) and not await found("138")
    assert not await found("1391234")


async def test_pages_and_exports_mask_chinese_text(client, store, database_url):
    await chinese_conversation(store)
    index()
    await signed_in(client, database_url)
    row = summary(database_url, "zh-phone")
    pages = {
        "list": await (await client.get("/staff/conversations")).text(),
        "transcript": await (await client.get(f"/staff/conversations/{row.id}")).text(),
        "api": await (await client.get(f"/staff/api/conversations/{row.id}")).text(),
        "nlu": await (await client.get("/staff/nlu")).text(),
        "csv": await (await client.get("/staff/conversations/export?format=csv")).text(),
        "json": await (await client.get("/staff/conversations/export?format=json")).text(),
        "stories": await (await client.get(f"/staff/conversations/{row.id}/stories.yml")).text(),
    }
    for name, body in pages.items():
        assert SECRET not in body and "１３９１２" not in body, name
    assert "我的电话是•••••••••00" in pages["list"] and "我的电话是•••••••••00" in pages["nlu"]
    assert json.loads(pages["json"])[0]["preview"] == "我的电话是•••••••••00"
    assert "手机•••••••••７８，谢谢" in pages["transcript"]
