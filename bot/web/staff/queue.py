"""The screenings and callbacks area: the follow-up queue, status changes, revealing a phone."""

from __future__ import annotations

from typing import Any, Callable, Tuple

from aiohttp import web
from sqlalchemy.orm import Session

from bot.console import queue
from bot.console.audit import audit as audit_entry
from bot.screening.records import FOLLOWUP_STATUSES
from bot.web.staff.helpers import (
    add_revealed,
    audit,
    back_to,
    flash,
    in_db,
    int_param,
    render,
    revealed,
    see_other,
    user_of,
    wake_indexer,
)


async def queue_page(request: web.Request) -> web.Response:
    wake_indexer(request)  # the screening outcome column of the conversation list
    status = request.query.get("status", "open")
    status = status if status in queue.STATUS_FILTERS else "open"
    kind = request.query.get("kind", "all")
    kind = kind if kind in queue.KINDS else "all"
    page = max(1, int_param(request.query.get("page"), 1))
    items, total = await in_db(request, queue.queue_page, status, kind, page)
    shown = await revealed(request)
    await audit(request, "view_queue", "queue", {"status": status, "kind": kind, "page": page})
    return await render(
        request,
        "queue.html",
        {
            "section": "queue",
            "items": items,
            "total": total,
            "status": status,
            "kind": kind,
            "page": page,
            "pages": max(1, -(-total // queue.PER_PAGE)),
            "statuses": FOLLOWUP_STATUSES,
            "status_filters": queue.STATUS_FILTERS,
            "shown": {k for k in shown if k.startswith("cb")},
        },
    )


async def callback_status(request: web.Request) -> web.Response:
    return await _set_status(request, "callback", queue.set_callback_status)


async def screening_status(request: web.Request) -> web.Response:
    return await _set_status(request, "screening", queue.set_screening_status)


async def _set_status(
    request: web.Request, kind: str, setter: Callable[..., Tuple[str, str, str]]
) -> web.Response:
    form = await request.post()
    status = str(form.get("status") or "")
    item_id = int_param(request.match_info["id"], -1)
    user = user_of(request)
    if status not in FOLLOWUP_STATUSES:
        raise web.HTTPBadRequest(text=f"status must be one of {', '.join(FOLLOWUP_STATUSES)}")

    def change(session: Session) -> None:
        old, new, conversation = setter(session, item_id, status, user.username)
        audit_entry(
            session,
            user,
            f"{kind}_status",
            f"{kind}:{item_id}",
            {"from": old, "to": new, "conversation": conversation},
            request["client_ip"],
        )

    try:
        await in_db(request, change)
    except LookupError:
        raise web.HTTPNotFound(text=f"No such {kind}")
    await flash(request, f"{kind.capitalize()} #{item_id} is now {status}.")
    raise see_other(back_to(str(form.get("back") or ""), "/staff/queue"))


async def reveal_callback(request: web.Request) -> Any:
    form = await request.post()
    callback_id = int_param(request.match_info["id"], -1)
    found = await in_db(request, queue.callback_phone, callback_id)
    if found is None:
        raise web.HTTPNotFound(text="No such callback request")
    await add_revealed(request, f"cb{callback_id}")
    await audit(request, "reveal", f"callback:{callback_id}", {"conversation": found[1]})
    raise see_other(back_to(str(form.get("back") or ""), "/staff/queue") + f"#cb{callback_id}")
