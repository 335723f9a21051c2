"""Staff console commands for `python -m bot`: `staff add|list`, `nlu export`, `logs purge`."""
from __future__ import annotations

import getpass
import sys
from pathlib import Path


def _read_password(username: str) -> str:
    """From a prompt (twice) on a terminal; else the first line of stdin."""
    if sys.stdin.isatty():
        first = getpass.getpass(f"Password for {username}: ")
        if getpass.getpass("Repeat the password: ") != first:
            raise SystemExit("error: the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _staff_add(args) -> int:
    from bot.db import session_scope, upgrade
    from bot.staff_accounts import AccountError, add_user, audit

    upgrade()
    password = _read_password(args.name)
    try:
        with session_scope() as session:
            user = add_user(session, args.name, password, args.role, update=args.update)
            audit(session, None, "staff_update" if args.update else "staff_add",
                  f"staff:{user.username}", {"role": user.role}, username="cli")
    except AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"staff user {args.name} ({args.role}) {'updated' if args.update else 'created'}; "
          "sign in at /staff/login")
    return 0


def _staff_list(_args) -> int:
    from bot.db import session_scope, upgrade
    from bot.staff_accounts import list_users

    upgrade()
    with session_scope() as session:
        users = list_users(session)
        for user in users:
            seen = f"{user.last_login_at:%Y-%m-%d %H:%M}" if user.last_login_at else "never"
            print(f"{user.username}  {user.role}  {'active' if user.active else 'disabled'}  "
                  f"last sign-in {seen}")
        if not users:
            print("no staff users; add one with `python -m bot staff add NAME`")
    return 0


def _nlu_export(args) -> int:
    from bot.conversations import index_events
    from bot.db import session_scope, upgrade
    from bot.nlu_inbox import DEFAULT_OUT, export
    from bot.staff_accounts import audit

    upgrade()
    index_events()
    with session_scope() as session:
        result = export(session, Path(args.out) if args.out else DEFAULT_OUT)
        audit(session, None, "nlu_export", str(result.path),
              {"written": result.written, "new": result.new}, username="cli")
    print(f"{result.path}: {result.written} examples ({result.new} new); left out: "
          f"{result.duplicates} already in the training data, {result.with_contact} with a "
          f"phone number or e-mail address, {result.unusable} unusable")
    for intent, count in result.by_intent.items():
        print(f"    {intent}: {count}")
    return 0


def _logs_purge(args) -> int:
    from bot.conversations import purge
    from bot.db import session_scope, upgrade
    from bot.staff_accounts import audit

    if args.older_than < 0:
        print("error: --older-than must be 0 or more days", file=sys.stderr)
        return 2
    upgrade()
    result = purge(args.older_than)
    with session_scope() as session:
        audit(session, None, "purge", f"older than {args.older_than:g} days", result.as_dict(),
              username="cli")
    counts = result.as_dict()
    print(f"removed {counts.pop('conversations')} conversations older than "
          f"{args.older_than:g} days: " + ", ".join(f"{v} {k.replace('_', ' ')}"
                                                    for k, v in counts.items()))
    return 0


def register(sub) -> None:
    """Adds the staff console's commands to `python -m bot`'s subparsers."""
    from bot.console_models import ROLES
    from bot.nlu_inbox import DEFAULT_OUT
    from bot.settings import ROOT

    staff = sub.add_parser("staff", help="staff console accounts").add_subparsers(required=True)
    add = staff.add_parser(
        "add", help="create a staff user; password from a prompt, or stdin when not a terminal")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="coordinator")
    add.add_argument("--update", action="store_true",
                     help="change the password and role of an existing user")
    add.set_defaults(func=_staff_add)
    staff.add_parser("list", help="staff users and their last sign-in").set_defaults(
        func=_staff_list)

    nlu = sub.add_parser("nlu", help="NLU inbox").add_subparsers(required=True)
    exp = nlu.add_parser("export", help="write the accepted NLU inbox messages as training data")
    exp.add_argument("--out", help="Rasa NLU YAML file (default: "
                                   f"{DEFAULT_OUT.relative_to(ROOT)} in the project)")
    exp.set_defaults(func=_nlu_export)

    logs = sub.add_parser("logs", help="conversation logs").add_subparsers(required=True)
    purge = logs.add_parser("purge", help="delete conversations whose last message is older "
                                          "than DAYS, with everything the console kept on them")
    purge.add_argument("--older-than", type=float, required=True, metavar="DAYS")
    purge.set_defaults(func=_logs_purge)
