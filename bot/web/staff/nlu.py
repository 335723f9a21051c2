"""The NLU inbox area: messages the model was unsure of, labelled by staff."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.orm import Session

from bot.console import nlu_inbox, reviews
from bot.console.audit import audit as audit_entry
from bot.console.models import NLU_STATES
from bot.console.privacy import public_contacts
from bot.web.keys import STAFF_CONFIG
from bot.web.staff.helpers import (
    back_to,
    in_db,
    int_param,
    render,
    see_other,
    user_of,
    wake_indexer,
)


async def nlu_page(request: web.Request) -> web.Response:
    wake_indexer(request)
    status = request.query.get("status", "new")
    status = status if status in NLU_STATES else "new"
    page = max(1, int_param(request.query.get("page"), 1))

    def load(session: Session) -> Any:
        items = nlu_inbox.list_items(session, status, 100, (page - 1) * 100)
        ids = reviews.summary_ids(session, (i.sender_id for i in items))
        return items, nlu_inbox.counts(session), ids, public_contacts(session)

    items, counts, summary_ids, keep = await in_db(request, load)
    return await render(
        request,
        "nlu.html",
        {
            "section": "nlu",
            "items": items,
            "counts": counts,
            "status": status,
            "page": page,
            "intents": request.config_dict[STAFF_CONFIG]["intents"],
            "summary_ids": summary_ids,
            "states": NLU_STATES,
            "keep": keep,  # the message column is masked (the `mask` filter)
        },
    )


async def nlu_decide(request: web.Request) -> web.Response:
    form = await request.post()
    item_id = int_param(request.match_info["id"], -1)
    decision = str(form.get("decision") or "")
    intent = str(form.get("intent") or "") or None
    user = user_of(request)
    intents = request.config_dict[STAFF_CONFIG]["intents"]

    def change(session: Session) -> None:
        item = nlu_inbox.decide(session, item_id, decision, intent, user.username, intents)
        audit_entry(
            session,
            user,
            "nlu_label",
            f"nlu:{item_id}",
            {"decision": decision, "intent": item.intent},
            request["client_ip"],
        )

    try:
        await in_db(request, change)
    except LookupError:
        raise web.HTTPNotFound(text="No such inbox message")
    except ValueError as error:
        raise web.HTTPBadRequest(text=str(error))
    raise see_other(back_to(str(form.get("back") or ""), "/staff/nlu"))
