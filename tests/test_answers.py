"""Screening answers as people write them."""
import pytest

from bot.answers import judge, read_number, read_yes_no
from bot.trials import CriterionFacts


@pytest.mark.parametrize("text, intent, expected", [
    ("yes", None, "yes"), ("Yep", None, "yes"), ("I think so", None, "yes"),
    ("yeah sure", None, "yes"), ("/affirm", None, "yes"),
    ("no", None, "no"), ("no it grew", None, "no"), ("nope", None, "no"),
    ("it got worse", None, "no"), ("/deny", None, "no"),
    ("not sure", None, "unsure"), ("I don't know", None, "unsure"), ("maybe", None, "unsure"),
    ("I'd have to ask the doctor", None, "unsure"), ("/unsure", None, "unsure"),
    ("the scan showed it was the same", "affirm", "yes"),
    ("what?", None, None), ("banana", "out_of_scope", None),
])
def test_yes_no_answers(text, intent, expected):
    assert read_yes_no(text, intent) == expected


@pytest.mark.parametrize("text, expected", [
    ("I'm 58", 58), ("fifty-eight", 58), ("he is sixty", 60), ("72 years old", 72),
    ("not telling", None),
])
def test_numbers_in_digits_or_words(text, expected):
    assert read_number(text) == expected


AGE = CriterionFacts(1, "age", "inclusion", "How old?", None, "number", [], [], 18, 75,
                     "this study is for people at least 18 years old", "eligibility_module")


@pytest.mark.parametrize("text, expected", [
    ("I'm 58", ("58", "pass")), ("seventeen", ("17", "fail")), ("80", ("80", "fail")),
    ("not sure", ("unsure", "unsure")), ("old", (None, "unsure")),
])
def test_age_criterion_judgement(text, expected):
    assert judge(AGE, text, None) == expected
