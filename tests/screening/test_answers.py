"""Screening answers as people write them."""

import pytest

from bot.screening.answers import judge, read_number, read_yes_no
from bot.trial.queries import CriterionFacts


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        ("yes", None, "yes"),
        ("Yep", None, "yes"),
        ("I think so", None, "yes"),
        ("yeah sure", None, "yes"),
        ("/affirm", None, "yes"),
        ("no", None, "no"),
        ("no it grew", None, "no"),
        ("nope", None, "no"),
        ("it got worse", None, "no"),
        ("/deny", None, "no"),
        ("not sure", None, "unsure"),
        ("I don't know", None, "unsure"),
        ("maybe", None, "unsure"),
        ("I'd have to ask the doctor", None, "unsure"),
        ("/unsure", None, "unsure"),
        ("the scan showed it was the same", "affirm", "yes"),
        ("what?", None, None),
        ("banana", "out_of_scope", None),
    ],
)
def test_yes_no_answers(text, intent, expected):
    assert read_yes_no(text, intent) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I'm 58", 58),
        ("fifty-eight", 58),
        ("he is sixty", 60),
        ("72 years old", 72),
        ("not telling", None),
    ],
)
def test_numbers_in_digits_or_words(text, expected):
    assert read_number(text) == expected


AGE = CriterionFacts(
    1,
    "age",
    "inclusion",
    "How old?",
    None,
    "number",
    [],
    [],
    18,
    75,
    "this study is for people at least 18 years old",
    "eligibility_module",
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I'm 58", ("58", "pass")),
        ("seventeen", ("17", "fail")),
        ("80", ("80", "fail")),
        ("not sure", ("unsure", "unsure")),
        ("old", (None, "unsure")),
    ],
)
def test_age_criterion_judgement(text, expected):
    assert judge(AGE, text, None) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("是", "yes"),
        ("是的", "yes"),
        ("对", "yes"),
        ("嗯", "yes"),
        ("是的，医生说是肝细胞癌", "yes"),
        ("有", "yes"),
        ("没有", "no"),
        ("不是", "no"),
        ("没有，是胆管癌", "no"),
        ("不清楚", "unsure"),
        ("不知道", "unsure"),
        ("可能吧", "unsure"),
        ("得问医生", "unsure"),
        ("变大了", "no"),
        ("加重了", "no"),
        ("扩散了", "no"),
        ("不稳定", "no"),
        ("稳定的", "yes"),
        ("没有变化", "yes"),
        ("没长大", "yes"),
        ("對，擴散了", "yes"),  # Traditional; "yes" to "is it advanced?"
        ("病情穩定", "yes"),
    ],
)
def test_chinese_answers(text, expected):
    assert read_yes_no(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [("60岁", 60), ("六十岁", 60), ("今年七十二", 72), ("我爸63了", 63), ("一百零五", 105)],
)
def test_chinese_numbers(text, expected):
    assert read_number(text) == expected


SEX = CriterionFacts(
    2,
    "sex",
    "inclusion",
    "Sex?",
    None,
    "choice",
    ["female", "male"],
    ["female"],
    None,
    None,
    "this study is only for female participants",
    "eligibility_module",
)


@pytest.mark.parametrize(
    "text, expected",
    [("女", ("female", "pass")), ("男性", ("male", "fail")), ("female", ("female", "pass"))],
)
def test_choices_in_either_language(text, expected):
    assert judge(SEX, text, None) == expected
