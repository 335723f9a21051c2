"""`python -m bot staff add`, `nlu export` and `logs purge`, on SQLite and PostgreSQL."""

import io
import json
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.config import ROOT, Settings, use_settings
from bot.console import nlu_inbox
from bot.console.models import (
    AuditLog,
    ConversationNote,
    ConversationReview,
    ConversationSummary,
    ConversationTag,
    NluInboxItem,
    StaffUser,
)
from bot.console.tracker import EVENTS
from bot.db import database
from bot.screening import records
from bot.screening.models import CallbackRequest, Screening, ScreeningAnswer
from tests.conftest import index
from tests.support import unit_of_work
from tests.support.events import (
    DAY,
    action,
    bot,
    fallback_user,
    save,
    session_start,
    timed,
    turn,
)
from tests.support.staff import PASSWORD, login, now, signed_in


@pytest.fixture
def env(database_url, tracker_url, tmp_path):
    """The CLI's settings: the test's trial database and tracker store."""
    use_settings(
        Settings(database_url=database_url, tracker_store_url=tracker_url, var_dir=tmp_path)
    )
    return database_url


def test_staff_add_reads_the_password_from_stdin(env, tracker_url):
    """The real command in a subprocess: stdin is not a terminal there."""
    command = [sys.executable, "-m", "bot", "staff", "add", "nurse.li", "--role", "admin"]
    process_env = {
        "PATH": "/usr/bin:/bin",
        "TRIAL_DATABASE_URL": env,
        "TRACKER_STORE_URL": tracker_url,
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    }
    result = subprocess.run(
        command,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=process_env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "staff user nurse.li (admin) created" in result.stdout
    again = subprocess.run(
        command,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=process_env,
        timeout=120,
    )
    assert again.returncode == 1 and "already exists" in again.stderr
    with unit_of_work(env) as session:
        user = session.scalars(select(StaffUser)).one()
        assert (user.username, user.role) == ("nurse.li", "admin")
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        assert session.scalars(select(AuditLog.action)).all() == ["staff_add"]


def test_staff_add_prompts_on_a_terminal(env, monkeypatch, capsys):
    prompts = []
    monkeypatch.setattr(sys, "stdin", type("TTY", (io.StringIO,), {"isatty": lambda s: True})())
    monkeypatch.setattr("getpass.getpass", lambda prompt: prompts.append(prompt) or PASSWORD)
    assert main(["staff", "add", "coord"]) == 0
    assert prompts == ["Password for coord: ", "Repeat the password: "]
    monkeypatch.setattr(sys, "stdin", io.StringIO("short\n"))
    assert main(["staff", "add", "other"]) == 1
    assert "at least 10 characters" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("another password\n"))
    assert main(["staff", "add", "coord", "--update", "--role", "admin"]) == 0
    assert main(["staff", "list"]) == 0
    assert "coord  admin  active  last sign-in never" in capsys.readouterr().out


async def test_a_cli_user_can_sign_in(env, client, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["staff", "add", "coord"]) == 0
    await login(client, "coord")
    assert (await client.get("/staff/conversations")).status == 200


async def inbox_conversations(store, base):
    await save(
        store,
        "nlu-1",
        timed(
            session_start()
            + [
                fallback_user("wat is dis trial", "ask_study_overview", 0.3),
                action("action_fallback"),
                bot("Sorry"),
                action("action_listen"),
            ]
            + turn(
                "is it open", "ask_status", "Not yet recruiting.", "action_recruitment_status", 0.5
            )
            + [
                fallback_user("what is this study about", "ask_study_overview", 0.4),
                action("action_fallback"),
                bot("Sorry"),
                action("action_listen"),
            ]
            + [
                fallback_user("my number is 189 1234 5678", "inform", 0.2),
                action("action_fallback"),
                bot("Sorry"),
                action("action_listen"),
            ]
            + [
                fallback_user("weather in paris", "out_of_scope", 0.3),
                action("action_fallback"),
                bot("Sorry"),
                action("action_listen"),
            ],
            base,
        ),
    )


async def test_nlu_export_writes_a_valid_training_file(env, tracker_url, store, tmp_path, capsys):
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    await inbox_conversations(store, now() - DAY)
    index()
    intents = nlu_inbox.domain_intents()
    assert "nlu_fallback" not in intents and "ask_status" in intents
    with unit_of_work(env) as session:
        items = {i.text: i.id for i in session.scalars(select(NluInboxItem))}
        assert set(items) == {
            "wat is dis trial",
            "is it open",
            "what is this study about",
            "my number is 189 1234 5678",
            "weather in paris",
        }
        for text, intent in [
            ("wat is dis trial", "ask_study_overview"),
            ("is it open", "ask_status"),
            ("what is this study about", "ask_study_overview"),
            ("my number is 189 1234 5678", "inform"),
        ]:
            nlu_inbox.decide(session, items[text], "accept", intent, "coord", intents)
        nlu_inbox.decide(session, items["weather in paris"], "irrelevant", None, "coord", intents)
        with pytest.raises(ValueError):
            nlu_inbox.decide(session, items["is it open"], "accept", "nlu_fallback", "c", intents)

    out = tmp_path / "nlu" / "inbox.yml"
    (tmp_path / "nlu").mkdir()
    (tmp_path / "nlu" / "study.yml").write_text(
        (ROOT / "data" / "nlu" / "en" / "study.yml").read_text()
    )
    assert main(["nlu", "export", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 examples (2 new)" in printed
    assert "1 already in the training data" in printed  # "what is this study about"
    assert "1 with a phone number or e-mail address" in printed
    text = out.read_text()
    assert text.startswith('version: "3.1"\n')
    data = RasaYAMLReader().read(out)  # validates against Rasa's schema
    examples = {(m.get("intent"), m.get("text")) for m in data.intent_examples}
    assert examples == {("ask_study_overview", "wat is dis trial"), ("ask_status", "is it open")}
    assert "paris" not in text and "5678" not in text

    # exporting again adds nothing twice; the file keeps what it had
    assert main(["nlu", "export", "--out", str(out)]) == 0
    assert out.read_text() == text
    assert "2 examples (0 new)" in capsys.readouterr().out
    with unit_of_work(env) as session:
        assert (
            session.scalar(select(func.count()).where(NluInboxItem.exported_at.isnot(None))) == 3
        )  # not the one with a phone number


async def test_nlu_inbox_page_labels_messages(env, tracker_url, store, client):
    await inbox_conversations(store, now() - DAY)
    index()
    token = await signed_in(client, env)
    html = await (await client.get("/staff/nlu")).text()
    assert "wat is dis trial" in html and "my number is ••• •••• ••78" in html
    assert "new (5)" in html and '<option value="ask_status"' in html
    with unit_of_work(env) as session:
        item_id = session.scalars(
            select(NluInboxItem.id).where(NluInboxItem.text == "is it open")
        ).one()
    response = await client.post(
        f"/staff/nlu/{item_id}",
        data={"csrf_token": token, "decision": "accept", "intent": "ask_status"},
        allow_redirects=False,
    )
    assert response.status == 303
    bad = await client.post(
        f"/staff/nlu/{item_id}",
        data={"csrf_token": token, "decision": "accept", "intent": "made_up"},
    )
    assert bad.status == 400
    html = await (await client.get("/staff/nlu?status=accepted")).text()
    assert "is it open" in html and "<code>ask_status</code>" in html and "coord" in html
    with unit_of_work(env) as session:
        actions = session.scalars(select(AuditLog.action)).all()
    assert "nlu_label" in actions


async def test_logs_purge_removes_old_conversations_everywhere(
    env, tracker_url, store, seeded, capsys
):
    old, recent = now() - 40 * DAY, now() - 2 * DAY
    for sender, start in (("old-1", old), ("old-2", old + 1000), ("new-1", recent)):
        await save(
            store,
            sender,
            timed(
                session_start()
                + [
                    fallback_user("hmm 189 1234 5678", "inform", 0.2),
                    action("action_fallback"),
                    bot("Sorry"),
                    action("action_listen"),
                ]
                + turn("is it recruiting", "ask_status", "Not yet.", "action_recruitment_status"),
                start,
            ),
        )
    # an old conversation that came back recently is kept whole
    tracker = await store.retrieve("old-2")
    await save(
        store, "old-2", timed(turn("hi again", "greet", "Hello", "utter_greet"), recent), tracker
    )
    index()
    for sender in ("old-1", "new-1"):
        with unit_of_work() as session:
            screening = records.start(session, "NCT05113290", sender, "rest")
            records.record_answer(session, screening, 1, "yes", "yes", "pass")
            records.finish(session, screening, "may_be_eligible")
            records.add_callback(session, screening, "Name", "+86 189 1234 5678")
    with unit_of_work(env) as session:
        for sender in ("old-1", "new-1"):
            session.add(ConversationReview(sender_id=sender, reviewed_by="coord"))
            session.add(ConversationTag(sender_id=sender, tag="x"))
            session.add(ConversationNote(sender_id=sender, author="coord", text="note"))

    assert main(["logs", "purge", "--older-than", "30"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("removed 1 conversations older than 30 days: ")
    assert (
        "11 events, 1 summaries, 1 reviews, 1 tags, 1 notes, 1 nlu inbox, 1 screenings, 1 callbacks"
    ) in printed

    engine = database(tracker_url).engine
    with engine.connect() as connection:
        senders = dict(
            connection.execute(
                select(EVENTS.c.sender_id, func.count()).group_by(EVENTS.c.sender_id)
            ).all()
        )
    assert set(senders) == {"old-2", "new-1"} and senders["old-2"] == 15
    with unit_of_work(env) as session:
        for table, column in (
            (ConversationSummary, ConversationSummary.sender_id),
            (ConversationReview, ConversationReview.sender_id),
            (ConversationTag, ConversationTag.sender_id),
            (ConversationNote, ConversationNote.sender_id),
            (NluInboxItem, NluInboxItem.sender_id),
            (Screening, Screening.conversation_id),
            (CallbackRequest, CallbackRequest.conversation_id),
        ):
            left = set(session.scalars(select(column)))
            assert "old-1" not in left and "new-1" in left, table
        assert session.scalar(select(func.count()).select_from(ScreeningAnswer)) == 1
        purge = session.scalars(select(AuditLog).where(AuditLog.action == "purge")).one()
        assert purge.username == "cli" and json.loads(purge.detail)["events"] == 11

    # everything, and the indexer picks up new conversations after it
    assert main(["logs", "purge", "--older-than", "0"]) == 0
    assert "removed 2 conversations" in capsys.readouterr().out
    await save(
        store, "after", timed(session_start() + turn("hello", "greet", "Hi", "utter_greet"), now())
    )
    assert index() == 7
    with unit_of_work(env) as session:
        assert session.scalars(select(ConversationSummary.sender_id)).all() == ["after"]
    assert main(["logs", "purge", "--older-than", "-1"]) == 2
