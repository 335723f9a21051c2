"""Renders the reply wording in replies.yml with the facts an action read from the database."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict

import yaml
from jinja2 import Environment, StrictUndefined, Template
from rasa_sdk.executor import CollectingDispatcher

REPLIES = Path(__file__).with_name("replies.yml")
# Plain text out: channels and the widget show replies as text, so nothing is HTML-escaped here.
_jinja = Environment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


@lru_cache(maxsize=1)
def _replies() -> Dict[str, Dict[str, Any]]:
    return yaml.safe_load(REPLIES.read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _template(reply: str) -> Template:
    return _jinja.from_string(_replies()[reply]["text"])  # compiled once, not per answer


def render(reply: str, /, **facts: Any) -> str:
    """The reply's text; a fact missing from `facts` raises rather than showing a gap."""
    return _template(reply).render(**facts)


def say(dispatcher: CollectingDispatcher, reply: str, /, **facts: Any) -> None:
    buttons = _replies()[reply].get("buttons", [])
    dispatcher.utter_message(text=render(reply, **facts), buttons=buttons)
