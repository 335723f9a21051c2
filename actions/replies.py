"""Renders the wording in replies.yml, in the conversation's language, with the facts an action
read from the database."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Tuple

import yaml
from jinja2 import Environment, StrictUndefined, Template
from rasa_sdk.executor import CollectingDispatcher

REPLIES = Path(__file__).with_name("replies.yml")
LANGUAGES = ("en", "zh")
# Plain text out: channels and the widget show replies as text, so nothing is HTML-escaped here.
_jinja = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@lru_cache(maxsize=1)
def replies() -> Dict[str, Dict[str, Any]]:
    loaded: Dict[str, Dict[str, Any]] = yaml.safe_load(REPLIES.read_text(encoding="utf-8"))
    return loaded


def variant(reply: str, language: str) -> Tuple[str, List[Dict[str, str]]]:
    """(text template, buttons) of a reply in a language (English when that one is empty)."""
    entry = replies()[reply]
    chosen = entry.get(language) or entry["en"]
    if isinstance(chosen, dict):
        return str(chosen.get("text") or ""), list(chosen.get("buttons") or [])
    return str(chosen), []


@lru_cache(maxsize=None)
def _template(reply: str, language: str) -> Template:
    return _jinja.from_string(variant(reply, language)[0])  # compiled once, not per answer


def render(reply: str, language: str, /, **facts: Any) -> str:
    """The reply's text; a fact missing from `facts` raises rather than showing a gap."""
    return _template(reply, language).render(**facts)


def say(dispatcher: CollectingDispatcher, language: str, reply: str, /, **facts: Any) -> None:
    dispatcher.utter_message(
        text=render(reply, language, **facts), buttons=variant(reply, language)[1]
    )
