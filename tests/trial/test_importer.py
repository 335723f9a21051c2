"""Importing ClinicalTrials.gov v2 records: upsert by NCT id, clear errors, all or nothing."""

import copy
import json

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.trial import models, queries
from bot.trial.importer import ImportFailed, import_records, load_file, parse_records
from tests.support import SEED, read, unit_of_work

RECORD = json.loads((SEED / "NCT05113290.json").read_text())


def write(tmp_path, data, name="study.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def with_status(record, status, verified=None):
    changed = copy.deepcopy(record)
    changed["protocolSection"]["statusModule"]["overallStatus"] = status
    if verified:
        changed["protocolSection"]["statusModule"]["statusVerifiedDate"] = verified
    return changed


def test_shipped_record_holds_the_registry_page_facts(seeded):
    study = read(queries.get_study, "NCT05113290")
    assert study.status == "NOT_YET_RECRUITING"
    assert study.phases == ["PHASE4"]
    assert study.start_date == "2021-12-01" and study.completion_date == "2023-12-01"
    assert study.sponsor == "First Affiliated Hospital Xi'an Jiaotong University"
    assert study.study_type == "INTERVENTIONAL"
    assert [(c.name, c.phone, c.email) for c in study.contacts] == [
        ("Chang Liu, MD", "0086-18991232095", None)
    ]
    assert study.status_verified is None  # the page gives no verified date
    assert study.single_arm


def test_see_also_studies_are_linked_with_their_status_and_phase(seeded):
    found, total = read(queries.related_studies, "NCT05113290", limit=50)
    assert total == 20
    by_id = {s.nct_id: s for s in found}
    assert by_id["NCT03963206"].status == "COMPLETED" and by_id["NCT03963206"].phases == ["PHASE4"]
    assert by_id["NCT03781934"].phases == ["PHASE1", "PHASE2"]
    assert by_id["NCT04641637"].phases == ["NA"]
    assert by_id["NCT04550663"].status == "NOT_YET_RECRUITING"


def test_reimport_updates_in_place_and_changes_the_answer(seeded, tmp_path):
    path = write(tmp_path, with_status(RECORD, "RECRUITING", "2026-10"))
    assert main(["trials", "import", str(path)]) == 0
    study = read(queries.get_study, "NCT05113290")
    assert study.status == "RECRUITING" and study.status_verified == "2026-10"
    with unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(models.Study)) == 21
        assert session.scalar(select(func.count()).select_from(models.Contact)) == 1
    # related links and criteria survive a refresh of the study itself
    assert read(queries.related_studies, "NCT05113290")[1] == 20
    assert len(read(queries.criteria, "NCT05113290")) == 5


def test_a_list_file_with_one_bad_record_changes_nothing(seeded, tmp_path):
    good = with_status(RECORD, "COMPLETED")
    bad = with_status(RECORD, "SORT_OF_RECRUITING")
    bad["protocolSection"]["identificationModule"]["nctId"] = "NCT09999999"
    path = write(tmp_path, {"studies": [good, bad]})
    with pytest.raises(ImportFailed) as error:
        load_file(path)
    assert "studies[1].protocolSection.statusModule.overallStatus" in str(error.value)
    assert main(["trials", "import", str(path)]) == 2
    assert read(queries.get_study, "NCT05113290").status == "NOT_YET_RECRUITING"
    assert read(queries.get_study, "NCT09999999") is None


@pytest.mark.parametrize(
    "data, message",
    [
        ("{not json", "not valid JSON"),
        ([1, 2], "expected a study record"),
        ({"studies": "NCT05113290"}, "'studies' must be a list"),
        ({"studies": []}, "no studies"),
        (
            {"protocolSection": {"statusModule": {"overallStatus": "RECRUITING"}}},
            "protocolSection.identificationModule: field required",
        ),
        (
            {
                "protocolSection": {
                    "identificationModule": {"nctId": "12345", "briefTitle": "x"},
                    "statusModule": {"overallStatus": "RECRUITING"},
                }
            },
            "protocolSection.identificationModule.nctId: must look like NCT12345678",
        ),
        (
            {
                "protocolSection": {
                    "identificationModule": {"nctId": "NCT00000001", "briefTitle": "x"},
                    "statusModule": {
                        "overallStatus": "RECRUITING",
                        "startDateStruct": {"date": "Dec 2021"},
                    },
                }
            },
            "statusModule.startDateStruct.date: must be YYYY-MM or YYYY-MM-DD",
        ),
    ],
)
def test_invalid_files_get_an_error_naming_the_field(tmp_path, data, message):
    with pytest.raises(ImportFailed) as error:
        load_file(write(tmp_path, data))
    assert message in str(error.value)


def test_cli_reports_a_bad_file_without_a_traceback(database_url, tmp_path, capsys):
    assert main(["trials", "import", str(write(tmp_path, "{oops"))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not valid JSON" in err and "Traceback" not in err


def test_related_to_an_unknown_study_is_refused(database_url):
    records = parse_records(RECORD)
    with unit_of_work() as session, pytest.raises(ImportFailed, match="NCT00000000"):
        import_records(session, records, related_to="NCT00000000")


def test_eligibility_module_ages_and_sex_become_criteria(database_url, tmp_path):
    record = copy.deepcopy(RECORD)
    record["protocolSection"]["identificationModule"]["nctId"] = "NCT01234567"
    record["protocolSection"]["eligibilityModule"] = {
        "eligibilityCriteria": "Inclusion Criteria:\n* HCC",
        "sex": "FEMALE",
        "minimumAge": "18 Years",
        "maximumAge": "75 Years",
    }
    assert main(["trials", "import", str(write(tmp_path, record))]) == 0
    made = {c.key: c for c in read(queries.criteria, "NCT01234567")}
    assert made["age"].min_value == 18 and made["age"].max_value == 75
    assert made["age"].answer_type == "number" and made["age"].source == "eligibility_module"
    assert made["sex"].pass_values == ["female"]
    # a record without the module (field-filtered) leaves them as they are
    without = copy.deepcopy(record)
    without["protocolSection"].pop("eligibilityModule")
    assert main(["trials", "import", str(write(tmp_path, without))]) == 0
    assert {c.key for c in read(queries.criteria, "NCT01234567")} == {"age", "sex"}
    # a registry refresh whose module no longer has the limits removes them again
    record["protocolSection"]["eligibilityModule"] = {"sex": "ALL"}
    assert main(["trials", "import", str(write(tmp_path, record))]) == 0
    assert read(queries.criteria, "NCT01234567") == []


def test_real_registry_output_with_unknown_fields_loads(database_url, tmp_path):
    record = copy.deepcopy(RECORD)
    record["derivedSection"] = {"miscInfoModule": {"versionHolder": "2026-11-20"}}
    record["hasResults"] = False
    record["protocolSection"]["oversightModule"] = {"isFdaRegulatedDrug": False}
    assert main(["trials", "import", str(write(tmp_path, record))]) == 0
