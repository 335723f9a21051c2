"""Pre-screening form: consent, answers in many forms, rephrasing, ruling out, outcomes and
callback."""

import pytest
from rasa_sdk.events import ActiveLoop, SlotSet

from actions.callback import ActionSaveCallback, ValidateCallbackForm, clean_phone
from actions.screening import (
    ActionAskScreeningAnswer,
    ActionAskScreeningConsent,
    ActionScreeningOutcome,
    ActionStopScreening,
    ValidateScreeningForm,
)
from bot.screening.records import list_screenings
from tests.support import read
from tests.support.sdk import run, tracker

DOMAIN = {
    "forms": {
        "screening_form": {"required_slots": ["screening_consent", "screening_answer"]},
        "callback_form": {"required_slots": ["callback_name", "callback_phone"]},
    }
}
PHONE = "0086-18991232095"


def slots_of(events):
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def validate(slots, text, intent=None, slot="screening_answer"):
    """Run the form validation as Rasa does after `text` filled the requested slot."""
    t = tracker(
        text=text,
        intent=intent,
        slots={**slots, slot: text, "requested_slot": slot},
        active_loop="screening_form",
        sender_id="patient-1",
    )
    t.events.append({"event": "slot", "name": slot, "value": text})
    texts, events, _ = await run(ValidateScreeningForm(), t, DOMAIN)
    return texts, {**slots, **slots_of(events)}


async def consent(text="yes", intent="affirm"):
    return await validate({}, text, intent, slot="screening_consent")


async def test_consent_question_says_what_is_stored_and_who_sees_it(seeded):
    texts, _, messages = await run(ActionAskScreeningConsent(), tracker())
    consent = texts[0]
    assert "5 short questions" in consent and "health information" in consent
    assert "What is stored: your answers and this conversation" in consent
    assert "Who sees it: the study team at First Affiliated Hospital" in consent
    assert "How long: up to 180 days" in consent
    assert "You can withdraw at any time" in consent and '"delete my data"' in consent
    assert "not a medical decision" in consent and "Do you agree" in consent
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]


async def test_no_consent_stores_nothing_and_gives_general_information(seeded):
    _, slots = await consent("no thanks", "deny")
    assert slots["screening_consent"] == "no"
    assert read(list_screenings) == []
    required = await ValidateScreeningForm().required_slots(
        ["screening_consent", "screening_answer"], None, tracker(slots=slots), DOMAIN
    )
    assert required == []
    texts, _, _ = await run(ActionScreeningOutcome(), tracker(slots=slots))
    reply = "\n".join(texts)
    assert "nothing about you has been stored" in reply and PHONE in reply
    assert '"not yet recruiting"' in reply


async def test_consent_starts_a_record_and_the_first_question(seeded):
    _, slots = await consent("yep go ahead", None)
    assert slots["screening_consent"] == "yes" and slots["screening_step"] == 0
    [record] = read(list_screenings)
    assert record.conversation_id == "patient-1" and record.channel == "rest"
    assert record.outcome == "in_progress" and record.consent_at is not None
    texts, _, messages = await run(ActionAskScreeningAnswer(), tracker(slots=slots))
    assert texts[0].startswith("(1 of 5) Has a doctor diagnosed")
    assert [b["title"] for b in messages[0]["buttons"]] == ["Yes", "No", "Not sure"]


async def answer_all(answers):
    _, slots = await consent()
    for text, intent in answers:
        _, slots = await validate(slots, text, intent)
    return slots


async def test_eligible_profile_may_be_eligible_and_is_offered_a_callback(seeded):
    slots = await answer_all(
        [
            ("yes", "affirm"),
            ("no", "deny"),
            ("I think so", None),
            ("yep", None),
            ("yes it stayed the same", "affirm"),
        ]
    )
    assert slots["screening_answer"] == "done" and slots["screening_outcome"] == "may_be_eligible"
    [record] = read(list_screenings)
    assert record.outcome == "may_be_eligible"
    assert [a.result for a in record.answers] == ["pass"] * 5
    texts, events, _ = await run(ActionScreeningOutcome(), tracker(slots=slots))
    reply = "\n".join(texts)
    assert "may be eligible" in reply and "The study team makes the final decision" in reply
    assert PHONE in reply and "Would you like the study team to call you?" in reply
    assert slots_of(events)["callback_offered"] is True


async def test_progression_on_sorafenib_rules_out_and_offers_related_studies(seeded):
    slots = await answer_all(
        [
            ("yes", "affirm"),
            ("no", "deny"),
            ("yes", "affirm"),
            ("yes", "affirm"),
            ("no it grew", "deny"),
        ]
    )
    assert slots["screening_outcome"] == "not_eligible"
    texts, _, _ = await run(ActionScreeningOutcome(), tracker(slots=slots))
    reply = "\n".join(texts)
    assert "probably can't take part" in reply
    assert "whose disease stayed stable (did not grow) on sorafenib" in reply
    assert "The study team makes the final decision" in reply
    assert "NCT03642561" in reply and "(recruiting," in reply and PHONE in reply


async def test_a_ruling_out_answer_stops_the_questions(seeded):
    _, slots = await consent()
    _, slots = await validate(slots, "nope", "deny")  # not HCC
    assert slots["screening_outcome"] == "not_eligible"
    [record] = read(list_screenings)
    assert len(record.answers) == 1 and record.outcome == "not_eligible"


async def test_unclear_answers_are_rephrased_twice_then_counted_unsure(seeded):
    _, slots = await consent()
    texts, slots = await validate(slots, "what do you mean", "out_of_scope")
    assert slots["screening_answer"] is None and slots["screening_retries"] == 1
    assert texts == ["Sorry, I'm not sure I understood."]
    asked, _, _ = await run(ActionAskScreeningAnswer(), tracker(slots=slots))
    assert asked[0].startswith("(1 of 5) Did a doctor say the liver cancer is hepatocellular")
    _, slots = await validate(slots, "hmm", None)
    assert slots["screening_retries"] == 2 and slots["screening_step"] == 0
    _, slots = await validate(slots, "banana", None)
    assert slots["screening_step"] == 1 and slots["screening_retries"] == 0
    [record] = read(list_screenings)
    assert [(a.value, a.result) for a in record.answers] == [("unsure", "unsure")]


async def test_unsure_answers_end_in_cannot_tell_with_the_phone(seeded):
    slots = await answer_all(
        [
            ("not sure", "unsure"),
            ("no", "deny"),
            ("yes", "affirm"),
            ("yes", "affirm"),
            ("yes", "affirm"),
        ]
    )
    assert slots["screening_outcome"] == "unsure"
    texts, _, _ = await run(ActionScreeningOutcome(), tracker(slots=slots))
    assert "can't tell" in texts[0] and "doctor" in texts[0] and PHONE in texts[0]


async def test_stop_ends_at_once_and_marks_the_record(seeded):
    _, slots = await consent()
    _, slots = await validate(slots, "yes", "affirm")
    texts, events, _ = await run(ActionStopScreening(), tracker(slots=slots))
    assert "stopped the questions" in texts[0]
    assert ActiveLoop(None) in events and SlotSet("screening_consent", None) in events
    [record] = read(list_screenings)
    assert record.outcome == "stopped" and len(record.answers) == 1


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0086-189 9123 2095", "+86 189 9123 2095"),
        ("18991232095", "+86 189 9123 2095"),
        ("+44 20 7946 0958", "+44 20 7946 0958"),
        ("12", ""),
        ("call me maybe", ""),
        ("<script>alert(1)</script>", ""),
    ],
)
def test_callback_phone_numbers_are_validated(text, expected):
    assert clean_phone(text) == expected


async def test_callback_request_is_validated_and_stored_for_staff(seeded):
    slots = await answer_all(
        [("yes", "affirm"), ("no", "deny"), ("yes", "affirm"), ("yes", "affirm"), ("yes", "affirm")]
    )
    form = ValidateCallbackForm()
    bad = tracker(text="1234", slots={"callback_name": "1234", "requested_slot": "callback_name"})
    bad.events.append({"event": "slot", "name": "callback_name", "value": "1234"})
    texts, events, _ = await run(form, bad, DOMAIN)
    assert slots_of(events)["callback_name"] is None and "name" in texts[0]
    good = tracker(text="my name is Li Wei", slots={"callback_name": "my name is Li Wei"})
    good.events.append({"event": "slot", "name": "callback_name", "value": "my name is Li Wei"})
    _, events, _ = await run(form, good, DOMAIN)
    assert slots_of(events)["callback_name"] == "Li Wei"
    slots.update(callback_name="Li Wei", callback_phone="+86 189 9123 2095")
    texts, events, _ = await run(ActionSaveCallback(), tracker(slots=slots))
    assert "Thank you, Li Wei" in texts[0] and "+86 189 9123 2095" in texts[0]
    [record] = read(list_screenings)
    assert (record.callback_name, record.callback_phone, record.callback_status) == (
        "Li Wei",
        "+86 189 9123 2095",
        "new",
    )
