"""A PostgreSQL role for the action server: least privilege on the trial database.

`python -m bot db roles` (run with TRIAL_DATABASE_URL naming the database's owner) creates or
updates the role: it may connect, SELECT the trial tables, and SELECT/INSERT/UPDATE/DELETE the
tables the assistant writes in a conversation (screening, screening_answer, callback_request,
deletion_request, channel_replay); nothing on the staff console's tables (staff_user,
audit_log, sessions, summaries...). Deleting a screening still removes its console follow-up
row: PostgreSQL runs ON DELETE CASCADE as the table's owner.
"""

from __future__ import annotations

import re
from typing import List, Optional

from sqlalchemy import Table, text
from sqlalchemy.engine import Engine, make_url

from bot.db import Base

ROLE_RE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
DEFAULT_ROLE = "trialbot_actions"
# what a conversation writes (channel_replay: the channels' replay guard without Redis)
WRITABLE = (
    "screening",
    "screening_answer",
    "callback_request",
    "deletion_request",
    "channel_replay",
)


def trial_tables() -> List[str]:
    """The tables of bot.trial.models (studies, contacts, criteria, translations...)."""
    import bot.trial.models as trial

    names = set()
    for value in vars(trial).values():
        table = getattr(value, "__table__", value)
        if isinstance(table, Table) and table.metadata is Base.metadata:
            names.add(table.name)
    return sorted(names)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def role_statements(
    engine: Engine, role: str, password: Optional[str] = None, login: bool = True
) -> List[str]:
    """The SQL that creates or updates `role` on the database of `engine` (PostgreSQL)."""
    if engine.dialect.name != "postgresql":
        raise ValueError("database roles are for PostgreSQL (the production profile)")
    if not ROLE_RE.fullmatch(role):
        raise ValueError("a role name is lower-case letters, digits and _, up to 63 characters")
    quoted = _quote(role)
    database = _quote(str(make_url(str(engine.url)).database))
    options = ("LOGIN" if login else "NOLOGIN") + (
        " PASSWORD '" + password.replace("'", "''") + "'" if password else ""
    )
    with engine.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
        ).first()
        present = {
            name
            for (name,) in connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            )
        }
        sequences = sorted(
            seq
            for (seq,) in connection.execute(
                text(
                    "SELECT pg_get_serial_sequence(quote_ident(table_name), column_name) "
                    "FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name = ANY(:tables) "
                    "AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')"
                ),
                {"tables": list(WRITABLE)},
            )
            if seq
        )
    read_only = [t for t in trial_tables() if t in present]
    writable = [t for t in WRITABLE if t in present]
    if not read_only or not writable:
        raise ValueError("no trial tables yet: run `python -m bot db upgrade` first")
    statements = [
        f"{'ALTER' if exists else 'CREATE'} ROLE {quoted} {options}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {quoted}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {quoted}",
        f"GRANT CONNECT ON DATABASE {database} TO {quoted}",
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT SELECT ON {', '.join(read_only)} TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(writable)} TO {quoted}",
    ]
    if sequences:
        statements.append(f"GRANT USAGE, SELECT ON SEQUENCE {', '.join(sequences)} TO {quoted}")
    return statements


def apply_role(engine: Engine, statements: List[str]) -> None:
    """Runs the statements in one transaction (through the driver's own cursor: a password
    with % in it is not taken for a parameter)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement in statements:
            cursor.execute(statement)
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
