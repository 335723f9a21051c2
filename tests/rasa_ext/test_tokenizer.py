"""bot.rasa_ext.tokenizer: jieba without whitespace tokens (Rasa #7910), Traditional read as
Simplified, the domain's words kept whole, so no entity annotation is misaligned."""

from pathlib import Path

import pytest
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from bot.config import ROOT
from bot.rasa_ext.tokenizer import BilingualTokenizer, dictionary_words
from bot.trial.vocabulary import chinese_terms

DICTIONARY = str(ROOT / "bot" / "rasa_ext" / "zh_dictionary")


@pytest.fixture(scope="module")
def tokenizer():
    BilingualTokenizer._load_custom_dictionary(DICTIONARY)
    return BilingualTokenizer(BilingualTokenizer.get_default_config(), None, None)


def tokens(tokenizer, text):
    return [
        (t.text, t.lemma, t.start) for t in tokenizer.tokenize(Message(data={"text": text}), "text")
    ]


def test_mixed_text_has_no_whitespace_or_punctuation_tokens(tokenizer):
    text = "what is 索拉非尼, and H101?"
    stock = JiebaTokenizer(JiebaTokenizer.get_default_config(), None, None)
    assert " " in [t.text for t in stock.tokenize(Message(data={"text": text}), "text")]
    assert [t for t, _, _ in tokens(tokenizer, text)] == ["what", "is", "索拉非尼", "and", "H101"]


def test_traditional_is_read_as_simplified_with_the_patients_own_text(tokenizer):
    found = tokens(tokenizer, "請問這個試驗還招人嗎")
    assert [lemma for _, lemma, _ in found] == ["请问", "这个", "试验", "还", "招人", "吗"]
    assert [(text, start) for text, _, start in found][2] == ("試驗", 4)


def test_the_domains_words_are_never_split_or_merged(tokenizer):
    found = [t for t, _, _ in tokens(tokenizer, "我爸是肝细胞癌患者能参加II期试验吗有卡博替尼的吗")]
    for word in ("肝细胞癌", "II期", "卡博替尼"):
        assert word in found
    assert "pet" in [t for t, _, _ in tokens(tokenizer, "a pet scan")]
    assert "pet" not in [t for t, _, _ in tokens(tokenizer, "petition")]  # not inside a word


def test_every_chinese_name_of_the_vocabulary_is_in_the_dictionary():
    assert set(chinese_terms()) - set(dictionary_words(DICTIONARY)) == set()


@pytest.mark.parametrize(
    "folder", ["data/nlu/en", "data/nlu/zh", "tests/nlu"], ids=lambda f: f.replace("/", "_")
)
def test_no_entity_annotation_is_misaligned(tokenizer, folder):
    """What Rasa warns about when training: an entity boundary inside a token."""
    misaligned = []
    for path in sorted(Path(ROOT / folder).glob("*.yml")):
        for example in load_data(str(path)).training_examples:
            entities = example.get("entities") or []
            if not entities:
                continue
            found = tokenizer.tokenize(Message(data={"text": example.get("text")}), "text")
            starts, ends = {t.start for t in found}, {t.end for t in found}
            misaligned += [
                (example.get("text"), e["value"])
                for e in entities
                if e["start"] not in starts or e["end"] not in ends
            ]
    assert misaligned == []
