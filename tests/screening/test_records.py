"""Screening history is immutable: an answer keeps the criterion's key and the question as it
was asked, and editing or removing criteria (criteria file, registry refresh) never changes or
deletes it; a removed criterion leaves future screenings only."""

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from bot.cli import main
from bot.console import queue
from bot.screening import records
from bot.screening.models import ScreeningAnswer
from bot.trial import models, queries
from tests.support import SEED, read, unit_of_work

FIXTURES = Path(__file__).resolve().parents[1] / "trial" / "fixtures"


def screen(answers, nct_id="NCT05113290", conversation="conv-1"):
    """A finished screening answering {key: (text, value, result, asked question or None)}."""
    by_key = {c.key: c for c in read(queries.criteria, nct_id)}
    with unit_of_work() as session:
        screening = records.start(session, nct_id, conversation, "rest")
        for key, (text, value, result, asked) in answers.items():
            records.record_answer(session, screening, by_key[key].id, text, value, result, asked)
        records.finish(session, screening, "may_be_eligible")
    return screening


def stored(screening):
    with unit_of_work() as session:
        return [
            (a.criterion_key, a.question, a.answer_text, a.value, a.result, a.criterion_id)
            for a in session.scalars(
                select(ScreeningAnswer)
                .where(ScreeningAnswer.screening_id == screening)
                .order_by(ScreeningAnswer.id)
            )
        ]


def criteria_file(tmp_path, edit):
    data = json.loads((SEED / "criteria" / "NCT05113290.json").read_text(encoding="utf-8"))
    edit(data["criteria"])
    path = tmp_path / "criteria.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_answers_keep_key_and_question_as_asked(seeded):
    question = read(queries.criteria, "NCT05113290")[0].question
    screening = screen(
        {
            "hcc_diagnosis": ("yes", "yes", "pass", None),
            "not_icc": ("没有", "no", "pass", "医生是否说过是肝内胆管癌？"),
        }
    )
    rows = stored(screening)
    assert [r[:2] for r in rows] == [
        ("hcc_diagnosis", question),
        ("not_icc", "医生是否说过是肝内胆管癌？"),
    ]
    assert [(a.criterion, a.question) for a in read(records.results, screening)] == [
        r[:2] for r in rows
    ]


def test_editing_and_removing_criteria_by_file_keeps_past_answers(seeded, tmp_path, capsys):
    screening = screen(
        {"hcc_diagnosis": ("yes", "yes", "pass", None), "not_icc": ("no", "no", "pass", None)}
    )
    before = stored(screening)

    def edit(criteria):
        criteria[0]["question"] = "Reworded: was it diagnosed as HCC?"
        del criteria[1]  # not_icc leaves the file

    assert main(["criteria", "import", str(criteria_file(tmp_path, edit))]) == 0
    assert "removed: not_icc" in capsys.readouterr().out
    after = stored(screening)
    assert [r[:5] for r in after] == [r[:5] for r in before]  # key, question, answer unchanged
    assert after[0][5] == before[0][5] and after[1][5] is None  # link to a removed row: NULL
    # future screenings no longer ask it; the edited one is asked in its new words
    current = read(queries.criteria, "NCT05113290")
    assert "not_icc" not in [c.key for c in current]
    assert current[0].question == "Reworded: was it diagnosed as HCC?"
    # lists still show the answers by their stored key
    listed = read(records.list_screenings)
    assert [a.criterion for a in listed[0].answers] == ["hcc_diagnosis", "not_icc"]
    assert [a.criterion for a in read(records.results, screening)] == ["hcc_diagnosis", "not_icc"]
    items, _ = read(queue.queue_page, "all", "all", 1)
    answers = next(i for i in items if i.screening_id == screening).answers
    assert [(a.key, a.question) for a in answers] == [(r[0], r[1]) for r in before]


def test_a_registry_refresh_without_limits_keeps_past_age_answers(database_url, tmp_path):
    assert main(["trials", "import", str(FIXTURES / "NCT05113290.json")]) == 0
    screening = screen({"age": ("I'm 58", "58", "pass", None)})
    record = json.loads((FIXTURES / "NCT05113290.json").read_text(encoding="utf-8"))
    record["protocolSection"]["eligibilityModule"] = {"sex": "ALL"}  # no age limits any more
    path = tmp_path / "no-limits.json"
    path.write_text(json.dumps(record))
    assert main(["trials", "import", str(path)]) == 0
    assert read(queries.criteria, "NCT05113290") == []  # not asked in future screenings
    (row,) = stored(screening)
    assert row[:5] == (
        "age",
        "How old is the person who would take part? (in years)",
        "I'm 58",
        "58",
        "pass",
    )
    assert row[5] is None
    assert [a.criterion for a in read(records.results, screening)] == ["age"]


def test_deleting_a_criterion_row_sets_the_link_null_in_the_database(seeded):
    screening = screen({"hcc_diagnosis": ("yes", "yes", "pass", None)})
    with unit_of_work() as session:  # bypasses the ORM: the foreign key itself must say so
        session.execute(delete(models.Criterion).where(models.Criterion.key == "hcc_diagnosis"))
    (row,) = stored(screening)
    assert row[0] == "hcc_diagnosis" and row[4] == "pass" and row[5] is None


def test_answering_again_in_the_same_screening_replaces_the_answer(seeded):
    screening = screen({"hcc_diagnosis": ("not sure", "unsure", "unsure", None)})
    criterion = read(queries.criteria, "NCT05113290")[0]
    with unit_of_work() as session:
        records.record_answer(session, screening, criterion.id, "yes", "yes", "pass")
    assert [r[2:5] for r in stored(screening)] == [("yes", "yes", "pass")]


def test_a_criterion_removed_while_asked_is_stored_by_its_key(seeded):
    screening = screen({})
    criterion = read(queries.criteria, "NCT05113290")[1]
    with unit_of_work() as session:
        session.execute(delete(models.Criterion).where(models.Criterion.id == criterion.id))
    with unit_of_work() as session, pytest.raises(LookupError):
        records.record_answer(session, screening, criterion.id, "no", "no", "pass")
    with unit_of_work() as session:
        records.record_answer(
            session, screening, criterion.id, "no", "no", "pass", criterion.question, criterion.key
        )
    assert stored(screening) == [(criterion.key, criterion.question, "no", "no", "pass", None)]
