"""The NLU training data: every intent in both languages with enough varied examples, and the
held-out sets never trained on. (Cross-validation runs in `make nlu-report`; the trained model
is scored on the held-out sets in test_heldout.py.)"""

import re
from collections import Counter

import pytest
import yaml
from rasa.shared.nlu.training_data.loading import load_data

from bot.config import ROOT

HAN = re.compile(r"[\u4e00-\u9fff]")
MIN_EXAMPLES = 60


def normalized(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def training_examples():
    return load_data(str(ROOT / "data" / "nlu")).intent_examples


def test_every_intent_has_enough_examples_in_each_language():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    counts = Counter(
        (m.get("intent"), "zh" if HAN.search(m.get("text")) else "en") for m in training_examples()
    )
    thin = {
        (i, lang): counts[(i, lang)]
        for i in domain["intents"]
        for lang in ("en", "zh")
        if counts[(i, lang)] < MIN_EXAMPLES
    }
    assert thin == {}


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "tests" / "nlu").glob("*.yml")))
def test_held_out_messages_are_never_trained_on(name):
    trained = {normalized(m.get("text")) for m in training_examples()}
    heldout = load_data(str(ROOT / "tests" / "nlu" / name)).intent_examples
    leaked = [m.get("text") for m in heldout if normalized(m.get("text")) in trained]
    assert leaked == []
