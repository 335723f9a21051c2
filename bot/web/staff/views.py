"""Request handlers of the staff console. Database work runs in worker threads."""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Optional
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session, new_session
from sqlalchemy import select

from bot import conversations as conv
from bot import nlu_inbox, staff_accounts
from bot.console_models import (
    FOLLOWUP_STATUSES,
    NLU_STATES,
    ConversationNote,
    ConversationReview,
    ConversationSummary,
    ConversationTag,
)
from bot.db import session_scope
from bot.models import utcnow
from bot.staff_accounts import StaffIdentity
from bot.web.keys import SETTINGS
from bot.web.staff import queue as queue_data
from bot.web.staff.keys import INDEX_STATE, STAFF_CONFIG, STAFF_JINJA
from bot.web.staff.security import (
    admin_only,
    csrf_token,
    public,
    safe_next,
)

log = logging.getLogger("bot.staff")
PAGE_SIZE = 50
REVEAL_SECONDS = 600
MAX_REVEALED = 50
TAG_RE = re.compile(r"[a-z0-9][a-z0-9 _-]{0,39}")


# --------------------------------------------------------------------------- helpers

async def in_db(request: web.Request, fn: Callable, *args, **kwargs) -> Any:
    """fn(session, ...) in one transaction, in a worker thread."""
    url = request.config_dict[SETTINGS].database_url

    def work():
        with session_scope(url) as session:
            return fn(session, *args, **kwargs)

    return await asyncio.to_thread(work)


async def load_identity(request: web.Request, user_id: int,
                        signed_in_at: Optional[float]) -> Optional[StaffIdentity]:
    return await in_db(request, staff_accounts.identity, user_id, signed_in_at)


def user_of(request: web.Request) -> StaffIdentity:
    return request["user"]


async def audit(request: web.Request, action: str, target: str = "",
                detail: Optional[Dict[str, Any]] = None) -> None:
    await in_db(request, staff_accounts.audit, request.get("user"), action, target, detail,
                request.remote)


async def refresh_index(request: web.Request) -> None:
    """Folds new tracker-store events into the summaries (one run at a time; a run with
    nothing new costs one UPDATE and one indexed SELECT)."""
    state = request.config_dict[INDEX_STATE]
    settings = request.config_dict[SETTINGS]
    async with state["lock"]:
        try:
            await asyncio.to_thread(conv.index_events, settings.database_url,
                                    settings.tracker_store_url)
            state["error"] = None
        except Exception as error:  # the console still shows what it has
            log.exception("indexing the tracker store failed")
            state["error"] = f"{type(error).__name__}"


async def render(request: web.Request, template: str, context: Dict[str, Any],
                 status: int = 200) -> web.Response:
    session = await get_session(request)
    flash = session.pop("flash", None)
    base = {
        "user": request.get("user"), "csrf": csrf_token(session), "nonce": request.get("nonce"),
        "flash": flash, "tz_name": request.config_dict[STAFF_CONFIG]["tz_name"],
        "index_error": request.config_dict[INDEX_STATE].get("error"),
        "path_qs": request.path_qs,
    }
    return aiohttp_jinja2.render_template(template, request, {**base, **context},
                                          app_key=STAFF_JINJA, status=status)


async def flash(request: web.Request, message: str) -> None:
    session = await get_session(request)
    session["flash"] = message


def tz(request: web.Request):
    return request.config_dict[STAFF_CONFIG]["tz"]


def int_param(value: Optional[str], default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def conversation_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound()


async def get_conversation(request: web.Request) -> conv.ConversationRow:
    row = await in_db(request, conv.get_conversation, conversation_id(request))
    if row is None:
        raise web.HTTPNotFound(text="No such conversation")
    return row


def see_other(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


async def revealed(request: web.Request) -> Dict[str, float]:
    session = await get_session(request)
    now = time.time()
    current = {k: v for k, v in (session.get("revealed") or {}).items() if v > now}
    if current != (session.get("revealed") or {}):
        session["revealed"] = current
    return current


async def add_revealed(request: web.Request, key: str) -> None:
    session = await get_session(request)
    current = await revealed(request)
    current[key] = time.time() + REVEAL_SECONDS
    session["revealed"] = dict(sorted(current.items(), key=lambda kv: kv[1])[-MAX_REVEALED:])


def wants_unmasked(request: web.Request, form) -> bool:
    """Unmasked exports: an explicit POST by an administrator."""
    if form is None or form.get("unmasked") != "1":
        return False
    if not user_of(request).is_admin:
        raise web.HTTPForbidden(text="403 Forbidden: unmasked exports are for administrators\n")
    return True


# --------------------------------------------------------------------------- sign-in

async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/staff/conversations")


@public
async def login_page(request: web.Request) -> web.Response:
    if request.get("user"):
        raise web.HTTPFound(safe_next(request.query.get("next")))
    return await render(request, "login.html", {"next": safe_next(request.query.get("next")),
                                                "error": None, "username": ""})


@public
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    username = str(form.get("username") or "").strip()[:64]
    password = str(form.get("password") or "")[:1024]
    target = safe_next(str(form.get("next") or ""))
    ip = request.remote

    def page(error: str, status: int) -> Any:
        return render(request, "login.html", {"next": target, "error": error,
                                              "username": username}, status)

    if not username or not password:
        return await page("Enter your user name and password.", 400)
    locked = await in_db(request, staff_accounts.locked_for, username, ip)
    if locked:
        minutes = max(1, int(locked.total_seconds() // 60 + 1))
        log.warning("staff sign-in refused for %r from %s: locked for %s", username, ip, locked)
        await in_db(request, staff_accounts.audit, None, "login_locked", f"staff:{username}",
                    {"locked_seconds": int(locked.total_seconds())}, ip, username=username)
        response = await page(f"Too many failed sign-ins. Try again in {minutes} minute"
                              f"{'s' if minutes > 1 else ''}.", 429)
        response.headers["Retry-After"] = str(int(locked.total_seconds()) + 1)
        return response
    user = await in_db(request, staff_accounts.verify, username, password)
    if user is None:
        def failed(session):
            count = staff_accounts.record_failure(session, username, ip)
            staff_accounts.audit(session, None, "login_failed", f"staff:{username}",
                                 {"recent_failures": count}, ip, username=username)
            return count

        failures = await in_db(request, failed)
        log.warning("failed staff sign-in for %r from %s (%d recent failures)", username, ip,
                    failures)
        await asyncio.sleep(staff_accounts.failure_delay(failures))
        return await page("Wrong user name or password.", 401)

    def succeeded(session):
        staff_accounts.record_success(session, username)
        staff_accounts.audit(session, user, "login", f"staff:{user.username}", None, ip)

    await in_db(request, succeeded)
    log.info("staff sign-in: %s (%s) from %s", user.username, user.role, ip)
    session = await new_session(request)  # a fresh session: no fixation
    now = time.time()
    session.update({"uid": user.id, "auth_at": now, "seen": now})
    csrf_token(session)
    raise see_other(target)


async def logout(request: web.Request) -> web.Response:
    await audit(request, "logout", f"staff:{user_of(request).username}")
    session = await get_session(request)
    session.invalidate()
    raise see_other("/staff/login")


# --------------------------------------------------------------------------- conversations

def list_links(filters: conv.Filters, cursor: Optional[str]) -> Dict[str, str]:
    query = filters.to_query()
    links = {"first": "/staff/conversations" + ("?" + urlencode(query) if query else "")}
    if cursor:
        links["next"] = "/staff/conversations?" + urlencode({**query, "after": cursor})
    for fmt in ("csv", "json"):
        links[fmt] = "/staff/conversations/export?" + urlencode({**query, "format": fmt})
    return links


async def conversation_list(request: web.Request) -> web.Response:
    await refresh_index(request)
    filters = conv.Filters.from_query(request.query)
    after = request.query.get("after")

    def load(session):
        page = conv.list_conversations(session, filters, tz(request), after, PAGE_SIZE)
        return page, conv.channels(session), conv.all_tags(session)

    page, channels, tags = await in_db(request, load)
    return await render(request, "conversations.html", {
        "section": "conversations", "page": page, "filters": filters, "channels": channels,
        "tags": tags, "outcomes": conv.OUTCOME_CHOICES, "links": list_links(filters, page.next_cursor),
        "paged": bool(after), "filter_fields": filters.to_query(),
    })


async def api_conversations(request: web.Request) -> web.Response:
    await refresh_index(request)
    filters = conv.Filters.from_query(request.query)
    limit = min(max(int_param(request.query.get("limit"), PAGE_SIZE), 1), 500)
    page = await in_db(request, conv.list_conversations, filters, tz(request),
                       request.query.get("after"), limit)
    return web.json_response({"total": page.total, "next": page.next_cursor,
                              "items": [row.as_dict(masked=True) for row in page.items]})


async def export_conversations(request: web.Request) -> web.StreamResponse:
    form = await request.post() if request.method == "POST" else None
    source = form if form is not None else request.query
    fmt = source.get("format", "csv")
    if fmt not in ("csv", "json"):
        raise web.HTTPBadRequest(text="format must be csv or json")
    unmasked = wants_unmasked(request, form)
    await refresh_index(request)
    filters = conv.Filters.from_query(source)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8" if fmt == "csv"
        else "application/json; charset=utf-8",
        "Content-Disposition": f'attachment; filename="conversations-{stamp}.{fmt}"',
    })
    await response.prepare(request)
    count, cursor, first, audited = 0, None, True, False
    detail = {"format": fmt, "unmasked": unmasked, "filters": filters.to_query()}
    try:
        if fmt == "json":
            await response.write(b"[")
        while True:
            page = await in_db(request, conv.list_conversations, filters, tz(request), cursor,
                               1000, with_total=False)
            rows = [row.as_dict(masked=not unmasked) for row in page.items]
            if fmt == "csv":
                await response.write(conv.csv_text(rows, header=first).encode("utf-8"))
            else:
                for row in rows:
                    await response.write((("" if first and row is rows[0] else ",\n")
                                          + json.dumps(row, ensure_ascii=False)).encode("utf-8"))
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
            await audit(request, "export", "conversations",
                        {**detail, "rows": count, "incomplete": True})
    return response


async def transcript_page(request: web.Request) -> web.Response:
    await refresh_index(request)
    row = await get_conversation(request)
    settings = request.config_dict[SETTINGS]
    events = await asyncio.to_thread(conv.load_events, row.sender_id, settings.tracker_store_url)
    shown = await revealed(request)

    def extras(session):
        notes = list(session.scalars(select(ConversationNote).where(
            ConversationNote.sender_id == row.sender_id).order_by(ConversationNote.created_at)))
        staff_accounts.audit(session, user_of(request), "view_conversation",
                             f"conversation:{row.id}", {"sender_id": row.sender_id},
                             request.remote)
        return notes, conv.public_contacts(session)

    notes, keep = await in_db(request, extras)
    items = []
    for item in conv.transcript(events):
        contact = item.has_contact(keep)
        hidden = contact and f"c{row.id}:{item.event_id}" not in shown
        items.append({"item": item.masked(keep) if hidden else item,
                      "can_reveal": hidden, "revealed": contact and not hidden})
    return await render(request, "transcript.html", {
        "section": "conversations", "row": row, "items": items, "notes": notes,
        "back": safe_next(request.query.get("back")) if request.query.get("back") else None,
    })


async def api_transcript(request: web.Request) -> web.Response:
    row = await get_conversation(request)
    settings = request.config_dict[SETTINGS]
    events = await asyncio.to_thread(conv.load_events, row.sender_id, settings.tracker_store_url)

    def logged(session):
        staff_accounts.audit(session, user_of(request), "view_conversation",
                             f"conversation:{row.id}", {"sender_id": row.sender_id, "api": True},
                             request.remote)
        return conv.public_contacts(session)

    keep = await in_db(request, logged)
    return web.json_response({
        "conversation": row.as_dict(masked=True),
        "events": [item.masked(keep).as_dict() for item in conv.transcript(events)],
    }, dumps=lambda o: json.dumps(o, ensure_ascii=False, default=str))


async def reveal(request: web.Request) -> web.Response:
    row = await get_conversation(request)
    form = await request.post()
    event_id = int_param(form.get("event_id"), -1)
    settings = request.config_dict[SETTINGS]
    events = await asyncio.to_thread(conv.load_events, row.sender_id, settings.tracker_store_url)
    if not any(e["_id"] == event_id for e in events):
        raise web.HTTPNotFound(text="No such message in this conversation")
    await add_revealed(request, f"c{row.id}:{event_id}")
    await audit(request, "reveal", f"conversation:{row.id}",
                {"sender_id": row.sender_id, "event_id": event_id})
    log.info("%s revealed contact details of event %s in conversation %s",
             user_of(request).username, event_id, row.id)
    raise see_other(f"/staff/conversations/{row.id}#e{event_id}")


async def review(request: web.Request) -> web.Response:
    row = await get_conversation(request)
    form = await request.post()
    reviewed = form.get("reviewed", "1") == "1"
    user = user_of(request)

    def change(session):
        existing = session.get(ConversationReview, row.sender_id)
        if reviewed and existing is None:
            session.add(ConversationReview(sender_id=row.sender_id, reviewed_by=user.username,
                                           reviewed_at=utcnow()))
        elif not reviewed and existing is not None:
            session.delete(existing)
        staff_accounts.audit(session, user, "review" if reviewed else "unreview",
                             f"conversation:{row.id}", None, request.remote)

    await in_db(request, change)
    await flash(request, "Marked as reviewed." if reviewed else "Marked as not reviewed.")
    raise see_other(f"/staff/conversations/{row.id}")


async def tags(request: web.Request) -> web.Response:
    row = await get_conversation(request)
    form = await request.post()
    tag = " ".join(str(form.get("tag") or "").lower().split())[:40]
    action = form.get("action", "add")
    if not TAG_RE.fullmatch(tag):
        await flash(request, "Tags are up to 40 letters, digits, spaces, - or _.")
        raise see_other(f"/staff/conversations/{row.id}")
    user = user_of(request)

    def change(session):
        existing = session.scalars(select(ConversationTag).where(
            ConversationTag.sender_id == row.sender_id, ConversationTag.tag == tag)).first()
        if action == "remove":
            if existing is not None:
                session.delete(existing)
        elif existing is None:
            session.add(ConversationTag(sender_id=row.sender_id, tag=tag,
                                        created_by=user.username))
        staff_accounts.audit(session, user, "tag_remove" if action == "remove" else "tag_add",
                             f"conversation:{row.id}", {"tag": tag}, request.remote)

    await in_db(request, change)
    raise see_other(f"/staff/conversations/{row.id}")


async def notes(request: web.Request) -> web.Response:
    row = await get_conversation(request)
    form = await request.post()
    text = str(form.get("text") or "").strip()[:4000]
    user = user_of(request)
    if text:
        def add(session):
            session.add(ConversationNote(sender_id=row.sender_id, author=user.username,
                                         text=text))
            staff_accounts.audit(session, user, "note", f"conversation:{row.id}", None,
                                 request.remote)

        await in_db(request, add)
    raise see_other(f"/staff/conversations/{row.id}#notes")


async def stories(request: web.Request) -> web.Response:
    row = await get_conversation(request)
    form = await request.post() if request.method == "POST" else None
    unmasked = wants_unmasked(request, form)
    settings = request.config_dict[SETTINGS]
    events = await asyncio.to_thread(conv.load_events, row.sender_id, settings.tracker_store_url)
    name = f"conversation {row.id} ({row.started_at.astimezone(tz(request)):%Y-%m-%d %H:%M})"
    body = conv.stories_yaml(name, events, masked=not unmasked)
    await audit(request, "export", f"conversation:{row.id}",
                {"format": "stories", "unmasked": unmasked, "sender_id": row.sender_id})
    return web.Response(text=body, content_type="application/x-yaml", charset="utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="conversation-{row.id}.yml"'})


# --------------------------------------------------------------------------- queue

def queue_back(value: Optional[str]) -> str:
    return value if value and value.startswith("/staff/queue") and safe_next(value) == value \
        else "/staff/queue"


async def queue_page(request: web.Request) -> web.Response:
    await refresh_index(request)
    status = request.query.get("status", "open")
    status = status if status in queue_data.STATUS_FILTERS else "open"
    kind = request.query.get("kind", "all")
    kind = kind if kind in queue_data.KINDS else "all"
    page = max(1, int_param(request.query.get("page"), 1))
    items, total = await in_db(request, queue_data.queue_page, status, kind, page)
    shown = await revealed(request)
    await audit(request, "view_queue", "queue", {"status": status, "kind": kind, "page": page})
    return await render(request, "queue.html", {
        "section": "queue", "items": items, "total": total, "status": status, "kind": kind,
        "page": page, "pages": max(1, -(-total // queue_data.PER_PAGE)),
        "statuses": FOLLOWUP_STATUSES, "status_filters": queue_data.STATUS_FILTERS,
        "shown": {k for k in shown if k.startswith("cb")},
    })


async def callback_status(request: web.Request) -> web.Response:
    return await _set_status(request, "callback", queue_data.set_callback_status)


async def screening_status(request: web.Request) -> web.Response:
    return await _set_status(request, "screening", queue_data.set_screening_status)


async def _set_status(request: web.Request, kind: str, setter) -> web.Response:
    form = await request.post()
    status = str(form.get("status") or "")
    item_id = int_param(request.match_info["id"], -1)
    user = user_of(request)
    if status not in FOLLOWUP_STATUSES:
        raise web.HTTPBadRequest(text=f"status must be one of {', '.join(FOLLOWUP_STATUSES)}")

    def change(session):
        old, new, conversation = setter(session, item_id, status, user.username)
        staff_accounts.audit(session, user, f"{kind}_status", f"{kind}:{item_id}",
                             {"from": old, "to": new, "conversation": conversation},
                             request.remote)

    try:
        await in_db(request, change)
    except LookupError:
        raise web.HTTPNotFound(text=f"No such {kind}")
    await flash(request, f"{kind.capitalize()} #{item_id} is now {status}.")
    raise see_other(queue_back(str(form.get("back") or "")))


async def reveal_callback(request: web.Request) -> web.Response:
    form = await request.post()
    callback_id = int_param(request.match_info["id"], -1)
    found = await in_db(request, queue_data.callback_phone, callback_id)
    if found is None:
        raise web.HTTPNotFound(text="No such callback request")
    await add_revealed(request, f"cb{callback_id}")
    await audit(request, "reveal", f"callback:{callback_id}", {"conversation": found[1]})
    raise see_other(queue_back(str(form.get("back") or "")) + f"#cb{callback_id}")


# --------------------------------------------------------------------------- NLU inbox

async def nlu_page(request: web.Request) -> web.Response:
    await refresh_index(request)
    status = request.query.get("status", "new")
    status = status if status in NLU_STATES else "new"
    page = max(1, int_param(request.query.get("page"), 1))

    def load(session):
        items = nlu_inbox.list_items(session, status, 100, (page - 1) * 100)
        ids = {i.sender_id for i in items}
        summary_ids = dict(session.execute(
            select(ConversationSummary.sender_id, ConversationSummary.id)
            .where(ConversationSummary.sender_id.in_(ids))).all()) if ids else {}
        return items, nlu_inbox.counts(session), summary_ids

    items, counts, summary_ids = await in_db(request, load)
    return await render(request, "nlu.html", {
        "section": "nlu", "items": items, "counts": counts, "status": status, "page": page,
        "intents": request.config_dict[STAFF_CONFIG]["intents"], "summary_ids": summary_ids,
        "states": NLU_STATES,
    })


async def nlu_decide(request: web.Request) -> web.Response:
    form = await request.post()
    item_id = int_param(request.match_info["id"], -1)
    decision = str(form.get("decision") or "")
    intent = str(form.get("intent") or "") or None
    user = user_of(request)
    intents = request.config_dict[STAFF_CONFIG]["intents"]

    def change(session):
        item = nlu_inbox.decide(session, item_id, decision, intent, user.username, intents)
        staff_accounts.audit(session, user, "nlu_label", f"nlu:{item_id}",
                             {"decision": decision, "intent": item.intent}, request.remote)

    try:
        await in_db(request, change)
    except LookupError:
        raise web.HTTPNotFound(text="No such inbox message")
    except ValueError as error:
        raise web.HTTPBadRequest(text=str(error))
    back = str(form.get("back") or "")
    raise see_other(back if back.startswith("/staff/nlu") and safe_next(back) == back
                    else "/staff/nlu")


# --------------------------------------------------------------------------- audit log

@admin_only
async def audit_page(request: web.Request) -> web.Response:
    username = request.query.get("user") or None
    action = request.query.get("action") or None
    before = int_param(request.query.get("before"), 0) or None

    def load(session):
        rows = staff_accounts.audit_page(session, username, action, before, 100)
        staff_accounts.audit(session, user_of(request), "view_audit", "audit_log",
                             {"user": username, "action": action}, request.remote)
        return rows, staff_accounts.audit_actions(session)

    rows, actions = await in_db(request, load)
    query = {k: v for k, v in (("user", username), ("action", action)) if v}
    older = ("/staff/audit?" + urlencode({**query, "before": rows[-1].id})
             if len(rows) == 100 else None)
    return await render(request, "audit.html", {
        "section": "audit", "rows": rows, "actions": actions, "username": username or "",
        "action": action or "", "older": older,
    })


ROUTES = [
    ("GET", "", root),
    ("GET", "/", root),
    ("GET", "/login", login_page),
    ("POST", "/login", login),
    ("POST", "/logout", logout),
    ("GET", "/conversations", conversation_list),
    ("GET", "/conversations/export", export_conversations),  # before /conversations/{id}
    ("POST", "/conversations/export", export_conversations),
    ("GET", "/conversations/{id}", transcript_page),
    ("POST", "/conversations/{id}/reveal", reveal),
    ("POST", "/conversations/{id}/review", review),
    ("POST", "/conversations/{id}/tags", tags),
    ("POST", "/conversations/{id}/notes", notes),
    ("GET", "/conversations/{id}/stories.yml", stories),
    ("POST", "/conversations/{id}/stories.yml", stories),
    ("GET", "/api/conversations", api_conversations),
    ("GET", "/api/conversations/{id}", api_transcript),
    ("GET", "/queue", queue_page),
    ("POST", "/queue/callbacks/{id}/status", callback_status),
    ("POST", "/queue/callbacks/{id}/reveal", reveal_callback),
    ("POST", "/queue/screenings/{id}/status", screening_status),
    ("GET", "/nlu", nlu_page),
    ("POST", "/nlu/{id}", nlu_decide),
    ("GET", "/audit", audit_page),
]


def routes(app: web.Application) -> None:
    for method, path, handler in ROUTES:
        if method == "GET":
            app.router.add_get("/staff" + path, handler)  # and HEAD
        else:
            app.router.add_route(method, "/staff" + path, handler)
