"""Every reply exists in English and Chinese, with the same facts and the same buttons, and
the domain holds none: no later change can add an English-only reply."""

import re

import pytest
import yaml

from actions.replies import LANGUAGES, REPLIES, replies, variant
from bot.config import ROOT

PLACEHOLDER = re.compile(r"{{\s*(\w+)")
HAN = re.compile(r"[\u4e00-\u9fff]")


def test_every_reply_has_every_language():
    missing = [
        (key, lang) for key, entry in replies().items() for lang in LANGUAGES if not entry.get(lang)
    ]
    assert missing == []


@pytest.mark.parametrize("key", sorted(yaml.safe_load(REPLIES.read_text(encoding="utf-8"))))
def test_both_languages_say_the_same_facts_with_the_same_buttons(key):
    (en_text, en_buttons), (zh_text, zh_buttons) = variant(key, "en"), variant(key, "zh")
    assert set(PLACEHOLDER.findall(en_text)) == set(PLACEHOLDER.findall(zh_text))
    assert [b["payload"] for b in en_buttons] == [b["payload"] for b in zh_buttons]
    english = re.sub(r"{{[^}]*}}", "", en_text)
    assert not HAN.search(english + "".join(b["title"] for b in en_buttons))
    chinese = re.sub(r"{{[^}]*}}", "", zh_text)
    assert not re.search(r"\b[a-z]{3,}\b", chinese), "English words in the Chinese variant"
    assert all(HAN.search(b["title"]) for b in zh_buttons)


def test_chinese_replies_are_polite():
    """您, never the familiar 你 (except inside words such as 你们)."""
    familiar = [key for key in replies() if re.search(r"你(?!们)", variant(key, "zh")[0])]
    assert familiar == []


def test_the_domain_holds_no_reply_of_its_own():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert not domain.get("responses")
