"""Scoring the trained model on the held-out NLU sets (tests/nlu/*.yml): messages written apart
from the training data and never trained on.

* heldout.{en,zh}.yml: every intent; weighted intent F1 (a fallback counts as a miss).
* patient_questions.{en,zh}.yml: what patients ask before joining a trial, a third of them
  questions no intent may answer (labelled out_of_scope): how often an answer goes to another
  intent's question (wrong-intent rate), and how many of the unanswerable ones reach the
  fallback (out-of-scope reach).
* Entities, every file: micro F1 of the (entity, canonical value) pairs the model finds against
  the annotated ones (what the actions filter on: a drug, a condition, a phase).

The fallback thresholds are applied here to the model's raw ranking, so `sweep` can tune them
on these sets without parsing again; `score` uses the ones in config.yml.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import yaml

from bot.config import ROOT
from bot.trial import vocabulary

HELDOUT = ROOT / "tests" / "nlu"
FALLBACK = "nlu_fallback"
NOT_ANSWERED = frozenset({FALLBACK, "out_of_scope"})


Entity = Tuple[str, str]  # (entity, canonical value)
# What the actions filter on. The language a message asks for is read from its words
# (bot/language.py), so a `language` annotation is not the model's to find.
SCORED_ENTITIES = frozenset({"drug", "condition", "phase", "status_filter"})


@dataclass(frozen=True)
class Parsed:
    text: str
    expected: str
    ranking: Tuple[Tuple[str, float], ...]  # the classifier's, best first, fallback removed
    expected_entities: Tuple[Entity, ...] = ()
    entities: Tuple[Entity, ...] = ()


def _canonical(entity: str, value: str) -> str:
    """The value as the actions read it (bot/trial/vocabulary.py: "the virus" is H101)."""
    if entity == "drug":
        return vocabulary.drug(value) or value
    if entity == "condition":
        return vocabulary.condition(value) or value
    return value


def _pairs(entities: Optional[Iterable[Dict[str, Any]]]) -> Tuple[Entity, ...]:
    found = entities or ()
    return tuple(
        sorted(
            (e["entity"], _canonical(e["entity"], str(e["value"])))
            for e in found
            if e["entity"] in SCORED_ENTITIES
        )
    )


def examples(path: Path) -> List[Tuple[str, str, Tuple[Entity, ...]]]:
    """(text, intent, annotated entities) of a Rasa NLU YAML file, entity markup removed."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [
        (m.get("text"), m.get("intent"), _pairs(m.get("entities"))) for m in data.intent_examples
    ]


def fallback_thresholds(config: Path = ROOT / "config.yml") -> Tuple[float, float]:
    for component in yaml.safe_load(config.read_text(encoding="utf-8"))["pipeline"]:
        if component["name"] == "FallbackClassifier":
            return float(component["threshold"]), float(component["ambiguity_threshold"])
    return 0.0, 0.0


def latest_model(folder: Path = ROOT / "models") -> Path:
    models = sorted(folder.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise FileNotFoundError("no trained model in models/: run `make train`")
    return models[-1]


def parse_all(model: Path, items: Sequence[Tuple[str, str, Tuple[Entity, ...]]]) -> List[Parsed]:
    """The model's ranking for every message (one Rasa agent, loaded once)."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))

    async def run() -> List[Parsed]:
        out = []
        for text, expected, expected_entities in items:
            result = await agent.parse_message(text)
            ranking = tuple(
                (r["name"], float(r["confidence"]))
                for r in result.get("intent_ranking") or []
                if r["name"] != FALLBACK
            )
            found = _pairs(result.get("entities"))
            out.append(Parsed(text, expected, ranking, expected_entities, found))
        return out

    return asyncio.run(run())


def predict(parsed: Parsed, threshold: float, ambiguity: float) -> str:
    """What the assistant acts on: the top intent, or the fallback when unsure."""
    if not parsed.ranking:
        return FALLBACK
    top, confidence = parsed.ranking[0]
    second = parsed.ranking[1][1] if len(parsed.ranking) > 1 else 0.0
    if confidence < threshold or confidence - second < ambiguity:
        return FALLBACK
    return top


def weighted_f1(pairs: Iterable[Tuple[str, str]]) -> float:
    from sklearn.metrics import f1_score

    truth, guess = zip(*pairs, strict=True)
    return float(f1_score(truth, guess, average="weighted", zero_division=0))


@dataclass(frozen=True)
class Scores:
    f1: float
    wrong_intent_rate: float  # answered, but as another intent
    oos_reach: Optional[float]  # of the unanswerable ones, share that reached the fallback
    confusions: List[Tuple[str, str, int]]


def scores(parsed: Sequence[Parsed], threshold: float, ambiguity: float) -> Scores:
    pairs = [(p.expected, predict(p, threshold, ambiguity)) for p in parsed]
    # a fallback on an unanswerable message is what should happen: count it as out_of_scope
    fair = [
        (t, "out_of_scope" if g in NOT_ANSWERED and t == "out_of_scope" else g) for t, g in pairs
    ]
    wrong = [(t, g) for t, g in pairs if g not in NOT_ANSWERED and g != t]
    unanswerable = [g for t, g in pairs if t == "out_of_scope"]
    reach = (
        sum(g in NOT_ANSWERED for g in unanswerable) / len(unanswerable) if unanswerable else None
    )
    confusions = Counter(wrong).most_common(15)
    return Scores(
        f1=weighted_f1(fair),
        wrong_intent_rate=len(wrong) / len(pairs),
        oos_reach=reach,
        confusions=[(t, g, n) for (t, g), n in confusions],
    )


def _scored(entities: Iterable[Entity], intent: str) -> Counter:
    # The recruiting filter is read only for other studies; elsewhere it changes nothing.
    return Counter(
        e for e in entities if e[0] != "status_filter" or intent == "ask_related_studies"
    )


def entity_f1(parsed: Sequence[Parsed]) -> Tuple[float, List[Tuple[str, str, str]]]:
    """Micro F1 of the found (entity, value) pairs, and the messages where they differ
    (text, expected, found)."""
    hits = expected = found = 0
    misses = []
    for p in parsed:
        want, got = _scored(p.expected_entities, p.expected), _scored(p.entities, p.expected)
        hits += sum((want & got).values())
        expected += sum(want.values())
        found += sum(got.values())
        if want != got:
            misses.append((p.text, str(sorted(want.elements())), str(sorted(got.elements()))))
    if not expected and not found:
        return 1.0, misses
    return 2 * hits / (expected + found), misses


def sweep(
    parsed: Sequence[Parsed], thresholds: Sequence[float], ambiguities: Sequence[float]
) -> List[Tuple[float, float, Scores]]:
    return [(t, a, scores(parsed, t, a)) for t in thresholds for a in ambiguities]


def evaluate(model: Optional[Path] = None) -> Dict[str, Any]:
    """Scores of every held-out file with the configured thresholds: {file stem: Scores}."""
    model = model or latest_model()
    threshold, ambiguity = fallback_thresholds()
    files = sorted(HELDOUT.glob("*.yml"))
    items = {f.stem: examples(f) for f in files}
    flat = [x for f in files for x in items[f.stem]]
    parsed = parse_all(model, flat)
    out: Dict[str, Any] = {}
    position = 0
    for f in files:
        n = len(items[f.stem])
        out[f.stem] = {"parsed": parsed[position : position + n]}
        out[f.stem]["scores"] = scores(out[f.stem]["parsed"], threshold, ambiguity)
        out[f.stem]["entities"] = entity_f1(out[f.stem]["parsed"])
        position += n
    return out
