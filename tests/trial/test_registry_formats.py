"""Real ClinicalTrials.gov v2 output loads as the registry writes it: partial dates, every kind
of phase list, ages in any unit, sites of their own status, odd phone numbers, Markdown escapes,
non-ASCII text, the sections we do not use; a v1 answer is refused by name."""

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.trial import models, queries
from bot.trial.importer import ImportFailed, load_file
from bot.trial.labels import format_date, phase_label
from tests.support import read, unit_of_work

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(name):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def load(name):
    assert main(["trials", "import", str(FIXTURES / name)]) == 0


def study_row(nct_id):
    with unit_of_work() as session:
        study = session.scalars(select(models.Study).where(models.Study.nct_id == nct_id)).one()
        session.expunge(study)
        return study


def criteria_of(nct_id):
    return {c.key: c for c in read(queries.criteria, nct_id)}


def test_year_month_dates_and_date_structs_without_type(database_url):
    load("observational-year-month.json")
    study = read(queries.get_study, "NCT09000001")
    assert (study.start_date, study.start_date_type) == ("2012-03", None)
    assert (study.completion_date, study.completion_date_type) == ("2016-07", None)
    assert study.status_verified == "2016-07"
    assert format_date(study.completion_date) == "July 2016"
    assert study_row("NCT09000001").primary_completion_date_type == "ACTUAL"


def test_an_observational_study_has_no_phase(database_url):
    load("observational-year-month.json")
    study = read(queries.get_study, "NCT09000001")
    assert study.study_type == "OBSERVATIONAL" and study.phases == []
    assert phase_label(study.phases) == "no phase listed"


def test_phases_na_early_phase1_and_two_phases(database_url):
    load("search-page.json")
    load("early-phase1-weeks-days.json")
    assert read(queries.get_study, "NCT09000003").phases == ["NA"]
    assert read(queries.get_study, "NCT09000004").phases == ["PHASE1", "PHASE2"]
    assert read(queries.get_study, "NCT09000002").phases == ["EARLY_PHASE1"]
    assert phase_label(["PHASE1", "PHASE2"]) == "Phase 1/Phase 2"
    assert phase_label(["EARLY_PHASE1"]) == "Early Phase 1"


@pytest.mark.parametrize(
    "name, nct_id, low, high, reason",
    [
        ("NCT05113290.json", "NCT05113290", 18, 75, "at least 18 years old and at most 75 years"),
        ("observational-year-month.json", "NCT09000001", 0.5, None, "at least 6 months old"),
        ("early-phase1-weeks-days.json", "NCT09000002", 0.038, 0.077, "at most 28 days old"),
        ("search-page.json", "NCT09000003", None, 90, "people at most 90 years old"),
        ("search-page.json", "NCT09000004", 18, None, "people at least 18 years old"),
    ],
)
def test_ages_in_any_unit_and_either_limit_absent(database_url, name, nct_id, low, high, reason):
    load(name)
    age = criteria_of(nct_id)["age"]
    assert (age.min_value, age.max_value) == (low, high)
    assert reason in age.fail_reason


@pytest.mark.parametrize(
    "name, nct_id, sex",
    [
        ("NCT05113290.json", "NCT05113290", None),  # ALL: no question
        ("early-phase1-weeks-days.json", "NCT09000002", "female"),
        ("observational-year-month.json", "NCT09000001", "male"),
    ],
)
def test_sex_all_female_male(database_url, name, nct_id, sex):
    load(name)
    made = criteria_of(nct_id).get("sex")
    assert (made.pass_values if made else None) == ([sex] if sex else None)


def test_sites_without_facility_with_their_own_status_and_over_a_hundred(database_url):
    load("multisite-120.json")
    load("observational-year-month.json")
    with unit_of_work() as session:
        rows = session.scalars(
            select(models.Location)
            .join(models.Study)
            .where(models.Study.nct_id == "NCT09000005")
            .order_by(models.Location.position)
        ).all()
        assert len(rows) == 120
        assert [r.position for r in rows] == list(range(120))
        assert rows[0].facility is None and rows[0].city == "City 1"  # no facility
        assert {r.status for r in rows} >= {"RECRUITING", "COMPLETED", "WITHDRAWN"}
    study = read(queries.get_study, "NCT09000005")
    assert study.status == "ACTIVE_NOT_RECRUITING"  # the study's own, not a site's
    assert len(study.locations) == 120
    assert read(queries.get_study, "NCT09000001").locations == [
        "Boston, United States",
        "Example Clinic, Canada",
    ]
    load("multisite-120.json")  # again: still 120, nothing rewritten
    with unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(models.Location)) == 122


def test_phone_extensions_and_country_codes_stay_readable(database_url):
    load("NCT05113290.json")
    load("non-ascii-contacts.json")
    phones = [c.phone for c in read(queries.get_study, "NCT05113290").contacts]
    assert phones == ["0086-18991232095", "+86 29 8532 3900 ext. 2215"]
    contacts = read(queries.get_study, "NCT09000006").contacts
    assert [c.phone for c in contacts] == [
        "+86(029)8532-3900 ext. 123",  # full-width digits and brackets made plain
        "18991232095 (+86)",
        "(0049) 30 1234567 ext. 89",
    ]


def test_non_ascii_names_and_full_width_punctuation(database_url, capsys):
    load("non-ascii-contacts.json")
    study = read(queries.get_study, "NCT09000006")
    assert study.title == "索拉非尼联合H101治疗晚期肝细胞癌：一项单臂研究"
    assert study.sponsor == "西安交通大学第一附属医院"
    assert [c.name for c in study.contacts] == ["刘畅，医学博士", "Zhang Wei", "Müller, Jürgen"]
    assert study.locations == ["西安交通大学第一附属医院（东院）, 西安, China"]
    assert study_row("NCT09000006").eligibility_criteria.startswith("入选标准：\n\n* 年龄≥18岁")
    assert main(["trials", "show", "NCT09000006"]) == 0
    assert "刘畅，医学博士" in capsys.readouterr().out


def test_markdown_escapes_in_eligibility_text_are_kept_readable(database_url):
    load("NCT05113290.json")
    load("non-ascii-contacts.json")
    text = study_row("NCT05113290").eligibility_criteria
    assert "Stable disease (SD) after sorafenib for >= 8 weeks" in text
    assert "Child-Pugh score <= 7; ECOG 0-1" in text and "Platelets > 75 x 10^9/L" in text
    assert "* *Any* prior oncolytic virus therapy" in text
    assert "\\" not in text
    assert "ECOG评分0-1分（含）" in study_row("NCT09000006").eligibility_criteria


def test_enrollment_and_has_results_are_imported(database_url):
    load("NCT05113290.json")
    load("observational-year-month.json")
    load("early-phase1-weeks-days.json")
    study = study_row("NCT05113290")
    assert (study.enrollment_count, study.enrollment_type, study.has_results) == (
        40,
        "ESTIMATED",
        False,
    )
    cohort = study_row("NCT09000001")
    assert (cohort.enrollment_count, cohort.enrollment_type, cohort.has_results) == (
        1200,
        "ACTUAL",
        True,
    )
    assert (
        study_row("NCT09000002").enrollment_count,
        study_row("NCT09000002").enrollment_type,
    ) == (
        30,
        None,
    )


def test_results_document_and_derived_sections_are_no_error(database_url):
    records = load_file(FIXTURES / "observational-year-month.json")
    assert records[0].complete  # hasResults and derivedSection: a whole record
    load("observational-year-month.json")
    assert read(queries.get_study, "NCT09000001").title.startswith("Liver Cancer Risk")


def test_a_v1_answer_is_refused_naming_the_api_version(database_url, capsys):
    with pytest.raises(ImportFailed, match="API v1") as error:
        load_file(FIXTURES / "v1-full-studies.json")
    assert "FullStudiesResponse" in str(error.value) and "/api/v2/studies/" in str(error.value)
    assert main(["trials", "import", str(FIXTURES / "v1-full-studies.json")]) == 2
    err = capsys.readouterr().err
    assert "ClinicalTrials.gov API v1" in err and "Traceback" not in err
    assert read(queries.get_study, "NCT05113290") is None


def test_a_value_too_long_for_its_column_is_refused_by_name(database_url, tmp_path):
    record = fixture("non-ascii-contacts.json")
    record["protocolSection"]["contactsLocationsModule"]["centralContacts"][0]["phone"] = "1" * 61
    path = tmp_path / "long.json"
    path.write_text(json.dumps(record))
    with pytest.raises(ImportFailed, match=r"centralContacts\[0\]\.phone"):
        load_file(path)
