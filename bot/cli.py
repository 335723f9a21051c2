"""Command line: `python -m bot <command>`; `python -m bot --help` lists them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, List, Optional

from bot.config import ROOT, get_settings
from bot.db import Database, database, upgrade

SEED = ROOT / "bot" / "seed"


def trial_db() -> Database:
    """The trial database, migrated to the newest schema."""
    url = get_settings().database_url
    upgrade(url)
    return database(url)


def _db_upgrade(_args: Any) -> int:
    trial_db()
    print("trial database is at the newest schema")
    return 0


def _trials_import(args: Any) -> int:
    from bot.trial.changes import render
    from bot.trial.importer import import_records, load_file

    records = load_file(Path(args.file))
    with trial_db().unit_of_work() as session:
        result = import_records(
            session, records, related_to=args.related_to, keep_refreshed=args.keep_refreshed
        )
    print(
        f"{args.file}: {len(result.created)} created, {len(result.updated)} updated, "
        f"{len(result.unchanged)} unchanged"
        + (f", {len(result.skipped)} kept as refreshed" if result.skipped else "")
        + (f", linked to {args.related_to}" if args.related_to else "")
    )
    for nct_id, changes in result.changes.items():
        print(f"{nct_id}:")
        for line in render(changes):
            print(f"  {line}")
    return 0


def _trials_refresh(args: Any) -> int:
    import asyncio

    from bot.trial.changes import render
    from bot.trial.refresh import all_nct_ids, bad_ids, refresh

    wrong = bad_ids(args.nct_ids)
    if wrong:
        print(f"error: not an NCT id: {', '.join(wrong)} (like NCT05113290)", file=sys.stderr)
        return 2
    if not args.timeout > 0:
        print("error: --timeout must be a positive number of seconds", file=sys.stderr)
        return 2
    db = trial_db()
    nct_ids = list(dict.fromkeys(args.nct_ids))
    if not nct_ids:
        with db.unit_of_work() as session:
            nct_ids = all_nct_ids(session)
    if not nct_ids:
        print(
            "error: no studies in the database to refresh; run `python -m bot seed` or "
            "`python -m bot trials refresh NCT_ID`",
            file=sys.stderr,
        )
        return 1
    base = get_settings().ctgov_api_url
    outcomes = asyncio.run(refresh(db, nct_ids, base, timeout=args.timeout))
    for outcome in outcomes:
        if not outcome.ok:
            print(f"error: {outcome.nct_id}: {outcome.error}", file=sys.stderr)
        elif outcome.created:
            print(f"{outcome.nct_id}: added")
        elif outcome.changes:
            print(f"{outcome.nct_id}: updated")
            for line in render(outcome.changes):
                print(f"  {line}")
        else:
            print(f"{outcome.nct_id}: unchanged")
    failed = sum(not o.ok for o in outcomes)
    print(
        f"{len(outcomes)} studies from {base}: "
        f"{sum(o.ok and o.created for o in outcomes)} added, "
        f"{sum(o.ok and not o.created and bool(o.changes) for o in outcomes)} updated, "
        f"{sum(o.ok and not o.created and not o.changes for o in outcomes)} unchanged, "
        f"{failed} failed"
    )
    return 1 if failed else 0


def _trials_show(args: Any) -> int:
    from bot.trial.queries import get_study

    with trial_db().unit_of_work() as session:
        study = get_study(session, args.nct_id)
    if study is None:
        print(f"{args.nct_id}: not in the database", file=sys.stderr)
        return 1
    print(f"{study.nct_id}  {study.status_label}  {study.phase_label}\n{study.title}")
    for contact in study.contacts:
        print(
            f"contact: {contact.name or '-'}  phone {contact.phone or '-'}  "
            f"e-mail {contact.email or '-'}"
        )
    return 0


def _criteria_import(args: Any) -> int:
    from bot.trial.criteria import sync_criteria

    with trial_db().unit_of_work() as session:
        result = sync_criteria(session, Path(args.file))
    print(
        f"{args.file}: {result.loaded} criteria, {len(result.written)} added or changed"
        + (f", removed: {', '.join(result.removed)}" if result.removed else "")
    )
    return 0


def _translations_import(args: Any) -> int:
    from bot.trial.translations import load_translations

    with trial_db().unit_of_work() as session:
        count = load_translations(session, Path(args.file))
    print(f"{args.file}: {count} translated texts loaded")
    return 0


def _seed(_args: Any) -> int:
    """Load the shipped records: the trial, its see-also studies, its criteria and its Chinese
    display text. A study refreshed from the registry since is newer than its shipped record
    and is kept as it is (`--keep-refreshed`)."""
    keep = "--keep-refreshed"
    for argv in (
        ["trials", "import", str(SEED / "NCT05113290.json"), keep],
        ["trials", "import", str(SEED / "see-also.json"), "--related-to", "NCT05113290", keep],
        ["criteria", "import", str(SEED / "criteria" / "NCT05113290.json")],
        ["trials", "translations", str(SEED / "zh" / "NCT05113290.json")],
    ):
        status = main(argv)
        if status != 0:
            return status
    return 0


def _screenings_list(args: Any) -> int:
    from bot.screening.records import list_screenings

    with trial_db().unit_of_work() as session:
        rows = list_screenings(session, outcome=args.outcome, limit=args.limit)
    if not rows:
        print("no screenings")
    for row in rows:
        print(
            f"#{row.id} {row.consent_at:%Y-%m-%d %H:%M} {row.nct_id} {row.outcome} "
            f"channel={row.channel or '-'} conversation={row.conversation_id}"
        )
        for answer in row.answers:
            print(
                f"    {answer.criterion}: {answer.value} ({answer.result}) «{answer.answer_text}»"
            )
        if row.callback_name:
            print(f"    callback: {row.callback_name} {row.callback_phone} [{row.callback_status}]")
    return 0


def _run(args: Any) -> int:
    from bot.ops.stack import run_stack

    return run_stack(web=not args.no_web)


def _shell(_args: Any) -> int:
    from bot.ops.stack import run_shell

    return run_shell()


def _nlu_report(args: Any) -> int:
    from bot.ops.nlu_report import cross_validate

    return cross_validate(folds=args.folds, minimum_f1=args.min_f1)


def _web(_args: Any) -> int:
    from bot.web.app import run

    run(get_settings())
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
    imp.add_argument(
        "--keep-refreshed",
        action="store_true",
        help="leave studies already refreshed from the registry as they are (make seed)",
    )
    imp.set_defaults(func=_trials_import)
    ref = trials.add_parser(
        "refresh", help="fetch studies from the registry (CTGOV_API_URL) and update them"
    )
    ref.add_argument("nct_ids", nargs="*", metavar="NCT_ID", help="default: every study")
    ref.add_argument("--timeout", type=float, default=30.0, help="seconds per study (30)")
    ref.set_defaults(func=_trials_refresh)
    show = trials.add_parser("show", help="print a study's status, phase and contacts")
    show.add_argument("nct_id")
    show.set_defaults(func=_trials_show)
    tra = trials.add_parser("translations", help="load a study's display text in another language")
    tra.add_argument("file")
    tra.set_defaults(func=_translations_import)

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

    from bot.console import cli as console_cli  # staff add|list, nlu export, logs purge

    console_cli.register(sub)
    return root


def main(argv: Optional[List[str]] = None) -> int:
    from bot.trial.importer import ImportFailed

    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ImportFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
