"""The trained model on the held-out sets (tests/nlu/*.yml, written apart from the training data
and never trained on), per language, with the fallback thresholds of config.yml.

* heldout.{en,zh}: weighted intent F1 >= 0.93 (a fallback on an answerable message is a miss).
* patient_questions.{en,zh}: at most 2% of messages answered as another intent's question, and
  at least 95% of the questions no intent may answer reach the fallback.
* every set: entity F1 >= 0.90 on the (entity, canonical value) pairs (a drug or condition
  missed means another study's list, or none).
The figures are printed; `make nlu-report` adds the confusion pairs and a threshold sweep.
"""

import pytest

from bot.ops.nlu_eval import evaluate

MIN_F1 = 0.93
MAX_WRONG_INTENT = 0.02
MIN_OOS_REACH = 0.95
MIN_ENTITY_F1 = 0.90


@pytest.fixture(scope="module")
def results():
    found = evaluate()
    lines = []
    for name, result in found.items():
        s = result["scores"]
        reach = f", out-of-scope reach {s.oos_reach:.3f}" if s.oos_reach is not None else ""
        lines.append(
            f"{name}: {len(result['parsed'])} messages, intent F1 {s.f1:.3f}, "
            f"wrong-intent {s.wrong_intent_rate:.3f}{reach}, entity F1 {result['entities'][0]:.3f}"
        )
    print("\nheld-out NLU:\n  " + "\n  ".join(lines))
    return found


@pytest.mark.parametrize("language", ["en", "zh"])
def test_heldout_intent_f1(results, language):
    result = results[f"heldout.{language}"]
    assert len(result["parsed"]) >= 200
    assert result["scores"].f1 >= MIN_F1, result["scores"].confusions


@pytest.mark.parametrize("language", ["en", "zh"])
def test_patient_questions_are_never_answered_as_another_question(results, language):
    result = results[f"patient_questions.{language}"]
    parsed, s = result["parsed"], result["scores"]
    unanswerable = sum(p.expected == "out_of_scope" for p in parsed)
    assert len(parsed) >= 150 and unanswerable >= len(parsed) / 3
    assert s.wrong_intent_rate <= MAX_WRONG_INTENT, s.confusions
    assert s.oos_reach >= MIN_OOS_REACH, s.confusions


@pytest.mark.parametrize("language", ["en", "zh"])
def test_heldout_entities(results, language):
    """Drugs, conditions, phases and the recruiting filter found with their canonical values."""
    for name in (f"heldout.{language}", f"patient_questions.{language}"):
        found = results[name]["entities"]
        annotated = sum(len(p.expected_entities) for p in results[name]["parsed"])
        assert annotated >= 20 or name.startswith("patient"), (name, annotated)
        assert found[0] >= MIN_ENTITY_F1, (name, found[1][:10])
