"""100,000 conversation summaries: the list's page queries stay quick (keyset pagination,
indexes on the filter columns). Prints the timings; does not assert on them."""

import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert

from bot.console import listing as conv
from bot.console.models import ConversationReview, ConversationSummary, ConversationTag
from tests.support import unit_of_work

ROWS = 100_000
CHANNELS = ("rest", "socketio", "telegram", "twilio", "wechat")
OUTCOMES = (None, None, None, "may_be_eligible", "not_eligible", "unsure", "stopped")


def fill(database_url):
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with unit_of_work(database_url) as session:
        for chunk in range(0, ROWS, 10_000):
            session.execute(
                insert(ConversationSummary),
                [
                    {
                        "sender_id": f"bench-{i:06d}",
                        "started_at": start + timedelta(minutes=5 * i),
                        "last_event_at": start + timedelta(minutes=5 * i + 3),
                        "channel": CHANNELS[i % len(CHANNELS)],
                        "turns": 1 + i % 9,
                        "bot_turns": 1 + i % 9,
                        "fallback_count": (i % 7 == 0) * (1 + i % 3),
                        "min_confidence": (i % 100) / 100,
                        "screening_outcome": OUTCOMES[i % 7],
                        "callback_asked": i % 11 == 0,
                        "handoff": i % 13 == 0,
                        "last_user_fallback": False,
                        "preview": f"question number {i} about the study",
                        "search_text": f"\nquestion number {i} about the study\nthanks {i % 1000}",
                    }
                    for i in range(chunk, min(chunk + 10_000, ROWS))
                ],
            )
        session.execute(
            insert(ConversationReview),
            [
                {"sender_id": f"bench-{i:06d}", "reviewed_by": "coord", "reviewed_at": start}
                for i in range(0, ROWS, 3)
            ],
        )
        session.execute(
            insert(ConversationTag),
            [
                {
                    "sender_id": f"bench-{i:06d}",
                    "tag": "faq",
                    "created_by": "coord",
                    "created_at": start,
                }
                for i in range(0, ROWS, 17)
            ],
        )
    if not database_url.startswith("sqlite"):
        from bot.db import database

        with database(database_url).engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")


def timed(label, fn, report):
    began = time.perf_counter()
    result = fn()
    report.append(f"{label:<52} {1000 * (time.perf_counter() - began):8.1f} ms")
    return result


def test_page_queries_on_100k_conversations(database_url, capsys):
    began = time.perf_counter()
    fill(database_url)
    report = [
        f"inserted {ROWS} summaries in {time.perf_counter() - began:.1f} s "
        f"({database_url.split(':')[0]})"
    ]
    cases = {
        "first page, no filter": conv.Filters(),
        "channel + outcome": conv.Filters(channel="telegram", outcome="may_be_eligible"),
        "fallback + not reviewed": conv.Filters(fallback="yes", review="unreviewed"),
        "date range (a week)": conv.Filters(
            date_from=datetime(2026, 6, 1).date(), date_to=datetime(2026, 6, 7).date()
        ),
        "tag": conv.Filters(tag="faq"),
        "callback + handoff": conv.Filters(callback="yes", handoff="yes"),
        "free text (LIKE over user text)": conv.Filters(q="thanks 999"),
    }
    with unit_of_work(database_url) as session:
        for label, filters in cases.items():
            timed(
                f"{label}: page of 50",
                lambda f=filters: conv.list_conversations(session, f, limit=50, with_total=False),
                report,
            )
            page = timed(
                f"{label}: page + total count",
                lambda f=filters: conv.list_conversations(session, f, limit=50),
                report,
            )
            assert page.items and page.total
            assert page.items == sorted(
                page.items, key=lambda r: (r.started_at, r.id), reverse=True
            )
        page = conv.list_conversations(session, conv.Filters(), limit=50, with_total=False)
        cursor = page.next_cursor
        for _ in range(3):  # deeper pages via the cursor
            page = conv.list_conversations(session, conv.Filters(), cursor=cursor, with_total=False)
            cursor = page.next_cursor
        deep = timed(
            "page 5 via keyset cursor (no count)",
            lambda: conv.list_conversations(
                session, conv.Filters(), cursor=cursor, with_total=False
            ),
            report,
        )
        assert len(deep.items) == 50 and deep.items[0].sender_id == f"bench-{ROWS - 201:06d}"
        # the first day holds rows 0..287; from its newest row to the very end
        last = conv.encode_cursor(
            conv.list_conversations(
                session, conv.Filters(date_to=datetime(2026, 1, 1).date()), limit=1
            ).items[0]
        )
        tail = timed(
            "last page (cursor at the oldest day, 300 rows)",
            lambda: conv.list_conversations(
                session, conv.Filters(), cursor=last, limit=300, with_total=False
            ),
            report,
        )
        assert len(tail.items) == 287 and tail.items[-1].sender_id == "bench-000000"
    with capsys.disabled():
        print("\n" + "\n".join(report))
