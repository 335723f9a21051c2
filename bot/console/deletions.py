"""Patients' deletion requests, as the console sees them.

A patient who asks, in the conversation, for their data to be deleted gets a `deletion_request`
row from the action server (bot.screening.rights); the action server never writes the audit
log. The console mirrors each new request into the audit log (when its indexer runs, and when
the purge runs), and `python -m bot logs purge` deletes the conversation everywhere, whatever
its age, and marks the request purged.

The audit entry names the conversation by the console's conversation id and a masked sender id
(on Twilio the sender id is a phone number); what makes it unique is the request's time.
"""

from __future__ import annotations

import hashlib
import json
from typing import Set

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console.audit import audit
from bot.console.models import AuditLog
from bot.console.privacy import mask_text
from bot.console.reviews import summary_ids
from bot.console.tracker import utc
from bot.screening.models import DeletionRequest

ACTION = "deletion_request"
REQUESTER = "patient"


def request_key(conversation_id: str, requested_at) -> str:
    """Unique per request (a repeated request is a new one); reveals nothing of the sender id
    (16 bits of its hash only tell two requests of one conversation apart)."""
    digest = hashlib.sha256(conversation_id.encode()).hexdigest()[:4]
    return f"{utc(requested_at).isoformat()}#{digest}"


def mirror_deletion_requests(session: Session) -> int:
    """Adds an audit entry for every deletion request not in the audit log yet; -> how many."""
    pending = list(
        session.scalars(
            select(DeletionRequest)
            .where(DeletionRequest.purged_at.is_(None))
            .order_by(DeletionRequest.requested_at)
        )
    )
    if not pending:
        return 0
    seen: Set[str] = set()
    for (detail,) in session.execute(select(AuditLog.detail).where(AuditLog.action == ACTION)):
        try:
            seen.add(str(json.loads(detail or "{}").get("key")))
        except (ValueError, AttributeError):
            continue
    ids = summary_ids(session, [r.conversation_id for r in pending])
    added = 0
    for request in pending:
        key = request_key(request.conversation_id, request.requested_at)
        if key in seen:
            continue
        try:
            deleted = json.loads(request.deleted or "{}")
        except ValueError:
            deleted = {}
        summary = ids.get(request.conversation_id)
        audit(
            session,
            None,
            ACTION,
            f"conversation:{summary}" if summary else "conversation",
            {
                "key": key,
                "conversation": mask_text(request.conversation_id),
                "requested_at": utc(request.requested_at).isoformat(),
                "deleted_at_once": deleted,
            },
            username=REQUESTER,
        )
        seen.add(key)
        added += 1
    return added
