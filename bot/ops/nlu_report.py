"""`make nlu-report`: how well the NLU model understands, per language.

1. 5-fold cross-validation of the whole (bilingual) training data with Rasa, every fold's
   predictions kept, then weighted intent F1 per language (English examples, Chinese
   examples), with the weakest intents and the most frequent confusion pairs.
2. The held-out sets (bot/ops/nlu_eval.py) with the trained model: F1, wrong-intent rate,
   out-of-scope reach, confusion pairs, and a sweep of the fallback thresholds, so they are
   tuned on these figures, not guessed.
Written to results/nlu/report.json and results/nlu/report.txt; exit 1 when a language's
cross-validated F1 is below the minimum.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Tuple

from bot.config import ROOT
from bot.ops import nlu_eval

OUT = ROOT / "results" / "nlu"
HAN = re.compile(r"[\u4e00-\u9fff]")
THRESHOLDS = [0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7]
AMBIGUITIES = [0.0, 0.05, 0.1]


def language_of(text: str) -> str:
    return "zh" if HAN.search(text or "") else "en"


def cross_validation_predictions(folds: int) -> List[Tuple[str, str, str]]:
    """(text, intent, predicted intent) for every training example, each predicted by the
    fold's model that did not train on it."""
    subprocess.run(
        [
            str(Path(sys.executable).parent / "rasa"),
            "test",
            "nlu",
            "--cross-validation",
            "--folds",
            str(folds),
            "--config",
            "config.yml",
            "--nlu",
            "data/nlu",
            "--out",
            str(OUT),
            "--successes",
            "--quiet",
        ],
        cwd=ROOT,
        check=True,
    )
    found = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = OUT / name
        for item in json.loads(path.read_text()) if path.exists() else []:
            predicted = (item.get("intent_prediction") or {}).get("name") or ""
            found.append((item["text"], item["intent"], predicted))
    return found


def per_language(predictions: List[Tuple[str, str, str]]) -> Dict[str, Dict[str, Any]]:
    from sklearn.metrics import classification_report

    out: Dict[str, Dict[str, Any]] = {}
    for language in ("en", "zh"):
        rows = [(t, p) for text, t, p in predictions if language_of(text) == language]
        truth, guess = [t for t, _ in rows], [p for _, p in rows]
        report = classification_report(truth, guess, output_dict=True, zero_division=0)
        intents = {
            k: v
            for k, v in report.items()
            if isinstance(v, dict)
            and "support" in v
            and k not in ("micro avg", "macro avg", "weighted avg")
        }
        weakest = sorted((v["f1-score"], k) for k, v in intents.items())[:5]
        confusions = Counter((t, p) for t, p in rows if t != p).most_common(10)
        out[language] = {
            "examples": len(rows),
            "f1": report["weighted avg"]["f1-score"],
            "weakest": [(k, round(f, 3)) for f, k in weakest],
            "confusions": [(t, p, n) for (t, p), n in confusions],
        }
    return out


def heldout_section() -> Tuple[Dict[str, Any], List[str]]:
    results = nlu_eval.evaluate()
    lines, data = [], {}
    for name, result in results.items():
        s = result["scores"]
        entity_f1, entity_misses = result["entities"]
        data[name] = {
            "f1": s.f1,
            "wrong_intent_rate": s.wrong_intent_rate,
            "oos_reach": s.oos_reach,
            "confusions": s.confusions,
            "entity_f1": entity_f1,
            "entity_misses": entity_misses,
        }
        reach = f", out-of-scope reach {s.oos_reach:.3f}" if s.oos_reach is not None else ""
        lines.append(
            f"  {name}: F1 {s.f1:.3f}, wrong-intent {s.wrong_intent_rate:.3f}{reach}, "
            f"entity F1 {entity_f1:.3f}"
        )
        lines += [f"      {t} -> {g}: {n}" for t, g, n in s.confusions[:8]]
        lines += [f"      entities of {t!r}: {want} -> {got}" for t, want, got in entity_misses[:5]]
    lines.append("  fallback threshold sweep (F1 / wrong-intent / out-of-scope reach):")
    for threshold in THRESHOLDS:
        for ambiguity in AMBIGUITIES:
            cells = []
            for name, result in results.items():
                s = nlu_eval.scores(result["parsed"], threshold, ambiguity)
                cells.append(
                    f"{name} {s.f1:.3f}/{s.wrong_intent_rate:.3f}/"
                    f"{(s.oos_reach if s.oos_reach is not None else 1):.2f}"
                )
            lines.append(f"    {threshold:.2f} {ambiguity:.2f}  " + "  ".join(cells))
    return data, lines


def cross_validate(folds: int = 5, minimum_f1: float = 0.95) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    cv = per_language(cross_validation_predictions(folds))
    lines = [f"{folds}-fold cross-validation (one bilingual model), weighted intent F1:"]
    for language, figures in cv.items():
        lines.append(
            f"  {language}: {figures['f1']:.3f} over {figures['examples']} examples "
            f"(minimum {minimum_f1}); weakest: "
            + ", ".join(f"{k} {f}" for k, f in figures["weakest"])
        )
        lines += [f"      {t} -> {p}: {n}" for t, p, n in figures["confusions"]]
    heldout, heldout_lines = heldout_section()
    lines += ["held-out sets (tests/nlu), with config.yml's fallback thresholds:", *heldout_lines]
    text = "\n".join(lines)
    (OUT / "report.txt").write_text(text + "\n", encoding="utf-8")
    (OUT / "report.json").write_text(
        json.dumps({"cross_validation": cv, "heldout": heldout}, indent=2, ensure_ascii=False)
    )
    print(text)
    print(f"report: {OUT / 'report.txt'}")
    return 0 if all(f["f1"] >= minimum_f1 for f in cv.values()) else 1
