"""The trial-data module: the facts and filters the assistant and web app read."""

from datetime import date

from bot.trial import queries
from bot.trial.labels import format_date
from tests.support import read


def test_format_date_handles_registry_partial_dates():
    assert format_date("2021-12-01") == "December 1, 2021"
    assert format_date("2023-12") == "December 2023"
    assert format_date(None) is None


def test_completion_passed_is_judged_against_today(seeded):
    study = read(queries.get_study, "NCT05113290")
    assert study.completion_passed(date(2026, 11, 24))
    assert not study.completion_passed(date(2023, 12, 1))
    assert study.completion_passed(date(2023, 12, 2))


def test_interventions_are_found_by_name_or_other_name(seeded):
    study = read(queries.get_study, "NCT05113290")
    assert study.intervention("H101").name.startswith("Recombinant human adenovirus")
    assert study.intervention("sorafenib").name == "Sorafenib"
    assert study.intervention("nivolumab") is None


def ids(found):
    return [s.nct_id for s in found[0]]


def test_recruiting_liver_cancer_studies_exclude_other_conditions(seeded):
    found = read(
        queries.related_studies,
        "NCT05113290",
        recruiting_only=True,
        condition="liver cancer",
        limit=50,
    )
    assert all(s.status == "RECRUITING" for s in found[0])
    assert "NCT04209491" not in ids(found)  # nurse coordinator care pathway
    assert "NCT03746704" not in ids(found)  # PD-L1 imaging in malignancies
    assert set(ids(found)) == {
        "NCT04401800",
        "NCT04641637",
        "NCT04780802",
        "NCT04767906",
        "NCT03970616",
        "NCT03642561",
    }


def test_liver_filter_drops_healthy_volunteer_study(seeded):
    assert "NCT05068193" not in ids(
        read(queries.related_studies, "NCT05113290", condition="liver cancer", limit=50)
    )


def test_drug_keyword_and_phase_filters(seeded):
    assert ids(read(queries.related_studies, "NCT05113290", keyword="cabozantinib", limit=50)) == [
        "NCT01908426",
        "NCT03170960",
        "NCT03963206",
        "NCT04767906",
    ]
    assert ids(read(queries.related_studies, "NCT05113290", keyword="Nivolumab", limit=50)) == [
        "NCT03222076",
        "NCT03655613",
        "NCT04039607",
    ]
    phase3 = read(queries.related_studies, "NCT05113290", phase="3", limit=50)
    assert ids(phase3) == ["NCT01908426", "NCT03642561", "NCT04039607"]


def test_limit_returns_a_handful_and_the_total(seeded):
    shown, total = read(queries.related_studies, "NCT05113290", limit=5)
    assert len(shown) == 5 and total == 20
