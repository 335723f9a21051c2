"""The audit log area (administrators only)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy.orm import Session

from bot.console import audit as audit_log
from bot.web.staff.helpers import in_db, int_param, render, user_of
from bot.web.staff.security import admin_only


@admin_only
async def audit_page(request: web.Request) -> web.Response:
    username = request.query.get("user") or None
    action = request.query.get("action") or None
    before = int_param(request.query.get("before"), 0) or None

    def load(session: Session) -> Any:
        rows = audit_log.audit_page(session, username, action, before, 100)
        audit_log.audit(
            session,
            user_of(request),
            "view_audit",
            "audit_log",
            {"user": username, "action": action},
            request["client_ip"],
        )
        return rows, audit_log.audit_actions(session)

    rows, actions = await in_db(request, load)
    query = {k: v for k, v in (("user", username), ("action", action)) if v}
    older = (
        "/staff/audit?" + urlencode({**query, "before": rows[-1].id}) if len(rows) == 100 else None
    )
    return await render(
        request,
        "audit.html",
        {
            "section": "audit",
            "rows": rows,
            "actions": actions,
            "username": username or "",
            "action": action or "",
            "older": older,
        },
    )
