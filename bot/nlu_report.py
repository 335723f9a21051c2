"""NLU cross-validation: trains on k-1 folds, tests on the last, and reports intent F1."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bot.settings import ROOT

OUT = ROOT / "results" / "nlu"


def cross_validate(folds: int = 5, minimum_f1: float = 0.95) -> int:
    """Writes results/nlu/intent_report.json; exit 1 when weighted F1 is below the minimum."""
    subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "test", "nlu", "--cross-validation",
         "--folds", str(folds), "--config", "config.yml", "--nlu", "data/nlu",
         "--out", str(OUT), "--quiet"],
        cwd=ROOT, check=True,
    )
    report = json.loads((OUT / "intent_report.json").read_text())
    f1 = report["weighted avg"]["f1-score"]
    weakest = sorted(
        (values["f1-score"], name) for name, values in report.items()
        if isinstance(values, dict) and "support" in values and name not in
        ("micro avg", "macro avg", "weighted avg")
    )[:3]
    print(f"intent F1 (weighted, {folds}-fold): {f1:.3f}  (minimum {minimum_f1})")
    print("weakest intents: " + ", ".join(f"{name} {score:.3f}" for score, name in weakest))
    print(f"report: {OUT / 'intent_report.json'}")
    return 0 if f1 >= minimum_f1 else 1
