"""One conversation as a transcript for staff, and as Rasa test stories."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence

import yaml

from bot.console.nlu_inbox import ANNOTATION
from bot.console.privacy import mask_text, mask_value
from bot.console.tracker import from_epoch, user_prediction

SKIPPED_STORY_ACTIONS = frozenset(
    {"action_listen", "action_session_start", "action_unlikely_intent"}
)


@dataclass
class TranscriptItem:
    event_id: int
    kind: str  # user / bot / action / slot / session / reverted / loop / other
    at: datetime
    text: Optional[str] = None
    intent: Optional[str] = None
    confidence: Optional[float] = None
    fell_back: bool = False
    entities: List[Dict[str, Any]] = field(default_factory=list)
    channel: Optional[str] = None
    name: Optional[str] = None  # action, slot or loop name; other: event type
    policy: Optional[str] = None
    value: Any = None  # slot value
    buttons: List[str] = field(default_factory=list)

    def has_contact(self, keep: frozenset = frozenset()) -> bool:
        return self.masked(keep) != self

    def masked(self, keep: frozenset = frozenset()) -> "TranscriptItem":
        copy = TranscriptItem(**{f.name: getattr(self, f.name) for f in fields(self)})
        copy.text = mask_text(self.text, keep)
        copy.value = mask_value(self.value, keep)
        copy.entities = [dict(e, value=mask_value(e.get("value"), keep)) for e in self.entities]
        copy.buttons = [mask_text(b, keep) or "" for b in self.buttons]
        return copy

    def as_dict(self) -> Dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["at"] = self.at.isoformat()
        return {k: v for k, v in out.items() if v not in (None, [], False) or k == "kind"}


def transcript(events: Sequence[Dict[str, Any]]) -> List[TranscriptItem]:
    items = []
    for data in events:
        kind, at, event_id = data.get("event"), from_epoch(data.get("timestamp")), data["_id"]
        if kind == "user":
            intent, confidence, fell_back = user_prediction(data)
            parse = data.get("parse_data") or {}
            items.append(
                TranscriptItem(
                    event_id,
                    "user",
                    at,
                    text=data.get("text") or "",
                    intent=intent,
                    confidence=confidence,
                    fell_back=fell_back,
                    entities=[
                        {
                            "entity": e.get("entity"),
                            "value": e.get("value"),
                            "start": e.get("start"),
                            "end": e.get("end"),
                        }
                        for e in parse.get("entities") or data.get("entities") or []
                        if isinstance(e, dict)
                    ],
                    channel=data.get("input_channel"),
                )
            )
        elif kind == "bot":
            buttons = [
                str(b.get("title") or b.get("payload") or "")
                for b in (data.get("data") or {}).get("buttons") or []
                if isinstance(b, dict)
            ]
            items.append(
                TranscriptItem(event_id, "bot", at, text=data.get("text") or "", buttons=buttons)
            )
        elif kind == "action":
            if data.get("name") == "action_listen":
                continue
            items.append(
                TranscriptItem(
                    event_id,
                    "action",
                    at,
                    name=data.get("name"),
                    policy=data.get("policy"),
                    confidence=data.get("confidence"),
                )
            )
        elif kind == "slot":
            items.append(
                TranscriptItem(event_id, "slot", at, name=data.get("name"), value=data.get("value"))
            )
        elif kind == "session_started":
            items.append(TranscriptItem(event_id, "session", at))
        elif kind == "rewind":
            items.append(TranscriptItem(event_id, "reverted", at))
        elif kind == "user_featurization":
            continue  # Rasa's bookkeeping, nothing a reader needs
        elif kind == "active_loop":
            items.append(TranscriptItem(event_id, "loop", at, name=data.get("name")))
        else:
            items.append(TranscriptItem(event_id, "other", at, name=kind))
    return items


def _annotated(
    text: str, entities: Sequence[Dict[str, Any]], masked: bool, keep: frozenset = frozenset()
) -> str:
    """User text with entities in Rasa's [text](entity) markup, for test stories."""

    def mask(piece: str) -> str:
        return (mask_text(piece, keep) or "") if masked else piece

    spans = sorted(
        (
            e
            for e in entities
            if isinstance(e.get("start"), int) and isinstance(e.get("end"), int) and e.get("entity")
        ),
        key=lambda e: e["start"],
    )
    out, position = [], 0
    for entity in spans:
        start, end = entity["start"], entity["end"]
        if start < position or end > len(text) or start >= end:
            continue
        piece = text[start:end]
        if "[" in piece or "]" in piece:
            continue
        out.append(mask(text[position:start]))
        value = entity.get("value")
        if value == piece or not isinstance(value, str):
            out.append(f"[{mask(piece)}]({entity['entity']})")
        else:
            out.append(
                f"[{mask(piece)}]"
                + json.dumps({"entity": entity["entity"], "value": mask(value)}, ensure_ascii=False)
            )
        position = end
    out.append(mask(text[position:]))
    joined = "".join(out)
    whole = (mask_text(text, keep) or "") if masked else text
    if masked and ANNOTATION.sub(r"\1", joined) != whole:
        return whole  # a number across an entity's edge: masked whole, without the markup
    return joined


def stories_yaml(
    name: str,
    events: Sequence[Dict[str, Any]],
    masked: bool = True,
    keep: frozenset = frozenset(),
) -> str:
    """One conversation as a Rasa test story: user text with intent (and entities), then the
    actions the assistant ran, forms' active loops and slot changes, in order."""
    steps: List[Dict[str, Any]] = []
    for data in events:
        kind = data.get("event")
        if kind == "user":
            parse = data.get("parse_data") or {}
            intent = (parse.get("intent") or {}).get("name")
            text = data.get("text") or ""
            if not intent:
                continue
            steps.append(
                {
                    "user": _annotated(text, parse.get("entities") or [], masked, keep),
                    "intent": intent,
                }
            )
        elif kind == "action" and data.get("name") not in SKIPPED_STORY_ACTIONS:
            steps.append({"action": data.get("name")})
        elif kind == "active_loop":
            steps.append({"active_loop": data.get("name")})
        elif kind == "slot" and data.get("name"):
            value = data.get("value")
            shown = mask_value(value, keep) if masked else value
            steps.append({"slot_was_set": [{data["name"]: shown}]})
    document = {"stories": [{"story": name, "steps": steps}]}
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)
    return (
        'version: "3.1"\n# Exported from the staff console. Turns the fallback reverted '
        "are kept as they happened.\n" + body
    )
