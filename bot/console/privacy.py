"""Masking phone numbers and e-mail addresses wherever staff see patients' text.

One function, `mask_text`, for Chinese and English text alike: transcripts, list previews,
exports, the NLU inbox page and the NLU export, and the copy of the user text the free-text
search runs on (so typing digits into the search box can never rebuild a masked number).

Phone numbers are found three ways, and any of them masks:

* `phonenumbers.PhoneNumberMatcher` (region CN, which also reads +country numbers; leniency
  VALID, so study ids like NCT05113290 and dates are not taken for numbers);
* a fallback for runs of 7 or more digits, however they are split (spaces, `-`, `/`, ` - `,
  dots, brackets), not glued to a Latin letter or digit before them; dates stay visible;
* mainland mobile numbers (1[3-9] and 9 more digits) wherever they are, and runs of 7 or more
  Chinese numerals (一三八零零一三八零零零).

Full-width and other Unicode digits (１３８…) count as digits. Chinese characters around a
number do not protect it (`我的电话是13800138000`). The studies' published phone numbers and
e-mail addresses (`public_contacts`) stay visible.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from typing import Any, Dict, Iterable, List, Optional, Tuple

from phonenumbers import Leniency, PhoneNumberMatcher
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.trial.models import Contact

BULLET = "\u2022"
REGION = "CN"
MIN_DIGITS = 7
CN_NUMERALS = "零〇一二三四五六七八九幺两"


def _translation() -> Dict[int, str]:
    """One character for one: full-width ASCII (１２３＋－＠), every Unicode decimal digit, the
    ideographic space and dashes; so positions in the normalized text are positions in the
    original."""
    table: Dict[int, str] = {}
    for code in range(0xFF01, 0xFF5F):  # full-width forms of ! .. ~
        table[code] = chr(code - 0xFEE0)
    for code in range(0x80, sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) == "Nd":
            table[code] = str(unicodedata.digit(char))
    for char in "\u3000\u00a0\u2002\u2003\u2009\u202f":
        table[ord(char)] = " "
    for char in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63":
        table[ord(char)] = "-"
    return table


NORMAL = _translation()
NUMERALS = {ord(c): str(v) for c, v in zip(CN_NUMERALS, "0012345678912", strict=True)}

EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+ ?@ ?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_SEP = r"[ \t().\-/\\_~·,]{0,3}"
# A date (kept) or a phone-like digit run, scanned together so a date is never half a number.
_DATE = (
    r"(?:19|20)[0-9]{2}(?P<s1>[-./])(?:0?[1-9]|1[0-2])(?P=s1)(?:0?[1-9]|[12][0-9]|3[01])"
    r"(?![-./]?[0-9])"
    r"|(?:0?[1-9]|[12][0-9]|3[01])(?P<s2>[-./])(?:0?[1-9]|1[0-2])(?P=s2)(?:19|20)[0-9]{2}"
    r"(?![-./]?[0-9])"
    r"|(?:19|20)[0-9]{2} ?[-~] ?(?:19|20)[0-9]{2}(?![-./]?[0-9])"
)
_RUN = rf"(?:\+ ?)?[0-9](?:{_SEP}[0-9]){{{MIN_DIGITS - 1},}}"
SCAN_RE = re.compile(rf"(?<![0-9A-Za-z])(?:(?P<date>{_DATE})|(?P<run>{_RUN}))(?![0-9A-Za-z])")
MOBILE_RE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
NUMERALS_RE = re.compile(rf"[0-9](?:[ \-]{{0,2}}[0-9]){{{MIN_DIGITS - 1},}}")


def _digits(value: str) -> str:
    return "".join(c for c in value.translate(NORMAL) if c.isascii() and c.isdigit())


def _canonical(value: str) -> str:
    """A number's digits without the international prefix, mainland China's country code and
    the trunk 0: `+86 29 8532 3900`, `0086-29-85323900` and `029 8532 3900` are one number."""
    normal = value.translate(NORMAL).strip()
    digits = _digits(normal)
    international = normal.startswith("+") or digits.startswith("00")
    if digits.startswith("00"):
        digits = digits[2:]
    if international and digits.startswith("86"):
        digits = digits[2:]
    if digits.startswith("0"):
        digits = digits[1:]
    return digits


def _merge(spans: Iterable[Tuple[int, int]]) -> List[Tuple[int, int]]:
    merged: List[Tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _overlaps(span: Tuple[int, int], others: Iterable[Tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in others)


Span = Tuple[int, int]


def _phone_spans(normal: str, numerals: str, emails: List[Span]) -> List[Span]:
    spans: List[Span] = []
    if any(c.isdigit() for c in normal):
        for match in PhoneNumberMatcher(normal, REGION, leniency=Leniency.VALID):
            spans.append((match.start, match.end))
        for found in SCAN_RE.finditer(normal):
            if found.group("run"):
                spans.append(found.span())
        spans.extend(found.span() for found in MOBILE_RE.finditer(normal))
    if numerals != normal:  # Chinese numerals: only runs that have some
        for found in NUMERALS_RE.finditer(numerals):
            start, end = found.span()
            if normal[start:end] != numerals[start:end]:
                spans.append((start, end))
    return [s for s in _merge(spans) if not _overlaps(s, emails)]


def _mask_phone(text: str, numerals: str, start: int, end: int) -> str:
    positions = [i for i in range(start, end) if numerals[i].isascii() and numerals[i].isdigit()]
    shown = set(positions[-2:])
    return "".join(
        BULLET if i in positions and i not in shown else text[i] for i in range(start, end)
    )


def _mask_email(original: str, normal: str) -> str:
    """First letter, then bullets, and the top-level domain (in the text's own characters)."""
    tld = original[normal.rindex(".") + 1 :]
    return f"{original[:1]}{BULLET * 3}@{BULLET * 3}.{tld}"


def mask_text(text: Optional[str], keep: frozenset = frozenset()) -> Optional[str]:
    """Phone numbers and e-mail addresses replaced by bullets (a phone's last two digits and an
    address's first letter and top-level domain stay).

    `keep`: public contact details left as they are (see `public_contacts`)."""
    if not text:
        return text
    normal = text.translate(NORMAL)
    numerals = normal.translate(NUMERALS)
    emails = [m.span() for m in EMAIL_RE.finditer(normal)] if "@" in normal else []
    phones = _phone_spans(normal, numerals, emails)
    if not emails and not phones:
        return text
    edits: List[Tuple[int, int, str]] = []
    for start, end in emails:
        value = normal[start:end]
        if value.replace(" ", "").lower() not in keep:
            edits.append((start, end, _mask_email(text[start:end], value)))
    for start, end in phones:
        value = normal[start:end]
        if _canonical(value) in keep or _digits(value) in keep:
            continue
        edits.append((start, end, _mask_phone(text, numerals, start, end)))
    pieces, position = [], 0
    for start, end, replacement in sorted(edits):
        pieces.append(text[position:start])
        pieces.append(replacement)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def contains_contact(text: Optional[str], keep: frozenset = frozenset()) -> bool:
    return bool(text) and mask_text(text, keep) != text


def mask_value(value: Any, keep: frozenset = frozenset()) -> Any:
    """Masks strings inside slot values and entity values of any JSON shape."""
    if isinstance(value, str):
        return mask_text(value, keep)
    if isinstance(value, list):
        return [mask_value(v, keep) for v in value]
    if isinstance(value, dict):
        return {k: mask_value(v, keep) for k, v in value.items()}
    return value


def search_copy(text: str, keep: frozenset = frozenset()) -> str:
    """What the free-text search runs on: the text masked, lower-cased."""
    return (mask_text(text, keep) or "").lower()


def public_contacts(session: Session) -> frozenset:
    """The studies' published phone numbers and e-mail addresses: the assistant says them in
    its answers, and they identify no patient, so they stay visible. Phones are kept in every
    spelling `_canonical` folds together, with and without an extension."""
    keep = set()
    for phone, email in session.execute(select(Contact.phone, Contact.email)):
        if phone and len(_digits(phone)) >= MIN_DIGITS:
            keep.add(_digits(phone))
            keep.add(_canonical(phone))
            main = re.split(r"(?i)\s*(?:ext\.?|extension|x|转|分机)\s*", phone)[0]
            keep.add(_canonical(main))
        if email and "@" in email:
            keep.add(email.strip().lower())
    keep.discard("")
    return frozenset(keep)
