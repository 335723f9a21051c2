"""The purge and data at rest: patients' deletion requests (whatever the conversation's age,
mirrored into the audit log), sender ids redacted from audit details, purged conversations'
examples taken out of the exported NLU file, SQLite pages freed, RETENTION_DAYS by default,
the daily run of the production profile, and the action server's PostgreSQL role — on SQLite
and PostgreSQL."""

import json
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from bot.cli import main
from bot.config import Settings, use_settings
from bot.console import nlu_inbox
from bot.console.audit import audit
from bot.console.models import AuditLog, NluInboxItem
from bot.console.purge import DailyPurge, purge, run_purge_command
from bot.console.tracker import EVENTS
from bot.db import database
from bot.screening import records, rights
from bot.screening.models import DeletionRequest
from tests.conftest import index
from tests.support import unit_of_work
from tests.support.events import DAY, action, bot, fallback_user, save, session_start, timed, turn
from tests.support.staff import now

TWILIO_SENDER = "+8613800138000"  # on Twilio the sender id is the patient's phone number


@pytest.fixture
def env(seeded, tracker_url, tmp_path):
    """The CLI's settings (RETENTION_DAYS 30) over the test's databases."""
    use_settings(
        Settings(
            database_url=seeded, tracker_store_url=tracker_url, var_dir=tmp_path, retention_days=30
        )
    )
    return seeded


async def conversation(store, sender, start, said):
    await save(
        store,
        sender,
        timed(
            session_start()
            + [
                fallback_user(said, "ask_study_overview", 0.3),
                action("action_fallback"),
                bot("Sorry"),
                action("action_listen"),
            ]
            + turn("is it recruiting", "ask_status", "Not yet.", "action_recruitment_status"),
            start,
        ),
    )


def audit_rows(url):
    with unit_of_work(url) as session:
        return [
            (r.username, r.action, r.target, r.detail)
            for r in session.scalars(select(AuditLog).order_by(AuditLog.id))
        ]


async def test_purge_honours_deletion_requests_and_leaves_nothing_behind(
    env, tracker_url, store, tmp_path, capsys
):
    await conversation(store, "old-1", now() - 40 * DAY, "wat is dis trial about")
    await conversation(store, TWILIO_SENDER, now() - DAY, "what does this study test")
    await conversation(store, "new-1", now() - DAY, "what is the aim of the trial")
    index()
    with unit_of_work(env) as session:
        screening = records.start(session, "NCT05113290", TWILIO_SENDER, "twilio")
        records.add_callback(session, screening, "Wang", TWILIO_SENDER)
    with unit_of_work(env) as session:  # the patient asks, in the conversation (actions)
        rights.delete_for(session, TWILIO_SENDER)
    with unit_of_work(env) as session:  # staff viewed both conversations and a callback
        for sender in (TWILIO_SENDER, "old-1"):
            audit(session, None, "view_conversation", "conversation:1", {"sender_id": sender})
        audit(session, None, "callback_status", "callback:1", {"conversation": TWILIO_SENDER})

    index()
    index()  # the request is in the audit log once, without the phone number
    mirrored = [r for r in audit_rows(env) if r[1] == "deletion_request"]
    assert len(mirrored) == 1 and mirrored[0][0] == "patient"
    assert TWILIO_SENDER not in mirrored[0][3] and "•••" in mirrored[0][3]

    intents = nlu_inbox.domain_intents()
    with unit_of_work(env) as session:
        for item in session.scalars(select(NluInboxItem)):
            nlu_inbox.decide(session, item.id, "accept", "ask_study_overview", "c", intents)
    out = tmp_path / "nlu" / "inbox.yml"
    out.parent.mkdir()
    assert main(["nlu", "export", "--out", str(out)]) == 0
    assert "3 examples" in capsys.readouterr().out

    assert main(["logs", "purge"]) == 0  # RETENTION_DAYS (30): old-1, and the asked one
    printed = capsys.readouterr().out
    assert printed.startswith("removed 2 conversations older than 30 days: ")
    assert "1 deletion requests, 2 nlu examples, 3 audit details" in printed

    with database(tracker_url).engine.connect() as connection:
        left = set(connection.execute(select(EVENTS.c.sender_id).distinct()).scalars())
    assert left == {"new-1"}
    with unit_of_work(env) as session:
        request = session.get(DeletionRequest, TWILIO_SENDER)
        assert request.purged_at is not None
        assert session.scalars(select(NluInboxItem.sender_id)).all() == ["new-1"]
    exported = out.read_text()
    assert "what is the aim of the trial" in exported
    assert "wat is dis trial about" not in exported and "what does this study test" not in exported
    rows = audit_rows(env)
    assert not any(
        TWILIO_SENDER in (detail or "") or "old-1" in (detail or "") for *_, detail in rows
    )
    assert [json.loads(d) for _, a, _, d in rows if a == "view_conversation"] == [
        {"sender_id": "[purged]"},
        {"sender_id": "[purged]"},
    ]
    assert [a for _, a, _, _ in rows].count("deletion_request") == 1  # still shown, still once
    index()
    assert [a for _, a, _, _ in audit_rows(env)].count("deletion_request") == 1


async def test_sqlite_files_keep_nothing_of_purged_conversations(database_url, tracker_url, store):
    marker = "zebra-walrus-marker"
    long = " ".join([marker] * 30)
    events = session_start()
    for _ in range(150):
        events += turn(long, "ask_status", "Not yet.", "action_recruitment_status")
    await save(store, "old-big", timed(events, now() - 40 * DAY))
    await conversation(store, "new-1", now() - DAY, "hello")
    index()
    result = purge(database(database_url), database(tracker_url).engine, 30)
    assert result.conversations == 1 and result.events > 600
    if not database_url.startswith("sqlite"):
        return  # PostgreSQL: VACUUM and its own storage are the server's business
    for url in (database_url, tracker_url):
        path = make_url(url).database
        connection = sqlite3.connect(path)
        try:
            assert connection.execute("PRAGMA freelist_count").fetchone()[0] == 0, url
        finally:
            connection.close()
        assert marker.encode() not in Path(path).read_bytes(), url


def test_daily_purge_runs_in_the_background():
    calls = []
    daily = DailyPurge(lambda: calls.append(time.time()), interval=0.05, first_delay=0.01).start()
    time.sleep(0.5)
    daily.stop()
    count = len(calls)
    assert count >= 3 and daily.runs == count
    time.sleep(0.15)
    assert len(calls) == count  # stopped

    failing = DailyPurge(lambda: 1 / 0, interval=0.02, first_delay=0.0).start()
    time.sleep(0.2)
    failing.stop()
    assert failing.runs >= 2  # a failed run does not end the schedule


async def test_the_daily_command_purges(env, tracker_url, store):
    await conversation(store, "old-1", now() - 40 * DAY, "wat is dis")
    process_env = {
        "PATH": "/usr/bin:/bin",
        "TRIAL_DATABASE_URL": env,
        "TRACKER_STORE_URL": tracker_url,
        "RETENTION_DAYS": "30",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }
    assert run_purge_command(process_env, timeout=300) == 0
    with database(tracker_url).engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(EVENTS)).scalar() == 0
    assert [r[2] for r in audit_rows(env) if r[1] == "purge"] == ["older than 30 days"]


def test_make_run_prod_starts_the_daily_purge(monkeypatch):
    from bot.ops import prod

    started = []

    class Recorder:
        def __init__(self, job, *args, **kwargs):
            self.job = job

        def start(self):
            started.append("start")
            return self

        def stop(self):
            started.append("stop")

    def foreground(supervisor, start):
        started.append(start())
        return 0

    monkeypatch.setattr(prod, "prod_env", lambda profile, settings: {"X": "1"})
    monkeypatch.setattr(prod, "start_services", lambda *args, **kwargs: None)
    monkeypatch.setattr(prod, "run_foreground", foreground)
    monkeypatch.setattr(prod, "DailyPurge", Recorder)
    assert prod.main([]) == 0
    assert started[0] == "start" and "the purge runs daily" in started[1]
    assert started[-1] == "stop"


def test_the_action_servers_role_can_write_screenings_only(env, capsys):
    if not env.startswith("postgresql"):
        assert main(["db", "roles", "--no-password"]) == 2
        assert "PostgreSQL" in capsys.readouterr().err
        return
    role = f"actions_{int(time.time() * 1000) % 10**9}"
    owner = create_engine(env, future=True)
    try:
        assert main(["db", "roles", "--action-role", role, "--no-password"]) == 0
        assert main(["db", "roles", "--action-role", role, "--no-password"]) == 0  # again: same
        assert f"role {role}:" in capsys.readouterr().out
        actions = create_engine(str(make_url(env).set(username=role, password=None)), future=True)
        try:
            with actions.begin() as connection:
                assert connection.execute(text("SELECT count(*) FROM study")).scalar() > 0
                assert connection.execute(text("SELECT count(*) FROM contact")).scalar() > 0
                connection.execute(
                    text(
                        "INSERT INTO screening (study_id, conversation_id, consent_at, outcome) "
                        "SELECT id, 'role-test', now(), 'in_progress' FROM study LIMIT 1"
                    )
                )
                connection.execute(
                    text(
                        "INSERT INTO deletion_request (conversation_id, requested_at) "
                        "VALUES ('role-test', now())"
                    )
                )
                connection.execute(text("DELETE FROM screening WHERE conversation_id='role-test'"))
            for statement in (
                "INSERT INTO audit_log (at, action) VALUES (now(), 'forged')",
                "SELECT count(*) FROM staff_user",
                "UPDATE staff_user SET role = 'admin'",
                "SELECT count(*) FROM audit_log",
                "SELECT count(*) FROM conversation_summary",
                "DELETE FROM study",
            ):
                with pytest.raises(ProgrammingError, match="permission denied"):
                    with actions.begin() as connection:
                        connection.execute(text(statement))
        finally:
            actions.dispose()
        with owner.begin() as connection:
            assert (
                connection.execute(
                    text("SELECT count(*) FROM audit_log WHERE action='forged'")
                ).scalar()
                == 0
            )
    finally:
        with owner.begin() as connection:
            if connection.execute(
                text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
            ).first():
                connection.execute(text(f'DROP OWNED BY "{role}"'))
                connection.execute(text(f'DROP ROLE "{role}"'))
        owner.dispose()
