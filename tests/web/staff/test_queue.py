"""The screenings and callbacks queue: newest first, status changes by CSRF-protected POST with
who and when, audit-logged; callback phone numbers masked until revealed (logged)."""

import json

from sqlalchemy import select

from bot.console.models import AuditLog, ScreeningFollowup
from bot.screening import records
from bot.screening.models import CallbackRequest
from tests.support import unit_of_work
from tests.support.staff import signed_in


def make_queue():
    """Three screenings: one with a callback, one not eligible, one in progress (newest)."""
    with unit_of_work() as session:
        first = records.start(session, "NCT05113290", "conv-a", "rest")
        records.finish(session, first, "may_be_eligible")
        callback = records.add_callback(session, first, "Wang Fang", "+86 189 1234 5678")
        second = records.start(session, "NCT05113290", "conv-b", "telegram")
        records.finish(session, second, "not_eligible")
    with unit_of_work() as session:  # newest: consented a moment later
        third = records.start(session, "NCT05113290", "conv-c", "rest")
    return first, callback, second, third


def audit(database_url):
    with unit_of_work(database_url) as session:
        return [
            (r.username, r.action, r.target, json.loads(r.detail or "{}"))
            for r in session.scalars(select(AuditLog).order_by(AuditLog.id))
        ]


async def test_queue_lists_newest_first_with_masked_phones(client, seeded):
    first, callback, second, third = make_queue()
    await signed_in(client, seeded)
    response = await client.get("/staff/queue?status=all")
    assert response.status == 200
    html = await response.text()
    # newest first: a screening with a callback request counts from the request's time
    assert (
        html.index(f'id="s{third}"')
        < html.index(f'id="s{second}"')
        < html.index(f'id="cb{callback}"')
    )
    assert "Wang Fang" in html and "+•• ••• •••• ••78" in html
    assert "189 1234 5678" not in html
    assert "may be eligible" in html and "not eligible" in html
    assert "screening in progress" in html
    only = await (await client.get("/staff/queue?kind=callbacks")).text()
    assert f'id="cb{callback}"' in only and f'id="s{second}"' not in only


async def test_status_changes_are_recorded_and_audited(client, seeded):
    first, callback, second, third = make_queue()
    token = await signed_in(client, seeded, "coord")
    response = await client.post(
        f"/staff/queue/callbacks/{callback}/status",
        data={"csrf_token": token, "status": "contacted", "back": "/staff/queue?status=all"},
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == "/staff/queue?status=all"
    response = await client.post(
        f"/staff/queue/screenings/{second}/status",
        data={"csrf_token": token, "status": "closed", "back": "https://evil.example/"},
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/staff/queue"
    with unit_of_work(seeded) as session:
        request = session.get(CallbackRequest, callback)
        assert (request.status, request.updated_by) == ("contacted", "coord")
        assert request.updated_at is not None
        followup = session.get(ScreeningFollowup, second)
        assert (followup.status, followup.updated_by) == ("closed", "coord")
    entries = [e for e in audit(seeded) if e[1].endswith("_status")]
    assert entries == [
        (
            "coord",
            "callback_status",
            f"callback:{callback}",
            {"from": "new", "to": "contacted", "conversation": "conv-a"},
        ),
        (
            "coord",
            "screening_status",
            f"screening:{second}",
            {"from": "new", "to": "closed", "conversation": "conv-b"},
        ),
    ]
    # "open" (the default view) hides closed items; who changed what shows in the list
    html = await (await client.get("/staff/queue")).text()
    assert f'id="s{second}"' not in html and f'id="cb{callback}"' in html
    assert "coord," in html
    closed = await (await client.get("/staff/queue?status=closed")).text()
    assert f'id="s{second}"' in closed and f'id="cb{callback}"' not in closed
    # bad values
    bad = await client.post(
        f"/staff/queue/callbacks/{callback}/status", data={"csrf_token": token, "status": "done"}
    )
    assert bad.status == 400
    missing = await client.post(
        "/staff/queue/callbacks/9999/status", data={"csrf_token": token, "status": "closed"}
    )
    assert missing.status == 404


async def test_revealing_a_phone_number_is_a_logged_post(client, seeded):
    first, callback, second, third = make_queue()
    token = await signed_in(client, seeded)
    assert (await client.get(f"/staff/queue/callbacks/{callback}/reveal")).status == 405
    response = await client.post(
        f"/staff/queue/callbacks/{callback}/reveal",
        data={"csrf_token": token, "back": "/staff/queue?status=all"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == f"/staff/queue?status=all#cb{callback}"
    html = await (await client.get("/staff/queue?status=all")).text()
    assert "+86 189 1234 5678" in html
    assert ("coord", "reveal", f"callback:{callback}", {"conversation": "conv-a"}) in audit(seeded)


def many_items():
    """41 screenings (every third with a callback) and 24 direct callbacks, one minute apart
    and interleaved: 65 items, newest first by the time each was received."""
    from datetime import timedelta

    from bot.db import utcnow
    from bot.screening.models import Screening

    base = utcnow() - timedelta(days=1)
    expected, with_callback = [], set()
    with unit_of_work() as session:
        for i in range(65):
            at = base + timedelta(minutes=i)
            if i % 8 in (1, 4, 6):  # direct callback requests, without a screening
                ident = records.add_direct_callback(
                    session, "NCT05113290", f"direct-{i}", f"Caller {i}", "+86 189 1234 5678"
                )
                session.get(CallbackRequest, ident).created_at = at
                expected.append(("c", ident))
                continue
            ident = records.start(session, "NCT05113290", f"conv-{i}", "rest")
            session.get(Screening, ident).consent_at = at
            if i % 3 == 0:
                callback = records.add_callback(session, ident, f"Name {i}", "+86 189 1234 5678")
                session.get(CallbackRequest, callback).created_at = at
                with_callback.add(ident)
            expected.append(("s", ident))
    return list(reversed(expected)), with_callback


def keys_of(items):
    return [("s", i.screening_id) if i.screening_id else ("c", i.callback_id) for i in items]


async def test_direct_callbacks_are_paged_by_their_time(client, seeded):
    from bot.console import queue

    expected, with_callback = many_items()
    assert len(expected) == 65 and sum(k == "c" for k, _ in expected) == 24
    with unit_of_work() as session:
        first, total = queue.queue_page(session, "all", "all", 1)
        second, total_2 = queue.queue_page(session, "all", "all", 2)
        third, _ = queue.queue_page(session, "all", "all", 3)
        callbacks, callback_total = queue.queue_page(session, "all", "callbacks", 1)
    assert total == total_2 == 65
    assert len(first) == queue.PER_PAGE and len(second) == 15 and third == []
    assert keys_of(first) + keys_of(second) == expected
    times = [i.received_at for i in first + second]
    assert times == sorted(times, reverse=True)
    # only callbacks: the 24 direct ones and the screenings with one, in the same order
    only = [k for k in expected if k[0] == "c" or k[1] in with_callback]
    assert callback_total == len(only) and keys_of(callbacks) == only[: queue.PER_PAGE]

    await signed_in(client, seeded)
    page_2 = await (await client.get("/staff/queue?status=all&page=2")).text()
    assert "page 2 of 2" in page_2

    def row_id(item):
        return f'id="cb{item.callback_id}"' if item.callback_id else f'id="s{item.screening_id}"'

    assert all(row_id(item) in page_2 for item in second)
    assert not any(row_id(item) in page_2 for item in first)
