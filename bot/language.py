"""Which language a conversation is in: English ("en") or Chinese ("zh"; replies in Simplified).

The patient's own words decide when they are clear (Chinese characters, or an English sentence);
short or ambiguous messages ("ok", "1", "H101?") keep the conversation's current language; before
anything is known the channel's hint (the widget's language, WeChat) decides, then the default.
"I want English" / "说中文" switch it in one turn. Pure functions: actions and channels share them.
"""

from __future__ import annotations

import re
from typing import Optional

from zhconv import convert

LANGUAGES = ("en", "zh")
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
# Medical terms Chinese patients write in Latin letters: they say nothing about the language.
TERMS = frozenset("h101 afp hcc ct mri pet tace rfa pd pd-1 pd-l1 icc car-t nct vs".split())
# Latin words Chinese patients also use ("ok", "hi"): enough to start a conversation in English,
# not to switch a Chinese one.
LOANWORDS = TERMS | frozenset("ok okay hi hello bye thx thanks".split())
_MENTIONS = re.compile(
    r"(?P<zh>中文|汉语|漢語|普通话|普通話|国语|國語|华语|華語|chinese|mandarin|简体|簡體|繁体|繁體)"
    r"|(?P<en>英文|英语|英語|english)",
    re.IGNORECASE,
)
# A language named just after these is the one the patient does NOT want ("看不懂英文").
_REFUSED = re.compile(
    r"(不懂|看不懂|听不懂|不会|不要|别用|别说|不想|not|n't|instead of|no)\W{0,2}\w{0,3}\W{0,2}$",
    re.IGNORECASE,
)


def to_simplified(text: str) -> str:
    """Traditional characters as Simplified, one character for one, so offsets still hold."""
    converted = convert(text, "zh-cn")
    if len(converted) == len(text):
        return converted
    return "".join(convert(char, "zh-cn") or char for char in text)


def _english_words(text: str, ignore: frozenset = LOANWORDS) -> int:
    return sum(1 for w in LATIN_WORD.findall(text) if w.lower() not in ignore)


def detect(text: str) -> Optional[str]:
    """The language the text is clearly written in, else None (too short or mixed)."""
    han = len(HAN.findall(text or ""))
    words = _english_words(text or "")
    if han and han >= 2 * words:
        return "zh"
    if words >= 2:
        return "en"
    return None


def requested(text: str, current: Optional[str]) -> str:
    """The language a "switch language" message asks for."""
    wanted = []
    for match in _MENTIONS.finditer(text or ""):
        if not _REFUSED.search(text[: match.start()]):
            wanted.append("zh" if match.group("zh") else "en")
        else:
            wanted.append("en" if match.group("zh") else "zh")
    if wanted:
        return wanted[-1]
    written = detect(text)
    if written and written != current:
        return written  # "说人话": asked in the language they want
    return "en" if current == "zh" else "zh"  # "switch the language"


def decide(
    text: str,
    current: Optional[str],
    hint: Optional[str],
    default: str,
    switch: bool = False,
) -> str:
    """The conversation's language after this message.

    `current`: the conversation's language so far (None before anything is known); `hint`: the
    channel's (the widget's configured or chosen language, WeChat: zh); `switch`: the message
    asked to change language."""
    if switch:
        return requested(text, current)
    written = detect(text)
    if written:
        return written
    if current in LANGUAGES:
        return current
    if hint in LANGUAGES:
        return str(hint)
    if _english_words(text, ignore=TERMS) >= 1:
        return "en"
    return default
