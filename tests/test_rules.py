"""The side-question rules are generated from one source and are up to date."""

from bot.ops.rules import OUT, OWN_RULES, answering_actions, render, side_questions


def test_side_question_rules_are_generated_from_the_domain_and_the_study_rules():
    assert OUT.read_text(encoding="utf-8") == render(), "run `make rules`"


def test_every_side_question_is_answered_in_both_forms():
    text = OUT.read_text(encoding="utf-8")
    answered = answering_actions()
    for intent in side_questions():
        if intent in OWN_RULES:
            continue
        assert answered[intent], intent
        for form in ("screening_form", "callback_form"):
            assert f"rule: {intent} during {form} is answered, then {form} goes on" in text
