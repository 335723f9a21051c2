"""Command line: `python -m bot <command>`; `python -m bot --help` lists them."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from bot.settings import ROOT

SEED = ROOT / "bot" / "seed"


def _db_upgrade(_args) -> int:
    from bot.db import upgrade

    upgrade()
    print("trial database is at the newest schema")
    return 0


def _trials_import(args) -> int:
    from bot.db import session_scope, upgrade
    from bot.importer import import_records, load_file

    upgrade()
    records = load_file(Path(args.file))
    with session_scope() as session:
        result = import_records(session, records, related_to=args.related_to)
    print(f"{args.file}: {len(result.created)} created, {len(result.updated)} updated"
          + (f", linked to {args.related_to}" if args.related_to else ""))
    return 0


def _trials_show(args) -> int:
    from bot import trials

    study = trials.get_study(args.nct_id)
    if study is None:
        print(f"{args.nct_id}: not in the database", file=sys.stderr)
        return 1
    print(f"{study.nct_id}  {study.status_label}  {study.phase_label}\n{study.title}")
    for contact in study.contacts:
        print(f"contact: {contact.name or '-'}  phone {contact.phone or '-'}  "
              f"e-mail {contact.email or '-'}")
    return 0


def _criteria_import(args) -> int:
    from bot.criteria import load_criteria
    from bot.db import session_scope, upgrade

    upgrade()
    with session_scope() as session:
        count = load_criteria(session, Path(args.file))
    print(f"{args.file}: {count} criteria loaded")
    return 0


def _seed(_args) -> int:
    """Load the shipped records: the trial, its see-also studies and its criteria."""
    for argv in (
        ["trials", "import", str(SEED / "NCT05113290.json")],
        ["trials", "import", str(SEED / "see-also.json"), "--related-to", "NCT05113290"],
        ["criteria", "import", str(SEED / "criteria" / "NCT05113290.json")],
    ):
        main(argv)
    return 0


def _screenings_list(args) -> int:
    from bot.screenings import list_screenings

    rows = list_screenings(outcome=args.outcome, limit=args.limit)
    if not rows:
        print("no screenings")
    for row in rows:
        print(f"#{row.id} {row.consent_at:%Y-%m-%d %H:%M} {row.nct_id} {row.outcome} "
              f"channel={row.channel or '-'} conversation={row.conversation_id}")
        for answer in row.answers:
            print(f"    {answer.criterion}: {answer.value} ({answer.result}) "
                  f"«{answer.answer_text}»")
        if row.callback_name:
            print(f"    callback: {row.callback_name} {row.callback_phone} "
                  f"[{row.callback_status}]")
    return 0


def _run(args) -> int:
    from bot.stack import run_stack

    return run_stack(web=not args.no_web)


def _shell(_args) -> int:
    from bot.stack import run_shell

    return run_shell()


def _nlu_report(args) -> int:
    from bot.nlu_report import cross_validate

    return cross_validate(folds=args.folds, minimum_f1=args.min_f1)


def _web(_args) -> int:
    from bot.web.app import run

    run()
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="trial database schema").add_subparsers(required=True)
    db.add_parser("upgrade", help="create or migrate the schema").set_defaults(func=_db_upgrade)

    trials = sub.add_parser("trials", help="trial records").add_subparsers(required=True)
    imp = trials.add_parser("import", help="upsert ClinicalTrials.gov v2 JSON (one or studies[])")
    imp.add_argument("file")
    imp.add_argument("--related-to", metavar="NCT_ID", help="link them as related studies")
    imp.set_defaults(func=_trials_import)
    show = trials.add_parser("show", help="print a study's status, phase and contacts")
    show.add_argument("nct_id")
    show.set_defaults(func=_trials_show)

    crit = sub.add_parser("criteria", help="pre-screening criteria").add_subparsers(required=True)
    cimp = crit.add_parser("import", help="upsert a criteria JSON file")
    cimp.add_argument("file")
    cimp.set_defaults(func=_criteria_import)

    sub.add_parser("seed", help="load the shipped trial records").set_defaults(func=_seed)

    scr = sub.add_parser("screenings", help="screening records").add_subparsers(required=True)
    lst = scr.add_parser("list", help="newest first")
    lst.add_argument("--outcome")
    lst.add_argument("--limit", type=int, default=50)
    lst.set_defaults(func=_screenings_list)

    run = sub.add_parser("run", help="start action server, Rasa server and web app")
    run.add_argument("--no-web", action="store_true")
    run.set_defaults(func=_run)
    sub.add_parser("web", help="start the web app alone").set_defaults(func=_web)
    sub.add_parser("shell", help="chat in the terminal (rasa shell)").set_defaults(func=_shell)
    nlu = sub.add_parser("nlu-report", help="NLU cross-validation report")
    nlu.add_argument("--folds", type=int, default=5)
    nlu.add_argument("--min-f1", type=float, default=0.95)
    nlu.set_defaults(func=_nlu_report)
    from bot import staff_cli  # staff console: staff add|list, nlu export, logs purge
    staff_cli.register(sub)
    return root


def main(argv: Optional[List[str]] = None) -> int:
    from bot.importer import ImportError_

    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ImportError_ as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
