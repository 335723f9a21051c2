"""The NLU inbox: user messages that fell to fallback or had low intent confidence.

`bot.conversations.index_events` fills it; staff pick the right intent (one of domain.yml's)
or mark a message irrelevant in the console; `python -m bot nlu export` writes the accepted
ones as a Rasa NLU training file (default data/nlu/inbox.yml), leaving out examples the
training data already has and messages with a phone number or e-mail address in them (found by
bot.console.privacy, in Chinese and English text alike). The purge takes purged conversations'
examples out of the file again (`remove_examples`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import ROOT
from bot.console.models import NLU_STATES, NluInboxItem
from bot.console.privacy import contains_contact
from bot.db import utcnow

DOMAIN = ROOT / "domain.yml"
NLU_DIR = ROOT / "data" / "nlu"
DEFAULT_OUT = NLU_DIR / "inbox.yml"
EXCLUDED_INTENTS = {"nlu_fallback"}
ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def domain_intents(domain: Path = DOMAIN) -> List[str]:
    """The intents staff may pick, in domain.yml's order."""
    data = yaml.safe_load(domain.read_text(encoding="utf-8")) or {}
    names = []
    for entry in data.get("intents") or []:
        name = next(iter(entry)) if isinstance(entry, dict) else str(entry)
        if name not in EXCLUDED_INTENTS:
            names.append(name)
    return names


def list_items(
    session: Session, status: str = "new", limit: int = 100, offset: int = 0
) -> List[NluInboxItem]:
    query = select(NluInboxItem).where(NluInboxItem.status == status)
    order = (NluInboxItem.said_at.desc(), NluInboxItem.id.desc())
    return list(session.scalars(query.order_by(*order).limit(limit).offset(offset)))


def counts(session: Session) -> Dict[str, int]:
    found = dict(
        session.execute(
            select(NluInboxItem.status, func.count()).group_by(NluInboxItem.status)
        ).all()
    )
    return {state: found.get(state, 0) for state in NLU_STATES}


def decide(
    session: Session,
    item_id: int,
    decision: str,
    intent: Optional[str],
    username: str,
    intents: Sequence[str],
) -> NluInboxItem:
    """decision: accept (with an intent of the domain), irrelevant, or new (undo)."""
    item = session.get(NluInboxItem, item_id)
    if item is None:
        raise LookupError(item_id)
    if decision == "accept":
        if intent not in intents:
            raise ValueError(f"unknown intent {intent!r}")
        item.status, item.intent = "accepted", intent
    elif decision == "irrelevant":
        item.status, item.intent = "irrelevant", None
    elif decision == "new":
        item.status, item.intent = "new", None
    else:
        raise ValueError(f"unknown decision {decision!r}")
    item.decided_by, item.decided_at = username, utcnow()
    return item


# --------------------------------------------------------------------------- export


def normalize(example: str) -> str:
    """For duplicate checks: annotations stripped, case and spacing and end punctuation ignored."""
    text = ANNOTATION.sub(r"\1", example)
    return " ".join(text.lower().split()).rstrip(" ?!.,;")


def read_examples(path: Path) -> Dict[str, List[str]]:
    """Intent -> examples of a Rasa YAML NLU file (synonyms, regexes and lookups skipped)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    out: Dict[str, List[str]] = {}
    for block in data.get("nlu") or []:
        if isinstance(block, dict) and "intent" in block:
            lines = str(block.get("examples") or "").splitlines()
            out.setdefault(str(block["intent"]), []).extend(
                line.strip()[2:].strip() for line in lines if line.strip().startswith("- ")
            )
    return out


def clean(text: str) -> str:
    return " ".join(CONTROL.sub(" ", text).split())


@dataclass
class ExportResult:
    path: Path
    written: int = 0  # examples in the file
    new: int = 0  # of them, added by this export
    duplicates: int = 0
    with_contact: int = 0
    unusable: int = 0  # empty, entity markup, or an intent no longer in the domain
    by_intent: Dict[str, int] = field(default_factory=dict)


def render(examples: Dict[str, List[str]]) -> str:
    lines = [
        'version: "3.1"',
        "# Written by `python -m bot nlu export` from the staff console's NLU inbox:",
        "# messages staff labelled. Review, then retrain (make train).",
        "nlu:",
    ]
    for intent in sorted(examples):
        if not examples[intent]:
            continue
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {example}" for example in examples[intent]]
    return "\n".join(lines) + "\n"


def export(
    session: Session, out: Path = DEFAULT_OUT, nlu_dir: Optional[Path] = None, domain: Path = DOMAIN
) -> ExportResult:
    """Writes the accepted inbox messages to `out`, keeping what `out` already holds."""
    out = Path(out)
    nlu_dir = Path(nlu_dir) if nlu_dir else out.parent
    intents = set(domain_intents(domain))
    known: Set[str] = set()
    for path in sorted(nlu_dir.rglob("*.yml")) + sorted(nlu_dir.rglob("*.yaml")):
        if path.resolve() != out.resolve():
            for found in read_examples(path).values():
                known.update(normalize(e) for e in found)
    examples: Dict[str, List[str]] = {}
    result = ExportResult(out)
    for intent, kept in (read_examples(out) if out.exists() else {}).items():
        for example in kept:
            if contains_contact(example):  # written before masking knew this number's shape
                result.with_contact += 1
                continue
            if normalize(example) not in known:
                known.add(normalize(example))
                examples.setdefault(intent, []).append(example)
    items: Iterable[NluInboxItem] = session.scalars(
        select(NluInboxItem).where(NluInboxItem.status == "accepted").order_by(NluInboxItem.id)
    )
    now = utcnow()
    for item in items:
        text = clean(item.text or "")
        if (
            not text
            or text.startswith("/")
            or ANNOTATION.search(text)
            or item.intent not in intents
        ):
            result.unusable += 1
            continue
        if contains_contact(text):
            result.with_contact += 1
            continue
        key = normalize(text)
        if key in known:
            result.duplicates += 1
        else:
            known.add(key)
            examples.setdefault(item.intent, []).append(text)
            result.new += 1
        item.exported_at = now
    result.written = sum(len(v) for v in examples.values())
    result.by_intent = {k: len(v) for k, v in sorted(examples.items())}
    out.parent.mkdir(parents=True, exist_ok=True)
    if result.written or out.exists():
        out.write_text(render(examples), encoding="utf-8")
    return result


def remove_examples(path: Path, texts: Iterable[str]) -> int:
    """Takes the examples whose text is one of `texts` (as the inbox stored them) out of an
    exported training file, e.g. those of purged conversations; -> how many. The file is
    rewritten only when something goes."""
    gone = {normalize(clean(text)) for text in texts if text}
    if not gone or not path.exists():
        return 0
    examples = read_examples(path)
    kept = {i: [e for e in found if normalize(e) not in gone] for i, found in examples.items()}
    removed = sum(len(v) for v in examples.values()) - sum(len(v) for v in kept.values())
    if removed:
        path.write_text(render(kept), encoding="utf-8")
    return removed
