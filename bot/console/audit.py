"""The audit log: who viewed, revealed, exported or changed what, and when."""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console.accounts import StaffIdentity
from bot.console.models import AuditLog
from bot.db import utcnow

log = logging.getLogger("bot.staff.audit")


def audit(
    session: Session,
    who: Optional[StaffIdentity],
    action: str,
    target: str = "",
    detail: Optional[Dict[str, Any]] = None,
    ip: Optional[str] = None,
    username: Optional[str] = None,
) -> None:
    session.add(
        AuditLog(
            at=utcnow(),
            username=(who.username if who else username),
            role=who.role if who else None,
            action=action,
            target=target[:300] or None,
            detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
            ip=(ip or None) and ip[:64],
        )
    )
    log.info("audit: %s %s %s", who.username if who else username, action, target)


def audit_page(
    session: Session,
    username: Optional[str] = None,
    action: Optional[str] = None,
    before_id: Optional[int] = None,
    limit: int = 100,
) -> List[AuditLog]:
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if username:
        query = query.where(AuditLog.username == username)
    if action:
        query = query.where(AuditLog.action == action)
    if before_id:
        query = query.where(AuditLog.id < before_id)
    return list(session.scalars(query))


def audit_actions(session: Session) -> List[str]:
    return [
        a for (a,) in session.execute(select(AuditLog.action).distinct().order_by(AuditLog.action))
    ]
