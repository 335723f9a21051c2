"""A tokenizer for English and Chinese in one model: Rasa's JiebaTokenizer, fixed and extended.

* Rasa 3.6's JiebaTokenizer keeps jieba's whitespace tokens in mixed text ("what is 索拉非尼"
  gives "what", " ", "is", " ", ...; Rasa issue #7910): they and punctuation-only tokens are
  dropped, as the WhitespaceTokenizer drops them for English.
* Traditional characters are read as Simplified (zhconv, one character for one): a token's
  lemma, which the featurizers use, is Simplified, while its text and offsets stay the
  patient's own, so entity values are what they wrote. 試驗 and 试验 are the same word.
* The domain's words in the shipped dictionary (bot/rasa_ext/zh_dictionary/, jieba's user
  dictionary format) are never split or merged with a neighbour, so an entity such as 索拉非尼
  or 肝细胞癌 is exactly one token, whatever jieba's statistics would do around it.
English is tokenized as the WhitespaceTokenizer would (jieba keeps Latin words whole).
"""

from __future__ import annotations

import glob
import re
import unicodedata
from typing import Any, Dict, List, Optional, Pattern, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message

from bot.language import to_simplified
from bot.rasa_ext.patches import require

require(
    JiebaTokenizer, "_load_custom_dictionary", params=["path"], patched_by="bot.rasa_ext.tokenizer"
)


def _is_word(text: str) -> bool:
    """A token worth keeping: not whitespace, not only punctuation or symbols."""
    return any(unicodedata.category(c)[0] in "LN" for c in text)


def dictionary_words(path: str) -> List[str]:
    """The words of jieba user dictionaries (one "word [freq] [tag]" per line)."""
    words = []
    for file in sorted(glob.glob(f"{path}/*")):
        with open(file, encoding="utf-8") as handle:
            for line in handle:
                word = line.split()[0] if line.strip() and not line.startswith("#") else ""
                if word:
                    words.append(to_simplified(word))
    return words


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class BilingualTokenizer(JiebaTokenizer):
    _protected: Optional[Pattern[str]] = None

    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        return None  # English and Chinese

    @staticmethod
    def _load_custom_dictionary(path: Text) -> None:
        JiebaTokenizer._load_custom_dictionary(path)
        words = sorted(set(dictionary_words(path)), key=len, reverse=True)
        BilingualTokenizer._protected = (
            re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE) if words else None
        )

    @classmethod
    def get_default_config(cls) -> Dict[Text, Any]:
        return {**JiebaTokenizer.get_default_config(), "dictionary_path": None}

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        import jieba

        original = message.get(attribute) or ""
        text = to_simplified(original)
        tokens: List[Token] = []

        def segment(start: int, end: int) -> None:
            for word, begin, _ in jieba.tokenize(text[start:end]):
                if _is_word(word):
                    offset = start + begin
                    tokens.append(Token(original[offset : offset + len(word)], offset, lemma=word))

        position = 0
        if self._protected is not None:
            for match in self._protected.finditer(text):
                if not _on_word_boundary(text, match.start(), match.end()):
                    continue
                segment(position, match.start())
                tokens.append(
                    Token(
                        original[match.start() : match.end()], match.start(), lemma=match.group(0)
                    )
                )
                position = match.end()
        segment(position, len(text))
        return self._apply_token_pattern(tokens)


def _on_word_boundary(text: str, start: int, end: int) -> bool:
    """A dictionary term inside a Latin word ("pet" in "petition") is not the term."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "

    def latin(c: str) -> bool:
        return c.isascii() and c.isalnum()

    return not (latin(text[start]) and latin(before)) and not (
        latin(text[end - 1]) and latin(after)
    )
