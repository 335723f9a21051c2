"""Importing is idempotent: the same record again writes nothing, a newer one updates rows in
place, a search page imports, and a field-filtered answer changes only what it holds."""

import copy
import json
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import event, select

from bot.cli import main
from bot.db import database
from bot.trial import models, queries
from bot.trial.importer import ImportFailed, import_records, parse_records
from tests.support import read, unit_of_work

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FULL = str(FIXTURES / "NCT05113290.json")
NEWER = str(FIXTURES / "NCT05113290-recruiting.json")


def fixture(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@contextmanager
def writes(url):
    """The INSERT / UPDATE / DELETE statements sent to the database inside the block."""
    seen = []

    def note(_conn, _cursor, statement, *_args):
        if statement.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append(statement)

    engine = database(url).engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def snapshot(nct_id="NCT05113290"):
    """Every row of the study with its id, as stored."""
    with unit_of_work() as session:
        study = session.scalars(select(models.Study).where(models.Study.nct_id == nct_id)).one()
        return {
            "updated_at": study.updated_at,
            "status": study.overall_status,
            "contacts": [(c.id, c.name, c.phone) for c in study.contacts],
            "locations": [(x.id, x.status) for x in study.locations],
            "criteria": [(c.id, c.key, c.min_value, c.max_value) for c in study.criteria],
            "interventions": [(i.id, i.name) for i in study.interventions],
        }


def test_the_same_real_record_twice_rewrites_nothing(database_url, capsys):
    assert main(["trials", "import", FULL]) == 0
    before = snapshot()
    capsys.readouterr()
    with writes(database_url) as seen:
        assert main(["trials", "import", FULL]) == 0  # was: IntegrityError on criterion key
    assert seen == []
    assert snapshot() == before
    assert "0 created, 0 updated, 1 unchanged" in capsys.readouterr().out


def test_the_shipped_records_twice_rewrite_nothing(seeded):
    from tests.conftest import load_seed

    before = snapshot()
    with writes(seeded) as seen:
        load_seed(seeded)
    assert seen == []
    assert snapshot() == before


def test_a_newer_version_updates_rows_in_place_and_says_what_changed(database_url, capsys):
    assert main(["trials", "import", FULL]) == 0
    before = snapshot()
    capsys.readouterr()
    assert main(["trials", "import", NEWER]) == 0
    out = capsys.readouterr().out
    after = snapshot()
    assert after["status"] == "RECRUITING" and after["updated_at"] > before["updated_at"]
    # same rows, new values: the age criterion keeps its id (answers keep pointing at it)
    assert [c[:2] for c in after["criteria"]] == [c[:2] for c in before["criteria"]]
    assert after["criteria"][0][2:] == (18, 80)
    assert [c[0] for c in after["contacts"]] == [c[0] for c in before["contacts"]]
    assert after["contacts"][1][1:] == ("Jing Wang, RN", "+86 29 8532 3901")
    assert after["locations"] == [(before["locations"][0][0], "RECRUITING")]
    assert after["interventions"] == before["interventions"]
    assert "0 created, 1 updated, 0 unchanged" in out
    assert "status: NOT_YET_RECRUITING → RECRUITING" in out
    assert "start date: 2021-12-01 → 2022-03-15" in out
    assert "start date type: ESTIMATED → ACTUAL" in out
    assert "contacts: + Jing Wang, RN, CONTACT, phone +86 29 8532 3901" in out
    assert "contacts: - Study office, CONTACT, phone +86 29 8532 3900 ext. 2215" in out
    assert "criteria: + age: this study is for people at least 18 years old and at most 80" in out
    assert "enrollment: 40 → 60" in out
    with writes(database_url) as seen:
        assert main(["trials", "import", NEWER]) == 0
    assert seen == []


@pytest.mark.parametrize("total", [True, False])
def test_a_search_page_imports_with_or_without_total_count(database_url, tmp_path, total):
    page = fixture("search-page.json")
    if not total:
        del page["totalCount"]
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page))
    assert main(["trials", "import", str(path)]) == 0
    assert read(queries.get_study, "NCT09000003").status == "ACTIVE_NOT_RECRUITING"
    assert read(queries.get_study, "NCT09000004").phases == ["PHASE1", "PHASE2"]
    with writes(database_url) as seen:
        assert main(["trials", "import", str(path)]) == 0
    assert seen == []


def test_a_field_filtered_answer_changes_only_what_it_holds(database_url, capsys):
    assert main(["trials", "import", FULL]) == 0
    before = snapshot()
    facts = read(queries.get_study, "NCT05113290")
    capsys.readouterr()
    assert main(["trials", "import", str(FIXTURES / "fields-filtered.json")]) == 0
    out = capsys.readouterr().out
    after = read(queries.get_study, "NCT05113290")
    assert after.status == "RECRUITING" and after.status_verified == "2026-11"
    # everything the answer does not hold is as it was
    assert after.title == facts.title and after.official_title == facts.official_title
    assert (after.start_date, after.start_date_type) == ("2021-12-01", "ESTIMATED")
    assert after.contacts == facts.contacts and after.phases == ["PHASE4"]
    assert after.summary == facts.summary and after.interventions == facts.interventions
    rows = snapshot()
    assert rows["criteria"] == before["criteria"] and rows["locations"] == before["locations"]
    assert "status: NOT_YET_RECRUITING → RECRUITING" in out
    assert "contacts" not in out and "criteria" not in out


def test_a_partial_module_keeps_the_fields_it_does_not_hold(database_url):
    assert main(["trials", "import", FULL]) == 0
    partial = {
        "protocolSection": {
            "identificationModule": {"nctId": "NCT05113290"},
            "designModule": {"enrollmentInfo": {"count": 52, "type": "ACTUAL"}},
            "eligibilityModule": {"eligibilityCriteria": "Inclusion Criteria:\n\n* HCC"},
        }
    }
    with unit_of_work() as session:
        result = import_records(session, parse_records(partial))
    assert {c["field"] for c in result.changes["NCT05113290"]} == {
        "enrollment_count",
        "enrollment_type",
        "eligibility_criteria",
    }
    assert read(queries.get_study, "NCT05113290").phases == ["PHASE4"]
    assert {c.key for c in read(queries.criteria, "NCT05113290")} == {"age"}  # limits kept


def test_a_whole_record_says_what_the_study_no_longer_has(database_url):
    assert main(["trials", "import", FULL]) == 0
    record = fixture("NCT05113290.json")
    record["protocolSection"].pop("contactsLocationsModule")
    record["protocolSection"]["eligibilityModule"].pop("maximumAge")
    with unit_of_work() as session:
        import_records(session, parse_records(record))
    study = read(queries.get_study, "NCT05113290")
    assert study.contacts == [] and study.locations == []
    age = {c.key: c for c in read(queries.criteria, "NCT05113290")}["age"]
    assert (age.min_value, age.max_value) == (18, None)


def test_a_field_filtered_answer_cannot_add_a_new_study(database_url):
    partial = copy.deepcopy(fixture("fields-filtered.json"))
    partial["protocolSection"]["identificationModule"]["nctId"] = "NCT09999999"
    with unit_of_work() as session, pytest.raises(ImportFailed, match="briefTitle"):
        import_records(session, parse_records(partial))
    assert read(queries.get_study, "NCT09999999") is None
