"""Staff accounts (argon2 password hashes), sign-in throttling and the audit log.

Accounts are created with `python -m bot staff add NAME [--role coordinator|admin]`.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Tuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.console_models import ROLES, AuditLog, LoginThrottle, StaffUser
from bot.models import utcnow

log = logging.getLogger("bot.staff.auth")

USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{1,63}")
MIN_PASSWORD_LENGTH = 10

# Sign-in throttling: after FREE failures (per user name / per client address) every further
# failure locks that key for BASE_LOCK * 2**(extra failures - 1), at most MAX_LOCK; failures
# older than WINDOW are forgotten. Each failed attempt is also answered a little later.
USER_FREE_FAILURES = 5
IP_FREE_FAILURES = 20
BASE_LOCK = timedelta(seconds=30)
MAX_LOCK = timedelta(minutes=15)
WINDOW = timedelta(minutes=30)
FAILURE_DELAY_STEP = 0.25  # seconds per recent failure, answering a failed attempt
FAILURE_DELAY_MAX = 2.0

_hasher = PasswordHasher()
# Verified against when the user name is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class StaffIdentity:
    id: int
    username: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _aware(dt: Optional[datetime]) -> Optional[datetime]:
    from bot.conversations import utc

    return utc(dt)


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def add_user(session: Session, username: str, password: str, role: str = "coordinator",
             update: bool = False) -> StaffUser:
    if not USERNAME_RE.fullmatch(username):
        raise AccountError("user names are 2-64 letters, digits or . _ @ -, starting with a "
                           "letter or digit")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    validate_password(password)
    user = session.scalars(select(StaffUser).where(
        func.lower(StaffUser.username) == username.lower())).one_or_none()
    if user is not None and not update:
        raise AccountError(f"{username} already exists (use --update to change the password "
                           "or role)")
    if user is None:
        user = StaffUser(username=username)
        session.add(user)
    user.password_hash = _hasher.hash(password)
    user.role, user.active, user.password_changed_at = role, True, utcnow()
    session.flush()
    return user


def list_users(session: Session) -> List[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


def identity(session: Session, user_id: int,
             signed_in_at: Optional[float] = None) -> Optional[StaffIdentity]:
    """The signed-in user, if still active and the password was not changed since sign-in."""
    user = session.get(StaffUser, user_id)
    if user is None or not user.active:
        return None
    if signed_in_at is not None and user.password_changed_at is not None:
        if _aware(user.password_changed_at).timestamp() > signed_in_at + 1:
            return None
    return StaffIdentity(user.id, user.username, user.role)


def verify(session: Session, username: str, password: str) -> Optional[StaffIdentity]:
    user = session.scalars(select(StaffUser).where(
        func.lower(StaffUser.username) == username.lower())).one_or_none()
    try:
        _hasher.verify(user.password_hash if user is not None else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    return StaffIdentity(user.id, user.username, user.role)


# --------------------------------------------------------------------------- throttling

def throttle_keys(username: str, ip: Optional[str]) -> List[Tuple[str, int]]:
    return [(f"user:{username.strip().lower()[:150]}", USER_FREE_FAILURES),
            (f"ip:{(ip or 'unknown')[:150]}", IP_FREE_FAILURES)]


def locked_for(session: Session, username: str, ip: Optional[str]) -> Optional[timedelta]:
    """How much longer sign-in is locked for this user name or address, if it is."""
    now = utcnow()
    longest = None
    for key, _ in throttle_keys(username, ip):
        row = session.get(LoginThrottle, key)
        until = _aware(row.locked_until) if row is not None else None
        if until and until > now:
            longest = max(longest or timedelta(0), until - now)
    return longest


def record_failure(session: Session, username: str, ip: Optional[str]) -> int:
    """Counts a failed sign-in; returns the highest recent failure count of its keys."""
    now = utcnow()
    worst = 0
    for key, free in throttle_keys(username, ip):
        row = session.get(LoginThrottle, key)
        if row is None:
            row = LoginThrottle(key=key, failures=0)
            session.add(row)
        if row.last_failure_at is not None and now - _aware(row.last_failure_at) > WINDOW:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        if row.failures > free:
            lock = min(MAX_LOCK, BASE_LOCK * 2 ** (row.failures - free - 1))
            row.locked_until = now + lock
        worst = max(worst, row.failures)
    return worst


def failure_delay(failures: int) -> float:
    return min(FAILURE_DELAY_MAX, FAILURE_DELAY_STEP * failures)


def record_success(session: Session, username: str) -> None:
    row = session.get(LoginThrottle, throttle_keys(username, None)[0][0])
    if row is not None:
        session.delete(row)


# --------------------------------------------------------------------------- audit log

def audit(session: Session, who: Optional[StaffIdentity], action: str, target: str = "",
          detail: Optional[Dict[str, Any]] = None, ip: Optional[str] = None,
          username: Optional[str] = None) -> None:
    session.add(AuditLog(
        at=utcnow(), username=(who.username if who else username), role=who.role if who else None,
        action=action, target=target[:300] or None,
        detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
        ip=(ip or None) and ip[:64]))
    log.info("audit: %s %s %s", who.username if who else username, action, target)


def audit_page(session: Session, username: Optional[str] = None, action: Optional[str] = None,
               before_id: Optional[int] = None, limit: int = 100) -> List[AuditLog]:
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if username:
        query = query.where(AuditLog.username == username)
    if action:
        query = query.where(AuditLog.action == action)
    if before_id:
        query = query.where(AuditLog.id < before_id)
    return list(session.scalars(query))


def audit_actions(session: Session) -> List[str]:
    return [a for (a,) in session.execute(
        select(AuditLog.action).distinct().order_by(AuditLog.action))]
