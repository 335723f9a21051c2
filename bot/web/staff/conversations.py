"""The conversations area: list and filters, exports, transcripts, reveal, review, tags, notes."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.orm import Session

from bot.console import listing, reviews, transcripts
from bot.console.audit import audit as audit_entry
from bot.console.privacy import public_contacts
from bot.console.tracker import load_events
from bot.web.keys import TRACKER
from bot.web.staff.helpers import (
    add_revealed,
    audit,
    flash,
    in_db,
    int_param,
    render,
    revealed,
    see_other,
    tz,
    user_of,
    wake_indexer,
    wants_unmasked,
)
from bot.web.staff.security import safe_next

log = logging.getLogger("bot.staff")
PAGE_SIZE = 50


def conversation_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound()


async def get_conversation(request: web.Request) -> listing.ConversationRow:
    row = await in_db(request, listing.get_conversation, conversation_id(request))
    if row is None:
        raise web.HTTPNotFound(text="No such conversation")
    result: listing.ConversationRow = row
    return result


async def events_of(request: web.Request, sender_id: str) -> List[Dict[str, Any]]:
    return await asyncio.to_thread(load_events, request.config_dict[TRACKER], sender_id)


def list_links(filters: listing.Filters, cursor: Optional[str]) -> Dict[str, str]:
    query = filters.to_query()
    links = {"first": "/staff/conversations" + ("?" + urlencode(query) if query else "")}
    if cursor:
        links["next"] = "/staff/conversations?" + urlencode({**query, "after": cursor})
    for fmt in ("csv", "json"):
        links[fmt] = "/staff/conversations/export?" + urlencode({**query, "format": fmt})
    return links


async def conversation_list(request: web.Request) -> web.Response:
    wake_indexer(request)
    filters = listing.Filters.from_query(request.query)
    after = request.query.get("after")

    def load(session: Session) -> Any:
        page = listing.list_conversations(session, filters, tz(request), after, PAGE_SIZE)
        keep = public_contacts(session)
        return page, listing.channels(session), listing.all_tags(session), keep

    page, channels, tags, keep = await in_db(request, load)
    return await render(
        request,
        "conversations.html",
        {
            "section": "conversations",
            "page": page,
            "filters": filters,
            "channels": channels,
            "tags": tags,
            "outcomes": listing.OUTCOME_CHOICES,
            "links": list_links(filters, page.next_cursor),
            "paged": bool(after),
            "filter_fields": filters.to_query(),
            "keep": keep,
        },
    )


async def api_conversations(request: web.Request) -> web.Response:
    wake_indexer(request)
    filters = listing.Filters.from_query(request.query)
    limit = min(max(int_param(request.query.get("limit"), PAGE_SIZE), 1), 500)
    after = request.query.get("after")

    def load(session: Session) -> Any:
        page = listing.list_conversations(session, filters, tz(request), after, limit)
        return page, public_contacts(session)

    page, keep = await in_db(request, load)
    return web.json_response(
        {
            "total": page.total,
            "next": page.next_cursor,
            "items": [row.as_dict(masked=True, keep=keep) for row in page.items],
        }
    )


async def export_conversations(request: web.Request) -> web.StreamResponse:
    form = await request.post() if request.method == "POST" else None
    source: Any = form if form is not None else request.query
    fmt = source.get("format", "csv")
    if fmt not in ("csv", "json"):
        raise web.HTTPBadRequest(text="format must be csv or json")
    unmasked = wants_unmasked(request, form)
    filters = listing.Filters.from_query(source)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8"
            if fmt == "csv"
            else "application/json; charset=utf-8",
            "Content-Disposition": f'attachment; filename="conversations-{stamp}.{fmt}"',
        }
    )
    keep = await in_db(request, public_contacts)
    await response.prepare(request)
    count, cursor, first, audited = 0, None, True, False
    detail = {"format": fmt, "unmasked": unmasked, "filters": filters.to_query()}
    try:
        if fmt == "json":
            await response.write(b"[")
        while True:
            page = await in_db(
                request,
                listing.list_conversations,
                filters,
                tz(request),
                cursor,
                1000,
                with_total=False,
            )
            rows = [row.as_dict(masked=not unmasked, keep=keep) for row in page.items]
            if fmt == "csv":
                await response.write(listing.csv_text(rows, header=first).encode("utf-8"))
            else:
                for row in rows:
                    separator = "" if first and row is rows[0] else ",\n"
                    await response.write(
                        (separator + json.dumps(row, ensure_ascii=False)).encode("utf-8")
                    )
            first = first and not rows
            count += len(rows)
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        if fmt == "json":
            await response.write(b"]\n")
        # logged before the download completes, so no client sees an export not yet logged
        await audit(request, "export", "conversations", {**detail, "rows": count})
        audited = True
        await response.write_eof()
    finally:
        if not audited:  # the client went away midway
            await audit(
                request, "export", "conversations", {**detail, "rows": count, "incomplete": True}
            )
    return response


async def transcript_page(request: web.Request) -> web.Response:
    row = await get_conversation(request)
    events = await events_of(request, row.sender_id)
    shown = await revealed(request)

    def extras(session: Session) -> Any:
        audit_entry(
            session,
            user_of(request),
            "view_conversation",
            f"conversation:{row.id}",
            {"sender_id": row.sender_id},
            request["client_ip"],
        )
        return reviews.notes(session, row.sender_id), public_contacts(session)

    notes, keep = await in_db(request, extras)
    items = []
    for item in transcripts.transcript(events):
        contact = item.has_contact(keep)
        hidden = contact and f"c{row.id}:{item.event_id}" not in shown
        items.append(
            {
                "item": item.masked(keep) if hidden else item,
                "can_reveal": hidden,
                "revealed": contact and not hidden,
            }
        )
    back = request.query.get("back")
    return await render(
        request,
        "transcript.html",
        {
            "section": "conversations",
            "row": row,
            "items": items,
            "notes": notes,
            "back": safe_next(back) if back else None,
        },
    )


async def api_transcript(request: web.Request) -> web.Response:
    row = await get_conversation(request)
    events = await events_of(request, row.sender_id)

    def logged(session: Session) -> Any:
        audit_entry(
            session,
            user_of(request),
            "view_conversation",
            f"conversation:{row.id}",
            {"sender_id": row.sender_id, "api": True},
            request["client_ip"],
        )
        return public_contacts(session)

    keep = await in_db(request, logged)
    return web.json_response(
        {
            "conversation": row.as_dict(masked=True, keep=keep),
            "events": [item.masked(keep).as_dict() for item in transcripts.transcript(events)],
        },
        dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str),
    )


async def reveal(request: web.Request) -> web.Response:
    row = await get_conversation(request)
    form = await request.post()
    event_id = int_param(str(form.get("event_id")), -1)
    events = await events_of(request, row.sender_id)
    if not any(e["_id"] == event_id for e in events):
        raise web.HTTPNotFound(text="No such message in this conversation")
    await add_revealed(request, f"c{row.id}:{event_id}")
    await audit(
        request,
        "reveal",
        f"conversation:{row.id}",
        {"sender_id": row.sender_id, "event_id": event_id},
    )
    log.info(
        "%s revealed contact details of event %s in conversation %s",
        user_of(request).username,
        event_id,
        row.id,
    )
    raise see_other(f"/staff/conversations/{row.id}#e{event_id}")


async def review(request: web.Request) -> web.Response:
    row = await get_conversation(request)
    form = await request.post()
    reviewed = form.get("reviewed", "1") == "1"
    user = user_of(request)

    def change(session: Session) -> None:
        reviews.set_reviewed(session, row.sender_id, reviewed, user.username)
        audit_entry(
            session,
            user,
            "review" if reviewed else "unreview",
            f"conversation:{row.id}",
            None,
            request["client_ip"],
        )

    await in_db(request, change)
    await flash(request, "Marked as reviewed." if reviewed else "Marked as not reviewed.")
    raise see_other(f"/staff/conversations/{row.id}")


async def tags(request: web.Request) -> web.Response:
    row = await get_conversation(request)
    form = await request.post()
    tag = reviews.clean_tag(str(form.get("tag") or ""))
    remove = form.get("action", "add") == "remove"
    if tag is None:
        await flash(request, "Tags are up to 40 letters, digits, spaces, - or _.")
        raise see_other(f"/staff/conversations/{row.id}")
    user = user_of(request)

    def change(session: Session) -> None:
        if remove:
            reviews.remove_tag(session, row.sender_id, tag)
        else:
            reviews.add_tag(session, row.sender_id, tag, user.username)
        audit_entry(
            session,
            user,
            "tag_remove" if remove else "tag_add",
            f"conversation:{row.id}",
            {"tag": tag},
            request["client_ip"],
        )

    await in_db(request, change)
    raise see_other(f"/staff/conversations/{row.id}")


async def notes(request: web.Request) -> web.Response:
    row = await get_conversation(request)
    form = await request.post()
    text = str(form.get("text") or "").strip()[:4000]
    user = user_of(request)
    if text:

        def add(session: Session) -> None:
            reviews.add_note(session, row.sender_id, text, user.username)
            audit_entry(session, user, "note", f"conversation:{row.id}", None, request["client_ip"])

        await in_db(request, add)
    raise see_other(f"/staff/conversations/{row.id}#notes")


async def stories(request: web.Request) -> web.Response:
    row = await get_conversation(request)
    form = await request.post() if request.method == "POST" else None
    unmasked = wants_unmasked(request, form)
    events = await events_of(request, row.sender_id)
    keep = await in_db(request, public_contacts)
    name = f"conversation {row.id} ({row.started_at.astimezone(tz(request)):%Y-%m-%d %H:%M})"
    body = transcripts.stories_yaml(name, events, masked=not unmasked, keep=keep)
    await audit(
        request,
        "export",
        f"conversation:{row.id}",
        {"format": "stories", "unmasked": unmasked, "sender_id": row.sender_id},
    )
    return web.Response(
        text=body,
        content_type="application/x-yaml",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="conversation-{row.id}.yml"'},
    )
