"""NLU quality: enough varied examples per intent, and 5-fold cross-validated intent F1 >= 0.95."""
import json

import pytest
import yaml

from bot.nlu_report import OUT, cross_validate
from bot.settings import ROOT


def examples_per_intent():
    counts = {}
    for path in (ROOT / "data" / "nlu").glob("*.yml"):
        for item in yaml.safe_load(path.read_text()).get("nlu", []):
            if "intent" in item:
                lines = [line for line in item["examples"].splitlines() if line.strip()]
                counts[item["intent"]] = counts.get(item["intent"], 0) + len(lines)
    return counts


def test_every_domain_intent_has_at_least_30_examples():
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    counts = examples_per_intent()
    thin = {i: counts.get(i, 0) for i in domain["intents"] if counts.get(i, 0) < 30}
    assert thin == {}


@pytest.mark.slow
@pytest.mark.timeout(3600)  # five trainings; minutes on a busy 2-core machine
def test_five_fold_cross_validation_intent_f1():
    assert cross_validate(folds=5, minimum_f1=0.95) == 0
    report = json.loads((OUT / "intent_report.json").read_text())
    assert report["weighted avg"]["f1-score"] >= 0.95
