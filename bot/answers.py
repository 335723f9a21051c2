"""Reading a screening answer written in plain words, and judging it against a criterion.

Pure functions: no Rasa, no database, so every phrasing can be unit-tested.
"""
from __future__ import annotations

import re
from typing import Optional, Tuple

from word2number import w2n

from bot.trials import CriterionFacts

UNSURE = re.compile(
    r"\b(not\s+sure|unsure|don'?t\s+know|do\s+not\s+know|dunno|no\s+idea|maybe|perhaps|"
    r"can'?t\s+remember|cannot\s+remember|not\s+certain|ask\s+(the|my|his|her)\s+doctor|idk)\b",
    re.IGNORECASE,
)
NO = re.compile(
    r"^\s*(no+|nope|nah|n|not\s+really|never|negative|it\s+(grew|spread|got\s+worse)|"
    r"(it'?s|it\s+is|it\s+was|it\s+has)\s+(grown|growing|spreading|progressing|worse))\b",
    re.IGNORECASE,
)
YES = re.compile(
    r"^\s*(yes+|yep|yeah|yup|ya|y|sure|ok(ay)?|correct|right|true|definitely|absolutely|"
    r"i\s+(think|believe)\s+so|that'?s\s+right|indeed|go\s+ahead|i\s+agree|agreed?)\b",
    re.IGNORECASE,
)
INTENT_VALUES = {"affirm": "yes", "deny": "no", "unsure": "unsure"}
NUMBER = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d+)?)(?![\d.])")


def read_yes_no(text: str, intent: Optional[str] = None) -> Optional[str]:
    """'yes', 'no' or 'unsure'; None when the answer is unclear."""
    text = (text or "").strip()
    if text.startswith("/"):  # a button payload such as /affirm
        return INTENT_VALUES.get(text[1:].split("{")[0])
    if UNSURE.search(text):
        return "unsure"
    if NO.search(text):
        return "no"
    if YES.search(text):
        return "yes"
    return INTENT_VALUES.get(intent or "")


def read_number(text: str) -> Optional[float]:
    """A number written in digits ('I'm 58') or in words ('fifty-eight')."""
    match = NUMBER.search(text or "")
    if match:
        return float(match.group(1))
    try:
        return float(w2n.word_to_num((text or "").replace("-", " ")))
    except ValueError:
        return None


def read_choice(text: str, choices) -> Optional[str]:
    found = [c for c in choices if re.search(rf"\b{re.escape(c)}\b", text or "", re.IGNORECASE)]
    return found[0] if len(found) == 1 else None


def judge(criterion: CriterionFacts, text: str, intent: Optional[str]) -> Tuple[Optional[str], str]:
    """(value, result): value None means unclear; result is pass / fail / unsure."""
    if criterion.answer_type == "yes_no":
        value = read_yes_no(text, intent)
        if value is None or value == "unsure":
            return value, "unsure"
        return value, "pass" if value in criterion.pass_values else "fail"
    if read_yes_no(text, intent) == "unsure":
        return "unsure", "unsure"
    if criterion.answer_type == "number":
        number = read_number(text)
        if number is None:
            return None, "unsure"
        low = criterion.min_value if criterion.min_value is not None else float("-inf")
        high = criterion.max_value if criterion.max_value is not None else float("inf")
        return f"{number:g}", "pass" if low <= number <= high else "fail"
    choice = read_choice(text, criterion.choices)
    if choice is None:
        return None, "unsure"
    return choice, "pass" if choice in criterion.pass_values else "fail"
