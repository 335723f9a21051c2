"""Staff console commands for `python -m bot`: `staff add|list|disable|enable`, `nlu export`,
`logs purge`, `db roles`."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any, Optional

from bot.config import ROOT, get_settings
from bot.db import database


def _read_password(username: str) -> str:
    """From a prompt (twice) on a terminal; else the first line of stdin."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"Password for {username}: ")
        if getpass.getpass("Repeat the password: ") != first:
            raise SystemExit("error: the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _staff_add(args: Any) -> int:
    from bot.cli import trial_db
    from bot.console.accounts import AccountError, add_user
    from bot.console.audit import audit

    db = trial_db()
    password = _read_password(args.name)
    try:
        with db.unit_of_work() as session:
            user = add_user(session, args.name, password, args.role, update=args.update)
            audit(
                session,
                None,
                "staff_update" if args.update else "staff_add",
                f"staff:{user.username}",
                {"role": user.role},
                username="cli",
            )
    except AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"staff user {args.name} ({args.role}) {'updated' if args.update else 'created'}; "
        "sign in at /staff/login"
    )
    if not user.active:
        print(
            f"note: {user.username} is disabled and stays disabled; "
            f"`python -m bot staff enable {user.username}` enables the account"
        )
    return 0


def _staff_set_active(args: Any, active: bool) -> int:
    from bot.cli import trial_db
    from bot.console.accounts import AccountError, set_active
    from bot.console.audit import audit

    try:
        with trial_db().unit_of_work() as session:
            user, ended = set_active(session, args.name, active)
            audit(
                session,
                None,
                "staff_enable" if active else "staff_disable",
                f"staff:{user.username}",
                None if active else {"sessions_ended": ended},
                username="cli",
            )
    except AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if active:
        print(f"staff user {user.username} enabled")
    else:
        print(f"staff user {user.username} disabled; {ended} open session(s) ended")
    return 0


def _staff_disable(args: Any) -> int:
    return _staff_set_active(args, False)


def _staff_enable(args: Any) -> int:
    return _staff_set_active(args, True)


def _staff_list(_args: Any) -> int:
    from bot.cli import trial_db
    from bot.console.accounts import list_users

    with trial_db().unit_of_work() as session:
        users = list_users(session)
        for user in users:
            seen = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
            print(
                f"{user.username}  {user.role}  {'active' if user.active else 'disabled'}  "
                f"last sign-in {seen}"
            )
        if not users:
            print("no staff users; add one with `python -m bot staff add NAME`")
    return 0


def _nlu_export(args: Any) -> int:
    from bot.cli import trial_db
    from bot.console.audit import audit
    from bot.console.indexer import index_events
    from bot.console.nlu_inbox import DEFAULT_OUT, export

    db = trial_db()
    index_events(db, database(get_settings().tracker_store_url).engine)
    with db.unit_of_work() as session:
        # the full path goes into the audit log: the purge cleans every file written to
        result = export(session, Path(args.out).resolve() if args.out else DEFAULT_OUT)
        audit(
            session,
            None,
            "nlu_export",
            str(result.path),
            {"written": result.written, "new": result.new},
            username="cli",
        )
    print(
        f"{result.path}: {result.written} examples ({result.new} new); left out: "
        f"{result.duplicates} already in the training data, {result.with_contact} with a "
        f"phone number or e-mail address, {result.unusable} unusable"
    )
    for intent, count in result.by_intent.items():
        print(f"    {intent}: {count}")
    return 0


def _logs_purge(args: Any) -> int:
    from bot.cli import trial_db
    from bot.console.audit import audit
    from bot.console.purge import purge

    settings = get_settings()
    days = settings.retention_days if args.older_than is None else args.older_than
    if days < 0:
        print("error: --older-than must be 0 or more days", file=sys.stderr)
        return 2
    db = trial_db()
    result = purge(db, database(settings.tracker_store_url).engine, days)
    with db.unit_of_work() as session:
        audit(
            session,
            None,
            "purge",
            f"older than {days:g} days",
            result.as_dict(),
            username="cli",
        )
    counts = result.as_dict()
    print(
        f"removed {counts.pop('conversations')} conversations older than {days:g} days: "
        + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items())
    )
    return 0


def _db_roles(args: Any) -> int:
    from bot.console.db_roles import apply_role, role_statements

    engine = database(get_settings().database_url).engine
    password: Optional[str] = None
    if not args.no_password and not args.print_only:
        password = _read_password(args.action_role)
        if not password:
            print("error: empty password (use --no-password for other auth)", file=sys.stderr)
            return 2
    try:
        statements = role_statements(engine, args.action_role, password)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.print_only:
        print(";\n".join(statements) + ";")
        return 0
    apply_role(engine, statements)
    print(
        f"role {args.action_role}: SELECT on the trial tables, and writes on screening, "
        "screening_answer, callback_request, deletion_request and channel_replay only; "
        "run the action server with it in TRIAL_DATABASE_URL"
    )
    return 0


def _subcommands(parser: argparse.ArgumentParser) -> Any:
    """The sub-command group of an existing command (`db`, made in bot/cli.py)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(required=True)


def register(sub: Any) -> None:
    """Adds the staff console's commands to `python -m bot`'s subparsers."""
    from bot.console.db_roles import DEFAULT_ROLE
    from bot.console.models import ROLES
    from bot.console.nlu_inbox import DEFAULT_OUT

    staff = sub.add_parser("staff", help="staff console accounts").add_subparsers(required=True)
    add = staff.add_parser(
        "add", help="create a staff user; password from a prompt, or stdin when not a terminal"
    )
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="coordinator")
    add.add_argument(
        "--update",
        action="store_true",
        help="change the password and role of an existing user (a disabled one stays disabled)",
    )
    add.set_defaults(func=_staff_add)
    staff.add_parser("list", help="staff users and their last sign-in").set_defaults(
        func=_staff_list
    )
    disable = staff.add_parser(
        "disable", help="disable a staff user: every open session ends at once"
    )
    disable.add_argument("name")
    disable.set_defaults(func=_staff_disable)
    enable = staff.add_parser("enable", help="enable a disabled staff user again")
    enable.add_argument("name")
    enable.set_defaults(func=_staff_enable)

    nlu = sub.add_parser("nlu", help="NLU inbox").add_subparsers(required=True)
    exp = nlu.add_parser("export", help="write the accepted NLU inbox messages as training data")
    exp.add_argument(
        "--out",
        help=f"Rasa NLU YAML file (default: {DEFAULT_OUT.relative_to(ROOT)} in the project)",
    )
    exp.set_defaults(func=_nlu_export)

    logs = sub.add_parser("logs", help="conversation logs").add_subparsers(required=True)
    purge = logs.add_parser(
        "purge",
        help="delete conversations whose last message is older than DAYS, and those patients "
        "asked to delete, with everything the console kept on them",
    )
    purge.add_argument(
        "--older-than", type=float, metavar="DAYS", help="default: RETENTION_DAYS (180)"
    )
    purge.set_defaults(func=_logs_purge)

    db = sub.choices.get("db")
    if db is not None:
        roles = _subcommands(db).add_parser(
            "roles",
            help="create or update the action server's PostgreSQL role (least privilege)",
        )
        roles.add_argument("--action-role", default=DEFAULT_ROLE, metavar="NAME")
        roles.add_argument(
            "--no-password", action="store_true", help="no password (certificate or peer auth)"
        )
        roles.add_argument(
            "--print", dest="print_only", action="store_true", help="print the SQL only"
        )
        roles.set_defaults(func=_db_roles)
