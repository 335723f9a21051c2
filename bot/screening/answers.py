"""Reading a screening answer written in plain words (English or Chinese), and judging it
against a criterion.

Pure functions: no Rasa, no database, so every phrasing can be unit-tested.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence, Tuple

from word2number import w2n

from bot.language import to_simplified
from bot.trial.queries import CriterionFacts

UNSURE = re.compile(
    r"\b(not\s+sure|unsure|don'?t\s+know|do\s+not\s+know|dunno|no\s+idea|maybe|perhaps|"
    r"can'?t\s+remember|cannot\s+remember|not\s+certain|ask\s+(the|my|his|her)\s+doctor|idk)\b"
    r"|不清楚|不知道|不确定|不太确定|说不准|说不好|不太清楚|不记得|记不清|记不得|忘了|可能吧|"
    r"也许|大概吧|或许|不一定|要问医生|得问医生|问问医生|问一下医生|搞不清",
    re.IGNORECASE,
)
NO = re.compile(
    r"^\s*(no+|nope|nah|n|not\s+really|never|negative|it\s+(grew|spread|got\s+worse)|"
    r"(it'?s|it\s+is|it\s+was|it\s+has)\s+(grown|growing|spreading|progressing|worse))\b"
    r"|^\s*(没有|没|不是|不对|不|否|无|不要|不用|算了)",
    re.IGNORECASE,
)
YES = re.compile(
    r"^\s*(yes+|yep|yeah|yup|ya|y|sure|ok(ay)?|correct|right|true|definitely|absolutely|"
    r"i\s+(think|believe)\s+so|that'?s\s+right|indeed|go\s+ahead|i\s+agree|agreed?)\b"
    r"|^\s*(是|是的|对|对的|对啊|嗯|恩|有|有的|好|好的|可以|行|同意|没错|确实|确定|用过|吃过|当然)",
    re.IGNORECASE,
)
# How the disease went, in Chinese, checked before plain yes/no: "没有变化" (no change) means
# stable, "变大了" (it grew) means not.
NOT_STABLE = re.compile(r"不稳定|没控制住|没有控制住")
STABLE = re.compile(r"稳定|没变|没有变化|没什么变化|没怎么变|没长大|没有长大|没有扩散|控制住了")
PROGRESSED = re.compile(r"变大|长大|增大|加重|恶化|进展|扩散|转移|更严重|长了")
# (pattern, value) in the order they are tried
READINGS = (
    (UNSURE, "unsure"),
    (NOT_STABLE, "no"),
    (STABLE, "yes"),
    (NO, "no"),
    (YES, "yes"),
    (PROGRESSED, "no"),
)
INTENT_VALUES = {"affirm": "yes", "deny": "no", "unsure": "unsure"}
NUMBER = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d+)?)(?![\d.])")
CHINESE_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
CHINESE_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百]+")
# Choices in Chinese, for criteria such as sex: the English value a Chinese word means.
CHOICE_WORDS = {"female": ("女", "女性", "女的"), "male": ("男", "男性", "男的")}


def _chinese_number(text: str) -> Optional[int]:
    """六十 -> 60, 七十二 -> 72, 一百零五 -> 105, 五八 -> 58 (digit by digit)."""
    if "百" not in text and "十" not in text:
        if all(c in CHINESE_DIGITS for c in text):
            return int("".join(str(CHINESE_DIGITS[c]) for c in text)) if text else None
        return None
    total, current = 0, 0
    for char in text:
        if char in CHINESE_DIGITS:
            current = CHINESE_DIGITS[char]
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        elif char == "百":
            total += (current or 1) * 100
            current = 0
    return total + current


def read_yes_no(text: str, intent: Optional[str] = None) -> Optional[str]:
    """'yes', 'no' or 'unsure'; None when the answer is unclear."""
    text = to_simplified((text or "").strip())
    if text.startswith("/"):  # a button payload such as /affirm
        return INTENT_VALUES.get(text[1:].split("{")[0])
    for pattern, value in READINGS:
        if pattern.search(text):
            return value
    return INTENT_VALUES.get(intent or "")


def read_number(text: str) -> Optional[float]:
    """A number in digits ('I'm 58', '60岁'), in English words ('fifty-eight') or in Chinese
    numerals ('六十岁', '今年七十二')."""
    match = NUMBER.search(text or "")
    if match:
        return float(match.group(1))
    chinese = CHINESE_NUMBER.search(text or "")
    if chinese:
        value = _chinese_number(chinese.group(0))
        if value is not None:
            return float(value)
    try:
        return float(w2n.word_to_num((text or "").replace("-", " ")))
    except ValueError:
        return None


def read_choice(text: str, choices: Sequence[str]) -> Optional[str]:
    found = [
        c
        for c in choices
        if re.search(rf"\b{re.escape(c)}\b", text or "", re.IGNORECASE)
        or any(word in (text or "") for word in CHOICE_WORDS.get(c.lower(), ()))
    ]
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
