"""Staff accounts (argon2 password hashes), their server-side sessions, and sign-in throttling.

Accounts are created with `python -m bot staff add NAME [--role coordinator|admin]`, disabled
with `staff disable NAME` (every session ends at once) and enabled with `staff enable NAME`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Dict, List, Optional, Tuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.console.models import ROLES, LoginThrottle, StaffSession, StaffUser
from bot.console.tracker import utc
from bot.db import utcnow

log = logging.getLogger("bot.staff.auth")

USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{1,63}")
MIN_PASSWORD_LENGTH = 10

# Sign-in throttling: after FREE failures every further one locks its key for
# BASE_LOCK * 2**(extra failures - 1), at most MAX_LOCK; failures older than WINDOW are
# forgotten. Keys: a user name from one client address (so one address cannot lock a user out
# for everyone), one address whatever the names (spraying), and a user name from everywhere
# (distributed guessing; a high bar). Each failed attempt is also answered a little later.
PAIR_FREE_FAILURES = 5
IP_FREE_FAILURES = 20
USER_FREE_FAILURES = 50
BASE_LOCK = timedelta(seconds=30)
MAX_LOCK = timedelta(minutes=15)
WINDOW = timedelta(minutes=30)
FAILURE_DELAY_STEP = 0.25  # seconds per recent failure, answering a failed attempt
FAILURE_DELAY_MAX = 2.0

_hasher = PasswordHasher()
SESSION_LIFETIME = timedelta(hours=12)  # sign in again after this, however busy
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


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def _find(session: Session, username: str) -> Optional[StaffUser]:
    return session.scalars(
        select(StaffUser).where(func.lower(StaffUser.username) == username.lower())
    ).one_or_none()


def add_user(
    session: Session, username: str, password: str, role: str = "coordinator", update: bool = False
) -> StaffUser:
    """A new user, or (update) a new password and role for an existing one. Updating never
    re-enables a disabled user (`enable_user` does), and ends the user's sessions."""
    if not USERNAME_RE.fullmatch(username):
        raise AccountError(
            "user names are 2-64 letters, digits or . _ @ -, starting with a letter or digit"
        )
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    validate_password(password)
    user = _find(session, username)
    if user is not None and not update:
        raise AccountError(
            f"{username} already exists (use --update to change the password or role)"
        )
    if user is None:
        user = StaffUser(username=username, active=True)
        session.add(user)
    else:
        end_sessions(session, user.id)
    user.password_hash = _hasher.hash(password)
    user.role, user.password_changed_at = role, utcnow()
    session.flush()
    return user


def set_active(session: Session, username: str, active: bool) -> Tuple[StaffUser, int]:
    """Disable (ending every session of the user at once) or enable a user; -> (user, sessions
    ended)."""
    user = _find(session, username)
    if user is None:
        raise AccountError(f"no staff user {username}")
    user.active = active
    ended = 0 if active else end_sessions(session, user.id)
    session.flush()
    return user, ended


def list_users(session: Session) -> List[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user_id: int, ip: Optional[str]) -> str:
    """A new server-side session for a user who just signed in; -> the token for the cookie."""
    now = utcnow()
    session.execute(  # forget sessions that ended or ran out a day ago
        delete(StaffSession)
        .where(
            or_(
                StaffSession.ended_at < now - timedelta(days=1),
                StaffSession.created_at < now - SESSION_LIFETIME - timedelta(days=1),
            )
        )
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            id=_session_id(token), user_id=user_id, created_at=now, ip=(ip or None) and ip[:64]
        )
    )
    return token


def end_session(session: Session, token: Optional[str]) -> bool:
    """Signing out: the session is refused from now on, whatever its cookie says."""
    if not token:
        return False
    row = session.get(StaffSession, _session_id(token))
    if row is None or row.ended_at is not None:
        return False
    row.ended_at = utcnow()
    return True


def end_sessions(session: Session, user_id: int) -> int:
    """Ends every open session of a user (disabled, or a new password)."""
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.ended_at.is_(None))
        .values(ended_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def identity(
    session: Session,
    user_id: int,
    signed_in_at: Optional[float] = None,
    token: Optional[str] = None,
) -> Optional[StaffIdentity]:
    """The signed-in user, if still active, the server-side session still open (not signed
    out, not ended by disabling or a password change, not older than SESSION_LIFETIME) and the
    password not changed since sign-in."""
    if not token:
        return None
    row = session.get(StaffSession, _session_id(token))
    if row is None or row.user_id != user_id or row.ended_at is not None:
        return None
    if utc(row.created_at) + SESSION_LIFETIME < utcnow():
        return None
    user = session.get(StaffUser, user_id)
    if user is None or not user.active:
        return None
    if signed_in_at is not None and user.password_changed_at is not None:
        if utc(user.password_changed_at).timestamp() > signed_in_at + 1:
            return None
    return StaffIdentity(user.id, user.username, user.role)


def verify(session: Session, username: str, password: str) -> Optional[StaffIdentity]:
    user = session.scalars(
        select(StaffUser).where(func.lower(StaffUser.username) == username.lower())
    ).one_or_none()
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
    """(key, free attempts), sorted by key (rows are locked in this order: no deadlocks)."""
    name = username.strip().lower()[:64]
    address = (ip or "unknown")[:64]
    return sorted(
        [
            (f"pair:{name}|{address}", PAIR_FREE_FAILURES),
            (f"ip:{address}", IP_FREE_FAILURES),
            (f"user:{name}", USER_FREE_FAILURES),
        ]
    )


@dataclass(frozen=True)
class Attempt:
    locked: Optional[timedelta]  # refused: locked this much longer; the password is not checked
    failures: int = 0  # the highest count of its keys, this attempt included


def _lock_rows(session: Session, keys: List[str]) -> Dict[str, LoginThrottle]:
    """The throttle rows of `keys`, created if missing and locked until the transaction ends:
    PostgreSQL row locks (FOR UPDATE); on SQLite the INSERT takes the database's write lock."""
    dialect = session.get_bind().dialect.name
    values = [{"key": key, "failures": 0} for key in keys]
    if dialect in ("postgresql", "sqlite"):
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        session.execute(insert(LoginThrottle).values(values).on_conflict_do_nothing())
    else:  # pragma: no cover - other databases: best effort
        for value in values:
            if session.get(LoginThrottle, value["key"]) is None:
                session.add(LoginThrottle(**value))
        session.flush()
    rows = session.scalars(
        select(LoginThrottle)
        .where(LoginThrottle.key.in_(keys))
        .order_by(LoginThrottle.key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row.key: row for row in rows}


def _charge(rows: Dict[str, LoginThrottle], keys: List[Tuple[str, int]], now: datetime) -> int:
    worst = 0
    for key, free in keys:
        row = rows[key]
        if row.last_failure_at is not None and now - utc(row.last_failure_at) > WINDOW:
            row.failures = 0
        row.failures = (row.failures or 0) + 1
        row.last_failure_at = now
        if row.failures > free:
            row.locked_until = now + min(MAX_LOCK, BASE_LOCK * 2 ** (row.failures - free - 1))
        worst = max(worst, row.failures)
    return worst


def begin_attempt(session: Session, username: str, ip: Optional[str]) -> Attempt:
    """One atomic step per sign-in attempt, before the password is checked: refused if any of
    its keys is locked; otherwise counted as a failure now (given back by `record_success`),
    so parallel guesses can never all pass the check. Commit before checking the password."""
    keys = throttle_keys(username, ip)
    rows = _lock_rows(session, [key for key, _ in keys])
    now = utcnow()
    longest: Optional[timedelta] = None
    for key, _ in keys:
        until = utc(rows[key].locked_until)
        if until is not None and until > now:
            longest = max(longest or timedelta(0), until - now)
    if longest is not None:
        return Attempt(longest)
    return Attempt(None, _charge(rows, keys, now))


def record_failure(session: Session, username: str, ip: Optional[str]) -> int:
    """Counts a failed attempt without the lock check (tests, imports of other logs)."""
    keys = throttle_keys(username, ip)
    return _charge(_lock_rows(session, [key for key, _ in keys]), keys, utcnow())


def locked_for(session: Session, username: str, ip: Optional[str]) -> Optional[timedelta]:
    """How much longer sign-in is locked for this user name from this address, if it is (a
    read, for tests and reports; `begin_attempt` is what sign-in uses)."""
    now = utcnow()
    longest = None
    for key, _ in throttle_keys(username, ip):
        row = session.get(LoginThrottle, key)
        until = utc(row.locked_until) if row is not None else None
        if until and until > now:
            longest = max(longest or timedelta(0), until - now)
    return longest


def failure_delay(failures: int) -> float:
    return min(FAILURE_DELAY_MAX, FAILURE_DELAY_STEP * failures)


def record_success(session: Session, username: str, ip: Optional[str] = None) -> None:
    """A successful sign-in clears its user name's counters and gives the address back the
    attempt `begin_attempt` counted."""
    keys = throttle_keys(username, ip)
    rows = _lock_rows(session, [key for key, _ in keys])
    for key, _ in keys:
        row = rows[key]
        if key.startswith("ip:"):
            row.failures = max(0, (row.failures or 0) - 1)
        else:
            session.delete(row)
