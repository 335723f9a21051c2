"""Live: whatever the NLU makes of a name, the callback form takes it, and "yes, please call me"
in one message takes the offer. A name is any text: some land below the fallback threshold
(刘洋 and Smith did on the model of 2026-12-07), and the form must still read them (Rasa runs
the form first while it can fill the requested slot), or the patient gets the generic fallback
and cannot leave a callback at all."""

import uuid

import pytest

pytestmark = pytest.mark.live

# (asking for a person, taking the offer, the name question, the phone question, the thanks)
LANGUAGES = {
    "en": (
        "can someone call me back",
        "yes please call me",
        "What name",
        "Which phone number",
        "Thank you, {name}",
    ),
    "zh": ("请给我回个电话", "好的，请给我打电话", "该找哪位", "哪个号码", "谢谢您，{name}"),
}
NAMES = [
    ("en", "Smith"),
    ("en", "Li Yang"),
    ("en", "Maria Gonzalez-Ruiz"),
    ("zh", "刘洋"),
    ("zh", "张涛磊"),
    ("zh", "欧阳秀霞"),
    ("zh", "王芳"),
]


@pytest.mark.parametrize("language,name", NAMES)
def test_any_name_is_taken_and_the_phone_asked_next(live_stack, language, name):
    request, yes, name_question, phone_question, thanks = LANGUAGES[language]
    sender = f"name-{uuid.uuid4().hex[:8]}"
    live_stack.say(sender, request)  # the offer of a callback
    assert name_question in live_stack.say(sender, yes)
    assert phone_question in live_stack.say(sender, name)
    saved = live_stack.say(sender, "13912345678")
    assert thanks.format(name=name) in saved and "+86 139 1234 5678" in saved
