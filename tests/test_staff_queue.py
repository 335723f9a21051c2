"""The screenings and callbacks queue: newest first, status changes by CSRF-protected POST with
who and when, audit-logged; callback phone numbers masked until revealed (logged)."""
import json

from sqlalchemy import select

from bot import models, screenings
from bot.console_models import AuditLog, ScreeningFollowup
from bot.db import session_scope
from tests.test_staff_support import (  # noqa: F401  (fixtures)
    client,
    signed_in,
    tracker_url,
)


def make_queue():
    """Three screenings: one with a callback, one not eligible, one in progress (newest)."""
    first = screenings.start("NCT05113290", "conv-a", "rest")
    screenings.finish(first, "may_be_eligible")
    callback = screenings.add_callback(first, "Wang Fang", "+86 189 1234 5678")
    second = screenings.start("NCT05113290", "conv-b", "telegram")
    screenings.finish(second, "not_eligible")
    third = screenings.start("NCT05113290", "conv-c", "rest")
    return first, callback, second, third


def audit(database_url):
    with session_scope(database_url) as session:
        return [(r.username, r.action, r.target, json.loads(r.detail or "{}"))
                for r in session.scalars(select(AuditLog).order_by(AuditLog.id))]


async def test_queue_lists_newest_first_with_masked_phones(client, seeded):
    first, callback, second, third = make_queue()
    await signed_in(client, seeded)
    response = await client.get("/staff/queue?status=all")
    assert response.status == 200
    html = await response.text()
    # newest first: a screening with a callback request counts from the request's time
    assert html.index(f'id="s{third}"') < html.index(f'id="s{second}"') < \
        html.index(f'id="cb{callback}"')
    assert "Wang Fang" in html and "+•• ••• •••• ••78" in html
    assert "189 1234 5678" not in html
    assert "may be eligible" in html and "not eligible" in html
    assert "screening in progress" in html
    only = await (await client.get("/staff/queue?kind=callbacks")).text()
    assert f'id="cb{callback}"' in only and f'id="s{second}"' not in only


async def test_status_changes_are_recorded_and_audited(client, seeded):
    first, callback, second, third = make_queue()
    token = await signed_in(client, seeded, "coord")
    response = await client.post(f"/staff/queue/callbacks/{callback}/status", data={
        "csrf_token": token, "status": "contacted", "back": "/staff/queue?status=all"},
        allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/staff/queue?status=all"
    response = await client.post(f"/staff/queue/screenings/{second}/status", data={
        "csrf_token": token, "status": "closed", "back": "https://evil.example/"},
        allow_redirects=False)
    assert response.headers["Location"] == "/staff/queue"
    with session_scope(seeded) as session:
        request = session.get(models.CallbackRequest, callback)
        assert (request.status, request.updated_by) == ("contacted", "coord")
        assert request.updated_at is not None
        followup = session.get(ScreeningFollowup, second)
        assert (followup.status, followup.updated_by) == ("closed", "coord")
    entries = [e for e in audit(seeded) if e[1].endswith("_status")]
    assert entries == [
        ("coord", "callback_status", f"callback:{callback}",
         {"from": "new", "to": "contacted", "conversation": "conv-a"}),
        ("coord", "screening_status", f"screening:{second}",
         {"from": "new", "to": "closed", "conversation": "conv-b"}),
    ]
    # "open" (the default view) hides closed items; who changed what shows in the list
    html = await (await client.get("/staff/queue")).text()
    assert f'id="s{second}"' not in html and f'id="cb{callback}"' in html
    assert "coord," in html
    closed = await (await client.get("/staff/queue?status=closed")).text()
    assert f'id="s{second}"' in closed and f'id="cb{callback}"' not in closed
    # bad values
    bad = await client.post(f"/staff/queue/callbacks/{callback}/status",
                            data={"csrf_token": token, "status": "done"})
    assert bad.status == 400
    missing = await client.post("/staff/queue/callbacks/9999/status",
                                data={"csrf_token": token, "status": "closed"})
    assert missing.status == 404


async def test_revealing_a_phone_number_is_a_logged_post(client, seeded):
    first, callback, second, third = make_queue()
    token = await signed_in(client, seeded)
    assert (await client.get(f"/staff/queue/callbacks/{callback}/reveal")).status == 405
    response = await client.post(f"/staff/queue/callbacks/{callback}/reveal", data={
        "csrf_token": token, "back": "/staff/queue?status=all"}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"/staff/queue?status=all#cb{callback}"
    html = await (await client.get("/staff/queue?status=all")).text()
    assert "+86 189 1234 5678" in html
    assert ("coord", "reveal", f"callback:{callback}", {"conversation": "conv-a"}) in \
        audit(seeded)
