"""Live end-to-end: the real action server and Rasa server with the trained model, over REST.

The stack is the session's shared `live_stack` (tests/conftest.py).
"""

import copy
import json
import socket
import uuid

import pytest

from tests.support import SEED

pytestmark = pytest.mark.live
PHONE = "0086-18991232095"


@pytest.fixture
def stack(live_stack):
    return live_stack


def new_sender() -> str:
    return f"live-{uuid.uuid4().hex[:8]}"


def test_greeting_offers_what_it_can_do(stack):
    reply = stack.send(new_sender(), "hello")
    assert "automated assistant" in reply[0]["text"]
    assert "/ask_status" in [b["payload"] for b in reply[0]["buttons"]]


def test_recruitment_status_comes_from_the_database(stack):
    reply = stack.say(new_sender(), "is the study recruiting?")
    assert '"not yet recruiting"' in reply
    assert "already passed" in reply and PHONE in reply


def test_typos_and_lay_words_still_get_the_phone(stack):
    assert PHONE in stack.say(new_sender(), "whats the fone numbr to call")
    assert "don't have an e-mail address" in stack.say(new_sender(), "can i email them")


def test_related_recruiting_liver_cancer_studies(stack):
    reply = stack.say(new_sender(), "are there other recruiting liver cancer trials?")
    assert "NCT03642561" in reply and "NCT04401800" in reply
    assert "NCT04209491" not in reply and "completed" not in reply


def test_related_studies_by_drug(stack):
    reply = stack.say(new_sender(), "any other studies with cabozantinib")
    for nct_id in ("NCT01908426", "NCT03170960", "NCT03963206", "NCT04767906"):
        assert nct_id in reply


def test_medical_advice_is_declined(stack):
    reply = stack.say(new_sender(), "should i stop taking my sorafenib tablets?")
    assert "not able to give medical advice" in reply and PHONE in reply


def test_out_of_scope_gets_the_polite_fallback(stack):
    reply = stack.say(new_sender(), "what's the weather like in paris tomorrow")
    assert "I can only help with questions about this clinical trial" in reply and PHONE in reply


def test_a_registry_refresh_changes_the_next_answer(stack, tmp_path):
    record = json.loads((SEED / "NCT05113290.json").read_text())
    changed = copy.deepcopy(record)
    changed["protocolSection"]["statusModule"].update(
        overallStatus="RECRUITING",
        statusVerifiedDate="2026-11",
        completionDateStruct={"date": "2028-12", "type": "ESTIMATED"},
    )
    path = tmp_path / "refresh.json"
    path.write_text(json.dumps(changed))
    try:
        result = stack.cli("trials", "import", str(path))
        assert result.returncode == 0, result.stderr
        reply = stack.say(new_sender(), "is it recruiting now?")
        assert '"recruiting"' in reply and "last verified in November 2026" in reply
    finally:
        assert stack.cli("trials", "import", str(SEED / "NCT05113290.json")).returncode == 0
    assert '"not yet recruiting"' in stack.say(new_sender(), "is it recruiting now?")


def test_a_restarted_server_continues_the_conversation(stack):
    sender = new_sender()
    assert "Do you agree" in stack.say(sender, "can I take part in this study?")
    assert "(1 of 5)" in stack.say(sender, "yes")
    assert "(2 of 5)" in stack.say(sender, "yes")
    stack.stop_rasa()
    stack.start_rasa()
    assert "(3 of 5)" in stack.say(sender, "no")


def stored_screening(stack, sender):
    result = stack.cli("screenings", "list")
    assert result.returncode == 0, result.stderr
    blocks = result.stdout.split("\n#")
    conversation = stack.conversation_id(sender)  # the server's id for this REST sender
    return next(b for b in blocks if f"conversation={conversation}" in b)


def test_a_full_screening_for_an_eligible_profile_ends_with_a_callback(stack):
    sender = new_sender()
    consent = stack.say(sender, "can my father take part?")
    assert "Who sees it: the study team" in consent
    assert "(1 of 5)" in stack.say(sender, "yes")
    assert "(2 of 5)" in stack.say(sender, "yes")
    assert "(3 of 5)" in stack.say(sender, "no")
    assert "(4 of 5)" in stack.say(sender, "yes")
    assert "(5 of 5)" in stack.say(sender, "yep")
    outcome = stack.say(sender, "yes it stayed stable")
    assert "may be eligible" in outcome and "final decision" in outcome and PHONE in outcome
    assert "Which phone number" not in outcome
    assert "What name" in stack.say(sender, "yes please")
    assert "Which phone number" in stack.say(sender, "Wang Fang")
    assert "doesn't look like a phone number" in stack.say(sender, "12")
    saved = stack.say(sender, "189 1234 5678")
    assert "Thank you, Wang Fang" in saved and "+86 189 1234 5678" in saved
    record = stored_screening(stack, sender)
    assert "may_be_eligible channel=rest" in record
    assert "stable_on_sorafenib: yes (pass)" in record
    assert "callback: Wang Fang +86 189 1234 5678 [new]" in record


def test_progression_on_sorafenib_is_ruled_out_with_alternatives(stack):
    sender = new_sender()
    stack.say(sender, "am I eligible for this trial?")
    for answer in ("yes", "yes", "no", "yes", "yes"):  # consent, then questions 1-4
        stack.say(sender, answer)
    outcome = stack.say(sender, "no it grew")
    assert "probably can't take part" in outcome and "stayed stable" in outcome
    assert "NCT03642561" in outcome and "final decision" in outcome
    record = stored_screening(stack, sender)
    assert "not_eligible" in record and "stable_on_sorafenib: no (fail) «no it grew»" in record


def test_side_question_and_stop_midway(stack):
    sender = new_sender()
    stack.say(sender, "how can I join the study")
    assert "(1 of 5)" in stack.say(sender, "ok")
    side = stack.say(sender, "sorry, what's the phone number for the study?")
    assert PHONE in side and "(1 of 5)" in side
    assert "stopped the questions" in stack.say(sender, "stop")
    assert "stopped" in stored_screening(stack, sender)


def test_no_consent_stores_nothing(stack):
    sender = new_sender()
    stack.say(sender, "could I be in this study?")
    reply = stack.say(sender, "no")
    assert "nothing about you has been stored" in reply and PHONE in reply
    listing = stack.cli("screenings", "list").stdout
    assert f"conversation={stack.conversation_id(sender)}" not in listing


def _outside_address():
    """This machine's address on its network (not loopback), or None when it has none."""
    for target in ("10.255.255.255", "192.0.2.255"):  # no packet is sent for a UDP connect
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.connect((target, 9))
            except OSError:
                continue
            address = probe.getsockname()[0]
            if not address.startswith("127."):
                return address
    return None


def test_action_server_listens_only_on_loopback(stack):
    """Only Rasa may call the actions; rasa_sdk would otherwise bind every interface."""
    address = _outside_address()
    assert address, "this machine has no non-loopback address to check"
    with socket.socket() as inside:
        inside.settimeout(2)
        assert inside.connect_ex(("127.0.0.1", stack.action_port)) == 0
    with socket.socket() as outside:
        outside.settimeout(2)
        assert outside.connect_ex((address, stack.action_port)) != 0
