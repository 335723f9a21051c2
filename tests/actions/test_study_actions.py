"""Study-question actions, run with real Trackers against the real trial database."""

import copy
import json

import pytest

from actions.contact import ActionContact, ActionEmail, ActionFallback, ActionMedicalAdvice
from actions.related import ActionRelatedStudies
from actions.study_info import (
    ActionDrugInfo,
    ActionRecruitmentStatus,
    ActionSponsorLocation,
    ActionStudyDates,
    ActionStudyDesign,
    ActionStudyOverview,
    ActionStudyPhase,
)
from bot.cli import main
from bot.config import Settings, use_settings
from tests.support import SEED
from tests.support.sdk import run, tracker

PHONE = "0086-18991232095"


async def say(action, **kwargs):
    texts, _, _ = await run(action, tracker(**kwargs))
    return "\n".join(texts)


async def test_status_says_not_yet_recruiting_and_that_it_may_be_out_of_date(seeded):
    reply = await say(ActionRecruitmentStatus(), text="is it recruiting")
    assert '"not yet recruiting"' in reply
    assert "doesn't say when this status was last verified" in reply
    assert "completion date has already passed" in reply and PHONE in reply


async def test_status_follows_a_registry_refresh_without_retraining(seeded, tmp_path):
    record = json.loads((SEED / "NCT05113290.json").read_text())
    changed = copy.deepcopy(record)
    status = changed["protocolSection"]["statusModule"]
    status.update(
        overallStatus="RECRUITING",
        statusVerifiedDate="2026-11",
        completionDateStruct={"date": "2028-06", "type": "ESTIMATED"},
    )
    path = tmp_path / "refresh.json"
    path.write_text(json.dumps(changed))
    assert main(["trials", "import", str(path)]) == 0
    reply = await say(ActionRecruitmentStatus(), text="still open?")
    assert '"recruiting"' in reply and "last verified in November 2026" in reply
    assert "already passed" not in reply and PHONE in reply


async def test_contact_gives_name_and_phone_from_the_database(seeded):
    reply = await say(ActionContact(), text="who do i call")
    assert reply == f"You can contact Chang Liu, MD at {PHONE}."


async def test_email_is_not_invented_and_the_phone_is_offered(seeded):
    reply = await say(ActionEmail(), text="whats the email")
    assert "don't have an e-mail address" in reply and PHONE in reply
    assert "@" not in reply


async def test_overview_names_treatments_condition_phase_and_sponsor(seeded):
    reply = await say(ActionStudyOverview(), text="what is this study about")
    assert "NCT05113290" in reply and "Sorafenib" in reply and "(H101)" in reply
    assert "Advanced Hepatocellular Carcinoma" in reply and "Phase 4" in reply
    assert "This study aims to further verify" in reply
    assert "First Affiliated Hospital Xi'an Jiaotong University" in reply


async def test_drug_info_answers_for_the_drug_asked_about(seeded):
    reply = await say(
        ActionDrugInfo(),
        text="what is oncorine",
        intent="ask_drug_info",
        entities=[{"entity": "drug", "value": "H101"}],
    )
    assert "oncolytic virus" in reply.lower() and "given together with Sorafenib" in reply
    reply = await say(
        ActionDrugInfo(), text="what's nexavar", entities=[{"entity": "drug", "value": "sorafenib"}]
    )
    assert reply.startswith("Sorafenib: A molecular-targeted drug")
    reply = await say(
        ActionDrugInfo(),
        text="is nivolumab used",
        entities=[{"entity": "drug", "value": "nivolumab"}],
    )
    assert "nivolumab is not one of the treatments" in reply


async def test_drug_info_reads_the_drug_a_patient_means_among_other_words(seeded):
    reply = await say(
        ActionDrugInfo(),
        text="how is the virus given, injection?",
        entities=[
            {"entity": "drug", "value": "injection"},
            {"entity": "drug", "value": "the virus"},
        ],
    )
    assert "oncolytic virus" in reply.lower() and "not one of the treatments" not in reply


async def test_design_is_single_arm_without_placebo(seeded):
    reply = await say(ActionStudyDesign(), text="is there a placebo")
    assert "single-arm" in reply and "no placebo" in reply


async def test_phase_dates_and_sponsor(seeded):
    assert await say(ActionStudyPhase()) == "NCT05113290 is a Phase 4 study."
    dates = await say(ActionStudyDates())
    assert "Start date: December 1, 2021. Completion date: December 1, 2023." in dates
    assert "already passed" in dates
    where = await say(ActionSponsorLocation())
    assert "First Affiliated Hospital Xi'an Jiaotong University" in where
    assert "no separate study sites" in where and PHONE in where


@pytest.mark.parametrize(
    "text, entities, expected, absent",
    [
        ("any recruiting liver cancer trials", [], ["NCT04401800"], ["NCT04209491", "NCT01908426"]),
        (
            "other trials with cabozantinib",
            [{"entity": "drug", "value": "cabozantinib"}],
            ["NCT01908426", "NCT03170960", "NCT03963206", "NCT04767906"],
            ["NCT04401800"],
        ),
        ("studies using nivolumab", [], ["NCT03222076", "NCT03655613", "NCT04039607"], []),
        ("phase II studies", [], ["NCT03170960", "(phase 2)"], ["NCT04039607", "NCT01908426"]),
        (
            "phase three",
            [{"entity": "phase", "value": "3"}],
            ["NCT01908426", "NCT03642561", "NCT04039607"],
            ["NCT04401800"],
        ),
    ],
)
async def test_related_studies_apply_the_filters_in_the_message(
    seeded, text, entities, expected, absent
):
    reply = await say(ActionRelatedStudies(), text=text, entities=entities)
    for nct_id in expected:
        assert nct_id in reply
    for nct_id in absent:
        assert nct_id not in reply


async def test_related_studies_show_a_handful_with_status_and_phase(seeded):
    texts, _, _ = await run(ActionRelatedStudies(), tracker(text="other studies"))
    listing = texts[0].splitlines()
    assert listing[0] == "Here are 5 of 20 related studies:"
    assert len(listing) == 6
    assert "• NCT01908426: Study of Cabozantinib (XL184) vs Placebo" in listing[1]
    assert listing[1].endswith("(completed, Phase 3)")
    assert "15 more" in texts[1]


async def test_medical_advice_is_refused_and_referred(seeded):
    reply = await say(ActionMedicalAdvice(), text="should i stop my sorafenib")
    assert "not able to give medical advice" in reply and "doctor" in reply and PHONE in reply


async def test_fallback_says_what_it_can_do_and_gives_the_phone(seeded):
    reply = await say(ActionFallback(), text="asdfgh", intent="nlu_fallback")
    assert "the study record may not have that" in reply and PHONE in reply
    reply = await say(ActionFallback(), text="whats the weather", intent="out_of_scope")
    assert "I can only help with questions about this clinical trial" in reply and PHONE in reply


async def test_database_down_gets_a_polite_answer_and_the_last_known_phone(seeded):
    await say(ActionContact())  # the action server has read the contact once
    use_settings(Settings(database_url="postgresql://nobody@127.0.0.1:1/none"))
    reply = await say(ActionRecruitmentStatus(), text="is it recruiting")
    assert "can't look that up right now" in reply and PHONE in reply
